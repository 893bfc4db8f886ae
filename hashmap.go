package safemap

import (
	"context"
	"sync"
	"sync/atomic"
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
//     pointer-free or string keys whose Loads mostly hit, Load also starts
//     fetching the line of the root bucket's first slot early, so that a
//     hit's two fetches overlap; a miss there reads that line too.
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

// New returns an empty Map. It accepts [WithCapacity].
func New[K comparable, V any](opts ...Option) *Map[K, V] {
	o := buildOptions("New", setCapacity, opts)
	m := new(Map[K, V])
	m.table.Store(newMapTable(bucketsFor(o.capacity), newMapShared[K, V](o)))
	return m
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
	overflowed := b.insertUnlock(&t.ovf, hd, key, value, h2(h))
	m.inserted(t, h2(h), overflowed)
	return previous, false
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value and returns it. A hit takes no lock and
// allocates nothing.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if m.table.Load() == nil {
		m.initSlow() // tableOrInit, in line: lookup needs a table to hash with
	}
	actual, loaded, h := m.writerLookup(key)
	if loaded {
		return actual, true
	}
	return m.loadOrStoreSlow(key, value, h)
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
	overflowed = b.insertUnlock(&t.ovf, hd, key, value, h2(h))
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
	if m.table.Load() == nil {
		m.initSlow() // tableOrInit, in line: lookup needs a table to hash with
	}
	actual, loaded, h := m.writerLookup(key)
	if loaded {
		return actual, true
	}
	return m.computeMiss(key, h, fn)
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *Map[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	if m.table.Load() == nil {
		m.initSlow() // tableOrInit, in line: lookup needs a table to hash with
	}
	actual, loaded, h := m.writerLookup(key)
	if loaded {
		return actual, true, nil
	}
	actual, loaded, _, err = loadOrCompute[K, V](m, ctx, key, h, fn)
	return actual, loaded, err
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
		op.mustBeKnown()
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

// LoadAndDelete deletes key and returns the value it had, if any. A
// LoadOrCompute of key in flight stores nothing (see
// [ConcurrentMap.LoadAndDelete]). A miss takes no lock when the key's
// bucket holds no reservation and has no overflow bucket.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	checkKey(&m.keys, key)
	t := m.table.Load()
	if t == nil {
		return value, false
	}
	h := t.hash(key)
	if meta := t.head(uintptr(h & t.mask)).meta.Load(); matchTag(meta, h2(h)) == 0 && matchReserved(meta) == 0 && meta&metaFlags == 0 {
		// The word proves the key absent (as in Load's one-word miss)
		// and no LoadOrCompute of it in flight: a reservation is a byte
		// of this word unless the chain has an overflow bucket or moved.
		return value, false
	}
	t, b, hd := m.lockChain(h)
	b.invalidate(&t.ovf, hd, key)
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

// Delete deletes key. A LoadOrCompute of key in flight stores nothing.
func (m *Map[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
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
// while Clear runs may survive it. The LoadOrCompute calls in flight when
// Clear reaches their key's chain store nothing. Clear waits for a resize
// in progress.
func (m *Map[K, V]) Clear() {
	if m.table.Load() == nil {
		return
	}
	m.resizeMu.Lock()
	defer m.resizeMu.Unlock()
	t := m.table.Load()
	m.moveTable(t, t.shared.minBuckets, true)
}

// loadOrComputeReporting is LoadOrTryCompute (LoadOrCompute for a nil ctx)
// that also reports a discarded value, for Profile (see discardReporter).
func (m *Map[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	if m.table.Load() == nil {
		m.initSlow()
	}
	actual, loaded, h := m.writerLookup(key)
	if loaded {
		return actual, true, false, nil
	}
	return loadOrCompute[K, V](m, ctx, key, h, fn)
}
