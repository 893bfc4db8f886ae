package safemap

import (
	"context"
	"hash/maphash"
	"iter"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Map is the default concurrent map: a hash table of buckets that hold
// keys and values inline, read without locks. It is what [New] returns and
// what most programs should use.
//
//   - Load never blocks and never allocates: it reads a bucket optimistically
//     and retries (a bounded spin, then a yield) only while a writer is
//     changing that same chain. A miss reads one word of the dense array
//     of chain heads (tags and sequence word), usually in cache; a hit
//     reads the head's cache line and the slot's. In a large table of
//     pointer-free keys whose Loads mostly hit, Load also starts fetching
//     the root bucket's first line early, so that a hit's two fetches
//     overlap; a miss there reads that line too.
//   - Writers lock only the key's bucket chain. Entries live inside the
//     buckets, so inserting allocates nothing per entry (only an
//     occasional chunk of overflow buckets, and the tables that growth
//     builds). When K and V hold no pointers, neither does the table: the
//     garbage collector never scans it.
//   - Growth and shrinking never stop the world: the table is moved one
//     bucket chain at a time while readers and writers go on, following
//     moved chains to the new table.
//   - LoadOrCompute and LoadOrTryCompute run their function with no lock
//     held, at most once per missing key, and never delay a resize.
//   - Compute runs its function holding the key's bucket chain lock (a spin
//     lock shared by the few keys of that chain): keep it short. It never
//     blocks readers, but it blocks writers of that chain and a resize, and
//     fn may call Load but no other method of the same map.
//   - Range and All visit one bucket chain at a time, copying it, and call
//     fn with no lock held: weakly consistent, each key at most once. They
//     wait only when they cross a resize, for it to finish.
//
// The zero Map is empty and ready for use. A Map must not be copied after
// first use. See docs/design.md for the memory-ordering argument.
type Map[K comparable, V any] struct {
	table    atomic.Pointer[mapTable[K, V]] // nil until first use of a zero value
	keys     keyCheck
	resizeMu sync.Mutex // one resize, Clear or initialisation at a time
}

// mapTable is one generation of the table. Moved chains point readers and
// writers at next.
type mapTable[K comparable, V any] struct {
	keyHasher[K] // a copy of shared's, so a lookup touches one less line
	buckets      []bucket[K, V]
	// heads holds each chain's tags and seq word in a dense array, 16
	// bytes a chain, so that a miss reads memory 8 times smaller than the
	// buckets (for int64 slots) and far more likely to be in cache, and a
	// hit reads one head line plus the slot's line.
	heads []head
	mask  uint64 // len(buckets) - 1
	// eager is set while sampled Loads mostly hit, in a table where that
	// pays (eagerOK): Load then fetches the root bucket's first line in
	// parallel with the head (see sampleLoad).
	eager   atomic.Bool
	eagerOK bool
	shared  *mapShared[K, V]
	next    atomic.Pointer[mapTable[K, V]] // set when a resize or Clear starts
	ovf     overflows[K, V]                // the overflow buckets of this table's chains
}

// mapShared is the state every generation of one Map shares.
type mapShared[K comparable, V any] struct {
	keyHasher[K]
	minBuckets int // never shrink below this (WithCapacity)
	count      *counter
	flights    []flightStripe[K, V]
	flightMask uint64
	plainKey   bool // K holds no pointer: comparing keys reads only the slot
	// samples counts sampled Loads (low 32 bits) and their hits (high 32
	// bits) since the last decision on eager, on a line of its own.
	_       [cacheLine]byte
	samples atomic.Uint64
	_       [cacheLine - 8]byte
}

const (
	minBuckets = 8
	// A table grows when it is 3/4 full and then is 3/8 full; it shrinks
	// when it is less than 3/32 full, to about 3/8 full again. The gap
	// between the two thresholds keeps a workload oscillating around one of
	// them from resizing back and forth.
	growNum, growDen     = 3, 4
	shrinkNum, shrinkDen = 3, 32
	shrinkSample         = 64 // a delete checks for shrinking once in this many
)

// New returns an empty Map. It accepts [WithCapacity].
func New[K comparable, V any](opts ...Option) *Map[K, V] {
	o := buildOptions("New", setCapacity, opts)
	m := new(Map[K, V])
	m.table.Store(newMapTable(bucketsFor(o.capacity), newMapShared[K, V](o)))
	return m
}

func newMapShared[K comparable, V any](o options) *mapShared[K, V] {
	n := ceilPow2(4 * runtime.GOMAXPROCS(0))
	seed := maphash.MakeSeed()
	sh := &mapShared[K, V]{
		keyHasher: keyHasher[K]{
			seed:     seed,
			intSeed:  maphash.Comparable(seed, uint64(0)),
			strSeed:  newStrSeed(seed),
			intKey:   isIntegerKind(reflect.TypeFor[K]().Kind()),
			strKey:   reflect.TypeFor[K]().Kind() == reflect.String,
			hashMask: ^uint64(0),
		},
		minBuckets: bucketsFor(o.capacity),
		count:      newCounter(),
		flights:    make([]flightStripe[K, V], n),
		flightMask: uint64(n - 1),
		plainKey:   !hasPointers(reflect.TypeFor[K]()),
	}
	if o.hashBits > 0 {
		sh.hashMask = 1<<o.hashBits - 1 // set before any table copies the hasher
	}
	return sh
}

// bucketsFor returns the number of buckets that hold n entries at most 3/4
// full, as a power of two.
func bucketsFor(n int) int {
	need := (n*growDen + slotsPerBucket*growNum - 1) / (slotsPerBucket * growNum)
	return max(minBuckets, ceilPow2(need))
}

func newMapTable[K comparable, V any](n int, sh *mapShared[K, V]) *mapTable[K, V] {
	return &mapTable[K, V]{
		keyHasher: sh.keyHasher,
		buckets:   make([]bucket[K, V], n),
		heads:     make([]head, n),
		mask:      uint64(n - 1),
		eagerOK:   sh.plainKey && n >= eagerMinChains,
		shared:    sh,
	}
}

// touch writes to every page of a new table that a resize is about to
// fill. A large table comes from memory the operating system has not mapped
// yet, and each of its pages costs a fault on first touch: better here, with
// no lock held, than under a chain lock while the table is filled. And a
// garbage collection that scanned the untouched table (buckets hold the
// next pointer) would map each page read-only first, so that the resize's
// first write to it would fault a second time. The stores write zeros
// where there are zeros: nobody else can see the table yet.
func (t *mapTable[K, V]) touch() {
	const page = 4096 // the smallest page size Go supports: never too coarse
	hs := max(1, page/int(unsafe.Sizeof(head{})))
	for i := 0; i < len(t.heads); i += hs {
		t.heads[i].meta.Store(0)
	}
	bs := max(1, page/int(unsafe.Sizeof(bucket[K, V]{})))
	for i := 0; i < len(t.buckets); i += bs {
		t.buckets[i].meta.Store(0)
	}
	t.heads[len(t.heads)-1].meta.Store(0)
	t.buckets[len(t.buckets)-1].meta.Store(0)
}

// keyHasher hashes keys, seeded per map so that nobody who does not know
// the seed can choose keys that collide.
type keyHasher[K comparable] struct {
	intKey   bool    // K is an integer kind: hash it with mixInt
	strKey   bool    // K is a string kind: hash it with hashString
	intSeed  uint64  // seed of mixInt, drawn from seed
	strSeed  strSeed // seed of hashString, drawn from seed
	hashMask uint64  // all ones, or fewer bits to degrade the hash in tests
	seed     maphash.Seed
}

// hash returns key's hash.
func (kh *keyHasher[K]) hash(key K) uint64 {
	if kh.intKey {
		return mixInt(kh.intSeed, intBits(key)) & kh.hashMask
	}
	return kh.hashAny(key)
}

// hashAny hashes keys of every other type (outlined so that hash can be
// inlined for integer keys).
func (kh *keyHasher[K]) hashAny(key K) uint64 {
	if kh.strKey {
		return hashString(kh.strSeed, kh.seed, stringOf(key)) & kh.hashMask
	}
	return maphash.Comparable(kh.seed, key) & kh.hashMask
}

// tableOrInit returns the current table, creating it on the first write to
// a zero Map.
func (m *Map[K, V]) tableOrInit() *mapTable[K, V] {
	if t := m.table.Load(); t != nil {
		return t
	}
	return m.initSlow()
}

// initSlow creates the table of a zero Map (outlined so that tableOrInit
// can be inlined).
func (m *Map[K, V]) initSlow() *mapTable[K, V] {
	m.resizeMu.Lock()
	defer m.resizeMu.Unlock()
	if t := m.table.Load(); t != nil {
		return t
	}
	t := newMapTable(minBuckets, newMapShared[K, V](options{}))
	m.table.Store(t)
	return t
}

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes no lock, never allocates, and does not wait for a
// LoadOrCompute of the same key.
func (m *Map[K, V]) Load(key K) (value V, ok bool) {
	t := m.table.Load()
	if t == nil {
		checkKey(&m.keys, key)
		return value, false
	}
	var h uint64 // t.hash(key), by hand: the compiler will not inline it here
	// Integer and string keys are always hashable: no checkKey.
	if t.intKey {
		h = mixInt(t.intSeed, intBits(key)) & t.hashMask
	} else if t.strKey {
		switch s := stringOf(key); { // hashString, in line
		case len(s) > 16:
			h = maphash.Comparable(t.seed, s)
		case len(s) >= 8:
			a, b := stringWords(s)
			h = mixString(t.strSeed, a, b, len(s))
		default:
			h = hashShort(t.strSeed, s)
		}
		h &= t.hashMask
	} else {
		checkKey(&m.keys, key)
		h = maphash.Comparable(t.seed, key) & t.hashMask // hashAny, in line
	}
	// Fast path, in line: the root bucket only. Anything unusual (a writer
	// in the bucket, a moved chain, a key not in the root of a chain with
	// an overflow bucket) goes to loadSlow, which handles every case.
	idx := uintptr(h & t.mask)
	// Safety: idx <= mask = len(heads)-1, so hd points into heads, as
	// &t.heads[idx] would, without the bounds check (root does the same
	// for buckets).
	hd := (*head)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.heads)), idx*unsafe.Sizeof(head{})))
	tag := h2(h)
	if t.eager.Load() {
		// A large, hit-heavy table: start fetching the root bucket's
		// first line now, in parallel with the head, rather than after
		// the head names a slot. The word read is thrown away.
		readLine(t.root(idx))
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
		return value, false
	}
	// A chain with an overflow bucket still holds most of its keys in the
	// root, which a hit validates against s like any other.
	if match != 0 {
		if !raceEnabled && s&(seqDirty|seqMoved) == 0 {
			s &^= seqLocked
			b := t.root(idx)
			for ; match != 0; match &= match - 1 {
				// Safety: match has bits only in metaSlots, so the
				// slot index is below slotsPerBucket.
				sl := (*slot[K, V])(unsafe.Add(unsafe.Pointer(&b.slots), uintptr(slotIndex(match))*unsafe.Sizeof(slot[K, V]{})))
				k, v := sl.key, sl.value
				loadFence()
				if hd.seq.Load()&^seqLocked != s {
					break // a writer changed the bucket: take the slow path
				}
				if k == key {
					if h&sampleMask == 0 {
						t.sampleLoad(sampleHit)
					}
					return v, true // the copy is consistent: seq did not change
				}
			}
		}
	}
	return t.loadSlow(key, h)
}

