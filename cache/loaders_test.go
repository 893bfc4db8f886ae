package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cache"
	"github.com/safemap-go/safemap/internal/testkit"
)

func constLoader(v int, calls *atomic.Int64) func(context.Context) (int, error) {
	return func(context.Context) (int, error) { calls.Add(1); return v, nil }
}

func TestRefresh_StaleHitReturnsAtOnceAndReloadsOnceInTheBackground(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{TTL: 100 * time.Millisecond, RefreshAfter: 50 * time.Millisecond, Clock: clk.Now})
	ctx := context.Background()
	c.Store("k", 1)
	clk.Advance(60 * time.Millisecond)
	release := make(chan struct{})
	var calls atomic.Int64
	slow := func(context.Context) (int, error) { calls.Add(1); <-release; return 2, nil }
	for range 10 {
		if v, loaded, err := c.LoadOrTryCompute(ctx, "k", slow); v != 1 || !loaded || err != nil {
			t.Fatalf("stale hit: got %d, %t, %v; want the current value 1, true, nil at once", v, loaded, err)
		}
		if v, _ := c.LoadOrCompute("k", func() int { calls.Add(1); return 3 }); v != 1 {
			t.Fatalf("stale LoadOrCompute hit: got %d; want 1", v)
		}
	}
	if v, _ := c.Load("k"); v != 1 {
		t.Fatalf("Load during the reload: got %d; want 1", v)
	}
	close(release)
	testkit.WaitFor(t, "the reload to land", func() bool { v, _ := c.Load("k"); return v == 2 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("reloads started by 20 stale hits: %d; want 1", n)
	}
	// The reload restarted the TTL: 90 ms later the entry is still there.
	clk.Advance(90 * time.Millisecond)
	if v, ok := c.Load("k"); !ok || v != 2 {
		t.Fatalf("Load 90 ms after the reload: got %d, %t; want 2, true (the TTL restarts)", v, ok)
	}
	if s := c.Stats(); s.Refreshes != 1 || s.RefreshFailures != 0 {
		t.Fatalf("Stats: %d refreshes, %d failures; want 1, 0", s.Refreshes, s.RefreshFailures)
	}
}

func TestRefresh_LoadNeverStartsAReload(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{RefreshAfter: 10 * time.Millisecond, Clock: clk.Now})
	c.Store("k", 1)
	clk.Advance(time.Second)
	for range 5 {
		c.Load("k")
	}
	c.Close() // waits for reloads: none may have run
	if s := c.Stats(); s.Refreshes+s.RefreshFailures != 0 {
		t.Fatalf("Load started %d reloads; want none", s.Refreshes+s.RefreshFailures)
	}
}

func TestRefresh_FailureKeepsTheValueAndBacksOff(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{TTL: time.Hour, RefreshAfter: 10 * time.Millisecond, Clock: clk.Now})
	ctx := context.Background()
	c.Store("k", 1)
	clk.Advance(20 * time.Millisecond)
	var calls atomic.Int64
	failing := func(context.Context) (int, error) { calls.Add(1); return 0, errors.New("backend down") }
	panicking := func(context.Context) (int, error) { calls.Add(1); panic("reload bug") }
	c.LoadOrTryCompute(ctx, "k", failing)
	testkit.WaitFor(t, "the failed reload", func() bool { return c.Stats().RefreshFailures == 1 })
	for range 10 { // within the backoff (at least 75 ms after one failure): no retry
		if v, _, err := c.LoadOrTryCompute(ctx, "k", failing); v != 1 || err != nil {
			t.Fatalf("hit after a failed reload: got %d, %v; want the old value 1", v, err)
		}
	}
	clk.Advance(50 * time.Millisecond)
	c.LoadOrTryCompute(ctx, "k", failing)
	if n := calls.Load(); n != 1 {
		t.Fatalf("reloads within the backoff: %d calls; want 1", n)
	}
	clk.Advance(100 * time.Millisecond) // past 125 ms, the most the first backoff can be
	c.LoadOrTryCompute(ctx, "k", panicking)
	testkit.WaitFor(t, "the panicking reload", func() bool { return c.Stats().RefreshFailures == 2 })
	if v, ok := c.Load("k"); !ok || v != 1 {
		t.Fatalf("after a failed and a panicking reload: Load = %d, %t; want 1, true", v, ok)
	}
	// An explicit Refresh ignores the backoff, and the key is usable.
	res := testkit.Receive(t, "Refresh's result", c.Refresh(ctx, "k", constLoader(5, &calls)))
	if res.Err != nil || !res.Stored || res.Value != 5 {
		t.Fatalf("Refresh after the failures: got %+v; want 5 stored", res)
	}
	if v, _ := c.Load("k"); v != 5 {
		t.Fatalf("Load after Refresh: got %d; want 5", v)
	}
	var pe *cache.PanicError
	res = testkit.Receive(t, "Refresh's result", c.Refresh(ctx, "k", panicking))
	if !errors.As(res.Err, &pe) || pe.Value != "reload bug" {
		t.Fatalf("Refresh whose loader panics: got %+v; want a *PanicError", res)
	}
}

