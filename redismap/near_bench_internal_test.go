package redismap

import (
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
)

// BenchmarkNearHit splits a near-cache hit into its parts, against the
// safemap.Map Load it is built on, without a Redis server: for instruction
// counts under callgrind (GODEBUG=asyncpreemptoff=1, -test.cpu 1), where
// the shared cores' noise does not reach.
func BenchmarkNearHit(b *testing.B) {
	var st atomic.Uint64
	st.Store(3)
	var stats counters
	c := &nearCache[string]{size: 100, ttl: 1e12, state: &st, stats: &stats}
	acquireClock()
	defer releaseClock()
	p := c.reserve("user:42")
	c.fill("user:42", p, "value", monotime(), 1e9)
	var m safemap.Map[string, string]
	m.Store("user:42", "value")
	b.Run("impl=safemap-Map-Load", func(b *testing.B) {
		for b.Loop() {
			m.Load("user:42")
		}
	})
	b.Run("impl=near-get", func(b *testing.B) {
		for b.Loop() {
			c.get("user:42")
		}
	})
	b.Run("impl=near-get-and-count", func(b *testing.B) {
		for b.Loop() {
			if _, ok := c.get("user:42"); ok {
				stats.nearHits.add(1)
			}
		}
	})
}
