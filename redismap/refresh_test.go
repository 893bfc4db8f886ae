package redismap_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// Refresh before expiry (Options.RefreshAfter). The tests let a value age
// past RefreshAfter with time.Sleep: the passing of time is what they
// test. Background refreshes are awaited by polling the Map's counters.

const (
	refreshTTL   = 2 * time.Second
	refreshAfter = 200 * time.Millisecond
)

func refreshOptions(t testing.TB) redismap.Options[string, string] {
	return redismap.Options[string, string]{Prefix: prefix(t), TTL: refreshTTL, TTLJitter: -1, RefreshAfter: refreshAfter}
}

// ageValue stores key's first value through m's loader and waits until it
// is due for a refresh.
func ageValue(t *testing.T, ctx context.Context, m *redismap.Map[string, string], key, value string) {
	t.Helper()
	if _, _, err := m.LoadOrTryCompute(ctx, key, func(context.Context) (string, error) { return value, nil }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(refreshAfter + 50*time.Millisecond) // the value's age passing RefreshAfter is the point
}

// waitStats waits (bounded) until cond holds for the sum of the Maps'
// Stats.
func waitStats(t *testing.T, what string, cond func(redismap.Stats) bool, maps ...*redismap.Map[string, string]) redismap.Stats {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var all []redismap.Stats
		for _, m := range maps {
			all = append(all, m.Stats())
		}
		sum := sumStats(all...)
		if cond(sum) {
			return sum
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, sum)
		}
		time.Sleep(time.Millisecond) // polling counters the background refresh bumps
	}
}

