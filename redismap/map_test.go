package redismap_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// newMap returns a Map on client with the test's own Prefix, closed when
// the test ends.
func newMap[V any](t testing.TB, client redis.UniversalClient, opts redismap.Options[string, V]) *redismap.Map[string, V] {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = prefix(t)
	}
	m, err := redismap.New(client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitConnected waits (bounded) until m's notification subscription is up.
func waitConnected[K comparable, V any](t testing.TB, m *redismap.Map[K, V]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := redismap.WaitConnected(ctx, m, true); err != nil {
		t.Fatalf("the notification subscription did not come up: %v", err)
	}
}

// onWait returns a channel that receives each name a caller of m starts
// waiting on.
func onWait[K comparable, V any](m *redismap.Map[K, V]) <-chan string {
	ch := make(chan string, 100)
	redismap.OnWait(m, func(name string) {
		select {
		case ch <- name:
		default:
		}
	})
	return ch
}

// holderAndWaiter returns two Maps on the same keys, one per client (so
// that they are two processes as far as Redis can tell): the holder, which
// will run the loader, and the waiter, whose notification subscription is
// up, with a channel naming each entry the waiter starts waiting on.
func holderAndWaiter(t testing.TB, holderClient, waiterClient redis.UniversalClient, opts redismap.Options[string, string]) (holder, waiter *redismap.Map[string, string], waiting <-chan string) {
	t.Helper()
	holder = newMap(t, holderClient, opts)
	waiter = newMap(t, waiterClient, opts)
	waitConnected(t, waiter)
	return holder, waiter, onWait(waiter)
}

// loadFromWaiter starts m.LoadOrTryCompute(ctx, key) with a loader that
// returns "from-waiter", and returns a channel that receives the value it
// returned, or its error's text.
func loadFromWaiter(ctx context.Context, m *redismap.Map[string, string], key string) <-chan string {
	got := make(chan string, 1)
	go func() {
		v, _, err := m.LoadOrTryCompute(ctx, key, func(context.Context) (string, error) { return "from-waiter", nil })
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	return got
}

// sumStats adds up Maps' counters, field by field.
func sumStats(stats ...redismap.Stats) redismap.Stats {
	var sum redismap.Stats
	total := reflect.ValueOf(&sum).Elem()
	for _, s := range stats {
		v := reflect.ValueOf(s)
		for i := range v.NumField() {
			total.Field(i).SetInt(total.Field(i).Int() + v.Field(i).Int())
		}
	}
	return sum
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receive waits (bounded) for a value from ch.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestLoadOrTryCompute_CallsTheLoaderOnceForConcurrentMissesInOneProcess(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client, rt := srv.countingClient(t)
	m := newMap[string](t, client, redismap.Options[string, string]{})
	ctx := testContext(t)

	var calls atomic.Int32
	release := make(chan struct{})
	const goroutines = 32
	var wg sync.WaitGroup
	results := make([]string, goroutines)
	errs := make([]error, goroutines)
	before := rt.Load()
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _, errs[i] = m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
				calls.Add(1)
				<-release
				return "v", nil
			})
		}()
	}
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("loader calls = %d; want 1", got)
	}
	for i := range goroutines {
		if errs[i] != nil || results[i] != "v" {
			t.Errorf("caller %d got (%q, %v); want (\"v\", nil)", i, results[i], errs[i])
		}
	}
	// One GET, one acquire and one commit (EVALSHA each; a first use of a
	// script on this server adds an EVAL). Latecomers that missed the
	// shared flight read the value: one GET each.
	if got := rt.Load() - before; got > 3+2+goroutines {
		t.Errorf("round trips = %d for one miss by %d goroutines; want far fewer than one per goroutine", got, goroutines)
	}
	if got := m.Stats().Loads; got != 1 {
		t.Errorf("Stats().Loads = %d; want 1", got)
	}
}

// commandNames records the names of the commands a client sends (a
// pipeline's commands joined with "+"), leaving out a new connection's
// handshake.
type commandNames struct {
	mu    sync.Mutex
	names []string
}

