package redismap_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap/redismap"
)

// batchLoader is a LoadOrTryComputeAll loader that records its calls and
// returns "v-" + key for every key it is asked for, except those in skip.
type batchLoader struct {
	mu    sync.Mutex
	calls [][]string
	per   map[string]int // key → times loaded
	skip  map[string]bool
}

func (l *batchLoader) load(_ context.Context, missing []string) (map[string]string, error) {
	l.mu.Lock()
	l.calls = append(l.calls, slices.Clone(missing))
	if l.per == nil {
		l.per = map[string]int{}
	}
	for _, k := range missing {
		l.per[k]++
	}
	l.mu.Unlock()
	out := map[string]string{}
	for _, k := range missing {
		if !l.skip[k] {
			out[k] = "v-" + k
		}
	}
	return out, nil
}

func (l *batchLoader) callsMade() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func keyList(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint(prefix, i)
	}
	return keys
}

func sorted(keys []string) []string {
	keys = slices.Clone(keys)
	sort.Strings(keys)
	return keys
}

// checkValues fails t unless got holds "v-"+k for exactly keys.
func checkValues(t *testing.T, got map[string]string, keys []string) {
	t.Helper()
	if len(got) != len(keys) {
		t.Errorf("result holds %d keys; want %d", len(got), len(keys))
	}
	for _, k := range keys {
		if got[k] != "v-"+k {
			t.Errorf("result[%q] = %q; want %q", k, got[k], "v-"+k)
		}
	}
}

func TestLoadOrTryComputeAll_PresentKeysCostOneRoundTripAndNoLoaderCall(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client, rt := srv.countingClient(t)
	m := newMap(t, client, redismap.Options[string, string]{})
	ctx := testContext(t)
	keys := keyList("k", 20)
	l := &batchLoader{}
	if _, err := m.LoadOrTryComputeAll(ctx, keys, l.load); err != nil { // fill, and warm the scripts
		t.Fatal(err)
	}
	before := rt.Load()
	got, err := m.LoadOrTryComputeAll(ctx, append(keys, keys[0]), l.load) // a key twice is read once
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, got, keys)
	if n := len(l.callsMade()); n != 1 {
		t.Errorf("loader calls = %d; want 1 (the fill), none for present keys", n)
	}
	if got := rt.Load() - before; got != 1 {
		t.Errorf("round trips for 20 present keys = %d; want 1", got)
	}
}

func TestLoadOrTryComputeAll_LoadsTheMissingKeysInOneCallAndTwoRoundTrips(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client, rt := srv.countingClient(t)
	m := newMap(t, client, redismap.Options[string, string]{})
	ctx := testContext(t)
	present, missing := keyList("p", 5), keyList("m", 7)
	for _, k := range present {
		if err := m.Store(ctx, k, "v-"+k); err != nil {
			t.Fatal(err)
		}
	}
	// A first batch on other keys makes the server know the batch
	// scripts: on a server that does not yet (no other test ran them),
	// a script's first call costs an extra round trip (EVALSHA, NOSCRIPT,
	// EVAL), which is not what this test counts.
	if _, err := m.LoadOrTryComputeAll(ctx, keyList("warm", 2), (&batchLoader{}).load); err != nil {
		t.Fatal(err)
	}
	l := &batchLoader{}
	before := rt.Load()
	got, err := m.LoadOrTryComputeAll(ctx, append(slices.Clone(present), missing...), l.load)
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, got, append(slices.Clone(present), missing...))
	calls := l.callsMade()
	if len(calls) != 1 || !slices.Equal(sorted(calls[0]), sorted(missing)) {
		t.Errorf("loader calls %v; want one, with exactly the missing keys %v", calls, missing)
	}
	// acquire (reads the present keys, takes the missing keys' leases) and
	// commit.
	if got := rt.Load() - before; got != 2 {
		t.Errorf("round trips = %d; want 2 (acquire, commit)", got)
	}
	for _, k := range missing {
		if v, ok, err := m.Load(ctx, k); !ok || err != nil || v != "v-"+k {
			t.Errorf("stored %q = (%q, %v, %v); want the loaded value", k, v, ok, err)
		}
	}
}

func TestLoadOrTryComputeAll_SplitsTheLoaderIntoCallsOfMaxBatchKeys(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{MaxBatch: 3})
	ctx := testContext(t)
	keys := keyList("k", 10)
	l := &batchLoader{}
	got, err := m.LoadOrTryComputeAll(ctx, keys, l.load)
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, got, keys)
	calls := l.callsMade()
	var all []string
	for _, c := range calls {
		if len(c) > 3 {
			t.Errorf("a loader call got %d keys; want at most MaxBatch 3", len(c))
		}
		all = append(all, c...)
	}
	if len(calls) != 4 || !slices.Equal(sorted(all), sorted(keys)) {
		t.Errorf("loader calls %v; want 4 calls covering every key once", calls)
	}
}

