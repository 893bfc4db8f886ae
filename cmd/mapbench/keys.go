package main

import (
	"fmt"
	"strconv"
	"sync/atomic"
)

// keyspace holds the keys of a run, built before any measurement so that
// making a key costs an index, the same for every implementation.
type keyspace[K comparable] struct {
	// present holds the keys workloads insert: the first n are the
	// pre-filled key set; the rest feed the workloads that keep inserting
	// new keys (grow, churn, slowload), which use them as a ring.
	present []K
	// absent holds keys that no workload ever inserts: lookup misses.
	absent []K
}

// keyTypes are the key types mapbench can run, in their flag spelling.
var keyTypes = []string{"int", "string"}

// newKeyspace returns n pre-fill keys, n+spareKeys more for insert-heavy
// workloads, and n keys never inserted, all distinct. Keys are scrambled so that
// neighbouring indexes do not hash alike by accident of a weak hash.
func newKeyspace[K comparable](n int) *keyspace[K] {
	ks := &keyspace[K]{present: make([]K, 2*n+spareKeys), absent: make([]K, n)}
	for i := range ks.present {
		ks.present[i] = keyOf[K](scramble(uint64(2 * i)))
	}
	for i := range ks.absent {
		ks.absent[i] = keyOf[K](scramble(uint64(2*i + 1)))
	}
	return ks
}

// spareKeys pads the insertable keys so that a small -keys still leaves
// room for every goroutine's chunks of new keys.
const spareKeys = 1 << 16

// segment returns the s-th key of goroutine id's private segment of the
// insertable keys (one of g equal segments), wrapping around within it. A
// goroutine that keeps fewer than segmentLen(g) of its keys live at once
// never sees a live key come round again, nor another goroutine's key.
func (ks *keyspace[K]) segment(id, g, s int) K {
	l := ks.segmentLen(g)
	return ks.present[id*l+s%l]
}

func (ks *keyspace[K]) segmentLen(g int) int { return len(ks.present) / g }

// fresh hands out indexes of never-used present keys at and above base, in
// chunks of chunkKeys so that goroutines claiming new keys share one atomic
// add per chunk, not per key. Past the last present key it wraps around to
// base: keys handed out again are hits from then on, which only a run far
// longer than its key space sees.
type fresh struct {
	base int
	next atomic.Int64
}

const chunkKeys = 64

// owned is one goroutine's keys taken from a fresh: the n-th is
// chunks[n/chunkKeys] + n%chunkKeys. Padded to keep goroutines' counters on
// separate cache lines.
type owned struct {
	chunks []int
	n      int
	_      [96]byte
}

// take returns the index in ks.present of a new key for o.
func (f *fresh) take(ks lenner, o *owned) int {
	if o.n%chunkKeys == 0 {
		o.chunks = append(o.chunks, int(f.next.Add(chunkKeys))-chunkKeys)
	}
	i := o.key(o.n)
	o.n++
	return f.index(ks, i)
}

// index returns the index in ks.present of the key with sequence number seq.
func (f *fresh) index(ks lenner, seq int) int { return f.base + seq%(ks.len()-f.base) }

type lenner interface{ len() int }

func (ks *keyspace[K]) len() int { return len(ks.present) }

// key returns the sequence number of o's i-th key (i < o.n).
func (o *owned) key(i int) int { return o.chunks[i/chunkKeys] + i%chunkKeys }

// scramble is a bijection on uint64 (the splitmix64 finaliser), so distinct
// inputs give distinct keys.
func scramble(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// keyOf makes the key for a scrambled number: the number itself for int
// keys, or a 20-byte string such as "key:00f3a9c2b7d41e86" for string keys,
// the length of a typical identifier.
func keyOf[K comparable](x uint64) K {
	var k K
	switch p := any(&k).(type) {
	case *int:
		*p = int(x)
	case *string:
		*p = "key:" + fmt.Sprintf("%016x", x)
	default:
		panic("mapbench: unsupported key type " + strconv.Quote(fmt.Sprintf("%T", k)))
	}
	return k
}
