package cache_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
	"github.com/safemap-go/safemap/internal/testkit"
)

// TestCache_StressKeepsBookkeepingAndOnEvictExact races every write, lookup
// and load of a few hot keys against evictions (a bound of 8) and expiry (a
// TTL of about the wheel's tick, on the real coarse clock), with unique
// values, then checks that the cache's bookkeeping matches its map, that
// no value was reported evicted twice or after it was deleted, and that no
// lookup returned a value that was never stored.
func TestCache_StressKeepsBookkeepingAndOnEvictExact(t *testing.T) {
	for _, o := range []cache.Options[int, int]{
		{MaxEntries: 8},
		{TTL: 3 * time.Millisecond},
		{MaxEntries: 8, TTL: 2 * time.Millisecond, NegativeTTL: time.Millisecond, ErrorTTL: time.Millisecond},
	} {
		var mu sync.Mutex
		evicted := map[int]bool{}
		deleted := map[int]bool{}
		o.OnEvict = func(k, v int, _ cache.EvictCause) {
			mu.Lock()
			defer mu.Unlock()
			if evicted[v] {
				t.Errorf("OnEvict(%d, %d) twice", k, v)
			}
			evicted[v] = true
		}
		c := mustNew(t, o)
		var next atomic.Int64
		value := func() int { return int(next.Add(1)) }
		stored := func(v int) bool { return v > 0 && v <= int(next.Load()) }
		workers := max(4, runtime.GOMAXPROCS(0))
		ops := testkit.ShortOr(5_000, 30_000)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 7))
				ctx := context.Background()
				for range ops {
					k := r.IntN(16)
					var got int
					var ok bool
					switch r.IntN(13) {
					case 0, 1:
						got, ok = c.Load(k)
					case 2:
						c.Store(k, value())
					case 3:
						got, _ = c.LoadOrCompute(k, value)
						ok = true
					case 4:
						v, _, err := c.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
							switch r.IntN(4) {
							case 0:
								return 0, cache.ErrNotFound
							case 1:
								return 0, errors.New("down")
							}
							return value(), nil
						})
						got, ok = v, err == nil
					case 5:
						if v, loaded := c.LoadAndDelete(k); loaded {
							mu.Lock()
							deleted[v] = true
							mu.Unlock()
						}
					case 6:
						c.Delete(k)
					case 7:
						c.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) {
							// A Load under the Compute's lock queues an expired
							// entry for the Compute to drop when it returns.
							if v, ok := c.Load(r.IntN(16)); ok && !stored(v) {
								t.Errorf("a Load inside Compute returned %d, never stored", v)
							}
							if loaded && r.IntN(2) == 0 {
								return 0, safemap.DeleteOp // not reported: an old value deleted by Compute may be evicted... see below
							}
							return value(), safemap.UpdateOp
						})
					case 8:
						got, ok = c.Swap(k, value())
					case 9:
						got, ok = c.LoadOrStore(k, value())
					case 10:
						c.Range(func(_, v int) bool {
							if !stored(v) {
								t.Errorf("Range visited %d, never stored", v)
							}
							return true
						})
					case 11:
						if r.IntN(20) == 0 {
							c.Clear()
						}
					case 12:
						old, found := c.Load(k)
						switch {
						case !found:
						case r.IntN(2) == 0:
							c.CompareAndSwap(k, old, value())
						case c.CompareAndDelete(k, old):
							mu.Lock()
							deleted[old] = true
							mu.Unlock()
						}
					}
					if ok && !stored(got) {
						t.Errorf("a lookup returned %d, never stored", got)
						return
					}
				}
			}()
		}
		wg.Wait()
		checkInvariants(t, c)
		mu.Lock()
		for v := range deleted {
			if evicted[v] {
				t.Errorf("value %d was deleted by LoadAndDelete and also reported to OnEvict", v)
			}
		}
		mu.Unlock()
		if o.MaxEntries > 0 && c.Len() > o.MaxEntries {
			t.Errorf("Len after the stress = %d; want at most %d", c.Len(), o.MaxEntries)
		}
	}
}

// TestCache_ExpiryRacingAHitReturnsOnlyStoredValues hammers one key whose
// entries live about a millisecond, so that hits race the expiry and the
// reclaiming of the entry they read: every hit must return a value that
// was stored, and the bookkeeping must hold afterwards.
func TestCache_ExpiryRacingAHitReturnsOnlyStoredValues(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{TTL: time.Millisecond, MaxEntries: 4})
	var stored atomic.Int64
	var readers, writer sync.WaitGroup
	stop := make(chan struct{})
	writer.Add(1)
	go func() {
		defer writer.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			stored.Store(int64(i))
			c.Store(0, i)
		}
	}()
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range testkit.ShortOr(20_000, 200_000) {
				if v, ok := c.Load(0); ok && (v <= 0 || int64(v) > stored.Load()) {
					t.Errorf("Load returned %d; stored up to %d", v, stored.Load())
					return
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	writer.Wait()
	checkInvariants(t, c)
}

// TestCache_BoundHoldsWithinTheSlackUnderConcurrentWrites samples Len while
// GOMAXPROCS writers insert fresh keys into a cache of 1,000: it may exceed
// the bound only by the writes in flight, far below the documented slack of
// max(1 %, 64).
func TestCache_BoundHoldsWithinTheSlackUnderConcurrentWrites(t *testing.T) {
	const bound, slack = 1000, 64
	c := mustNew(t, cache.Options[int, int]{MaxEntries: bound})
	workers := max(4, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var worst atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range testkit.ShortOr(5_000, 20_000) {
				c.LoadOrCompute(w<<20|i, func() int { return i })
				if i%64 == 0 {
					if n := int64(c.Len()); n > worst.Load() {
						worst.Store(n)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := worst.Load(); n > bound+slack {
		t.Fatalf("Len reached %d under concurrent writes; want at most %d + %d", n, bound, slack)
	}
	if n := c.Len(); n > bound {
		t.Fatalf("Len after the writers finished: %d; want at most %d", n, bound)
	}
	checkInvariants(t, c)
}
