package redismap

import (
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
)

func BenchmarkNearParts(b *testing.B) {
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
	b.Run("safemap-Load", func(b *testing.B) {
		for b.Loop() {
			m.Load("user:42")
		}
	})
	b.Run("near-get", func(b *testing.B) {
		for b.Loop() {
			c.get("user:42")
		}
	})
	b.Run("near-get+count", func(b *testing.B) {
		for b.Loop() {
			if _, ok := c.get("user:42"); ok {
				stats.nearHits.add(1)
			}
		}
	})
}
