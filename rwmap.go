package safemap

import (
	"context"
	"iter"
	"sync"
)

// RWMap is a built-in map guarded by one [sync.RWMutex]: reads share the
// lock, writes take it exclusively. It is compact and fast while contention
// is low, and it is the baseline the other strategies are measured against.
//
// Every method holds the lock through a deferred unlock, so a panic (an
// unhashable key, a panicking callback) never leaves it held.
// LoadOrCompute and LoadOrTryCompute run their function with no lock held;
// Compute runs its function under the write lock, blocking every other
// operation on the map until it returns.
//
// The zero RWMap is empty and ready for use. An RWMap must not be copied
// after first use.
type RWMap[K comparable, V any] struct {
	mu      sync.RWMutex
	keys    keyCheck
	m       map[K]V         // nil until the first write (zero value)
	flights flightSet[K, V] // LoadOrCompute calls in progress
}

// NewRWMap returns an empty RWMap. It accepts [WithCapacity].
func NewRWMap[K comparable, V any](opts ...Option) *RWMap[K, V] {
	o := buildOptions("NewRWMap", setCapacity, opts)
	return &RWMap[K, V]{m: make(map[K]V, o.capacity)}
}

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes the read lock.
func (m *RWMap[K, V]) Load(key K) (value V, ok bool) {
	checkKey(&m.keys, key)
	m.mu.RLock()
	defer m.mu.RUnlock()
	value, ok = m.m[key]
	return value, ok
}

// lockForWrite takes the write lock and makes sure the map exists.
// The caller must defer m.mu.Unlock.
func (m *RWMap[K, V]) lockForWrite() {
	m.mu.Lock()
	if m.m == nil {
		m.m = make(map[K]V)
	}
}

// Store sets the value for key. It takes the write lock.
func (m *RWMap[K, V]) Store(key K, value V) {
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	m.m[key] = value
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value and returns it. A hit takes only the
// read lock.
func (m *RWMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if actual, loaded = m.Load(key); loaded {
		return actual, true
	}
	m.lockForWrite()
	defer m.mu.Unlock()
	if actual, loaded = m.m[key]; loaded {
		return actual, true
	}
	m.m[key] = value
	return value, false
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent. fn runs with no lock held, at most once however
// many goroutines miss the key together; see [ConcurrentMap.LoadOrCompute].
func (m *RWMap[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	if actual, loaded = m.Load(key); loaded {
		return actual, true
	}
	actual, loaded, _, _ = loadOrCompute[K, V](m, nil, key, 0, noError(fn))
	return actual, loaded
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *RWMap[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	if actual, loaded = m.Load(key); loaded {
		return actual, true, nil
	}
	actual, loaded, _, err = loadOrCompute[K, V](m, ctx, key, 0, fn)
	return actual, loaded, err
}

func (m *RWMap[K, V]) claim(key K, _ uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8) {
	m.lockForWrite()
	defer m.mu.Unlock()
	if value, ok = m.m[key]; ok {
		return value, true, nil, nil, 0
	}
	f, wait = m.flights.claim(key)
	return value, false, f, wait, 0
}

func (m *RWMap[K, V]) land(key K, _ uint64, f *flight[V], _ uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool) {
	m.lockForWrite()
	defer m.mu.Unlock()
	waiters, invalid := m.flights.land(key, f)
	if actual, loaded = m.m[key]; loaded || !store {
		return actual, loaded, waiters, false
	}
	if invalid {
		return value, false, waiters, true // a Delete or Clear discarded it
	}
	m.m[key] = value
	return value, false, waiters, false
}

// Compute atomically updates the entry for key; see
// [ConcurrentMap.Compute]. fn runs under the map's write lock, so it blocks
// every other operation on the map until it returns, and it must not call
// methods of the same map (that would deadlock). A panic in fn changes
// nothing and releases the lock.
func (m *RWMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	old, loaded := m.m[key]
	newValue, op := fn(old, loaded)
	return applyCompute(m.m, key, old, loaded, newValue, op)
}

// Swap stores value for key and returns the previous value, if any.
func (m *RWMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	previous, loaded = m.m[key]
	m.m[key] = value
	return previous, loaded
}

// CompareAndSwap stores new for key if its current value == old. It panics
// if V is not comparable.
func (m *RWMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	mustComparableValue("CompareAndSwap", old)
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	if cur, ok := m.m[key]; !ok || !equalValues("CompareAndSwap", cur, old) {
		return false
	}
	m.m[key] = new
	return true
}

// CompareAndDelete deletes key if its current value == old. It panics if V
// is not comparable.
func (m *RWMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	mustComparableValue("CompareAndDelete", old)
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	if cur, ok := m.m[key]; !ok || !equalValues("CompareAndDelete", cur, old) {
		return false
	}
	delete(m.m, key)
	return true
}

// LoadAndDelete deletes key and returns the value it had, if any. A
// LoadOrCompute of key in flight stores nothing (see
// [ConcurrentMap.LoadAndDelete]).
func (m *RWMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	checkKey(&m.keys, key)
	m.lockForWrite()
	defer m.mu.Unlock()
	if m.flights.pending() {
		m.flights.invalidate(key)
	}
	value, loaded = m.m[key]
	if loaded {
		delete(m.m, key)
	}
	return value, loaded
}

// Delete deletes key. A LoadOrCompute of key in flight stores nothing.
func (m *RWMap[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// Range calls fn for each entry until fn returns false. It copies the
// entries under the read lock and then calls fn with no lock held, so fn may
// call any method of the map and sees a point-in-time snapshot: writes made
// after Range started, by fn or by other goroutines, are not visited. The
// copy costs O(Len) time and memory.
func (m *RWMap[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	for _, e := range m.snapshot() {
		if !fn(e.key, e.value) {
			return
		}
	}
}

func (m *RWMap[K, V]) snapshot() []entry[K, V] {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return entriesOf(m.m)
}

// All returns an iterator over the entries with the guarantees of Range.
func (m *RWMap[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Len returns the number of entries, in O(1).
func (m *RWMap[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// Clear deletes every entry. The LoadOrCompute calls in flight store
// nothing.
func (m *RWMap[K, V]) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flights.invalidateAll()
	clear(m.m)
}

// entry is one key-value pair, copied out of a locked map for iteration.
type entry[K comparable, V any] struct {
	key   K
	value V
}

// entriesOf copies the entries of m, which the caller has locked.
func entriesOf[K comparable, V any](m map[K]V) []entry[K, V] {
	dst := make([]entry[K, V], 0, len(m))
	for k, v := range m {
		dst = append(dst, entry[K, V]{k, v})
	}
	return dst
}

// applyCompute carries out the op that a Compute function returned on m,
// which the caller has locked, and returns Compute's results.
func applyCompute[K comparable, V any](m map[K]V, key K, old V, loaded bool, newValue V, op ComputeOp) (actual V, ok bool) {
	op.mustBeKnown()
	switch op {
	case UpdateOp:
		m[key] = newValue
		return newValue, true
	case DeleteOp:
		delete(m, key)
		var zero V
		return zero, false
	}
	return old, loaded // CancelOp
}

// loadOrComputeReporting is LoadOrTryCompute (LoadOrCompute for a nil ctx)
// that also reports a discarded value, for Profile (see discardReporter).
func (m *RWMap[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	if actual, loaded = m.Load(key); loaded {
		return actual, true, false, nil
	}
	return loadOrCompute[K, V](m, ctx, key, 0, fn)
}
