package bench_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// LoadOrCompute on a key set that grows from empty. BENCHMARKS.md gives
// the command behind each figure; bench/interleave.sh runs it against xsync
// in interleaved rounds. On its own:
//
//	go test -run '^$' -bench 'LoadOrComputeFromEmpty' -benchtime 2000000x ./bench

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
					r := newGoroutineRand(g, 13)
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
