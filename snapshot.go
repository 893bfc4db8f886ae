package safemap

import (
	"context"
	"errors"
	"iter"
	"maps"
	"sync"
	"sync/atomic"
)

// SnapshotMap serves reads from an immutable built-in map published through
// an [atomic.Pointer], and copies the whole map on every write. It is meant
// for read-mostly data such as configuration or routing tables.
//
// Cost model:
//   - Load, Len, Range and All take no lock and never wait: Load is one
//     atomic pointer load plus a built-in map lookup, and allocates nothing.
//   - Every write that changes the map (Store, Swap, a LoadOrStore or
//     LoadOrCompute that inserts, a successful CompareAndSwap,
//     CompareAndDelete, LoadAndDelete or Delete, a Compute that updates or
//     deletes) copies all n entries under a writer mutex: O(n) time and a
//     new n-entry map, the old one becoming garbage once no reader holds it.
//     Filling a map one key at a time therefore costs O(n²); writes that
//     change nothing (deleting an absent key, a lost CompareAndSwap) copy
//     nothing.
//   - With a fallback ([NewSnapshotMapWithFallback]), a Load miss calls it once per missing
//     key however many goroutines miss it together, and a found value costs
//     one copy; a key the fallback does not find is asked for again on the
//     next miss.
//
// LoadOrCompute and LoadOrTryCompute run their function with no lock held.
// Compute runs its function under the writer mutex: it blocks other writers
// (never readers), and fn may call Load, Len, Range and All but not methods
// that write.
//
// Range and All iterate over the snapshot current when they are called: a
// consistent point-in-time view that no later write changes.
//
// The zero SnapshotMap is empty, has no fallback, and is ready for use. A
// SnapshotMap must not be copied after first use.
type SnapshotMap[K comparable, V any] struct {
	snap atomic.Pointer[map[K]V] // current immutable snapshot; nil means empty
	keys keyCheck

	mu      sync.Mutex      // serialises writers and guards flights
	flights flightSet[K, V] // LoadOrCompute calls in progress

	fallback func(K) (V, bool) // consulted by Load on a miss; may be nil
}

// NewSnapshotMap returns an empty SnapshotMap. It accepts [WithCapacity],
// which it ignores: each write allocates a map of exactly the size it
// needs.
func NewSnapshotMap[K comparable, V any](opts ...Option) *SnapshotMap[K, V] {
	buildOptions("NewSnapshotMap", setCapacity, opts)
	return new(SnapshotMap[K, V])
}

// NewSnapshotMapWithFallback returns an empty SnapshotMap whose Load
// consults fallback when it misses, for example to read a configuration
// source: a read-through cache. The map's key and value types are the
// fallback's, so a fallback of the wrong type does not compile.
//
// fallback is called without any lock held, once per missing key however
// many goroutines miss it together (the others wait for its answer); if it
// reports ok, the value is stored, as by LoadOrCompute (one copy of the
// map), and returned. A miss that the fallback does not find is not
// remembered: the next Load of that key calls it again. If it panics, the
// panic reaches the Load that called it, nothing is stored, and the Loads
// waiting on it ask again. Only Load consults the fallback; every other
// method sees just the stored entries. fallback must not be nil. It
// accepts [WithCapacity], which it ignores.
func NewSnapshotMapWithFallback[K comparable, V any](fallback func(key K) (value V, ok bool), opts ...Option) *SnapshotMap[K, V] {
	if fallback == nil {
		panic("safemap: NewSnapshotMapWithFallback called with a nil fallback")
	}
	buildOptions("NewSnapshotMapWithFallback", setCapacity, opts)
	return &SnapshotMap[K, V]{fallback: fallback}
}

// probe looks key up as LoadOrCompute does: Load may call the fallback, and
// wait for a computation in progress; LoadOrCompute does neither.
func (m *SnapshotMap[K, V]) probe(key K) (value V, ok bool) {
	return m.lookup(key)
}

// lookup reads key from the current snapshot.
func (m *SnapshotMap[K, V]) lookup(key K) (value V, ok bool) {
	checkKey(&m.keys, key)
	if p := m.snap.Load(); p != nil {
		value, ok = (*p)[key]
	}
	return value, ok
}

// current returns the current snapshot: one atomic load, which writers make
// under m.mu and readers without a lock.
func (m *SnapshotMap[K, V]) current() map[K]V {
	if p := m.snap.Load(); p != nil {
		return *p
	}
	return nil
}

