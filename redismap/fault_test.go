package redismap_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/safemap-go/safemap/redismap"
)

// Fault tests: each names its fault, and checks what the callers saw and
// what the server holds afterwards.

const faultLease = 300 * time.Millisecond

// holderChild starts a child process that takes key's lease and says so.
func holderChild(t *testing.T, srv *server, pfx, key string) *childProc {
	t.Helper()
	c := startChild(t, "holder", map[string]string{
		"ADDR": srv.addr(), "PREFIX": pfx, "KEY": key, "LEASE_MS": "300",
	})
	if l := c.line(); !strings.HasPrefix(l, "loading ") {
		t.Fatalf("the child said %q; want loading", l)
	}
	return c
}

// waitInBackground starts m.LoadOrTryCompute(key) with a loader returning
// value, waits until it is waiting for another holder, and returns a
// channel that receives its outcome and when it ran its loader.
type outcome struct {
	v        string
	loaded   bool
	err      error
	loadedAt time.Time // when the loader ran (zero if it did not)
}

func waitInBackground(t *testing.T, m *redismap.Map[string, string], key, value string) <-chan outcome {
	t.Helper()
	waiting := onWait(m)
	res := make(chan outcome, 1)
	go func() {
		var at time.Time
		v, loaded, err := m.LoadOrTryCompute(context.Background(), key, func(context.Context) (string, error) {
			at = time.Now()
			return value, nil
		})
		res <- outcome{v, loaded, err, at}
	}()
	receive(t, waiting, "the caller to wait for the holder")
	return res
}

func TestFault_Kill9OfTheHolderLetsAWaiterTakeOverWithinALease(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	pfx := prefix(t)
	holder := holderChild(t, srv, pfx, "k")
	m := newMap(t, srv.client(t), redismap.Options[string, string]{Prefix: pfx, Lease: faultLease})
	res := waitInBackground(t, m, "k", "from-parent")

	killed := time.Now()
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil { // kill -9 mid-fn
		t.Fatal(err)
	}
	r := receive(t, res, "the takeover")
	if r.err != nil || r.v != "from-parent" || r.loadedAt.IsZero() {
		t.Fatalf("the waiter got (%q, %v) and ran its loader: %v; want its own value after a takeover", r.v, r.err, !r.loadedAt.IsZero())
	}
	// The dead holder's lease had at most one lease period left.
	if d := r.loadedAt.Sub(killed); d > faultLease+500*time.Millisecond {
		t.Errorf("the takeover came %v after kill -9; want within about one lease (%v)", d, faultLease)
	}
	if st := m.Stats(); st.Takeovers != 1 || st.Loads != 1 {
		t.Errorf("Takeovers=%d Loads=%d; want 1, 1", st.Takeovers, st.Loads)
	}
	if v, ok, err := m.Load(context.Background(), "k"); !ok || err != nil || v != "from-parent" {
		t.Errorf("the server holds (%q, %v, %v); want the new holder's value", v, ok, err)
	}
}

func TestFault_StoppedHolderIsFencedAfterAWaiterTakesOver(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	pfx := prefix(t)
	holder := holderChild(t, srv, pfx, "k")
	m := newMap(t, srv.client(t), redismap.Options[string, string]{Prefix: pfx, Lease: faultLease})
	res := waitInBackground(t, m, "k", "from-parent")

	// SIGSTOP: the holder is paused past its lease, renewals and all.
	if err := holder.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := receive(t, res, "the takeover")
	if r.err != nil || r.v != "from-parent" {
		t.Fatalf("the waiter got (%q, %v); want its own value after a takeover", r.v, r.err)
	}
	// The holder wakes up and finishes: its commit carries a stale token.
	if err := holder.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	holder.send("finish")
	var got struct {
		Value  string
		Fenced bool
		Err    string
	}
	if err := json.Unmarshal([]byte(holder.line()), &got); err != nil {
		t.Fatal(err)
	}
	holder.wait()
	if got.Value != "from-child" || !got.Fenced {
		t.Errorf("the stopped holder got (%q, fenced=%v, %s); want its own value with ErrFenced", got.Value, got.Fenced, got.Err)
	}
	if v, _, err := m.Load(context.Background(), "k"); err != nil || v != "from-parent" {
		t.Errorf("the server holds (%q, %v); want the new holder's value, not the fenced one", v, err)
	}
}

