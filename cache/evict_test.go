package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cache"
	"github.com/safemap-go/safemap/internal/testkit"
)

// zipfTrace returns n keys drawn with Zipf skew s from [0, keys).
func zipfTrace(seed uint64, n, keys int, s float64) []int {
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, s, 1, uint64(keys-1))
	trace := make([]int, n)
	for i := range trace {
		trace[i] = int(z.Uint64())
	}
	return trace
}

func TestCache_BoundHoldsDuringASingleGoroutineReplay(t *testing.T) {
	const max = 1000
	c := mustNew(t, cache.Options[int, int]{MaxEntries: max})
	trace := zipfTrace(1, testkit.ShortOr(50_000, 300_000), 100_000, 1.01)
	hits := 0
	for i, k := range trace {
		if _, ok := c.Load(k); ok {
			hits++
		} else {
			c.Store(k, k)
		}
		if n := c.Len(); n > max {
			t.Fatalf("after access %d: Len() = %d; want at most MaxEntries = %d", i, n, max)
		}
	}
	checkInvariants(t, c)
	s := c.Stats()
	if s.Hits != uint64(hits) || s.Misses != uint64(len(trace)-hits) {
		t.Fatalf("Stats: %d hits, %d misses; want %d, %d", s.Hits, s.Misses, hits, len(trace)-hits)
	}
	t.Logf("hit ratio %.3f, %d evictions", s.HitRatio(), s.Evictions)
}

func TestCache_WeightBoundHolds(t *testing.T) {
	const maxWeight = 5000
	c := mustNew(t, cache.Options[int, int]{MaxWeight: maxWeight, Weigher: func(k, _ int) uint32 { return uint32(1 + k%10) }})
	weight := func() (w uint64) {
		c.Range(func(k, _ int) bool { w += uint64(1 + k%10); return true })
		return w
	}
	for i, k := range zipfTrace(2, testkit.ShortOr(20_000, 100_000), 50_000, 1.1) {
		if _, ok := c.Load(k); !ok {
			c.Store(k, k)
		}
		if i%500 == 0 {
			if w := weight(); w > maxWeight {
				t.Fatalf("after access %d: total weight %d; want at most %d", i, w, maxWeight)
			}
		}
	}
	if w, s := weight(), c.Stats(); s.Weight != w {
		t.Fatalf("Stats().Weight = %d; the entries weigh %d", s.Weight, w)
	}
	checkInvariants(t, c)
}

func TestCache_OnEvictIsCalledOncePerEvictedEntryAndNeverForDeletedOnes(t *testing.T) {
	// Values are unique, so each OnEvict call names one entry.
	var mu sync.Mutex
	evicted := map[int]cache.EvictCause{}
	deleted := map[int]bool{}
	clk := newFakeClock()
	c := mustNew(t, cache.Options[int, int]{MaxEntries: 50, TTL: 100 * time.Millisecond, Clock: clk.Now,
		OnEvict: func(k, v int, cause cache.EvictCause) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := evicted[v]; dup {
				t.Errorf("OnEvict(%d, %d, %v): a second call for this entry", k, v, cause)
			}
			if deleted[v] {
				t.Errorf("OnEvict(%d, %d, %v): the entry was deleted", k, v, cause)
			}
			evicted[v] = cause
		}})
	r := rand.New(rand.NewPCG(3, 3))
	next := 0
	for range testkit.ShortOr(20_000, 100_000) {
		k := r.IntN(200)
		switch r.IntN(10) {
		case 0:
			if v, ok := c.LoadAndDelete(k); ok {
				mu.Lock()
				deleted[v] = true
				mu.Unlock()
			}
		case 1:
			clk.Advance(time.Duration(r.IntN(20)) * time.Millisecond)
		default:
			next++
			c.Store(k, next)
		}
	}
	checkInvariants(t, c)
	s := c.Stats()
	var size, expired uint64
	for _, cause := range evicted {
		if cause == cache.EvictSize {
			size++
		} else {
			expired++
		}
	}
	if s.Evictions != size || s.Expirations != expired || size == 0 || expired == 0 {
		t.Fatalf("Stats: %d evictions, %d expirations; OnEvict saw %d and %d (want equal and both > 0)", s.Evictions, s.Expirations, size, expired)
	}
}

