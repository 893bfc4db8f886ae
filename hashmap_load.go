package safemap

import (
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// This file holds Map's read path: Load's in-line fast path, the slow path
// that handles writers, moved chains and overflow buckets, and the sampling
// that decides when Load fetches a bucket early. docs/design.md has the
// ordering argument.

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes no lock, never allocates, and does not wait for a
// LoadOrCompute of the same key.
func (m *Map[K, V]) Load(key K) (value V, ok bool) {
	value, ok, _ = (*lookupAs[forLoad, K, V])(m).lookup(key)
	return value, ok
}

// lookup is Load, and also returns the key's hash if the key is absent, so
// that a writer whose lookup missed goes on to lock the key's chain without
// hashing it again (a hit returns 0: not keeping the hash live saves the
// hit path a spill). The hash is valid only if the map has a table:
// writers create it first (tableOrInit). Load is this, in line.
//
// W says who looks up (lookupAs). A writer that looks a key up before it
// locks it (LoadOrStore and the LoadOrComputes, through writerLookup)
// fetches, in a table whose buckets outgrow the caches (ahead), the root
// bucket's lines while it waits for the head, since it goes on to use a
// slot of that bucket whether it hits or not (readRoot). Load reads ahead
// only while Loads mostly hit (eager): a Load miss needs the head alone.
func (m *lookupAs[W, K, V]) lookup(key K) (value V, ok bool, h uint64) {
	t := m.table.Load()
	if t == nil {
		checkKey(&m.keys, key)
		return value, false, 0
	}
	// h = t.hash(key), by hand: the compiler will not inline it here
	// (hash.go says what that saves; TestLookup_HashesEveryKeyAsTheWritersDo
	// holds the copy to the original). Integers go through intHash, which
	// it does inline, so that only the string case is a copy.
	// Integer and string keys are always hashable: no checkKey.
	if t.intKey {
		h = t.intHash(intBits(key))
	} else if t.strKey {
		switch s := stringOf(key); { // hashString, in line
		case uint(len(s)-8) <= 16-8:
			a, b := stringWords(s)
			h = mixString(t.strSeed, a, b, len(s))
		case uint(len(s)-17) <= 32-17:
			a, b, c, d := stringWords32(s)
			h = mixLong(t.strSeed, a, b, c, d, len(s))
		case len(s) > 32:
			h = maphash.Comparable(t.seed, s)
		default:
			h = hashShort(t.strSeed, s)
		}
	} else {
		checkKey(&m.keys, key)
		h = maphash.Comparable(t.seed, key) & t.hashMask // hashAny, in line
	}
	// Fast path, in line: the root bucket only. Anything unusual (a writer
	// in the bucket, a moved chain, a key not in the root of a chain with
	// an overflow bucket) goes to loadSlow, which handles every case.
	idx := uintptr(h & t.mask)
	hd := t.head(idx)
	tag := h2(h)
	b := t.root(idx)
	if isWrite[W]() {
		if t.ahead {
			readRoot(b) // a writer: the bucket is needed, hit or miss
		}
	} else if t.eager.Load() {
		// A large, hit-heavy table: start fetching the root bucket's
		// first line now, in parallel with the head, rather than after
		// the head names a slot. The word read is thrown away.
		readLine(b)
	}
	// seq is read before meta, once: a hit then copies only slots whose
	// tag it saw after s, which validation needs (an insert fills a slot
	// without changing seq, so a tag read before s could name a slot being
	// refilled). A miss decides on meta alone; seq is in the same line.
	s := hd.seq.Load()
	meta := hd.meta.Load()
	match := matchTag(meta, tag)
	if match == 0 && meta&metaFlags == 0 {
		// A miss needs one word: insertion sets a key's tag after its
		// slot, deletion clears the tag first, the overflow flag is set
		// before an overflow bucket is linked, and a chain stops
		// changing once it is marked moved, so a word without the tag
		// or flags proves the key absent at the instant it was read.
		if h&sampleMask == 0 {
			t.sampleLoad(0)
		}
		return value, false, h
	}
	// A chain with an overflow bucket still holds most of its keys in the
	// root, which a hit validates against s like any other.
	if match != 0 {
		if !raceEnabled && s&(seqDirty|seqMoved) == 0 {
			for ; match != 0; match &= match - 1 {
				// Safety: match has bits only in metaSlots, so the
				// slot index is below slotsPerBucket.
				sl := (*slot[K, V])(unsafe.Add(unsafe.Pointer(&b.slots), uintptr(slotIndex(match))*unsafe.Sizeof(slot[K, V]{})))
				k, v := sl.key, sl.value
				loadFence()
				// The lock is not in seq (it is in meta): a writer that
				// took or released it in between changed nothing a
				// reader sees.
				if hd.seq.Load() != s {
					break // a writer changed the bucket: take the slow path
				}
				if k == key {
					if h&sampleMask == 0 {
						t.sampleLoad(sampleHit)
					}
					return v, true, 0 // the copy is consistent: seq did not change
				}
			}
		}
	}
	value, ok = t.loadSlow(key, h)
	return value, ok, h
}

// lookupAs is a Map seen by a lookup on behalf of W, forLoad or forWrite:
// Load and the writers call lookup on a *Map converted to their own
// lookupAs. That makes two compiled copies of lookup from one source: a
// generic type's methods are compiled once per shape of its type
// arguments, and the modes' shapes differ (their sizes do), so each copy
// knows its mode at compile time and isWrite folds to a constant. A bool
// argument instead cost Load a register (the flag stayed live across the
// key's hashing and was spilled, which slowed string misses measurably),
// and a generic function instead of a method cost it instructions in the
// call (BENCHMARKS.md, "Issue 22: writers read the bucket ahead").
type lookupAs[W lookupMode, K comparable, V any] Map[K, V]

// lookupMode is lookupAs's W.
type lookupMode interface{ forLoad | forWrite }

type (
	forLoad  uint8  // Load's lookup
	forWrite uint16 // a writer's lookup, before it locks the key's chain
)

// writerLookup is lookup for a writer that goes on to lock the key's
// chain: it reads the root bucket ahead in a large table (readRoot).
func (m *Map[K, V]) writerLookup(key K) (value V, ok bool, h uint64) {
	return (*lookupAs[forWrite, K, V])(m).lookup(key)
}

// isWrite reports whether W is forWrite; a constant once lookup is
// compiled for W's shape.
func isWrite[W lookupMode]() bool {
	var w W
	return unsafe.Sizeof(w) == unsafe.Sizeof(forWrite(0))
}

// loadSlow looks key up, retrying while writers change its chain and
// following moved chains to newer tables.
func (t *mapTable[K, V]) loadSlow(key K, h uint64) (value V, ok bool) {
	tag := h2(h)
	for n := 0; ; n++ {
		b, hd := &t.buckets[h&t.mask], &t.heads[h&t.mask]
		s, r := hd.readBegin()
		if r == readMoved {
			t = t.next.Load()
			continue
		}
		if r == readOK {
			value, ok, r = b.find(&t.ovf, hd, key, tag, s)
			hd.readEnd(s)
			if r == readOK {
				if h&sampleMask == 0 {
					t.sampleLoad(sampleOutcome(ok))
				}
				return value, ok
			}
		}
		backoff(n)
	}
}

// A hit reads the head's line and then the line of the slot the head
// names: two dependent fetches, each from memory once the table outgrows
// the caches. Reading the line of the root bucket's first slot (where most
// entries of a chain live, since inserts take the first free slot)
// together with the head overlaps them, but costs a miss a line it does
// not otherwise need. So Load does it only in a table where it pays
// (eagerOK: keys without pointers, whose comparison reads nothing beyond
// the slot, or string keys, whose hash already waited for the key's bytes,
// in a table whose buckets outgrow the L2 cache) and only while Loads
// mostly hit (eager).
// The measurements behind these conditions are in BENCHMARKS.md and
// docs/design.md ("Early bucket reads").
//
// Load samples its outcome for one key in 256 (by hash, so choosing costs
// nothing) and decides every 64 samples or so, with hysteresis: eager from
// 3/4 hits, lazy again below 1/2.
const (
	// Tables from about 86k keys: 4 MB of int64 buckets (6 MB of string
	// ones), out of L2, so a hit's slot line comes from L3 or memory even
	// while the 512 KB of heads stay in L2, and the head's latency is what
	// overlapping saves.
	eagerMinChains = 1 << 15
	sampleMask     = 255     // a Load is sampled when its hash has these bits clear
	sampleHit      = 1 << 32 // a hit's increment of the sample word
	sampleMin      = 64      // samples per decision
)

// sampleOutcome is sampleLoad's argument for a Load that found its key
// (ok) or not.
func sampleOutcome(ok bool) uint64 {
	if ok {
		return sampleHit
	}
	return 0
}

// sampleLoad counts one sampled Load (hit is 0 or sampleHit) and, once
// enough have been counted, sets or clears eager.
func (t *mapTable[K, V]) sampleLoad(hit uint64) {
	if !t.eagerOK {
		return
	}
	w := t.shared.samples.Add(1 + hit)
	n, hits := w&(sampleHit-1), w>>32
	if n < sampleMin || !t.shared.samples.CompareAndSwap(w, 0) {
		return // not yet, or another sampler just counted: it decides
	}
	switch eager := t.eager.Load(); {
	case !eager && 4*hits >= 3*n:
		t.eager.Store(true)
	case eager && 2*hits < n:
		t.eager.Store(false)
	}
}

// readLine reads the first word of root bucket b's first slot, so that
// the processor fetches that slot's cache line, and throws it away. (A
// bucket of 24-byte string slots is 184 bytes, so buckets do not start on
// a line: the line of b's header may hold nothing else of b.)
func readLine[K comparable, V any](b *bucket[K, V]) {
	if raceEnabled {
		// The detector would report the read below, which races with
		// writers of the slot. b's meta, which no one writes once the
		// table is published (a root's tags live in its head), races
		// with nothing.
		b.meta.Load()
		return
	}
	// Safety: the slot's first word lies in the bucket array, which t
	// keeps alive. A writer may be storing it: the value is thrown away
	// (never used, and read as an integer, so the collector never sees
	// it as a pointer), and the atomic load keeps the compiler from
	// dropping the read.
	atomic.LoadUint64((*uint64)(unsafe.Pointer(&b.slots)))
}

// readRoot is readLine for a writer's lookup (writerLookup): it fetches
// the line of root bucket b's first slot and the line of its middle slot,
// for int64 slots the bucket's two lines, so that the slot the writer goes
// on to read or write (the key's, or the first free one, for an insert) is
// usually on its way while the head is. The reservation or insert that
// follows then does not wait for the bucket after it has taken the lock:
// the store that publishes its slot is a full barrier, which waits for the
// slot's line. The words read are thrown away, as readLine's are.
func readRoot[K comparable, V any](b *bucket[K, V]) {
	readLine(b)
	if raceEnabled {
		return // readLine read the root's meta: nothing more to fetch
	}
	// Safety: as readLine's read; slotsPerBucket/2 is a constant index
	// into the slots array.
	atomic.LoadUint64((*uint64)(unsafe.Pointer(&b.slots[slotsPerBucket/2])))
}
