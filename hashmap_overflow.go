package safemap

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// This file holds the arena of a table's overflow buckets, which links
// between buckets index instead of pointing at.

// overflows allocates a table's overflow buckets, and next follows the
// links between them. Links are indexes, not pointers, so that a bucket of
// keys and values without pointers holds no pointer at all: the collector
// then never scans the table's bucket array, the largest part of the map,
// which it had to do, every cycle, for the sake of one next pointer per
// bucket. Overflow buckets are only added until the table is dropped, so
// the arena only grows and a bucket's index never changes. Chunks are
// allocated on first use, two of each size, doubling: 8, 8, 16, 16, 32...
// buckets, so that the unused end of the last chunk is at most a third of
// the arena (doubling every chunk would allow half).
type overflows[K comparable, V any] struct {
	n      atomic.Uint32 // buckets handed out
	mu     sync.Mutex    // serialises the allocation of chunks
	chunks [overflowChunks]atomic.Pointer[bucket[K, V]]
}

const (
	overflowFirst  = 8                       // buckets in chunks 0 and 1
	overflowChunks = 48                      // chunks 2k and 2k+1 hold overflowFirst<<k buckets
	overflowMax    = 1<<28 - 2*overflowFirst // buckets the chunks hold: 2*overflowFirst*(2^24-1)
	overflowPairs  = 2 * overflowFirst       // buckets in the first pair of chunks
)

// overflowLen returns the number of buckets in chunk c.
func overflowLen(c int) uint32 { return overflowFirst << (c >> 1) }

// overflowLocate returns the chunk and offset of the bucket with index i <
// overflowMax. Pair k (chunks 2k and 2k+1) holds indexes from
// overflowPairs*(2^k-1) on, so x = i+overflowPairs lies in
// [overflowPairs<<k, overflowPairs<<(k+1)).
func overflowLocate(i uint32) (chunk int, off uint32) {
	x := i + overflowPairs
	k := bits.Len32(x) - bits.Len32(overflowPairs)
	y := x - overflowPairs<<k // offset within the pair
	half := uint32(overflowFirst) << k
	if y < half {
		return 2 * k, y
	}
	return 2*k + 1, y - half
}

// alloc returns a new, empty overflow bucket and its link (index + 1). The
// caller fills it and then publishes it by storing the link in the last
// bucket's next.
func (o *overflows[K, V]) alloc() (link uint32, b *bucket[K, V]) {
	i := o.n.Add(1) - 1
	if i >= overflowMax {
		// 268M overflow buckets would take tens of gigabytes, with a
		// table that large besides: not a state a program reaches.
		panic("safemap: too many overflow buckets")
	}
	c, off := overflowLocate(i)
	p := o.chunks[c].Load()
	if p == nil {
		o.mu.Lock()
		if p = o.chunks[c].Load(); p == nil {
			p = &make([]bucket[K, V], overflowLen(c))[0]
			o.chunks[c].Store(p)
		}
		o.mu.Unlock()
	}
	return i + 1, o.at(p, c, off)
}

// next returns the bucket after c in its chain, or nil.
func (o *overflows[K, V]) next(c *bucket[K, V]) *bucket[K, V] {
	link := c.next.Load()
	if link == 0 {
		return nil
	}
	ch, off := overflowLocate(link - 1)
	return o.at(o.chunks[ch].Load(), ch, off)
}

// at returns bucket off of chunk c, which starts at p.
func (o *overflows[K, V]) at(p *bucket[K, V], c int, off uint32) *bucket[K, V] {
	// Safety: p is the first element of a slice of overflowLen(c)
	// buckets (alloc), and off < overflowLen(c) (overflowLocate), so the
	// result points into that slice, which p keeps alive. A link is
	// published (stored in next) only after its chunk pointer was stored,
	// and read with an atomic load, so p is never nil here.
	return (*bucket[K, V])(unsafe.Add(unsafe.Pointer(p), uintptr(off)*unsafe.Sizeof(bucket[K, V]{})))
}