// A hit reads the head's line and then the line of the slot the head
// names: two dependent fetches, each from memory once the table outgrows
// the caches. Reading the root bucket's first line (the header and the
// first slots, where most entries of a chain live) together with the head
// overlaps them, but costs a miss a line it does not otherwise need. So
// Load does it only in a table where it was measured to pay (eagerOK) and
// only while Loads mostly hit (eager). Measured with 1M int64 keys, one
// goroutine, against xsync: hits 0.98 -> 0.80; and where it did not pay,
// so eagerOK excludes it: 100k int64 keys (heads in cache) 0.83 -> 0.86,
// 1M string keys (comparing keys reads the key's bytes too) 1.01 -> 1.09.
//
// Load samples its outcome for one key in 256 (by hash, so choosing costs
// nothing) and decides every 64 samples or so, with hysteresis: eager from
// 3/4 hits, lazy again below 1/2.
const (
	eagerMinChains = 1 << 16 // 1 MB of heads: more than most L2 caches hold
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

// root returns root bucket idx, which must be at most t.mask, without the
// bounds check of &t.buckets[idx] (Load's fast path).
func (t *mapTable[K, V]) root(idx uintptr) *bucket[K, V] {
	// Safety: idx <= mask = len(buckets)-1, so the result points into
	// the buckets array.
	return (*bucket[K, V])(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.buckets)), idx*unsafe.Sizeof(bucket[K, V]{})))
}

