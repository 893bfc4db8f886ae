package bench_test

import (
	"flag"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"sync/atomic"
	"testing"
)

// The speed rows of issue 18 (BENCHMARKING.md's "Cache speed"): a Load hit
// on 100k preloaded keys read with Zipf s = 1.01, and LoadOrCompute with
// 90 % of the calls on those hot keys and 10 % on a cold range twice the
// bound, so that the misses evict. Both on GOMAXPROCS goroutines
// (b.RunParallel); run them with GOMAXPROCS=2 and compare ratios:
//
//	GOMAXPROCS=2 go test -run '^$' -bench 'Cache(LoadHit|LoadOrCompute)$' -count 6 ./bench | tee speed.txt
//	benchstat -col /impl speed.txt
//
// go test's -count repeats each sub-benchmark back to back; for ratios,
// bench/interleave-cache.sh runs rounds of every cache one after another
// instead, the first cache rotating from round to round.

const (
	cacheHotKeys = 100_000 // the preloaded keys the Zipf reads hit
	cacheZipfS   = 1.01    // Zipf exponent of the reads
	// cacheComputeBound is the bound of the LoadOrCompute row, as
	// BENCHMARKING.md's comparison sets it.
	cacheComputeBound = 200_000
	cacheColdPct      = 10 // percent of LoadOrCompute calls on the cold range
	cacheProbes       = 1 << 20
)

// zipfProbes returns n keys drawn with Zipf exponent s over keys 0..keys-1,
// the most frequent ranks mapped to random keys (a fixed permutation), so
// that the hot keys are not neighbours in any table.
func zipfProbes(n, keys int, s float64, seed int64) []int64 {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, s, 1, uint64(keys-1))
	perm := r.Perm(keys)
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(perm[z.Uint64()])
	}
	return out
}

// computeProbes returns the LoadOrCompute row's calls: coldPct percent of
// them uniform over the cold range [hot, hot+2·bound), the rest Zipf over
// the hot keys [0, hot).
func computeProbes(n, hot, bound, coldPct int) []int64 {
	keys := zipfProbes(n, hot, cacheZipfS, 2)
	r := randv2.New(randv2.NewPCG(3, 4))
	for i := range keys {
		if r.IntN(100) < coldPct {
			keys[i] = int64(hot) + r.Int64N(2*int64(bound))
		}
	}
	return keys
}

// cacheRound is the interleaving round, which bench/interleave-cache.sh
// passes to each run of the test binary (-cache.round=N).
var cacheRound = flag.Int("cache.round", 0, "the interleaving round: the cache speed rows start with the round's cache")

// rotatedImpls returns cacheImpls starting with the cache of this round,
// so that over the rounds every cache runs first about as often and the
// host's drift does not favour one.
func rotatedImpls() []cacheImpl {
	r := *cacheRound % len(cacheImpls)
	return append(cacheImpls[r:len(cacheImpls):len(cacheImpls)], cacheImpls[:r]...)
}

// fillCache stores keys 0..n-1 (value = key) and waits until the cache
// has applied them.
func fillCache(im cacheImpl, c benchCache, n int) {
	for k := range int64(n) {
		c.Store(k, k)
	}
	if im.settle != nil {
		im.settle(c)
	}
}

// BenchmarkCacheLoadHit measures Load of present keys, read with Zipf
// s = 1.01 from 100k preloaded keys, on caches bounded at 100k entries (the
// keys just fit) and at 200k (BENCHMARKING.md's setting). miss% is the
// share of reads that missed: it should be 0, and is not where a cache
// dropped or evicted preloaded keys.
func BenchmarkCacheLoadHit(b *testing.B) {
	keys := zipfProbes(cacheProbes, cacheHotKeys, cacheZipfS, 1)
	impls := rotatedImpls()
	for _, bound := range []int{100_000, 200_000} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("impl=%s/bound=%d", im.name, bound), func(b *testing.B) {
				c := im.new(cacheOptions{maxEntries: bound})
				defer c.Close()
				fillCache(im, c, cacheHotKeys)
				var offset atomic.Uint64
				var misses atomic.Int64
				mask := uint64(len(keys) - 1)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i, missed := offset.Add(7919), int64(0)
					for pb.Next() {
						if _, ok := c.Load(keys[i&mask]); !ok {
							missed++
						}
						i++
					}
					misses.Add(missed)
				})
				b.StopTimer()
				b.ReportMetric(100*float64(misses.Load())/float64(b.N), "miss%")
			})
		}
	}
}

// BenchmarkCacheLoadOrCompute measures LoadOrCompute on a cache bounded at
// 200k entries, preloaded with the 100k hot keys and then with enough of
// the cold range to be full: 90 % of the calls read the hot keys (Zipf
// s = 1.01), 10 % pick a key uniformly from a cold range of 400k keys,
// twice the bound, so that most of them miss, compute and evict.
func BenchmarkCacheLoadOrCompute(b *testing.B) {
	keys := computeProbes(cacheProbes, cacheHotKeys, cacheComputeBound, cacheColdPct)
	for _, im := range rotatedImpls() {
		b.Run(fmt.Sprintf("impl=%s/hot=90%%", im.name), func(b *testing.B) {
			c := im.new(cacheOptions{maxEntries: cacheComputeBound})
			defer c.Close()
			fillCache(im, c, cacheHotKeys)
			for k := int64(cacheHotKeys); k < 2*cacheComputeBound; k += 2 {
				c.LoadOrCompute(k) // half the cold range: full, evicting from here on
			}
			if im.settle != nil {
				im.settle(c)
			}
			b.ReportAllocs()
			b.ResetTimer()
			runProbes(b, keys, func(k int64) { c.LoadOrCompute(k) })
		})
	}
}