func (c *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "client" {
			c.mu.Lock()
			c.names = append(c.names, n)
			c.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (c *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := cmds[0].Name(); n == "hello" || n == "client" {
			return next(ctx, cmds) // a new connection's handshake
		}
		var parts []string
		for _, cmd := range cmds {
			parts = append(parts, cmd.Name())
		}
		c.mu.Lock()
		c.names = append(c.names, strings.Join(parts, "+"))
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// since returns the names recorded after the first n.
func (c *commandNames) since(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names[n:]...)
}

func (c *commandNames) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.names)
}

// recordingClient returns a client of the shared server whose commands
// are recorded.
func recordingClient(t *testing.T) (*redis.Client, *commandNames) {
	client := shared(t).client(t)
	cmds := new(commandNames)
	client.AddHook(cmds)
	return client, cmds
}

func TestLoadOrTryCompute_MakesThreeRoundTripsPerMissAndOneGETPerHit(t *testing.T) {
	t.Parallel()
	client, cmds := recordingClient(t)
	m := newMap[string](t, client, redismap.Options[string, string]{})
	ctx := testContext(t)
	load := func(context.Context) (string, error) { return "v", nil }
	// Warm the script cache on the server.
	if _, _, err := m.LoadOrTryCompute(ctx, "warm", load); err != nil {
		t.Fatal(err)
	}
	before := cmds.len()
	if _, loaded, err := m.LoadOrTryCompute(ctx, "k", load); err != nil || loaded {
		t.Fatalf("miss: loaded=%v err=%v; want false, nil", loaded, err)
	}
	if got, want := cmds.since(before), []string{"get", "evalsha", "evalsha"}; !slices.Equal(got, want) {
		t.Errorf("a miss sent %v; want %v (GET, acquire, commit)", got, want)
	}
	before = cmds.len()
	if v, loaded, err := m.LoadOrTryCompute(ctx, "k", load); err != nil || !loaded || v != "v" {
		t.Fatalf("hit: (%q, %v, %v); want (\"v\", true, nil)", v, loaded, err)
	}
	if got, want := cmds.since(before), []string{"get"}; !slices.Equal(got, want) {
		t.Errorf("a hit sent %v; want %v: a hit costs what a GET costs", got, want)
	}
}

func TestLoadOrTryCompute_RunsTheLoaderOnceAcrossMapsAndWakesTheWaiter(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 5 * time.Second}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)

	started, finish := make(chan struct{}), make(chan struct{})
	go func() {
		holder.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "from-holder", nil
		})
	}()
	<-started
	got := make(chan string, 1)
	go func() {
		v, _, err := waiter.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			return "from-waiter", nil
		})
		if err != nil {
			v = "error: " + err.Error()
		}
		got <- v
	}()
	receive(t, waiting, "the waiter to wait")
	begin := time.Now()
	close(finish)
	if v := receive(t, got, "the waiter's value"); v != "from-holder" {
		t.Fatalf("waiter got %q; want the holder's value", v)
	}
	// Woken by the commit's notification, not by the 5 s lease timer.
	if elapsed := time.Since(begin); elapsed > 2*time.Second {
		t.Errorf("the waiter took %v after the commit; want a notification, not the lease timer", elapsed)
	}
	st := waiter.Stats()
	if st.Loads != 0 || st.Waits != 1 || st.WakeUps != 1 {
		t.Errorf("waiter stats: Loads=%d Waits=%d WakeUps=%d; want 0, 1, 1", st.Loads, st.Waits, st.WakeUps)
	}
}

