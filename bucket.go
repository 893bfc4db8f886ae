package safemap

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// This file holds Map's bucket: its layout and the sequence-lock protocol
// that lets readers run without locks while writers change it in place.
//
//	heads[i] (16 bytes, dense)      buckets[i] (16 + 7×sizeof(slot) bytes)
//	┌──────────────┬──────────┐     ┌──────────┬──────────┬────────┬─────┬────────┐
//	│ meta: tags + │ seq      │     │ meta:    │ next     │ slot 0 │ ... │ slot 6 │
//	│ flags byte 7 │ L|D|M|n  │     │ tags (*) │ overflow │ key,val│     │ key,val│
//	└──────────────┴──────────┘     └──────────┴──────────┴────────┴─────┴────────┘
//	(*) overflow buckets only: a root's tags are in its head
//
// A key lives in the chain of root bucket hash&mask. The chain's head, in
// a dense array of its own, holds the root's tags (plus the moved and
// overflow flags) and the seq word that guards the whole chain:
//
//   - L (locked) gives one writer the chain. It may be held across
//     Compute's function; readers ignore it.
//   - D (dirty) is set for the few instructions during which the holder of
//     L changes slots, meta or next. Readers retry while it is set or if
//     seq changed while they read.
//   - M (moved) is set, for good, when a resize or Clear has moved the
//     chain to the table at next: readers and writers go there.
//   - n counts modifications, in steps of seqStep.
//
// Readers copy a candidate slot, then check that seq is unchanged before
// they use the copy, so a torn copy (a string header from two writes, say)
// is never dereferenced or returned. Every word of a torn copy is a word
// that some writer stored, so the garbage collector only ever sees valid
// pointers. Under the race detector, which cannot reason about such reads,
// readers take D themselves instead (raceEnabled).

const slotsPerBucket = 7

const (
	seqLocked uint64 = 1 << iota // L
	seqDirty                     // D
	seqMoved                     // M
	seqStep                      // one modification
)

type bucket[K comparable, V any] struct {
	meta  atomic.Uint64 // h2 of each occupied slot (0 = empty); unused in a root (see tags)
	next  atomic.Uint32 // the next overflow bucket (see overflows), 0 for none; only grows until the chain is moved
	_     uint32
	slots [slotsPerBucket]slot[K, V]
}

// overflows allocates a table's overflow buckets, and next follows the
// links between them. Links are indexes, not pointers, so that a bucket of
// keys and values without pointers holds no pointer at all: the collector
// then never scans the table's bucket array (32 MB for 1M int64 entries),
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

// head holds a root bucket's two hot words, kept apart from the buckets in
// the table's dense heads array (16 bytes a chain): a miss reads head.meta
// alone, and a hit reads the head's line and the slot's.
type head struct {
	meta atomic.Uint64 // the root bucket's tags, plus flags in byte 7
	seq  atomic.Uint64 // L, D, M and the count, for the whole chain
}

// tags returns the word that holds the tags of c, a bucket of the chain
// rooted at b whose head is hd. A root's tags live in its head alone (its
// own meta word stays zero), so that the writer who locked the head finds
// a free slot or a key's candidates without touching the bucket's first
// line, and touches only the line of the slot it writes. The head's top
// byte holds flags, which every user of the word masks off with metaSlots.
func (b *bucket[K, V]) tags(hd *head, c *bucket[K, V]) *atomic.Uint64 {
	if c == b {
		return &hd.meta
	}
	return &c.meta
}

type slot[K comparable, V any] struct {
	key   K
	value V
}

// SWAR constants: one bit per byte of meta.
const (
	metaLSB   = 0x0101010101010101
	metaMSB   = 0x8080808080808080
	metaSlots = 1<<(8*slotsPerBucket) - 1 // the bytes that are slots

	// The top byte of a root's meta holds no slot but two flags, so that
	// Load's fast path learns from the one word it reads whether the key
	// can be anywhere but in the root bucket.
	metaMoved    = 0x80 << (8 * slotsPerBucket) // set with M by markMoved
	metaOverflow = 0x40 << (8 * slotsPerBucket) // set before next is first linked
	metaFlags    = metaMoved | metaOverflow
)