func TestRefresh_InvalidationDuringAReloadWins(t *testing.T) {
	for _, invalidate := range []string{"Delete", "Store", "Clear"} {
		clk := newFakeClock()
		c := mustNew(t, cache.Options[string, int]{RefreshAfter: 10 * time.Millisecond, Clock: clk.Now})
		c.Store("k", 1)
		started, release := make(chan struct{}), make(chan struct{})
		ch := c.Refresh(context.Background(), "k", func(context.Context) (int, error) {
			close(started)
			<-release
			return 2, nil
		})
		<-started
		switch invalidate {
		case "Delete":
			c.Delete("k")
		case "Store":
			c.Store("k", 3)
		case "Clear":
			c.Clear()
		}
		close(release)
		res := testkit.Receive(t, "the reload's result", ch)
		if res.Stored {
			t.Errorf("%s during a reload: the reload stored %d; want it dropped", invalidate, res.Value)
		}
		v, ok := c.Load("k")
		if want := invalidate == "Store"; ok != want || (ok && v != 3) {
			t.Errorf("%s during a reload: Load = %d, %t; want the invalidation's outcome", invalidate, v, ok)
		}
	}
}

// whoKey is the context key of the reload-context test.
type whoKey struct{}

func TestRefresh_ReloadContextIsDetachedAndBounded(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{RefreshAfter: time.Millisecond, RefreshTimeout: 20 * time.Millisecond, Clock: clk.Now})
	c.Store("k", 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), whoKey{}, "caller"))
	cancel()
	res := testkit.Receive(t, "the reload's result", c.Refresh(ctx, "k", func(ctx context.Context) (int, error) {
		if ctx.Value(whoKey{}) != "caller" {
			return 0, errors.New("lost the caller's values")
		}
		if _, ok := ctx.Deadline(); !ok {
			return 0, errors.New("no deadline")
		}
		<-ctx.Done() // not the caller's cancellation: the timeout
		return 0, ctx.Err()
	}))
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("reload of a cancelled caller: got %v; want it to run until its own timeout", res.Err)
	}
}

func TestNegativeCaching_RemembersNotFound(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{NegativeTTL: time.Second, Clock: clk.Now})
	ctx := context.Background()
	var calls atomic.Int64
	notFound := func(context.Context) (int, error) {
		calls.Add(1)
		return 0, fmt.Errorf("user 7: %w", cache.ErrNotFound)
	}
	for i := range 3 {
		if _, _, err := c.LoadOrTryCompute(ctx, "u7", notFound); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("call %d: got %v; want an error matching ErrNotFound", i, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader calls within NegativeTTL: %d; want 1", n)
	}
	if _, ok := c.Load("u7"); ok || c.Len() != 0 {
		t.Fatalf("Load of a remembered absence: present or Len %d; want absent and 0", c.Len())
	}
	if v, loaded := c.LoadOrCompute("u7", func() int { return 7 }); v != 7 || loaded {
		t.Fatalf("LoadOrCompute over a remembered absence: %d, %t; want it to compute 7", v, loaded)
	}
	c.Delete("u7")
	c.LoadOrTryCompute(ctx, "u7", notFound)
	c.Store("u7", 8)
	if v, _, err := c.LoadOrTryCompute(ctx, "u7", notFound); v != 8 || err != nil {
		t.Fatalf("after Store over a remembered absence: got %d, %v; want 8", v, err)
	}
	c.Delete("u7")
	c.LoadOrTryCompute(ctx, "u7", notFound)
	clk.Advance(time.Second)
	c.LoadOrTryCompute(ctx, "u7", notFound)
	if n := calls.Load(); n != 4 {
		t.Fatalf("loader calls: %d; want 4 (once per absence, again after NegativeTTL)", n)
	}
	checkInvariants(t, c)
}