func TestRefresh_HitsOnADueValueReturnItAndOneProcessReloadsIt(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := refreshOptions(t)
	a := newMap(t, srv.client(t), opts)
	b := newMap(t, srv.client(t), opts) // another process, as far as Redis can tell
	waitConnected(t, a)
	waitConnected(t, b)
	ctx := testContext(t)
	ageValue(t, ctx, a, "k", "v1")

	var calls atomic.Int32
	release := make(chan struct{})
	reload := func(ctx context.Context) (string, error) {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done(): // Close, if the test fails first
		}
		return "v2", nil
	}
	// Hits in both processes while the reload runs: every one returns the
	// current value at once, and one reload runs for them all.
	var wg sync.WaitGroup
	for _, m := range []*redismap.Map[string, string]{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				v, loaded, err := m.LoadOrTryCompute(ctx, "k", reload)
				if err != nil || !loaded || v != "v1" {
					t.Errorf("a hit during the reload got (%q, %v, %v); want (v1, true, nil)", v, loaded, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitStats(t, "the reload to start", func(s redismap.Stats) bool { return s.Refreshes >= 1 }, a, b)
	close(release)
	waitStats(t, "the reload's commit", func(s redismap.Stats) bool { return s.Commits >= 2 }, a, b)
	if got := calls.Load(); got != 1 {
		t.Errorf("reload calls = %d across two processes; want 1", got)
	}
	for _, m := range []*redismap.Map[string, string]{a, b} {
		if v, _, err := m.LoadOrTryCompute(ctx, "k", reload); err != nil || v != "v2" {
			t.Errorf("after the reload: (%q, %v); want v2", v, err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("reload calls = %d after the reloaded value was read; want still 1 (it is fresh)", got)
	}
}

func TestRefresh_ReloadRestartsTheTTL(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client := srv.client(t)
	m := newMap(t, client, refreshOptions(t))
	ctx := testContext(t)
	ageValue(t, ctx, m, "k", "v1")
	vkey, _, _, _ := m.KeyNames("k")
	before := client.PTTL(ctx, vkey).Val()
	m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v2", nil })
	waitStats(t, "the reload's commit", func(s redismap.Stats) bool { return s.Commits == 2 }, m)
	if after := client.PTTL(ctx, vkey).Val(); after <= before || after > refreshTTL {
		t.Errorf("PTTL %v before the reload, %v after; want the TTL restarted", before, after)
	}
}

func TestRefresh_FailedReloadKeepsTheValueAndBacksOffInEveryProcess(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := refreshOptions(t)
	a := newMap(t, srv.client(t), opts)
	b := newMap(t, srv.client(t), opts)
	ctx := testContext(t)
	ageValue(t, ctx, a, "k", "v1")

	var calls atomic.Int32
	failing := func(context.Context) (string, error) {
		calls.Add(1)
		return "", errors.New("backend down")
	}
	if v, _, err := a.LoadOrTryCompute(ctx, "k", failing); err != nil || v != "v1" {
		t.Fatalf("the hit that starts the reload got (%q, %v); want v1", v, err)
	}
	waitStats(t, "the failed reload", func(s redismap.Stats) bool { return s.RefreshErrors >= 1 }, a)
	// Within the backoff (100 ms at least, less jitter), no process
	// reloads again, and every hit gets the kept value.
	for _, m := range []*redismap.Map[string, string]{a, b} {
		for range 10 {
			if v, _, err := m.LoadOrTryCompute(ctx, "k", failing); err != nil || v != "v1" {
				t.Fatalf("a hit after the failed reload got (%q, %v); want the kept value v1", v, err)
			}
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("reload calls = %d right after a failure; want 1: the next one waits for the backoff", got)
	}
	if v, ok, err := b.Load(ctx, "k"); !ok || err != nil || v != "v1" {
		t.Errorf("Load after the failed reload = (%q, %v, %v); want the kept value", v, ok, err)
	}
	// After the backoff, a hit tries again.
	time.Sleep(150 * time.Millisecond) // the backoff passing is the point
	b.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v2", nil })
	waitStats(t, "a reload after the backoff", func(s redismap.Stats) bool { return s.Commits >= 2 }, a, b)
	if v, _, _ := a.Load(ctx, "k"); v != "v2" {
		t.Errorf("after the backoff's reload the value is %q; want v2", v)
	}
}

func TestRefresh_PanickingReloadIsRecoveredCountedAndKeepsTheValue(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), refreshOptions(t))
	ctx := testContext(t)
	ageValue(t, ctx, m, "k", "v1")
	m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { panic("reload exploded") })
	st := waitStats(t, "the panicking reload", func(s redismap.Stats) bool { return s.RefreshErrors == 1 }, m)
	if st.RefreshPanics != 1 {
		t.Errorf("RefreshPanics = %d; want 1", st.RefreshPanics)
	}
	if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || v != "v1" {
		t.Errorf("after the panic: (%q, %v, %v); want the kept value", v, ok, err)
	}
	// The lease was given up: a Store and a fresh load work at once.
	if err := m.Store(ctx, "k", "stored"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "x", nil }); err != nil || v != "stored" {
		t.Errorf("after a Store: (%q, %v); want the stored value", v, err)
	}
}

func TestRefresh_StoreDuringAReloadWins(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), refreshOptions(t))
	ctx := testContext(t)
	ageValue(t, ctx, m, "k", "v1")
	started, release := make(chan struct{}), make(chan struct{})
	m.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done(): // Close, if the test fails first
		}
		return "reloaded-before-the-write", nil
	})
	receive(t, started, "the reload")
	if err := m.Store(ctx, "k", "written"); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitStats(t, "the reload's fenced commit", func(s redismap.Stats) bool { return s.FencedCommits == 1 }, m)
	if v, _, _ := m.Load(ctx, "k"); v != "written" {
		t.Errorf("the value is %q; want the Store's: invalidation wins over a reload", v)
	}
}