func TestLoadOrTryCompute_SharesTheLoaderErrorAcrossMapsAndRetriesAfterErrorTTL(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	errBackend := errors.New("backend down")
	opts := redismap.Options[string, string]{Prefix: prefix(t), ErrorTTL: 300 * time.Millisecond, SharedErrors: []error{errBackend}}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)

	started, finish := make(chan struct{}), make(chan struct{})
	holderErr := make(chan error, 1)
	go func() {
		_, _, err := holder.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "", fmt.Errorf("query users: %w", errBackend)
		})
		holderErr <- err
	}()
	<-started
	waiterErr := make(chan error, 1)
	var waiterCalls atomic.Int32
	go func() {
		_, _, err := waiter.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			waiterCalls.Add(1)
			return "v", nil
		})
		waiterErr <- err
	}()
	receive(t, waiting, "the waiter to wait")
	close(finish)
	if err := receive(t, holderErr, "the holder's error"); !errors.Is(err, errBackend) {
		t.Errorf("holder got %v; want its loader's error", err)
	}
	err := receive(t, waiterErr, "the waiter's error")
	var shared *redismap.SharedError
	if !errors.As(err, &shared) || !errors.Is(err, errBackend) || !strings.Contains(err.Error(), "query users: backend down") {
		t.Errorf("waiter got %v; want a *SharedError carrying the message and wrapping errBackend", err)
	}
	if waiterCalls.Load() != 0 {
		t.Errorf("the waiter called its loader; want the holder's error shared")
	}
	// The marker expires after ErrorTTL; the next call tries again.
	time.Sleep(400 * time.Millisecond) // the marker's TTL passing is the point of the test
	v, loaded, err := waiter.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
		waiterCalls.Add(1)
		return "v", nil
	})
	if err != nil || loaded || v != "v" || waiterCalls.Load() != 1 {
		t.Errorf("after ErrorTTL: (%q, %v, %v), %d calls; want (\"v\", false, nil), 1 call", v, loaded, err, waiterCalls.Load())
	}
}

func TestLoadOrTryCompute_CachesNotFoundForNegativeTTL(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{NegativeTTL: time.Minute})
	ctx := testContext(t)
	var calls atomic.Int32
	load := func(context.Context) (string, error) {
		calls.Add(1)
		return "", fmt.Errorf("user 7: %w", redismap.ErrNotFound)
	}
	for i := range 3 {
		_, _, err := m.LoadOrTryCompute(ctx, "7", load)
		if !errors.Is(err, redismap.ErrNotFound) {
			t.Fatalf("call %d: got %v; want ErrNotFound", i, err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("loader calls = %d; want 1 (the answer cached)", calls.Load())
	}
	if _, ok, err := m.Load(ctx, "7"); ok || err != nil {
		t.Errorf("Load of a negative entry = (%v, %v); want absent, nil", ok, err)
	}
	if got := m.Stats().NegativeHits; got != 2 {
		t.Errorf("NegativeHits = %d; want 2", got)
	}
}

func TestLoadOrTryCompute_WaiterReturnsPromptlyWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t)}
	holder := newMap(t, srv.client(t), opts)
	waiter := newMap(t, srv.client(t), opts)
	waiting := onWait(waiter)
	ctx := testContext(t)
	started, finish := make(chan struct{}), make(chan struct{})
	defer close(finish)
	go holder.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
		close(started)
		<-finish
		return "v", nil
	})
	<-started
	wctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := waiter.LoadOrTryCompute(wctx, "k", func(context.Context) (string, error) { return "w", nil })
		errc <- err
	}()
	receive(t, waiting, "the waiter to wait")
	cancel()
	if err := receive(t, errc, "the waiter to return"); err != context.Canceled {
		t.Errorf("waiter got %v; want context.Canceled", err)
	}
}

func TestLoadOrTryCompute_CancelledHolderLetsAWaiterTakeOver(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 10 * time.Second}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)

	hctx, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	holderErr := make(chan error, 1)
	go func() {
		_, _, err := holder.LoadOrTryCompute(hctx, "k", func(ctx context.Context) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		})
		holderErr <- err
	}()
	<-started
	got := loadFromWaiter(ctx, waiter, "k")
	receive(t, waiting, "the waiter to wait")
	begin := time.Now()
	cancel()
	if err := receive(t, holderErr, "the holder to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("holder got %v; want context.Canceled", err)
	}
	if v := receive(t, got, "the waiter's value"); v != "from-waiter" {
		t.Errorf("waiter got %q; want its own value (a takeover, not the holder's cancellation)", v)
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("the takeover took %v; want the release's notification, not the 10 s lease", elapsed)
	}
	if st := waiter.Stats(); st.Takeovers != 1 || st.Loads != 1 {
		t.Errorf("waiter Takeovers=%d Loads=%d; want 1, 1", st.Takeovers, st.Loads)
	}
	if st := holder.Stats(); st.Releases != 1 {
		t.Errorf("holder Releases=%d; want 1", st.Releases)
	}
}

