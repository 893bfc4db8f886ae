package bench_test

import (
	"fmt"
	"testing"
)

// The machinery of the string-key Load benchmarks (BenchmarkLoadString,
// BenchmarkLoadLongString), in a file of its own so that
// bench/results/2026-12-01/run.sh can copy it, with issue13_test.go, into
// an older tree to run the same benchmarks on older code.

// stringMap is what the string-key benchmarks use of a map.
type stringMap interface {
	Load(string) (int64, bool)
	Store(string, int64)
}

// stringImpl names one implementation of the string-key benchmarks.
type stringImpl struct {
	name string
	new  func() stringMap
}

// benchStringLoads stores keys[:n] in a map of each implementation and
// measures Load at 0 % and 99 % misses (probes of keys[n:] miss), as
// sub-benchmarks impl=<name>/miss=<pct>%.
func benchStringLoads(b *testing.B, n int, keys []string, impls []stringImpl) {
	for _, miss := range []int{0, 99} {
		probes := probeKeys(n, miss)
		for _, im := range impls {
			b.Run(fmt.Sprintf("impl=%s/miss=%d%%", im.name, miss), func(b *testing.B) {
				m := im.new()
				for i := range n {
					m.Store(keys[i], int64(i))
				}
				b.ReportAllocs()
				b.ResetTimer()
				runProbes(b, probes, func(k int64) { m.Load(keys[k]) })
			})
		}
	}
}
