package safemap

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
)

// This file holds the striped counter that Map, SyncMap and Profile count
// with, and the cache-line size its padding assumes.

// cacheLine is the assumed size of a cache line. Counters that different
// cores update are padded to it so they never share one (false sharing).
const cacheLine = 64

// counter is a striped counter: adds from different goroutines usually hit
// different cache lines, and the total costs O(stripes) to read. It is exact
// when no add runs concurrently with sum.
type counter struct {
	stripes []counterStripe
	mask    uint32
}

type counterStripe struct {
	n atomic.Int64
	_ [cacheLine - 8]byte // pad to a full line: see cacheLine
}

func newCounter() *counter {
	n := ceilPow2(runtime.GOMAXPROCS(0))
	return &counter{stripes: make([]counterStripe, n), mask: uint32(n - 1)}
}

// add adds delta to a stripe chosen at random: a per-thread random number
// is cheaper than any goroutine identity Go offers, and spreads the adds.
func (c *counter) add(delta int64) {
	c.stripes[rand.Uint32()&c.mask].n.Add(delta)
}

// addAt adds delta to the stripe picked by hint. Callers that count entries
// pass a hint derived from the key, so that an entry's +1 and -1 land on
// the same stripe and each stripe stays a true count of its own entries:
// a sum taken during writes is then off by at most the writes in flight,
// where random stripes drift apart without bound.
func (c *counter) addAt(hint uint64, delta int64) {
	c.stripes[uint32(hint)&c.mask].n.Add(delta)
}

// sum returns the total over all stripes, never less than zero: stripes are
// read one after another, so writes in flight can make a sum taken during
// them come out low.
func (c *counter) sum() int64 {
	var total int64
	for i := range c.stripes {
		total += c.stripes[i].n.Load()
	}
	return max(total, 0)
}
