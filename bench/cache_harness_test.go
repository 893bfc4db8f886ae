package bench_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// The cache benchmarks compare only what their adapters do; these tests
// check that each adapter does what the benchmarks assume, and that the
// harness's helpers compute what their names say.

func TestCacheAdapters_StoreThenLoadHitsAndLoadOrComputeFillsAMiss(t *testing.T) {
	for _, im := range cacheImpls {
		t.Run(im.name, func(t *testing.T) {
			c := im.new(cacheOptions{maxEntries: 1000, ttl: time.Hour})
			defer c.Close()
			fillCache(im, c, 100)
			for k := range int64(100) {
				if v, ok := c.Load(k); !ok || v != k {
					t.Fatalf("Load(%d) = %d, %v after Store; want %d, true", k, v, ok, k)
				}
			}
			if v := c.LoadOrCompute(5); v != 5 {
				t.Errorf("LoadOrCompute(5) of a stored key = %d; want 5", v)
			}
			if v := c.LoadOrCompute(500); v != 1 {
				t.Errorf("LoadOrCompute(500) of a missing key = %d; want the value function's 1", v)
			}
			if im.settle != nil {
				im.settle(c)
			}
			if v, ok := c.Load(500); !ok || v != 1 {
				t.Errorf("Load(500) after LoadOrCompute = %d, %v; want 1, true", v, ok)
			}
			if n := cacheLen(c, 1000); n != 101 {
				t.Errorf("cacheLen = %d; want 101", n)
			}
		})
	}
}

func TestCacheAdapters_HoldTheirBound(t *testing.T) {
	for _, im := range cacheImpls {
		t.Run(im.name, func(t *testing.T) {
			c := im.new(cacheOptions{maxEntries: 100})
			defer c.Close()
			for k := range int64(10_000) {
				c.LoadOrCompute(k)
			}
			if im.settle != nil {
				im.settle(c)
			}
			// otter and theine apply evictions in batches: allow them
			// their buffers' slack.
			if n := cacheLen(c, 10_000); n > 200 {
				t.Errorf("holds %d entries after 10,000 misses with a bound of 100; want about 100", n)
			}
		})
	}
}

func TestComputeProbes_SendTheColdShareToTheColdRange(t *testing.T) {
	const hot, bound = 1000, 2000
	keys := computeProbes(1<<16, hot, bound, 10)
	cold := 0
	for _, k := range keys {
		switch {
		case k < 0 || k >= hot+2*bound:
			t.Fatalf("probe %d outside [0, %d)", k, hot+2*bound)
		case k >= hot:
			cold++
		}
	}
	if share := float64(cold) / float64(len(keys)); share < 0.09 || share > 0.11 {
		t.Errorf("cold share = %.3f; want 0.10", share)
	}
}

func TestZipfKeys_FavourFewKeys(t *testing.T) {
	keys := zipfProbes(1<<16, 10_000, cacheZipfS, 1)
	counts := map[int64]int{}
	for _, k := range keys {
		if k < 0 || k >= 10_000 {
			t.Fatalf("key %d outside [0, 10000)", k)
		}
		counts[k]++
	}
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	// Zipf s = 1.01 over 10k keys: the top key draws about 10 % of reads;
	// a uniform draw would give it about 0.01 %.
	if share := float64(top) / float64(len(keys)); share < 0.05 {
		t.Errorf("the most read key has %.3f of the reads; want Zipf's ~0.1", share)
	}
}

func TestPercentile_TakesTheNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("percentile(1..100, %v) = %v; want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v; want 0", got)
	}
}

// TestCacheBatch_PeersRunTheWorkload runs a small batch workload on each
// peer: no error, no key lost.
func TestCacheBatch_PeersRunTheWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 5 ms loaders; skipped under -short")
	}
	keys, ids := batchPlan(2)
	keys[0], keys[1], ids[0], ids[1] = keys[0][:2], keys[1][:2], ids[0][:2], ids[1][:2]
	for _, im := range batchImpls {
		t.Run(im.name, func(t *testing.T) {
			if im.missing != "" {
				t.Skip(im.missing)
			}
			r := runBatch(im, 2, keys, ids)
			if r.errors != 0 || r.lost != 0 {
				t.Errorf("errors = %d, lost = %d; want 0, 0", r.errors, r.lost)
			}
			if r.loads == 0 || r.keysLoaded == 0 {
				t.Errorf("loads = %d, keys loaded = %d; want some", r.loads, r.keysLoaded)
			}
		})
	}
}

// TestRefreshImpls_ReturnTheLoadedValue reads the hot key of each refresh
// cache twice: the loader runs once.
func TestRefreshImpls_ReturnTheLoadedValue(t *testing.T) {
	for _, im := range refreshImpls {
		t.Run(im.name, func(t *testing.T) {
			var calls atomic.Int64
			get, closeFn := im.new(func(context.Context) (int64, error) { calls.Add(1); return 42, nil })
			defer closeFn()
			for range 2 {
				if v, err := get(context.Background()); err != nil || v != 42 {
					t.Fatalf("get = %d, %v; want 42, nil", v, err)
				}
			}
			if calls.Load() != 1 {
				t.Errorf("the loader ran %d times for two reads within the TTL; want 1", calls.Load())
			}
		})
	}
}
