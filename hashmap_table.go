package safemap

import (
	"hash/maphash"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// This file holds one generation of Map's table (mapTable), the state its
// generations share (mapShared), and how a table is created, found and
// locked a chain at a time.

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
	// ahead is set in a table whose buckets outgrow the L2 cache: there a
	// writer's lookup fetches the root bucket's lines in parallel with
	// the head, whatever the hit rate, since the writer goes on to read
	// or write a slot of that bucket either way (readRoot).
	ahead  bool
	shared *mapShared[K, V]
	next   atomic.Pointer[mapTable[K, V]] // set when a resize or Clear starts
	ovf    overflows[K, V]                // the overflow buckets of this table's chains
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
		// Set before any table copies the hasher. A degraded hash takes
		// the generic path (maphash), the only one that applies the mask,
		// so that the integer and string paths pay nothing for the hook.
		sh.hashMask = 1<<o.hashBits - 1
		sh.intKey, sh.strKey = false, false
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
		eagerOK:   (sh.plainKey || sh.strKey) && n >= eagerMinChains,
		ahead:     n >= eagerMinChains,
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

// lockChain locks the chain that holds (or will hold) the key with hash h,
// in the newest table that has it, with the chain's head. The map has a
// table: the caller hashed the key with it.
func (m *Map[K, V]) lockChain(h uint64) (*mapTable[K, V], *bucket[K, V], *head) {
	t := m.table.Load()
	for {
		idx := uintptr(h & t.mask)
		b, hd := t.root(idx), t.head(idx)
		w := hd.meta.Load()
		if w&metaLocked != 0 || !hd.meta.CompareAndSwap(w, w|metaLocked) { // in line: the lock is usually free
			hd.lock()
			w = hd.meta.Load()
		}
		if w&metaMoved == 0 { // set under L: w, the word L was taken from, is still right
			return t, b, hd
		}
		hd.unlock()
		t = t.next.Load()
	}
}

// root returns root bucket idx, which must be at most t.mask, without the
// bounds check of &t.buckets[idx] (Load's fast path, lockChain).
func (t *mapTable[K, V]) root(idx uintptr) *bucket[K, V] {
	// Safety: idx <= mask = len(buckets)-1, so the result points into
	// the buckets array.
	return (*bucket[K, V])(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.buckets)), idx*unsafe.Sizeof(bucket[K, V]{})))
}

// head returns the head of chain idx, which must be at most t.mask, without
// the bounds check of &t.heads[idx].
func (t *mapTable[K, V]) head(idx uintptr) *head {
	// Safety: idx <= mask = len(heads)-1, so the result points into the
	// heads array.
	return (*head)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.heads)), idx*unsafe.Sizeof(head{})))
}

// hasPointers reports whether values of type t hold any pointer the
// garbage collector must trace.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice,
		reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
