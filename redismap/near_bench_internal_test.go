package redismap

import (
	"math/rand/v2"
	"testing"

	"github.com/safemap-go/safemap"
)

// BenchmarkNearHit splits a near-cache hit into its parts, against the
// safemap.Map Load it is built on, without a Redis server: for instruction
// counts under callgrind (GODEBUG=asyncpreemptoff=1, -test.cpu 1), where
// the shared cores' noise does not reach.
func BenchmarkNearHit(b *testing.B) {
	var stats counters
	c := connectedNearCache(b, 100, &stats)
	p := c.reserve("user:42")
	c.fill("user:42", p, "value", monotime(), 1e9, -1)
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
			if _, _, ok := c.get("user:42"); ok {
				stats.nearHits.add(1)
			}
		}
	})
}

// randStripedCounter is stripedCounter with the root package's pick
// (counter.go): a stripe drawn by rand.Uint32. It exists to measure the two
// picks against each other.
type randStripedCounter struct{ stripedCounter }

func (c *randStripedCounter) add(n int64) {
	c.cells[rand.Uint32()%uint32(len(c.cells))].n.Add(n)
}

// BenchmarkStripedCounterAdd compares the stripe picks, serial and with
// every core adding; under callgrind (GODEBUG=asyncpreemptoff=1,
// -test.cpu 1) it gives their instruction counts.
func BenchmarkStripedCounterAdd(b *testing.B) {
	var stack stripedCounter
	var random randStripedCounter
	b.Run("pick=stack", func(b *testing.B) {
		for b.Loop() {
			stack.add(1)
		}
	})
	b.Run("pick=rand", func(b *testing.B) {
		for b.Loop() {
			random.add(1)
		}
	})
	b.Run("pick=stack/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				stack.add(1)
			}
		})
	})
	b.Run("pick=rand/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				random.add(1)
			}
		})
	})
}