// publish makes next the current snapshot; the caller holds m.mu. The
// atomic store publishes next's contents to every reader that loads it.
func (m *SnapshotMap[K, V]) publish(next map[K]V) {
	m.snap.Store(&next)
}

// with returns a copy of cur with key set to value.
func with[K comparable, V any](cur map[K]V, key K, value V) map[K]V {
	next := maps.Clone(cur)
	if next == nil {
		next = make(map[K]V, 1)
	}
	next[key] = value
	return next
}

// without returns a copy of cur without key.
func without[K comparable, V any](cur map[K]V, key K) map[K]V {
	next := maps.Clone(cur)
	delete(next, key)
	return next
}

// errNotFound is the outcome a fallback miss shares with the Loads waiting
// on it.
var errNotFound = errors.New("safemap: not found by fallback")

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes no lock, allocates nothing on a hit, and does not
// wait for a LoadOrCompute of the same key, unless the map has a fallback:
// then a miss asks the fallback (see [NewSnapshotMapWithFallback]), or waits for the
// computation already in progress for key.
func (m *SnapshotMap[K, V]) Load(key K) (value V, ok bool) {
	if value, ok = m.lookup(key); ok || m.fallback == nil {
		return value, ok
	}
	return m.loadFallback(key)
}

// loadFallback runs the fallback for a missing key (outlined so that Load
// can be inlined).
func (m *SnapshotMap[K, V]) loadFallback(key K) (value V, ok bool) {
	value, _, _, err := loadOrCompute[K, V](m, context.Background(), key, 0, func(context.Context) (V, error) {
		if v, found := m.fallback(key); found {
			return v, nil
		}
		return value, errNotFound
	})
	return value, err == nil
}