// readLine reads the first word of root bucket b, so that the processor
// fetches its first cache line, and throws it away.
func readLine[K comparable, V any](b *bucket[K, V]) {
	// The word is b's meta, which no one writes once the table is
	// published (a root's tags live in its head): the read races with
	// nothing, and the atomic load keeps the compiler from dropping it.
	b.meta.Load()
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

// find looks key up in the chain rooted at b during a read begun with seq
// s. Each candidate slot is copied, and the copy is used only once seq
// proves it consistent.
func (b *bucket[K, V]) find(ovf *overflows[K, V], hd *head, key K, tag uint8, s uint64) (value V, ok bool, r readResult) {
	for c := b; c != nil; c = ovf.next(c) {
		for match := matchTag(b.tags(hd, c).Load(), tag); match != 0; match &= match - 1 {
			sl := &c.slots[slotIndex(match)]
			k := sl.key
			if !hd.readValid(s) {
				return value, false, readRetry
			}
			if k == key {
				value = sl.value
				if !hd.readValid(s) {
					return value, false, readRetry
				}
				return value, true, readOK
			}
		}
	}
	if !hd.readValid(s) {
		return value, false, readRetry
	}
	return value, false, readOK
}

// lockChain locks the chain that holds (or will hold) the key with hash h,
// in the newest table that has it, with the chain's head.
func (m *Map[K, V]) lockChain(h uint64) (*mapTable[K, V], *bucket[K, V], *head) {
	t := m.tableOrInit()
	for {
		b, hd := &t.buckets[h&t.mask], &t.heads[h&t.mask]
		hd.lock()
		if !hd.moved() {
			return t, b, hd
		}
		hd.unlock()
		t = t.next.Load()
	}
}

// locate returns the bucket and slot of key in the locked chain rooted at
// b, whose head is hd, or nil.
func (b *bucket[K, V]) locate(ovf *overflows[K, V], hd *head, key K, tag uint8) (*bucket[K, V], int) {
	for c := b; c != nil; c = ovf.next(c) {
		for match := matchTag(b.tags(hd, c).Load(), tag); match != 0; match &= match - 1 {
			if i := slotIndex(match); c.slots[i].key == key {
				return c, i
			}
		}
	}
	return nil, 0
}

// insert adds an entry for a key absent from the locked chain rooted at b,
// and reports whether it had to add an overflow bucket. With publish unset
// the chain is not yet reachable (a resize filling a new table).
//
// An insert needs no D window, outside race builds: it writes an empty
// slot, which no reader copies (readers copy only slots whose tag they
// saw, and an empty slot's tag was cleared by a delete that counted itself
// in seq), then sets the tag; a reader that sees the tag sees the whole
// slot. Likewise a new overflow bucket is complete before next publishes it.
// Race builds keep the window: there, readers exclude writers through D.
func (b *bucket[K, V]) insert(ovf *overflows[K, V], hd *head, key K, value V, tag uint8, publish bool) (overflowed bool) {
	window := publish && raceEnabled
	last := b
	for c := b; c != nil; c = ovf.next(c) {
		w := b.tags(hd, c)
		if empty := matchEmpty(w.Load()); empty != 0 {
			i := slotIndex(empty)
			if window {
				hd.beginWrite()
			}
			c.slots[i] = slot[K, V]{key, value}
			w.Store(w.Load() | uint64(tag)<<(8*i)) // after the slot
			if window {
				hd.endWrite()
			}
			return false
		}
		last = c
	}
	link, nb := ovf.alloc()
	nb.slots[0] = slot[K, V]{key, value}
	nb.meta.Store(uint64(tag))
	if window {
		hd.beginWrite()
	}
	hd.meta.Store(hd.meta.Load() | metaOverflow) // before next: see Load's one-word miss
	last.next.Store(link)                        // publishes nb's slot and meta to readers of next
	if window {
		hd.endWrite()
	}
	return true
}

// setValue overwrites the value in slot i of c, in the chain locked by hd.
func setValue[K comparable, V any](hd *head, c *bucket[K, V], i int, value V) {
	hd.beginWrite()
	c.slots[i].value = value
	hd.endWrite()
}

// remove empties slot i of c, in the locked chain of b, zeroing it so the
// collector can free what it referenced.
func (b *bucket[K, V]) remove(hd *head, c *bucket[K, V], i int) {
	hd.beginWrite()
	w := b.tags(hd, c)
	w.Store(w.Load() &^ (0xff << (8 * i))) // the tag goes before the slot
	c.slots[i] = slot[K, V]{}
	hd.endWrite()
}

// inserted counts a new entry with tag and grows the table if an insert
// that needed an overflow bucket finds it more than 3/4 full. Called with
// no lock held.
func (m *Map[K, V]) inserted(t *mapTable[K, V], tag uint8, overflowed bool) {
	t.shared.count.addAt(uint64(tag), 1)
	if overflowed {
		m.maybeResize(t)
	}
}

// deleted counts a removed entry with tag and, once in shrinkSample
// deletes, checks whether the table should shrink. Called with no lock held.
func (m *Map[K, V]) deleted(t *mapTable[K, V], tag uint8) {
	t.shared.count.addAt(uint64(tag), -1)
	if rand.Uint32()%shrinkSample == 0 {
		m.maybeResize(t)
	}
}

// maybeResize resizes t if its load calls for it and no other resize is
// running. The caller never waits for a resize that another goroutine runs.
func (m *Map[K, V]) maybeResize(t *mapTable[K, V]) {
	n := len(t.buckets)
	size := int(t.shared.count.sum())
	switch slots := n * slotsPerBucket; {
	case size*growDen > slots*growNum:
		n *= 2
	case size*shrinkDen < slots*shrinkNum && n > t.shared.minBuckets:
		n = max(t.shared.minBuckets, bucketsFor(2*size))
		if n >= len(t.buckets) {
			return
		}
	default:
		return
	}
	if !m.resizeMu.TryLock() {
		return // someone else is resizing
	}
	defer m.resizeMu.Unlock()
	if m.table.Load() != t {
		return // resized meanwhile; the next insert or delete checks again
	}
	m.moveTable(t, n, false)
}

// moveTable moves every chain of t to a new table of n buckets, or, with
// drop set, empties them (Clear, uncounting each entry), and makes the new
// table current. The caller holds m.resizeMu.
//
// Each chain is moved under its lock and then marked moved, so a write to
// a chain lands either before it is copied or, redirected, in the new
// table; readers keep reading a chain until it is marked, then follow it.
func (m *Map[K, V]) moveTable(t *mapTable[K, V], n int, drop bool) {
	nt := newMapTable(n, t.shared)
	nt.eager.Store(nt.eagerOK && t.eager.Load()) // same workload, same choice
	if !drop {
		nt.touch() // before t.next shows nt to the collector and to writers
	}
	t.next.Store(nt)
	grow := len(nt.buckets) > len(t.buckets)
	// A chain whose lock stays held through a short spin is passed over
	// and moved after the others: its holder (a writer whose thread the
	// operating system descheduled, or a Compute function) is then
	// usually done, and the resize has not waited for it meanwhile. The
	// order in which chains move does not matter: each is moved under its
	// lock and marked, whenever that happens.
	var busy []int
	for i := range t.buckets {
		if !t.heads[i].tryLock() {
			busy = append(busy, i)
			continue
		}
		t.moveLocked(i, nt, grow, drop)
	}
	for _, i := range busy {
		t.heads[i].lock()
		t.moveLocked(i, nt, grow, drop)
	}
	m.table.Store(nt)
}

// moveLocked moves (or, with drop set, empties) chain i of t, which the
// caller has locked, marks it moved and unlocks it.
func (t *mapTable[K, V]) moveLocked(i int, nt *mapTable[K, V], grow, drop bool) {
	ob, oh := &t.buckets[i], &t.heads[i]
	if drop {
		ob.uncount(&t.ovf, oh, t.shared.count)
	} else {
		t.moveChain(ob, oh, nt, uint64(i), grow)
	}
	oh.markMoved() // publishes the copy to whoever follows the mark
	oh.unlock()
}

// moveChain copies the locked chain ob, root i of t, into nt. When nt is
// larger, the chains ob's keys go to are reachable only through ob, which is
// not marked yet, so they are filled without locks (growChain). When nt is
// smaller, all of ob's keys go to one chain, which writers and readers may
// already be using via another moved chain, so it is locked and written as
// usual.
func (t *mapTable[K, V]) moveChain(ob *bucket[K, V], oh *head, nt *mapTable[K, V], i uint64, grow bool) {
	if grow {
		t.growChain(ob, oh, nt, i)
		return
	}
	dst, dh := &nt.buckets[i&nt.mask], &nt.heads[i&nt.mask]
	dh.lock()
	defer dh.unlock()
	for c := ob; c != nil; c = t.ovf.next(c) {
		for occ := ob.tags(oh, c).Load() & metaMSB & metaSlots; occ != 0; occ &= occ - 1 {
			sl := &c.slots[slotIndex(occ)]
			dst.insert(&nt.ovf, dh, sl.key, sl.value, h2(t.hash(sl.key)), true)
		}
	}
}

// growChain copies the locked chain ob, root i of t, into nt, which is
// twice as large: each key goes to chain i or i+len(t.buckets) of nt. Both
// are empty and reachable only through ob, which is not marked moved yet,
// so nobody else reads or writes them: they are filled slot after slot with
// plain stores, each bucket's tags stored once it is full or the copy is
// done, and an overflow bucket linked (after the root's overflow flag, as
// insert does) when one fills up. markMoved, which follows, publishes all
// of it.
func (t *mapTable[K, V]) growChain(ob *bucket[K, V], oh *head, nt *mapTable[K, V], i uint64) {
	high := uint64(len(t.buckets)) // the hash bit that picks the upper chain
	var dst [2]chainFill[K, V]
	dst[0].start(nt, i)
	dst[1].start(nt, i+high)
	for c := ob; c != nil; c = t.ovf.next(c) {
		for occ := ob.tags(oh, c).Load() & metaMSB & metaSlots; occ != 0; occ &= occ - 1 {
			sl := &c.slots[slotIndex(occ)]
			h := t.hash(sl.key)
			d := &dst[0]
			if h&high != 0 {
				d = &dst[1]
			}
			d.put(sl, h2(h))
		}
	}
	dst[0].finish()
	dst[1].finish()
}

// chainFill appends entries to an empty, unpublished chain of a new table.
type chainFill[K comparable, V any] struct {
	b    *bucket[K, V]    // the bucket being filled
	hd   *head            // the chain's head
	ovf  *overflows[K, V] // the new table's overflow buckets
	n    int              // slots of b filled
	tags uint64           // their tags, not yet stored
}

func (f *chainFill[K, V]) start(nt *mapTable[K, V], i uint64) {
	f.b, f.hd, f.ovf = &nt.buckets[i], &nt.heads[i], &nt.ovf
}

// put appends a copy of sl with tag.
func (f *chainFill[K, V]) put(sl *slot[K, V], tag uint8) {
	if f.n == slotsPerBucket {
		f.finish()
		link, nb := f.ovf.alloc()
		f.hd.meta.Store(f.hd.meta.Load() | metaOverflow) // before next, as in insert
		f.b.next.Store(link)
		f.b, f.n, f.tags = nb, 0, 0
	}
	f.b.slots[f.n] = *sl
	f.tags |= uint64(tag) << (8 * f.n)
	f.n++
}

// finish stores the tags of the bucket being filled: in the head if it is
// the root (no overflow bucket linked yet), else in the bucket.
func (f *chainFill[K, V]) finish() {
	if f.tags == 0 {
		return
	}
	if f.hd.meta.Load()&metaOverflow == 0 {
		f.hd.meta.Store(f.tags)
	} else {
		f.b.meta.Store(f.tags)
	}
}

// uncount takes the entries of the locked chain rooted at b, whose head is
// hd, off count, each from the stripe its tag picked when it was inserted.
func (b *bucket[K, V]) uncount(ovf *overflows[K, V], hd *head, count *counter) {
	for c := b; c != nil; c = ovf.next(c) {
		meta := b.tags(hd, c).Load()
		for occ := meta & metaMSB & metaSlots; occ != 0; occ &= occ - 1 {
			count.addAt(uint64(uint8(meta>>(8*slotIndex(occ)))), -1) // the slot's tag
		}
	}
}

// Store sets the value for key.
func (m *Map[K, V]) Store(key K, value V) {
	m.Swap(key, value)
}

// Swap stores value for key and returns the previous value, if any.
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	checkKey(&m.keys, key)
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	if c, i := b.locate(&t.ovf, hd, key, h2(h)); c != nil {
		previous = c.slots[i].value
		setValue(hd, c, i, value)
		hd.unlock()
		return previous, true
	}
	overflowed := b.insert(&t.ovf, hd, key, value, h2(h), true)
	hd.unlock()
	m.inserted(t, h2(h), overflowed)
	return previous, false
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value and returns it. A hit takes no lock and
// allocates nothing.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if actual, loaded = m.Load(key); loaded {
		return actual, true
	}
	return m.loadOrStoreSlow(key, value, m.tableOrInit().hash(key))
}

