package bench_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// The string-key Load benchmarks' machinery, and BenchmarkLoadLongString,
// in a file of its own so that bench/interleave.sh can copy it, with
// loadorcompute_fromempty_test.go, into an older tree to run the same
// benchmarks on older code.

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