func TestLeaseTakenOver_MarksTheLoaderOfATakeoverAndNoOther(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 10 * time.Second}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)

	hctx, cancel := context.WithCancel(ctx)
	holderTookOver := make(chan bool, 1)
	holderErr := make(chan error, 1)
	go func() {
		_, _, err := holder.LoadOrTryCompute(hctx, "k", func(ctx context.Context) (string, error) {
			holderTookOver <- redismap.LeaseTakenOver(ctx)
			<-ctx.Done()
			return "", ctx.Err()
		})
		holderErr <- err
	}()
	if receive(t, holderTookOver, "the holder's loader") {
		t.Error("LeaseTakenOver in the first holder's loader = true; want false (nobody held the lease before)")
	}
	waiterTookOver := make(chan bool, 1)
	go func() {
		waiter.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
			waiterTookOver <- redismap.LeaseTakenOver(ctx)
			return "w", nil
		})
	}()
	receive(t, waiting, "the waiter to wait")
	cancel()
	receive(t, holderErr, "the holder to return")
	if !receive(t, waiterTookOver, "the waiter's loader") {
		t.Error("LeaseTakenOver in the loader of the waiter that took over = false; want true")
	}
	if redismap.LeaseTakenOver(ctx) {
		t.Error("LeaseTakenOver of a caller's ctx = true; want false")
	}
}

func TestLoadOrTryCompute_PanicReachesTheCallerReleasesTheLeaseAndStoresNothing(t *testing.T) {
	t.Parallel()
	checkPanicHandsTheKeyOver(t, "k", func(ctx context.Context, holder *redismap.Map[string, string], started, boom chan struct{}) {
		holder.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
			close(started)
			<-boom
			panic("loader exploded")
		})
	})
}

// checkPanicHandsTheKeyOver runs panicking, which calls holder's loader
// that closes started, waits for boom and panics "loader exploded"; it
// checks that the panic reaches panicking's caller and that a waiter on
// key in another Map takes over at once (not after the 10 s lease), and
// returns holder.
func checkPanicHandsTheKeyOver(t *testing.T, key string, panicking func(ctx context.Context, holder *redismap.Map[string, string], started, boom chan struct{})) *redismap.Map[string, string] {
	t.Helper()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 10 * time.Second}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)

	started, boom := make(chan struct{}), make(chan struct{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		panicking(ctx, holder, started, boom)
	}()
	<-started
	got := loadFromWaiter(ctx, waiter, key)
	receive(t, waiting, "the waiter to wait")
	begin := time.Now()
	close(boom)
	if r := receive(t, recovered, "the panic"); r != "loader exploded" {
		t.Errorf("recovered %v; want the loader's panic", r)
	}
	if v := receive(t, got, "the waiter's value"); v != "from-waiter" {
		t.Errorf("waiter got %q; want its own value after a takeover", v)
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("the takeover took %v; want the release at once, not the 10 s lease", elapsed)
	}
	return holder
}