func TestLoadOrTryComputeAll_KeysTheLoaderLeavesOutAreNotFoundAndCachedSo(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	for _, negativeTTL := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint("NegativeTTL=", negativeTTL), func(t *testing.T) {
			m := newMap(t, srv.client(t), redismap.Options[string, string]{NegativeTTL: negativeTTL, ErrorTTL: time.Minute})
			ctx := testContext(t)
			keys := keyList("k", 6)
			l := &batchLoader{skip: map[string]bool{"k1": true, "k4": true}}
			got, err := m.LoadOrTryComputeAll(ctx, keys, l.load)
			if err != nil {
				t.Fatalf("got error %v; want none: a key not found is not an error", err)
			}
			checkValues(t, got, []string{"k0", "k2", "k3", "k5"})
			// The answer is cached: the next batch calls the loader for
			// nothing, and a single call gets ErrNotFound.
			if got, err := m.LoadOrTryComputeAll(ctx, keys, l.load); err != nil || len(got) != 4 {
				t.Errorf("second batch = %d keys, %v; want the 4 found, no error", len(got), err)
			}
			if n := len(l.callsMade()); n != 1 {
				t.Errorf("loader calls = %d; want 1: keys not found are cached", n)
			}
			_, _, err = m.LoadOrTryCompute(ctx, "k1", func(context.Context) (string, error) { return "x", nil })
			if !errors.Is(err, redismap.ErrNotFound) {
				t.Errorf("LoadOrTryCompute of a key the batch did not find: %v; want ErrNotFound", err)
			}
		})
	}
}

func TestLoadOrTryComputeAll_SharesTheLoaderErrorWithWaitersInOtherProcesses(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	errBackend := errors.New("backend down")
	opts := redismap.Options[string, string]{Prefix: prefix(t), SharedErrors: []error{errBackend}}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)
	started, finish := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	go func() {
		got, err := holder.LoadOrTryComputeAll(ctx, keyList("k", 5), func(context.Context, []string) (map[string]string, error) {
			close(started) // the batch holds the leases
			<-finish
			return nil, fmt.Errorf("query: %w", errBackend)
		})
		if len(got) != 0 {
			err = fmt.Errorf("result %v; want empty", got)
		}
		res <- err
	}()
	<-started
	waiterErr := make(chan error, 1)
	go func() {
		_, _, err := waiter.LoadOrTryCompute(ctx, "k3", func(context.Context) (string, error) { return "x", nil })
		waiterErr <- err
	}()
	receive(t, waiting, "the waiter to wait for the batch")
	close(finish)
	if err := receive(t, res, "the batch"); !errors.Is(err, errBackend) || strings.Count(err.Error(), "backend down") != 1 {
		t.Errorf("the batch got %v; want the loader's error, once", err)
	}
	var shared *redismap.SharedError
	if err := receive(t, waiterErr, "the waiter"); !errors.As(err, &shared) || !errors.Is(err, errBackend) {
		t.Errorf("the waiter got %v; want the batch's error as a *SharedError", err)
	}
}

func TestLoadOrTryComputeAll_PanicReleasesEveryLeaseAndReachesTheCaller(t *testing.T) {
	t.Parallel()
	holder := checkPanicHandsTheKeyOver(t, "k2", func(ctx context.Context, holder *redismap.Map[string, string], started, boom chan struct{}) {
		holder.LoadOrTryComputeAll(ctx, keyList("k", 5), func(context.Context, []string) (map[string]string, error) {
			close(started)
			<-boom
			panic("loader exploded")
		})
	})
	ctx := testContext(t)
	for _, k := range []string{"k0", "k4"} {
		if _, ok, err := holder.Load(ctx, k); ok || err != nil {
			t.Errorf("%s after the panic: (%v, %v); want nothing stored", k, ok, err)
		}
	}
	if st := holder.Stats(); st.Releases < 4 {
		t.Errorf("Releases = %d; want the leases of the keys nobody took over", st.Releases)
	}
}

