package bench_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// The benchmarks of issue 13: LoadOrCompute on a key set that grows from
// empty, and Load of realistic string keys longer than 16 bytes. Run them,
// with the peers interleaved, as BENCHMARKS.md ("Issue 13") shows, e.g.
//
//	go test -run '^$' -bench 'LoadOrComputeFromEmpty|LoadLongString' -benchtime 2000000x ./bench

// spread is a bijection of the 64-bit integers (MurmurHash3's finaliser,
// without a seed): consecutive indexes become keys spread over the whole
// range, as real keys are, instead of 0..n-1, which some hashes pack into
// consecutive buckets.
func spread(i uint64) int64 {
	i ^= i >> 33
	i *= 0xff51afd7ed558ccd
	i ^= i >> 33
	i *= 0xc4ceb9fe1a85ec53
	i ^= i >> 33
	return int64(i)
}

// BenchmarkLoadOrComputeFromEmpty measures LoadOrCompute on a map that
// starts empty, where newPct percent of the calls compute a key never seen
// before (each goroutine its own, so no two goroutines miss the same key)
// and the rest hit a key the same goroutine computed earlier. Keys are
// spread (a bijective mix of the index). The map grows with b.N: compare
// runs of one size, e.g. -benchtime 2000000x. impl=LoadOrStore-Map is
// Map's plain insert path (Load, then LoadOrStore of fn's value; not
// compute-once), the floor that compute-once adds to.
func BenchmarkLoadOrComputeFromEmpty(b *testing.B) {
	impls := []computeImpl{
		{"Map", func() computeMap { return safemap.New[int64, int64]() }},
		{"xsync", func() computeMap { return xsyncCompute{xsync.NewMap[int64, int64]()} }},
		{"LoadOrStore-Map", func() computeMap { return loadThenStore{safemap.New[int64, int64]()} }},
	}
	for _, newPct := range []int{50, 99} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("impl=%s/new=%d%%", im.name, newPct), func(b *testing.B) {
				m := im.new()
				var goroutine atomic.Uint64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					g := goroutine.Add(1)
					r := rand.New(rand.NewPCG(g, 13))
					base, inserted := g<<40, uint64(1)
					m.LoadOrCompute(spread(base), computeOne)
					for pb.Next() {
						i := base + r.Uint64N(inserted)
						if r.IntN(100) < newPct {
							i = base + inserted
							inserted++
						}
						m.LoadOrCompute(spread(i), computeOne)
					}
				})
			})
		}
	}
}

// longStringKeys returns n distinct keys shaped like "user:<n>:profile",
// 17 to 22 bytes long (the id has 4 to 9 digits), in random order. Lengths
// are drawn uniformly; 4-digit ids run out first (there are 9000 of them),
// so 17-byte keys are a little rarer.
func longStringKeys(n int) []string {
	r := rand.New(rand.NewPCG(17, 22))
	seen := make(map[string]bool, n)
	keys := make([]string, 0, n)
	for len(keys) < n {
		digits := 4 + r.IntN(6)
		lo := uint64(1)
		for range digits - 1 {
			lo *= 10
		}
		k := fmt.Sprintf("user:%d:profile", lo+r.Uint64N(9*lo))
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// BenchmarkLoadLongString measures Load of 100k stored string keys of 17 to
// 22 bytes ("user:<n>:profile"), longer than the keys BenchmarkLoadString
// uses, at 0 % and 99 % misses (absent keys have the same shape).
func BenchmarkLoadLongString(b *testing.B) {
	const n = 100_000
	keys := longStringKeys(2 * n)
	benchStringLoads(b, n, keys, []stringImpl{
		{"Map", func() stringMap { return safemap.New[string, int64]() }},
		{"xsync", func() stringMap { return xsync.NewMap[string, int64]() }},
	})
}