// The honest guarantee's weakening: a loader that outlives its lease (here
// MaxLoad stops its renewal) lets a second loader run, and its own commit
// is fenced.
func TestLoadOrTryCompute_LoaderOutlivingItsLeaseIsFencedAndASecondLoaderRuns(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 200 * time.Millisecond, MaxLoad: 250 * time.Millisecond}
	slow := newMap(t, srv.client(t), opts)
	other := newMap(t, srv.client(t), opts)
	ctx := testContext(t)

	started := make(chan uint64, 1)
	var firstToken uint64
	type result struct {
		v   string
		err error
	}
	slowRes := make(chan result, 1)
	secondDone := make(chan struct{})
	go func() {
		v, _, err := slow.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
			tok, _ := redismap.FencingToken(ctx)
			started <- tok
			<-secondDone // outlive the lease: the fault under test
			return "stale", nil
		})
		slowRes <- result{v, err}
	}()
	firstToken = receive(t, started, "the first loader")
	var secondToken uint64
	v, loaded, err := other.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
		secondToken, _ = redismap.FencingToken(ctx)
		return "fresh", nil
	})
	close(secondDone)
	if err != nil || loaded || v != "fresh" {
		t.Fatalf("second caller got (%q, %v, %v); want its own value after the lease expired", v, loaded, err)
	}
	if secondToken <= firstToken {
		t.Errorf("tokens %d then %d; want increasing", firstToken, secondToken)
	}
	r := receive(t, slowRes, "the first loader's outcome")
	if !errors.Is(r.err, redismap.ErrFenced) || r.v != "stale" {
		t.Errorf("first caller got (%q, %v); want its own value with ErrFenced", r.v, r.err)
	}
	if got, ok, err := other.Load(ctx, "k"); err != nil || !ok || got != "fresh" {
		t.Errorf("stored value (%q, %v, %v); want the second loader's", got, ok, err)
	}
	if st := slow.Stats(); st.FencedCommits != 1 {
		t.Errorf("FencedCommits = %d; want 1", st.FencedCommits)
	}
	if st := other.Stats(); st.Takeovers != 1 {
		t.Errorf("Takeovers = %d; want 1", st.Takeovers)
	}
}

func TestLoadOrTryCompute_StoreDuringALoadFencesTheLoad(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{})
	ctx := testContext(t)
	v, _, err := m.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
		if err := m.Store(ctx, "k", "written"); err != nil {
			t.Errorf("Store: %v", err)
		}
		return "loaded-before-the-write", nil
	})
	if !errors.Is(err, redismap.ErrFenced) || v != "loaded-before-the-write" {
		t.Errorf("got (%q, %v); want the loader's value with ErrFenced", v, err)
	}
	if got, _, _ := m.Load(ctx, "k"); got != "written" {
		t.Errorf("stored %q; want the Store's value", got)
	}
}

func TestLoadOrTryCompute_ValueTooLargeIsAnErrorAndStoresNothing(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{MaxValueSize: 10})
	ctx := testContext(t)
	_, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return strings.Repeat("x", 11), nil })
	if !errors.Is(err, redismap.ErrValueTooLarge) {
		t.Fatalf("got %v; want ErrValueTooLarge", err)
	}
	if _, ok, err := m.Load(ctx, "k"); ok || err != nil {
		t.Errorf("Load = (%v, %v); want nothing stored", ok, err)
	}
	if err := m.Store(ctx, "k", strings.Repeat("x", 11)); !errors.Is(err, redismap.ErrValueTooLarge) {
		t.Errorf("Store got %v; want ErrValueTooLarge", err)
	}
}

func TestLoadOrTryCompute_ValueThatDoesNotEncodeIsAnError(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, any]{})
	ctx := testContext(t)
	_, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (any, error) { return make(chan int), nil })
	if !errors.Is(err, redismap.ErrEncode) {
		t.Fatalf("got %v; want ErrEncode", err)
	}
}

func TestMap_RedisDownIsAnErrorNotAHang(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: 1})
	defer client.Close()
	m := newMap(t, client, redismap.Options[string, string]{})
	ctx := testContext(t)
	begin := time.Now()
	_, _, err = m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) {
		t.Error("the loader ran without a lease")
		return "", nil
	})
	if err == nil || !strings.Contains(err.Error(), `redismap: load "k"`) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("LoadOrTryCompute got %v; want an error naming the operation, the key and the refusal", err)
	}
	if _, _, err := m.Load(ctx, "k"); err == nil {
		t.Error("Load got no error")
	}
	if err := m.Store(ctx, "k", "v"); err == nil {
		t.Error("Store got no error")
	}
	if err := m.Delete(ctx, "k"); err == nil {
		t.Error("Delete got no error")
	}
	if elapsed := time.Since(begin); elapsed > 10*time.Second {
		t.Errorf("the calls took %v; want a prompt error", elapsed)
	}
}

