package bench_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
)

// BenchmarkProfileOverhead measures what Profile adds to the default Map,
// both called through the ConcurrentMap interface, on 1000 int64 keys:
//
//	go test -run '^$' -bench ProfileOverhead -count 6 ./bench | tee profile.txt
//	benchstat -col /wrapped profile.txt
func BenchmarkProfileOverhead(b *testing.B) {
	const n = 1000
	hits, misses, half := probeKeys(n, 0), probeKeys(n, 100), probeKeys(n, 50)
	compute := func() int64 { return 0 }
	for _, bench := range []struct {
		name string
		run  func(b *testing.B, m safemap.ConcurrentMap[int64, int64])
	}{
		{"load-hit", func(b *testing.B, m safemap.ConcurrentMap[int64, int64]) {
			runProbes(b, hits, func(k int64) { m.Load(k) })
		}},
		{"load-miss", func(b *testing.B, m safemap.ConcurrentMap[int64, int64]) {
			runProbes(b, misses, func(k int64) { m.Load(k) })
		}},
		{"loadorcompute-hit", func(b *testing.B, m safemap.ConcurrentMap[int64, int64]) {
			runProbes(b, hits, func(k int64) { m.LoadOrCompute(k, compute) })
		}},
		{"mixed", func(b *testing.B, m safemap.ConcurrentMap[int64, int64]) {
			// Per 20 calls: 16 Loads, 2 Stores, 1 LoadOrCompute, 1 Delete,
			// on keys half of which start absent.
			var i atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				j := i.Add(7919)
				mask := uint64(len(half) - 1)
				for pb.Next() {
					k := half[j&mask]
					switch j % 20 {
					default:
						m.Load(k)
					case 16, 17:
						m.Store(k, k)
					case 18:
						m.LoadOrCompute(k, compute)
					case 19:
						m.Delete(k)
					}
					j++
				}
			})
		}},
	} {
		for _, wrapped := range []bool{false, true} {
			name := fmt.Sprintf("op=%s/impl=Map/wrapped=%s", bench.name, map[bool]string{false: "no", true: "yes"}[wrapped])
			b.Run(name, func(b *testing.B) {
				var m safemap.ConcurrentMap[int64, int64] = safemap.New[int64, int64]()
				for k := range int64(n) {
					m.Store(k, k)
				}
				if wrapped {
					m = safemap.NewProfile(m)
				}
				b.ReportAllocs()
				b.ResetTimer()
				bench.run(b, m)
			})
		}
	}
}