func TestLoadOrTryComputeAll_WaitsForKeysAnotherProcessIsLoadingInThreeRoundTrips(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t)}
	waiterClient, rt := srv.countingClient(t)
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), waiterClient, opts)
	ctx := testContext(t)
	waiter.LoadOrTryComputeAll(ctx, []string{"warm"}, (&batchLoader{}).load) // warm the scripts
	started, finish := make(chan struct{}), make(chan struct{})
	go holder.LoadOrTryCompute(ctx, "k1", func(context.Context) (string, error) {
		close(started)
		<-finish
		return "v-k1", nil
	})
	<-started
	l := &batchLoader{}
	before := rt.Load()
	res := make(chan map[string]string, 1)
	go func() {
		got, err := waiter.LoadOrTryComputeAll(ctx, []string{"k0", "k1", "k2"}, l.load)
		if err != nil {
			t.Error(err)
		}
		res <- got
	}()
	receive(t, waiting, "the batch to wait for k1")
	close(finish)
	checkValues(t, receive(t, res, "the batch"), []string{"k0", "k1", "k2"})
	if calls := l.callsMade(); len(calls) != 1 || !slices.Equal(sorted(calls[0]), []string{"k0", "k2"}) {
		t.Errorf("loader calls %v; want one, without the key another process was loading", calls)
	}
	if got := rt.Load() - before; got != 3 {
		t.Errorf("round trips = %d; want 3 (acquire, commit, acquire after the wake-up)", got)
	}
}

func TestLoadOrTryComputeAll_SharesInProcessLoadsWithSingleCalls(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	m := newMap(t, srv.client(t), redismap.Options[string, string]{})
	ctx := testContext(t)
	started, finish := make(chan struct{}), make(chan struct{})
	single := make(chan string, 1)
	go func() {
		v, _, _ := m.LoadOrTryCompute(ctx, "k1", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "v-k1", nil
		})
		single <- v
	}()
	<-started
	l := &batchLoader{}
	res := make(chan map[string]string, 1)
	go func() {
		got, _ := m.LoadOrTryComputeAll(ctx, []string{"k0", "k1"}, l.load)
		res <- got
	}()
	// The batch loads k0 and waits for the single call's k1.
	for deadline := time.Now().Add(10 * time.Second); len(l.callsMade()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the batch did not load k0")
		}
		time.Sleep(time.Millisecond) // polling the loader's record
	}
	close(finish)
	checkValues(t, receive(t, res, "the batch"), []string{"k0", "k1"})
	if v := receive(t, single, "the single call"); v != "v-k1" {
		t.Errorf("the single call got %q", v)
	}
	if calls := l.callsMade(); len(calls) != 1 || !slices.Equal(calls[0], []string{"k0"}) {
		t.Errorf("batch loader calls %v; want one, with k0 alone", calls)
	}
	if st := m.Stats(); st.Waits != 0 {
		t.Errorf("Stats().Waits = %d; want 0: the batch waits for the single call in process, not through Redis", st.Waits)
	}
}

func TestLoadOrTryComputeAll_ConcurrentOverlappingBatchesLoadEachKeyOnce(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t), MaxBatch: 20}
	maps := []*redismap.Map[string, string]{newMap(t, srv.client(t), opts), newMap(t, srv.client(t), opts)}
	ctx := testContext(t)
	universe := keyList("k", 1000)
	l := &batchLoader{}
	batches := 30
	if testing.Short() {
		batches = 10
	}
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := maps[g%len(maps)]
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range batches {
				keys := make([]string, 50)
				for i := range keys {
					keys[i] = universe[r.IntN(len(universe))]
				}
				got, err := m.LoadOrTryComputeAll(ctx, keys, l.load)
				if err != nil {
					t.Errorf("batch: %v", err)
					failures.Add(1)
					return
				}
				for _, k := range keys {
					if got[k] != "v-"+k {
						t.Errorf("result[%q] = %q; want its value", k, got[k])
						failures.Add(1)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, n := range l.per {
		if n != 1 {
			t.Errorf("key %q loaded %d times; want once (TTL 1 h: one absence)", k, n)
		}
	}
	t.Logf("%d keys loaded in %d loader calls", len(l.per), len(l.calls))
}

func TestLoadOrTryComputeAll_CtxEndingWhileWaitingReturnsWhatItHasAndTheCtxError(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := redismap.Options[string, string]{Prefix: prefix(t)}
	holder, waiter, waiting := holderAndWaiter(t, srv.client(t), srv.client(t), opts)
	ctx := testContext(t)
	started, finish := make(chan struct{}), make(chan struct{})
	defer close(finish)
	go holder.LoadOrTryCompute(ctx, "k1", func(context.Context) (string, error) {
		close(started)
		<-finish
		return "v-k1", nil
	})
	<-started
	wctx, cancel := context.WithCancel(ctx)
	type answer struct {
		got map[string]string
		err error
	}
	res := make(chan answer, 1)
	go func() {
		got, err := waiter.LoadOrTryComputeAll(wctx, []string{"k0", "k1"}, (&batchLoader{}).load)
		res <- answer{got, err}
	}()
	receive(t, waiting, "the batch to wait")
	cancel()
	a := receive(t, res, "the batch")
	if !errors.Is(a.err, context.Canceled) {
		t.Errorf("error %v; want context.Canceled", a.err)
	}
	checkValues(t, a.got, []string{"k0"})
}