// loadOrStoreSlow is LoadOrStore's locked path, after the lock-free lookup
// missed.
func (m *Map[K, V]) loadOrStoreSlow(key K, value V, h uint64) (actual V, loaded bool) {
	actual, loaded, t, overflowed := m.loadOrInsert(key, value, h)
	if !loaded {
		m.inserted(t, h2(h), overflowed)
	}
	return actual, loaded
}

// loadOrInsert returns key's value if it is present, or inserts value for
// it, under the lock of its chain. An insert is not counted yet: the
// caller passes t and overflowed to inserted, once it holds no lock.
func (m *Map[K, V]) loadOrInsert(key K, value V, h uint64) (actual V, loaded bool, t *mapTable[K, V], overflowed bool) {
	t, b, hd := m.lockChain(h)
	if c, i := b.locate(&t.ovf, hd, key, h2(h)); c != nil {
		actual = c.slots[i].value
		hd.unlock()
		return actual, true, t, false
	}
	overflowed = b.insert(&t.ovf, hd, key, value, h2(h), true)
	hd.unlock()
	return value, false, t, overflowed
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent. fn runs with no lock held, at most once however
// many goroutines miss the key together, and never delays a resize; see
// [ConcurrentMap.LoadOrCompute]. A hit takes no lock and allocates nothing.
func (m *Map[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	if actual, loaded = m.Load(key); loaded {
		return actual, true
	}
	actual, loaded, _ = loadOrCompute[K, V](m, nil, key, m.tableOrInit().hash(key), noError(fn))
	return actual, loaded
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *Map[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	if actual, loaded = m.Load(key); loaded {
		return actual, true, nil
	}
	return loadOrCompute[K, V](m, ctx, key, m.tableOrInit().hash(key), fn)
}

// flightStripe returns the stripe that registers flights for the key with
// hash h (flights.go). The table exists: LoadOrCompute hashed the key with
// it.
func (m *Map[K, V]) flightStripe(h uint64) *flightStripe[K, V] {
	sh := m.table.Load().shared
	return &sh.flights[(h>>32)&sh.flightMask]
}

// loadHashed is Load for a key whose hash h is known: the one-word miss,
// else the slow path, which handles every case.
func (m *Map[K, V]) loadHashed(key K, h uint64) (value V, ok bool) {
	t := m.table.Load()
	meta := t.heads[h&t.mask].meta.Load()
	if meta&metaFlags == 0 && matchTag(meta, h2(h)) == 0 {
		return value, false // absent at the instant meta was read: see Load
	}
	return t.loadSlow(key, h)
}

// claim looks key up and finds or registers its flight in one critical
// section of the key's flight stripe. land, which inserts the computed
// value, holds the same lock, so a caller that finds no value here either
// finds the flight of the owner who has not landed yet, or registers its
// own while the key is absent.
func (m *Map[K, V]) claim(key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}) {
	st := m.flightStripe(h)
	st.mu.Lock()
	if value, ok = m.loadHashed(key, h); ok {
		st.mu.Unlock()
		return value, true, nil, nil
	}
	f, wait = st.claim(key, h)
	st.mu.Unlock()
	return value, false, f, wait
}

// land unregisters f and inserts value (with store set) in one critical
// section of the key's flight stripe, holding the chain lock for the
// insert as every writer does: to a claim of the key, both happen at once.
// The insert is counted, and may start a resize, after the stripe lock is
// released, so that a resize never holds up the stripe's other keys.
func (m *Map[K, V]) land(key K, h uint64, f *flight[V], value V, store bool) (actual V, loaded, waited bool) {
	st := m.flightStripe(h)
	var t *mapTable[K, V]
	var overflowed bool
	st.mu.Lock()
	if store {
		actual, loaded, t, overflowed = m.loadOrInsert(key, value, h)
	} else {
		actual, loaded = m.loadHashed(key, h)
	}
	waited = st.land(key, h, f) // f may be recycled from here on
	st.mu.Unlock()
	if store && !loaded {
		m.inserted(t, h2(h), overflowed)
	}
	return actual, loaded, waited
}

// Compute atomically updates the entry for key; see
// [ConcurrentMap.Compute]. fn runs holding the lock of key's bucket chain:
// readers never wait for it, but writers of the keys in that chain and a
// resize do, so keep fn short. fn may call Load, but no other method of the
// same map: a write or a Range could wait for the lock fn's caller holds. A
// panic in fn changes nothing and releases the lock.
func (m *Map[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	checkKey(&m.keys, key)
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	var inserted, deleted, overflowed bool
	func() {
		defer hd.unlock()
		c, i := b.locate(&t.ovf, hd, key, h2(h))
		var old V
		if c != nil {
			old = c.slots[i].value
		}
		newValue, op := fn(old, c != nil)
		switch op {
		case UpdateOp:
			if c != nil {
				setValue(hd, c, i, newValue)
			} else {
				overflowed, inserted = b.insert(&t.ovf, hd, key, newValue, h2(h), true), true
			}
			actual, ok = newValue, true
		case DeleteOp:
			if c != nil {
				b.remove(hd, c, i)
				deleted = true
			}
		case CancelOp:
			actual, ok = old, c != nil
		default:
			panic("safemap: Compute function returned unknown " + op.String())
		}
	}()
	if inserted {
		m.inserted(t, h2(h), overflowed)
	}
	if deleted {
		m.deleted(t, h2(h))
	}
	return actual, ok
}

// CompareAndSwap stores new for key if its current value == old. It panics
// if V is not comparable. A mismatch found by the lock-free lookup takes no
// lock.
func (m *Map[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	mustComparableValue("CompareAndSwap", old)
	if cur, ok := m.Load(key); !ok || !equalValues("CompareAndSwap", cur, old) {
		return false
	}
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	defer hd.unlock()
	c, i := b.locate(&t.ovf, hd, key, h2(h))
	if c == nil || !equalValues("CompareAndSwap", c.slots[i].value, old) {
		return false
	}
	setValue(hd, c, i, new)
	return true
}

// CompareAndDelete deletes key if its current value == old. It panics if V
// is not comparable.
func (m *Map[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	mustComparableValue("CompareAndDelete", old)
	if cur, ok := m.Load(key); !ok || !equalValues("CompareAndDelete", cur, old) {
		return false
	}
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	c, i := b.locate(&t.ovf, hd, key, h2(h))
	if c == nil || !equalValues("CompareAndDelete", c.slots[i].value, old) {
		hd.unlock()
		return false
	}
	b.remove(hd, c, i)
	hd.unlock()
	m.deleted(t, h2(h))
	return true
}

// LoadAndDelete deletes key and returns the value it had, if any. A miss
// found by the lock-free lookup takes no lock.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	if _, loaded = m.Load(key); !loaded {
		return value, false
	}
	h := m.table.Load().hash(key)
	t, b, hd := m.lockChain(h)
	c, i := b.locate(&t.ovf, hd, key, h2(h))
	if c == nil {
		hd.unlock()
		return value, false
	}
	value = c.slots[i].value
	b.remove(hd, c, i)
	hd.unlock()
	m.deleted(t, h2(h))
	return value, true
}

// Delete deletes key.
func (m *Map[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// Range calls fn for each entry until fn returns false. It copies one
// bucket chain at a time (a handful of entries) and calls fn with no lock
// held, so fn may call any method of the map. Each chain is seen at one
// instant, different chains at different instants: an entry written during
// Range may or may not be visited, an entry present throughout is visited,
// and no key is visited twice. If Range meets a chain that a resize has
// moved, it waits for that resize to finish and goes on in the new table.
func (m *Map[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	t := m.table.Load()
	if t == nil {
		return
	}
	// Chains are visited in index order. When chain i of t turns out to
	// have moved, chains 0..i-1 of t have been visited, so Range goes on
	// through the whole next table, skipping the keys that lived in those
	// chains: each switch adds one such condition.
	var skip []rangeSkip
	var buf []slot[K, V]
	for {
		i, n := 0, len(t.buckets)
		for ; i < n; i++ {
			var moved bool
			if buf, moved = t.buckets[i].collect(&t.ovf, &t.heads[i], buf[:0]); moved {
				break
			}
			for _, e := range buf {
				if len(skip) > 0 && t.shared.skipped(e.key, uint64(i), t.mask, skip) {
					continue
				}
				if !fn(e.key, e.value) {
					return
				}
			}
		}
		if i == n {
			return
		}
		skip = append(skip, rangeSkip{mask: t.mask, below: uint64(i)})
		// The resize that moved chain i holds resizeMu from before it
		// moves anything until the next table is complete; waiting for it
		// means no chain of t is still to be copied.
		m.resizeMu.Lock()
		//lint:ignore SA2001 an empty critical section: waiting is the point
		m.resizeMu.Unlock()
		t = t.next.Load()
	}
}

// rangeSkip is one condition of Range: keys whose chain in a table of
// mask+1 buckets was below index below have been visited already.
type rangeSkip struct{ mask, below uint64 }

// skipped reports whether Range has visited key already, in a table it
// left, given that the key is in chain j of the table of mask+1 buckets it
// is reading now.
//
// Moves keep a key's chain index in its low bits (growing sends chain i to
// i or i+n, shrinking to i&mask'), so a key's chain in a table that was no
// larger than this one is j's low bits, whatever the key: that needs no
// hashing, which a NaN key could not use (it hashes differently on every
// call). Only a table that was larger, before a shrink, leaves it open:
// chain j then gathered several of its chains, and if Range had visited
// some of those but not all, the key is hashed. A NaN key in such a chain
// cannot be placed and counts as visited: Range keeps its promise of at
// most once, and may miss that entry.
func (sh *mapShared[K, V]) skipped(key K, j, mask uint64, skip []rangeSkip) bool {
	for _, c := range skip {
		if c.mask <= mask {
			if j&c.mask < c.below {
				return true
			}
			continue
		}
		// A larger table: chain j gathered its chains j, j+mask+1, ...
		switch {
		case j|(c.mask&^mask) < c.below:
			return true // all of them visited
		case j >= c.below:
			continue // none of them visited
		case key != key:
			return true // cannot be placed: see above
		case sh.hash(key)&c.mask < c.below:
			return true
		}
	}
	return false
}

// collect appends to dst a consistent copy of the entries of the chain
// rooted at b, whose head is hd, or reports that the chain has moved.
func (b *bucket[K, V]) collect(ovf *overflows[K, V], hd *head, dst []slot[K, V]) (_ []slot[K, V], moved bool) {
	for n := 0; ; n++ {
		s, r := hd.readBegin()
		if r == readMoved {
			return dst, true
		}
		if r == readOK {
			start := len(dst)
			for c := b; c != nil; c = ovf.next(c) {
				for occ := b.tags(hd, c).Load() & metaMSB & metaSlots; occ != 0; occ &= occ - 1 {
					dst = append(dst, c.slots[slotIndex(occ)]) // validated below
				}
			}
			valid := hd.readValid(s)
			hd.readEnd(s)
			if valid {
				return dst, false
			}
			clear(dst[start:])
			dst = dst[:start]
		}
		backoff(n)
	}
}

// All returns an iterator over the entries with the guarantees of Range.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Len returns the number of entries, in O(GOMAXPROCS).
func (m *Map[K, V]) Len() int {
	t := m.table.Load()
	if t == nil {
		return 0
	}
	return int(t.shared.count.sum())
}

// Clear deletes every entry. It moves every chain to a new, empty table,
// so each key is deleted atomically and Len stays exact; an entry stored
// while Clear runs may survive it. Clear waits for a resize in progress.
func (m *Map[K, V]) Clear() {
	if m.table.Load() == nil {
		return
	}
	m.resizeMu.Lock()
	defer m.resizeMu.Unlock()
	t := m.table.Load()
	m.moveTable(t, t.shared.minBuckets, true)
}