func TestNegativeCaching_EntriesCountTowardMaxEntries(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{MaxEntries: 10, NegativeTTL: time.Hour})
	ctx := context.Background()
	for k := range 10 {
		c.Store(k, k)
	}
	for k := 100; k < 200; k++ {
		c.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) { return 0, cache.ErrNotFound })
	}
	if n := c.Len(); n >= 10 {
		t.Fatalf("Len after 100 remembered absences in a cache of 10: %d; want them to have evicted values", n)
	}
	checkInvariants(t, c)
}

func TestErrorCaching_RemembersErrorsButNotContexts(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{ErrorTTL: time.Second, Clock: clk.Now})
	ctx := context.Background()
	down := errors.New("backend down")
	var calls atomic.Int64
	failing := func(context.Context) (int, error) { calls.Add(1); return 0, down }
	if _, _, err := c.LoadOrTryCompute(ctx, "k", failing); err != down {
		t.Fatalf("first call: got %v; want the loader's own error", err)
	}
	_, _, err := c.LoadOrTryCompute(ctx, "k", failing)
	var ce *cache.CachedError
	if !errors.As(err, &ce) || !errors.Is(err, down) || calls.Load() != 1 {
		t.Fatalf("second call: got %v after %d loader calls; want a *CachedError wrapping it, 1 call", err, calls.Load())
	}
	c.Store("k", 1)
	if v, _, err := c.LoadOrTryCompute(ctx, "k", failing); v != 1 || err != nil {
		t.Fatalf("after Store: got %d, %v; want 1", v, err)
	}
	c.Delete("k")
	c.LoadOrTryCompute(ctx, "k", failing)
	c.Delete("k")
	c.LoadOrTryCompute(ctx, "k", failing)
	if n := calls.Load(); n != 3 {
		t.Fatalf("loader calls: %d; want 3 (Delete clears a remembered error)", n)
	}
	clk.Advance(time.Second)
	c.LoadOrTryCompute(ctx, "k", failing)
	if n := calls.Load(); n != 4 {
		t.Fatalf("loader calls after ErrorTTL: %d; want 4", n)
	}
	// A cancelled caller's context error is not remembered.
	cctx, cancel := context.WithCancel(ctx)
	c.LoadOrTryCompute(cctx, "c", func(ctx context.Context) (int, error) { cancel(); return 0, ctx.Err() })
	if v, _, err := c.LoadOrTryCompute(ctx, "c", constLoader(9, &calls)); v != 9 || err != nil {
		t.Fatalf("after a cancelled caller's failure: got %d, %v; want the next call to load", v, err)
	}
	checkInvariants(t, c)
}

func TestRefresh_AfterCloseRunsNoBackgroundWork(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[string, int]{RefreshAfter: time.Millisecond, Clock: clk.Now})
	c.Store("k", 1)
	clk.Advance(time.Second)
	c.Close()
	var calls atomic.Int64
	c.LoadOrTryCompute(context.Background(), "k", constLoader(2, &calls))
	if n := calls.Load(); n != 0 {
		t.Fatalf("a stale hit after Close started %d reloads; want none", n)
	}
	ch := c.Refresh(context.Background(), "k", constLoader(3, &calls))
	select {
	case res := <-ch:
		if !res.Stored || res.Value != 3 {
			t.Fatalf("Refresh after Close: got %+v; want 3 stored", res)
		}
	default:
		t.Fatal("Refresh after Close returned before its reload ran; want it to run in the caller's goroutine")
	}
}