func TestLoad_StoredValueThatDoesNotDecodeIsADecodeError(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client := srv.client(t)
	type user struct{ Name string }
	m := newMap(t, client, redismap.Options[string, user]{})
	ctx := testContext(t)
	vkey, _, _, _ := m.KeyNames("k")
	if err := client.Set(ctx, vkey, "v{not json", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, ok, err := m.Load(ctx, "k")
	var de *redismap.DecodeError
	if !errors.As(err, &de) || ok {
		t.Errorf("Load = (%v, %v); want a *DecodeError", ok, err)
	}
	_, _, err = m.LoadOrTryCompute(ctx, "k", func(context.Context) (user, error) { return user{"x"}, nil })
	if !errors.As(err, &de) {
		t.Errorf("LoadOrTryCompute got %v; want a *DecodeError", err)
	}
}

func TestMap_StoreLoadDeleteRoundTrip(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	type user struct {
		Name string
		Age  int
	}
	m := newMap(t, srv.client(t), redismap.Options[string, user]{})
	ctx := testContext(t)
	if _, ok, err := m.Load(ctx, "ada"); ok || err != nil {
		t.Fatalf("Load of a new key = (%v, %v); want absent", ok, err)
	}
	if err := m.Store(ctx, "ada", user{"Ada", 36}); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := m.Load(ctx, "ada"); !ok || err != nil || u != (user{"Ada", 36}) {
		t.Fatalf("Load = (%v, %v, %v); want the stored user", u, ok, err)
	}
	if err := m.Delete(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Load(ctx, "ada"); ok || err != nil {
		t.Fatalf("Load after Delete = (%v, %v); want absent", ok, err)
	}
}

func TestStore_ValueExpiresWithinTTLLessJitter(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client := srv.client(t)
	m := newMap(t, client, redismap.Options[string, string]{TTL: time.Hour, TTLJitter: 10 * time.Minute})
	ctx := testContext(t)
	seen := map[time.Duration]bool{}
	for i := range 20 {
		key := fmt.Sprint(i)
		if err := m.Store(ctx, key, "v"); err != nil {
			t.Fatal(err)
		}
		vkey, _, _, _ := m.KeyNames(key)
		ttl := client.PTTL(ctx, vkey).Val()
		if ttl > time.Hour || ttl < 50*time.Minute-time.Second {
			t.Errorf("TTL %v; want within [50m, 1h]", ttl)
		}
		seen[ttl.Truncate(time.Second)] = true
	}
	if len(seen) < 5 {
		t.Errorf("20 stores got %d distinct TTLs; want jitter", len(seen))
	}
}

func TestKeyNames_ShareOneHashTagAndSlot(t *testing.T) {
	t.Parallel()
	m, err := redismap.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), redismap.Options[string, string]{Prefix: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, key := range []string{"user:42", "", "}", "a}b{c", "{x}"} {
		v, l, f, err := m.KeyNames(key)
		if err != nil {
			t.Fatal(err)
		}
		tag := func(s string) string { // Redis Cluster's hash-tag rule
			i := strings.IndexByte(s, '{')
			if i < 0 {
				return s
			}
			j := strings.IndexByte(s[i+1:], '}')
			if j <= 0 {
				return s
			}
			return s[i+1 : i+1+j]
		}
		if tag(v) != tag(l) || tag(v) != tag(f) || !strings.HasPrefix(tag(v), "3:app:") {
			t.Errorf("key %q: names %q %q %q have tags %q %q %q; want one non-empty tag", key, v, l, f, tag(v), tag(l), tag(f))
		}
	}
	if v, _, _, _ := m.KeyNames("user:42"); v != "{3:app:user:42}:v" {
		t.Errorf("value key %q; want {3:app:user:42}:v", v)
	}
}

func TestDefaultKey_EncodesNumbersAndRejectsNaN(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	mi, _ := redismap.New(client, redismap.Options[int64, string]{Prefix: "p"})
	defer mi.Close()
	if v, _, _, err := mi.KeyNames(-42); err != nil || v != "{1:p:-42}:v" {
		t.Errorf("int key: %q, %v", v, err)
	}
	mf, _ := redismap.New(client, redismap.Options[float64, string]{Prefix: "p"})
	defer mf.Close()
	pos, _, _, _ := mf.KeyNames(0)
	neg, _, _, _ := mf.KeyNames(-1 / inf())
	if pos != neg {
		t.Errorf("+0 and -0 encode to %q and %q; want one key", pos, neg)
	}
	if _, _, _, err := mf.KeyNames(nan()); !errors.Is(err, redismap.ErrInvalidKey) {
		t.Errorf("NaN key: %v; want ErrInvalidKey", err)
	}
	type point struct{ X, Y int }
	ms, _ := redismap.New(client, redismap.Options[point, string]{Prefix: "p"})
	defer ms.Close()
	if v, _, _, err := ms.KeyNames(point{1, 2}); err != nil || v != `{1:p:{"X":1,"Y":2}}:v` {
		t.Errorf("struct key: %q, %v", v, err)
	}
}

func TestNew_RejectsInvalidOptionsNamingEachField(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := redismap.New[string, string](nil, redismap.Options[string, string]{}); err == nil {
		t.Error("New with a nil client: no error")
	}
	_, err := redismap.New(client, redismap.Options[string, string]{
		Prefix: "a{b", TTL: time.Second, TTLJitter: 2 * time.Second, Lease: time.Millisecond,
		MaxValueSize: -1, NearCache: redismap.NearCacheOptions{Size: -1},
		SharedErrors: []error{nil},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"Prefix", "TTLJitter", "Lease", "MaxValueSize", "NearCache.Size", "SharedErrors[0]"} {
		if !strings.Contains(err.Error(), "Options."+field) {
			t.Errorf("error %q does not name Options.%s", err, field)
		}
	}
	m, err := redismap.New(client, redismap.Options[string, string]{})
	if err != nil {
		t.Fatalf("zero Options: %v; want the defaults", err)
	}
	m.Close()
}

func TestMap_MethodsAfterCloseReturnErrClosed(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{})
	m.Close()
	ctx := testContext(t)
	if _, _, err := m.Load(ctx, "k"); err != redismap.ErrClosed {
		t.Errorf("Load: %v", err)
	}
	if _, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "", nil }); err != redismap.ErrClosed {
		t.Errorf("LoadOrTryCompute: %v", err)
	}
	if err := m.Store(ctx, "k", "v"); err != redismap.ErrClosed {
		t.Errorf("Store: %v", err)
	}
	if err := m.Delete(ctx, "k"); err != redismap.ErrClosed {
		t.Errorf("Delete: %v", err)
	}
}