// Store sets the value for key, copying the map.
func (m *SnapshotMap[K, V]) Store(key K, value V) {
	m.Swap(key, value)
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value, copying the map, and returns it. A hit
// takes no lock.
func (m *SnapshotMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if actual, loaded = m.lookup(key); loaded {
		return actual, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	if actual, loaded = cur[key]; loaded {
		return actual, true
	}
	m.publish(with(cur, key, value))
	return value, false
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent. fn runs with no lock held, at most once however
// many goroutines miss the key together; see [ConcurrentMap.LoadOrCompute].
// The fallback, if any, is not consulted.
func (m *SnapshotMap[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	if actual, loaded = m.lookup(key); loaded {
		return actual, true
	}
	actual, loaded, _, _ = loadOrCompute[K, V](m, nil, key, 0, noError(fn))
	return actual, loaded
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *SnapshotMap[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	if actual, loaded = m.lookup(key); loaded {
		return actual, true, nil
	}
	actual, loaded, _, err = loadOrCompute[K, V](m, ctx, key, 0, fn)
	return actual, loaded, err
}

func (m *SnapshotMap[K, V]) claim(key K, _ uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if value, ok = m.current()[key]; ok {
		return value, true, nil, nil, 0
	}
	f, wait = m.flights.claim(key)
	return value, false, f, wait, 0
}

func (m *SnapshotMap[K, V]) land(key K, _ uint64, f *flight[V], _ uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	waiters, invalid := m.flights.land(key, f)
	cur := m.current()
	if actual, loaded = cur[key]; loaded || !store {
		return actual, loaded, waiters, false
	}
	if invalid {
		return value, false, waiters, true // a Delete, Clear or Replace discarded it
	}
	m.publish(with(cur, key, value))
	return value, false, waiters, false
}

// Compute atomically updates the entry for key; see
// [ConcurrentMap.Compute]. fn runs under the writer mutex: it blocks other
// writers but never readers, and it may call Load, Len, Range and All but
// no method that writes (that would deadlock). A panic in fn changes
// nothing and releases the mutex.
func (m *SnapshotMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	checkKey(&m.keys, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	old, loaded := cur[key]
	newValue, op := fn(old, loaded)
	op.mustBeKnown()
	switch op {
	case UpdateOp:
		m.publish(with(cur, key, newValue))
		return newValue, true
	case DeleteOp:
		if loaded {
			m.publish(without(cur, key))
		}
		var zero V
		return zero, false
	}
	return old, loaded // CancelOp
}

// Swap stores value for key, copying the map, and returns the previous
// value, if any.
func (m *SnapshotMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	checkKey(&m.keys, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	previous, loaded = cur[key]
	m.publish(with(cur, key, value))
	return previous, loaded
}

// CompareAndSwap stores new for key if its current value == old, copying
// the map. It panics if V is not comparable.
func (m *SnapshotMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	mustComparableValue("CompareAndSwap", old)
	if cur, ok := m.lookup(key); !ok || !equalValues("CompareAndSwap", cur, old) {
		return false // cheap, lock-free rejection
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	if v, ok := cur[key]; !ok || !equalValues("CompareAndSwap", v, old) {
		return false
	}
	m.publish(with(cur, key, new))
	return true
}

// CompareAndDelete deletes key if its current value == old, copying the
// map. It panics if V is not comparable.
func (m *SnapshotMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	mustComparableValue("CompareAndDelete", old)
	if cur, ok := m.lookup(key); !ok || !equalValues("CompareAndDelete", cur, old) {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	if v, ok := cur[key]; !ok || !equalValues("CompareAndDelete", v, old) {
		return false
	}
	m.publish(without(cur, key))
	return true
}

// LoadAndDelete deletes key, copying the map, and returns the value it had,
// if any. A LoadOrCompute of key in flight stores nothing (see
// [ConcurrentMap.LoadAndDelete]). A miss takes no lock unless a
// LoadOrCompute of some key is in flight.
func (m *SnapshotMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	// pending first: a flight it does not see began after this call.
	if !m.flights.pending() {
		if _, loaded = m.lookup(key); !loaded {
			return value, false
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flights.invalidate(key)
	cur := m.current()
	if value, loaded = cur[key]; loaded {
		m.publish(without(cur, key))
	}
	return value, loaded
}

// Delete deletes key. A LoadOrCompute of key in flight stores nothing.
func (m *SnapshotMap[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// Range calls fn for each entry of the snapshot current when Range is
// called, until fn returns false. It takes no lock and copies nothing; fn
// may call any method of the map, and its writes are not visited.
func (m *SnapshotMap[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	for k, v := range m.current() {
		if !fn(k, v) {
			return
		}
	}
}

// All returns an iterator over the snapshot current when iteration starts,
// with the guarantees of Range.
func (m *SnapshotMap[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Len returns the number of entries, in O(1) and without a lock.
func (m *SnapshotMap[K, V]) Len() int {
	return len(m.current())
}

// Clear deletes every entry by publishing an empty snapshot. The
// LoadOrCompute calls in flight store nothing.
func (m *SnapshotMap[K, V]) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flights.invalidateAll()
	m.snap.Store(nil)
}

// StoreAll stores every entry of seq with a single copy of the map, where a
// Store per entry would copy it once each: use it to load many entries at
// once. It merges: entries that seq does not mention stay (use [SnapshotMap.Replace]
// to make the map exactly seq). Readers see either none or all of the new
// entries. seq runs under the writer mutex, so it must not write to the
// map.
func (m *SnapshotMap[K, V]) StoreAll(seq iter.Seq2[K, V]) {
	if seq == nil {
		panicNilFunc("StoreAll")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := maps.Clone(m.current())
	if next == nil {
		next = make(map[K]V)
	}
	for k, v := range seq {
		checkKey(&m.keys, k)
		next[k] = v
	}
	m.publish(next)
}

// Replace makes the map's contents exactly the entries of seq (for a key
// that seq yields more than once, its last value), in one atomic switch:
// every reader sees the whole old contents or the whole new ones, never a
// mix, never an empty map in between. Use it to publish a new version of a
// table that is rebuilt as a whole, such as routing rules reloaded every
// minute, where Clear followed by StoreAll would show readers an empty map
// and StoreAll alone would keep entries the new version dropped.
//
// seq runs before the writer mutex is taken, with no lock held, so it may
// read the map (it sees the old contents) and other writers are not held up
// while it runs; the switch itself is one pointer store under the mutex.
// A write that completes while seq runs is replaced like any other entry.
// Replace is a Clear and a store of seq's entries in one step, so, as after
// Clear, a LoadOrCompute in progress when the switch is made stores nothing
// (its callers still get its value). If seq panics, nothing changes.
func (m *SnapshotMap[K, V]) Replace(seq iter.Seq2[K, V]) {
	if seq == nil {
		panicNilFunc("Replace")
	}
	next := make(map[K]V)
	for k, v := range seq {
		checkKey(&m.keys, k)
		next[k] = v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flights.invalidateAll()
	m.publish(next)
}

// loadOrComputeReporting is LoadOrTryCompute (LoadOrCompute for a nil ctx)
// that also reports a discarded value, for Profile (see discardReporter).
func (m *SnapshotMap[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	if actual, loaded = m.lookup(key); loaded {
		return actual, true, false, nil
	}
	return loadOrCompute[K, V](m, ctx, key, 0, fn)
}