func TestRefresh_MissWhileAReloadRunsWaitsForIt(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := refreshOptions(t)
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)
	ageValue(t, ctx, holder, "k", "v1")
	started, release := make(chan struct{}), make(chan struct{})
	holder.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done(): // Close, if the test fails first
		}
		return "v2", nil
	})
	receive(t, started, "the reload")
	// The value expires while the reload runs: the next caller misses, finds
	// the reload's lease, and waits for it instead of loading again.
	vkey, _, _, _ := holder.KeyNames("k")
	if err := srv.client(t).Del(ctx, vkey).Err(); err != nil {
		t.Fatal(err)
	}
	got := loadFromWaiter(ctx, waiter, "k")
	receive(t, waiting, "the miss to wait for the reload")
	close(release)
	if v := receive(t, got, "the waiter's value"); v != "v2" {
		t.Errorf("the miss got %q; want the reload's value", v)
	}
	if st := waiter.Stats(); st.Loads != 0 {
		t.Errorf("the waiter ran %d loads; want 0", st.Loads)
	}
}

func TestRefresh_NearCacheHitStartsTheReloadAndItsCommitReachesTheNearCache(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client, rt := srv.countingClient(t)
	opts := refreshOptions(t)
	opts.NearCache = redismap.NearCacheOptions{Size: 10}
	m := newMap(t, client, opts)
	waitConnected(t, m)
	ctx := testContext(t)
	storeSettled(t, m, "k", "v1")
	m.Load(ctx, "k")                               // fill the near cache
	time.Sleep(refreshAfter + 50*time.Millisecond) // the value's age passing RefreshAfter is the point
	before := rt.Load()
	if v, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v2", nil }); err != nil || v != "v1" {
		t.Fatalf("the near hit got (%q, %v); want v1", v, err)
	}
	waitStats(t, "the reload's commit", func(s redismap.Stats) bool { return s.Commits == 1 }, m)
	if got := rt.Load() - before; got < 2 || got > 3 {
		t.Errorf("the near hit and its reload made %d round trips; want 2 (refresh, commit), or 3 with a first use's EVAL fallback", got)
	}
	notes := m.Stats().Notifications
	waitNotification(t, m, notes-1) // the commit's own message, which drops the near entry, may be in already
	for deadline := time.Now().Add(10 * time.Second); ; {
		if v, _, _ := m.Load(ctx, "k"); v == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the near cache still serves the old value 10s after the reload's commit")
		}
		time.Sleep(time.Millisecond) // polling for the commit's notification
	}
}

func TestRefresh_ValuesStoredWithoutMetadataStillDecodeAndRefresh(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client := srv.client(t)
	m := newMap(t, client, refreshOptions(t))
	ctx := testContext(t)
	// The form before this version: 'v' and the codec's bytes, no TTL in it.
	vkey, _, _, _ := m.KeyNames("k")
	if err := client.Set(ctx, vkey, "vold", refreshTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || v != "old" {
		t.Fatalf("Load of the old form = (%q, %v, %v); want old", v, ok, err)
	}
	time.Sleep(refreshAfter + 50*time.Millisecond) // the value's age passing RefreshAfter is the point
	if v, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "new", nil }); err != nil || v != "old" {
		t.Fatalf("LoadOrTryCompute = (%q, %v); want old", v, err)
	}
	waitStats(t, "the reload's commit", func(s redismap.Stats) bool { return s.Commits == 1 }, m)
	raw := client.Get(ctx, vkey).Val()
	if !strings.HasPrefix(raw, "x") || !strings.HasSuffix(raw, ";new") {
		t.Errorf("after the reload the stored form is %q; want the current form x<expiry>,<TTL>,<load>;new", raw)
	}
}

func TestNew_RejectsARefreshAfterThatValuesMayNotReach(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, o := range []redismap.Options[string, string]{
		{TTL: time.Second, TTLJitter: 100 * time.Millisecond, RefreshAfter: 950 * time.Millisecond},
		{TTL: time.Second, RefreshAfter: time.Second},
		{RefreshAfter: -time.Second},
	} {
		if _, err := redismap.New(client, o); err == nil || !strings.Contains(err.Error(), "Options.RefreshAfter") {
			t.Errorf("TTL %v, TTLJitter %v, RefreshAfter %v: got %v; want an error naming Options.RefreshAfter", o.TTL, o.TTLJitter, o.RefreshAfter, err)
		}
	}
}