func TestCache_PanicInWeigherOrTTLFuncChangesNothing(t *testing.T) {
	for _, which := range []string{"Weigher", "TTLFunc"} {
		o := cache.Options[int, int]{}
		if which == "Weigher" {
			o.MaxWeight, o.Weigher = 100, func(k, v int) uint32 {
				if v < 0 {
					panic("bad weight")
				}
				return 1
			}
		} else {
			o.TTLFunc = func(k, v int) time.Duration {
				if v < 0 {
					panic("bad ttl")
				}
				return time.Hour
			}
		}
		c := mustNew(t, o)
		c.Store(1, 1)
		for name, f := range map[string]func(){
			"Store":          func() { c.Store(1, -1) },
			"Swap":           func() { c.Swap(2, -1) },
			"LoadOrStore":    func() { c.LoadOrStore(2, -1) },
			"LoadOrCompute":  func() { c.LoadOrCompute(2, func() int { return -1 }) },
			"CompareAndSwap": func() { c.CompareAndSwap(1, 1, -1) },
		} {
			if _, panicked := testkit.CatchPanic(f); !panicked {
				t.Errorf("%s with a %s that panics: no panic", name, which)
			}
		}
		if v, ok := c.Load(1); !ok || v != 1 {
			t.Fatalf("%s panics: Load(1) = %d, %t; want 1, true", which, v, ok)
		}
		if _, ok := c.Load(2); ok || c.Len() != 1 {
			t.Fatalf("%s panics: key 2 present or Len %d; want absent and 1", which, c.Len())
		}
		if v, _ := c.LoadOrCompute(2, func() int { return 2 }); v != 2 {
			t.Fatalf("%s panics: LoadOrCompute(2) after them = %d; want 2 (the key is usable)", which, v)
		}
		checkInvariants(t, c)
	}
}

func TestCache_PanicInOnEvictReachesTheWriterAfterTheCacheIsConsistent(t *testing.T) {
	calls := 0
	c := mustNew(t, cache.Options[int, int]{MaxEntries: 1, OnEvict: func(k, v int, _ cache.EvictCause) {
		calls++
		panic(fmt.Sprintf("evicted %d", k))
	}})
	c.Store(1, 1)
	r, panicked := testkit.CatchPanic(func() {
		for k := 2; k < 100; k++ {
			c.Store(k, k)
		}
	})
	if !panicked || calls != 1 {
		t.Fatalf("Stores evicting under an OnEvict that panics: panicked %t (%v) after %d calls; want a panic after 1", panicked, r, calls)
	}
	checkInvariants(t, c)
	if n := c.Len(); n != 1 {
		t.Fatalf("Len after the panic: %d; want 1 (the Store took effect, the victim left)", n)
	}
	c.Delete(1)
	c.Delete(2)
	c.Store(7, 7)
	if v, ok := c.Load(7); !ok || v != 7 {
		t.Fatalf("Load after the panic: got %d, %t; want 7, true", v, ok)
	}
}

func TestCache_PanicInALoaderLeavesTheKeyUsable(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{MaxEntries: 10, TTL: time.Hour})
	if _, panicked := testkit.CatchPanic(func() { c.LoadOrCompute(1, func() int { panic("loader") }) }); !panicked {
		t.Fatal("LoadOrCompute whose fn panics: no panic")
	}
	if _, panicked := testkit.CatchPanic(func() {
		c.LoadOrTryCompute(context.Background(), 1, func(context.Context) (int, error) { panic("loader") })
	}); !panicked {
		t.Fatal("LoadOrTryCompute whose fn panics: no panic")
	}
	if c.Len() != 0 {
		t.Fatalf("Len after the panics: %d; want 0", c.Len())
	}
	if v, loaded := c.LoadOrCompute(1, func() int { return 1 }); v != 1 || loaded {
		t.Fatalf("LoadOrCompute after the panics: %d, %t; want 1, false", v, loaded)
	}
	checkInvariants(t, c)
}

func TestCache_StatsCountAScriptedWorkloadExactly(t *testing.T) {
	clk := newFakeClock()
	c := mustNew(t, cache.Options[int, int]{MaxEntries: 2, TTL: time.Second, Clock: clk.Now})
	ctx := context.Background()
	fail := errors.New("down")
	c.Load(1)                                                                         // miss
	c.LoadOrCompute(1, func() int { return 1 })                                       // miss, load
	c.Load(1)                                                                         // hit
	c.LoadOrCompute(1, func() int { return 9 })                                       // hit
	c.LoadOrTryCompute(ctx, 2, func(context.Context) (int, error) { return 0, fail }) // miss, load, error
	c.LoadOrTryCompute(ctx, 2, func(context.Context) (int, error) { return 2, nil })  // miss, load
	clk.Advance(time.Second + 20*time.Millisecond)                                    // past both deadlines and one wheel tick
	c.Load(1)                                                                         // miss; reclaims 1, and its maintenance's wheel advance reclaims 2: 2 expirations
	c.Store(3, 3)
	c.Store(4, 4)
	c.Store(5, 5) // over the bound: an eviction
	want := cache.Stats{Hits: 2, Misses: 5, Loads: 3, LoadErrors: 1, Evictions: 1, Expirations: 2, Entries: 2}
	if got := c.Stats(); got != want {
		t.Fatalf("Stats() = %+v; want %+v", got, want)
	}
	if r := want.HitRatio(); r != 2.0/7 {
		t.Fatalf("HitRatio() = %v; want 2/7", r)
	}
	if r := (cache.Stats{}).HitRatio(); r != 0 {
		t.Fatalf("HitRatio of no lookups = %v; want 0", r)
	}
}
