package cache_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
)

// loader is what BenchmarkLoad needs of a map or a cache.
type loader interface {
	Load(int) (int, bool)
	Store(int, int)
}

// BenchmarkLoad measures a hit on 100k prefilled keys read with Zipf
// s = 1.01, for the default Map and the cache in the configurations the
// issue compares (unbounded, bounded at 200k, bounded with a TTL), so that
// the cost of the cache's hit path (deadline check, Touch, striped stats)
// reads as a ratio against Map.Load in one run.
func BenchmarkLoad(b *testing.B) {
	const keys = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.01, 1, keys-1)
	trace := make([]int, 1<<16)
	for i := range trace {
		trace[i] = int(z.Uint64())
	}
	impls := []struct {
		name string
		new  func() loader
	}{
		{"map", func() loader { return safemap.New[int, int]() }},
		{"cache-unbounded", func() loader { return must(cache.New(cache.Options[int, int]{})) }},
		{"cache-bounded", func() loader { return must(cache.New(cache.Options[int, int]{MaxEntries: 200_000})) }},
		{"cache-bounded-ttl", func() loader { return must(cache.New(cache.Options[int, int]{MaxEntries: 200_000, TTL: time.Hour})) }},
	}
	for _, im := range impls {
		b.Run(fmt.Sprintf("impl=%s", im.name), func(b *testing.B) {
			m := im.new()
			for k := range keys {
				m.Store(k, k)
			}
			if c, ok := m.(interface{ Close() }); ok {
				defer c.Close()
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(trace))
				for pb.Next() {
					if _, ok := m.Load(trace[i&(len(trace)-1)]); !ok {
						b.Fatal("miss")
					}
					i++
				}
			})
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