func TestReady_ReturnsOnceSubscribedAndErrClosedAfterClose(t *testing.T) {
	t.Parallel()
	m := newMap(t, shared(t).client(t), redismap.Options[string, string]{})
	ctx := testContext(t)
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	m.Close()
	if err := m.Ready(ctx); err != redismap.ErrClosed {
		t.Errorf("Ready after Close: %v; want ErrClosed", err)
	}
	port, _ := freePort()
	down := newMap(t, redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)}), redismap.Options[string, string]{})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := down.Ready(short); err != context.DeadlineExceeded {
		t.Errorf("Ready with no server: %v; want the ctx's error", err)
	}
}

func TestLoadOrTryCompute_SharesAHugeErrorMessageTruncated(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t)}
	a := newMap(t, srv.client(t), opts)
	b := newMap(t, srv.client(t), opts)
	ctx := testContext(t)
	huge := strings.Repeat("x", 1<<20)
	if _, _, err := a.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "", errors.New(huge) }); err == nil {
		t.Fatal("no error")
	}
	_, _, err := b.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v", nil })
	var shared *redismap.SharedError
	if !errors.As(err, &shared) {
		t.Fatalf("got %T; want a *SharedError", err)
	}
	if len(shared.Message) > 5<<10 || !strings.HasSuffix(shared.Message, "(truncated)") {
		t.Errorf("the shared message is %d bytes; want it truncated to about 4 KiB", len(shared.Message))
	}
}