func TestFault_ClientPausePastTheLeaseEndsWithOneStoredValueAndNoHang(t *testing.T) {
	srv := startServer(t) // CLIENT PAUSE stops every client of the server
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: faultLease}
	a := newMap(t, srv.client(t), opts)
	b := newMap(t, srv.client(t), opts)
	admin := srv.client(t)
	ctx := testContext(t)

	started, finish := make(chan struct{}), make(chan struct{})
	resA := make(chan outcome, 1)
	go func() {
		v, loaded, err := a.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "from-a", nil
		})
		resA <- outcome{v: v, loaded: loaded, err: err}
	}()
	<-started
	resB := waitInBackground(t, b, "k", "from-b")
	// The server stops serving every client for 3 leases: renewals, the
	// waiter's re-reads, all of them.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", (3 * faultLease).Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	close(finish)
	ra := receive(t, resA, "the first holder")
	rb := receive(t, resB, "the waiter")
	// Whoever's commit carried the current token is stored; the other
	// caller got either that value, or its own with ErrFenced, or its own
	// with the commit's timeout (the commit is bounded by one lease, and
	// the pause outlasts it). Nothing hung.
	stored, ok, err := a.Load(ctx, "k")
	if err != nil || !ok {
		t.Fatalf("after the pause the server holds (%q, %v, %v); want a value", stored, ok, err)
	}
	for _, r := range []outcome{ra, rb} {
		switch {
		case r.err == nil && r.v == stored:
		case errors.Is(r.err, redismap.ErrFenced) && r.v != stored:
		case errors.Is(r.err, context.DeadlineExceeded) && strings.Contains(r.err.Error(), "commit"):
		default:
			t.Errorf("a caller got (%q, %v) with %q stored; want the stored value, or its own with ErrFenced", r.v, r.err, stored)
		}
	}
	if loads := a.Stats().Loads + b.Stats().Loads; loads > 2 {
		t.Errorf("loader calls = %d; want at most 2 (one per lease epoch)", loads)
	}
}

func TestFault_RedisRestartDuringALoadReportsTheLostLeaseAndStoresNothing(t *testing.T) {
	srv := startServer(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{Lease: faultLease})
	ctx := testContext(t)
	v, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
		srv.restart() // lease and fence keys gone, scripts flushed
		return "computed", nil
	})
	if !errors.Is(err, redismap.ErrLeaseLost) || v != "computed" {
		t.Fatalf("got (%q, %v); want the loader's value with ErrLeaseLost", v, err)
	}
	if _, ok, err := m.Load(ctx, "k"); ok || err != nil {
		t.Errorf("Load after the lost commit = (%v, %v); want nothing stored", ok, err)
	}
	// The Map goes on working against the new server (scripts reloaded by
	// the EVALSHA → EVAL fallback).
	v, loaded, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "again", nil })
	if err != nil || loaded || v != "again" {
		t.Errorf("after the restart: (%q, %v, %v); want a fresh load", v, loaded, err)
	}
	if st := m.Stats(); st.LostCommits != 1 {
		t.Errorf("LostCommits = %d; want 1", st.LostCommits)
	}
}

func TestFault_WaiterSurvivesARedisRestartAndTakesOver(t *testing.T) {
	srv := startServer(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: faultLease}
	holder := newMap(t, srv.client(t), opts)
	waiter := newMap(t, srv.client(t), opts)
	waitConnected(t, waiter)
	ctx := testContext(t)
	started, finish := make(chan struct{}), make(chan struct{})
	resH := make(chan outcome, 1)
	go func() {
		v, _, err := holder.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "from-holder", nil
		})
		resH <- outcome{v: v, err: err}
	}()
	<-started
	resW := waitInBackground(t, waiter, "k", "from-waiter")
	srv.restart()
	rw := receive(t, resW, "the waiter")
	close(finish)
	rh := receive(t, resH, "the holder")
	if rw.err != nil || rw.v != "from-waiter" {
		t.Errorf("the waiter got (%q, %v); want its own value: the lease died with the server", rw.v, rw.err)
	}
	if !errors.Is(rh.err, redismap.ErrFenced) && !errors.Is(rh.err, redismap.ErrLeaseLost) {
		t.Errorf("the old holder got %v; want ErrFenced or ErrLeaseLost", rh.err)
	}
	if v, _, _ := waiter.Load(ctx, "k"); v != "from-waiter" {
		t.Errorf("the server holds %q; want the waiter's value", v)
	}
}
