package bench_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// cacheLen returns how many of keys 0..n-1 c holds: the adapter's own
// count where it keeps an exact one, otherwise Load of every key (after
// the measurement, since a Load is an access the policy records).
func cacheLen(c benchCache, n int) int {
	if l, ok := c.(interface{ Len() int }); ok {
		return l.Len()
	}
	held := 0
	for k := range int64(n) {
		if _, ok := c.Load(k); ok {
			held++
		}
	}
	return held
}

// BenchmarkCacheMemory reports the live heap per entry (B/entry) of a
// cache bounded at n entries, with a TTL of an hour, holding keys 0..n-1
// (int64 → int64), measured after a full GC: everything the cache
// allocated, its policy's sketch and queues included, divided by the
// entries it holds (entries, reported too, is below n where a cache
// dropped some of them).
//
//	go test -run '^$' -bench 'CacheMemory$' -benchtime 1x -count 3 ./bench
func BenchmarkCacheMemory(b *testing.B) {
	for _, n := range []int{100_000, 200_000, 1_000_000} {
		for _, im := range cacheImpls {
			b.Run(fmt.Sprintf("impl=%s/entries=%d", im.name, n), func(b *testing.B) {
				var perEntry float64
				var held int
				for range b.N {
					before := liveHeap()
					c := im.new(cacheOptions{maxEntries: n, ttl: time.Hour})
					fillCache(im, c, n)
					after := liveHeap()
					held = cacheLen(c, n)
					perEntry = float64(after-before) / float64(max(held, 1))
					c.Close()
					runtime.KeepAlive(c)
				}
				b.ReportMetric(perEntry, "B/entry")
				b.ReportMetric(float64(held), "entries")
			})
		}
	}
}