// h2 is the per-slot tag stored in meta: the top 7 bits of the hash with
// the high bit set, so that a tag is never 0 (empty).
func h2(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// matchTag returns a bit set with the high bit of every byte of meta that
// may equal tag. Tags have their high bit set and empty bytes are 0, so the
// only false positives come from borrows next to a true match; callers
// compare keys anyway.
func matchTag(meta uint64, tag uint8) uint64 {
	x := meta ^ (metaLSB * uint64(tag))
	return (x - metaLSB) &^ x & metaMSB & metaSlots
}

// matchEmpty returns a bit set with the high bit of every empty slot byte.
// Occupied bytes have their high bit set, so this one is exact.
func matchEmpty(meta uint64) uint64 {
	return ^meta & metaMSB & metaSlots
}

// slotIndex returns the slot of the lowest byte set in a match.
func slotIndex(match uint64) int { return bits.TrailingZeros64(match) >> 3 }

// backoff waits a little before attempt number n is retried: a short spin
// first, since the other side holds the word for a few instructions, then
// yields so a preempted holder can run.
func backoff(n int) {
	if n >= 16 {
		runtime.Gosched()
	}
}

// lock takes L. The holder may change the chain only between beginWrite
// and endWrite.
func (b *head) lock() {
	for n := 0; ; n++ {
		if b.tryLockOnce() {
			return
		}
		lockBackoff(n)
	}
}

// tryLockOnce takes L if it is free.
func (b *head) tryLockOnce() bool {
	s := b.seq.Load()
	return s&seqLocked == 0 && b.seq.CompareAndSwap(s, s|seqLocked)
}

// tryLock takes L unless it stays held through a short spin. A resize uses
// it to pass over a busy chain and come back to it later.
func (b *head) tryLock() bool {
	for n := 0; n < lockSpins; n++ {
		if b.tryLockOnce() {
			return true
		}
	}
	return false
}

const (
	lockSpins  = 16 // attempts before a waiting writer yields
	lockYields = 16 // yields before it sleeps
)

// lockBackoff waits before attempt number n to take a chain lock: a spin
// first, since L is usually held for a few stores, then yields, then
// sleeps of growing length (up to about 0.1 ms). A holder that stays longer
// is running a Compute function or, more often on a loaded machine, its
// thread was descheduled by the operating system: yielding forever would
// keep this thread on the processor that the holder's thread is waiting
// for, while sleeping gives it up.
func lockBackoff(n int) {
	switch {
	case n < lockSpins:
	case n < lockSpins+lockYields:
		runtime.Gosched()
	default:
		time.Sleep(time.Microsecond << min(n-lockSpins-lockYields, 7))
	}
}

// unlock releases L.
func (b *head) unlock() {
	b.seq.And(^seqLocked)
}

// moved reports whether the chain has been moved to the next table. The
// caller holds L or is a reader who will validate.
func (b *head) moved() bool {
	return b.seq.Load()&seqMoved != 0
}

// beginWrite sets D; the caller holds L.
func (b *head) beginWrite() {
	if !raceEnabled {
		// Only the holder of L writes seq (other writers just fail
		// their compare-and-swap), so a store suffices. The store is
		// sequentially consistent: it is visible before the stores that
		// follow it.
		b.seq.Store(b.seq.Load() | seqDirty)
		return
	}
	b.acquireDirty()
}

// endWrite clears D and counts the modification; the caller holds L. The
// store publishes the slot, meta and next stores before it.
func (b *head) endWrite() {
	b.seq.Store((b.seq.Load() &^ seqDirty) + seqStep)
}

// markMoved sets M; the caller holds L and has copied the chain to the next
// table. The store publishes that copy to whoever sees M.
func (b *head) markMoved() {
	b.beginWrite()
	b.meta.Store(b.meta.Load() | metaMoved)
	b.seq.Store(((b.seq.Load() &^ seqDirty) | seqMoved) + seqStep)
}

// acquireDirty takes D with a compare-and-swap: readers under the race
// detector, and writers in race builds, who share D with those readers.
func (b *head) acquireDirty() uint64 {
	for n := 0; ; n++ {
		if s := b.seq.Load(); s&seqDirty == 0 && b.seq.CompareAndSwap(s, s|seqDirty) {
			return s
		}
		backoff(n)
	}
}

// releaseDirty clears D without counting a modification (race-build
// readers).
func (b *head) releaseDirty() {
	b.seq.And(^seqDirty)
}

// readResult says how a read of one chain went.
type readResult uint8

const (
	readOK    readResult = iota // the result is consistent
	readRetry                   // a writer changed the chain: read again
	readMoved                   // the chain is in the next table
)

// readBegin starts a read of the chain whose head is b and returns the seq
// value to validate against.
func (b *head) readBegin() (s uint64, r readResult) {
	if raceEnabled {
		s = b.acquireDirty()
	} else {
		s = b.seq.Load()
		if s&seqDirty != 0 {
			return s, readRetry
		}
	}
	if s&seqMoved != 0 {
		b.readEnd(s)
		return s, readMoved
	}
	return s, readOK
}

// readValid reports whether nothing changed the chain since readBegin
// returned s: the plain loads made since then saw one consistent state.
func (b *head) readValid(s uint64) bool {
	if raceEnabled {
		return true // we hold D: nobody can change the chain
	}
	loadFence()
	return b.seq.Load()&^seqLocked == s&^seqLocked
}

// readEnd ends a read begun by readBegin.
func (b *head) readEnd(uint64) {
	if raceEnabled {
		b.releaseDirty()
	}
}
