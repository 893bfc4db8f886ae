package safemap

import (
	"context"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
)

// SyncMap is a typed wrapper over [sync.Map] (a concurrent hash trie since
// Go 1.24) with an exact Len and the missing-key operations sync.Map lacks.
//
// Values are stored boxed, one small allocation per write, so that every V
// (comparable or not) can be swapped atomically by pointer; sync.Map's own
// entries allocate per write too. LoadOrCompute and LoadOrTryCompute run
// their function with no lock held; goroutines that miss a key together
// register under one map-wide mutex, held only for that bookkeeping. Compute
// holds no lock at all: it is an optimistic compare-and-swap loop, so fn may
// be called more than once when the key is changed concurrently and must be
// free of side effects beyond its result.
//
// Range is weakly consistent, like sync.Map's: it visits each key at most
// once and may or may not see writes made while it runs.
//
// The zero SyncMap is empty and ready for use. A SyncMap must not be copied
// after first use.
type SyncMap[K comparable, V any] struct {
	m    sync.Map // K -> *box[V]
	keys keyCheck

	count atomic.Pointer[counter] // nil until the first insert of a zero value

	// flightMu guards flights, and orders claim, land and the flight
	// invalidations of Delete, LoadAndDelete and Clear.
	flightMu sync.Mutex
	flights  flightSet[K, V] // LoadOrCompute calls in progress

	// Keys that are not equal to themselves (NaN, or structs and
	// interfaces holding one) can never be looked up again, so they could
	// never be deleted from m one by one, which Clear needs to keep Len
	// exact. They live here instead, where only Range, Len and Clear see
	// them, just as in a built-in map.
	unfindableMu sync.Mutex
	unfindable   []entry[K, V]
}

// box holds one stored value. A box is never modified after it is stored,
// so comparing box pointers tells whether an entry changed.
type box[V any] struct{ v V }

// NewSyncMap returns an empty SyncMap. It accepts no options but
// [WithCapacity], which it ignores: a hash trie has nothing to presize.
func NewSyncMap[K comparable, V any](opts ...Option) *SyncMap[K, V] {
	buildOptions("NewSyncMap", setCapacity, opts)
	m := new(SyncMap[K, V])
	m.count.Store(newCounter())
	return m
}

// counter returns the entry counter, creating it on the first use of a zero
// value.
func (m *SyncMap[K, V]) counter() *counter {
	if c := m.count.Load(); c != nil {
		return c
	}
	m.count.CompareAndSwap(nil, newCounter())
	return m.count.Load()
}

func (m *SyncMap[K, V]) loadBox(key K) *box[V] {
	checkKey(&m.keys, key)
	b, _ := m.m.Load(key)
	p, _ := b.(*box[V])
	return p
}

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes no lock.
func (m *SyncMap[K, V]) Load(key K) (value V, ok bool) {
	if b := m.loadBox(key); b != nil {
		return b.v, true
	}
	return value, false
}

// Store sets the value for key.
func (m *SyncMap[K, V]) Store(key K, value V) {
	m.Swap(key, value)
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value and returns it. A hit allocates nothing.
func (m *SyncMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if b := m.loadBox(key); b != nil {
		return b.v, true
	}
	if !findable(key) {
		m.addUnfindable(key, value)
		return value, false
	}
	got, loaded := m.m.LoadOrStore(key, &box[V]{value})
	if loaded {
		return got.(*box[V]).v, true
	}
	m.counter().add(1)
	return value, false
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent. fn runs with no lock held, at most once however
// many goroutines miss the key together; see [ConcurrentMap.LoadOrCompute].
func (m *SyncMap[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	if b := m.loadBox(key); b != nil {
		return b.v, true
	}
	actual, loaded, _, _ = loadOrCompute[K, V](m, nil, key, 0, noError(fn))
	return actual, loaded
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *SyncMap[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	if b := m.loadBox(key); b != nil {
		return b.v, true, nil
	}
	actual, loaded, _, err = loadOrCompute[K, V](m, ctx, key, 0, fn)
	return actual, loaded, err
}

func (m *SyncMap[K, V]) claim(key K, _ uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8) {
	m.flightMu.Lock()
	defer m.flightMu.Unlock()
	if b := m.loadBox(key); b != nil {
		return b.v, true, nil, nil, 0
	}
	f, wait = m.flights.claim(key)
	return value, false, f, wait, 0
}

// addUnfindable stores an entry whose key is not equal to itself.
func (m *SyncMap[K, V]) addUnfindable(key K, value V) {
	m.unfindableMu.Lock()
	defer m.unfindableMu.Unlock()
	m.unfindable = append(m.unfindable, entry[K, V]{key, value})
	m.counter().add(1)
}

func (m *SyncMap[K, V]) land(key K, _ uint64, f *flight[V], _ uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool) {
	m.flightMu.Lock()
	defer m.flightMu.Unlock()
	waiters, invalid := m.flights.land(key, f)
	if !store || invalid {
		// Invalidated: a Delete or Clear that held flightMu took the
		// flight out, so its effect on the key came before this Load;
		// a value stored since wins, as it would over a valid flight.
		if actual, loaded = m.Load(key); loaded || !store {
			return actual, loaded, waiters, false
		}
		return value, false, waiters, true
	}
	actual, loaded = m.LoadOrStore(key, value)
	return actual, loaded, waiters, false
}

// Compute atomically updates the entry for key; see
// [ConcurrentMap.Compute]. No lock is held while fn runs, so fn may call
// methods of the map; but fn may be called again, with the new current
// value, if another goroutine changes the key before fn's result is stored.
// A panic in fn changes nothing.
func (m *SyncMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	for {
		var old V
		cur := m.loadBox(key)
		if cur != nil {
			old = cur.v
		}
		newValue, op := fn(old, cur != nil)
		op.mustBeKnown()
		switch op {
		case CancelOp:
			return old, cur != nil
		case UpdateOp:
			if cur == nil {
				if _, loaded := m.LoadOrStore(key, newValue); loaded {
					continue
				}
				return newValue, true
			}
			if m.m.CompareAndSwap(key, cur, &box[V]{newValue}) {
				return newValue, true
			}
		case DeleteOp:
			if cur == nil {
				return old, false
			}
			if m.m.CompareAndDelete(key, cur) {
				m.counter().add(-1)
				var zero V
				return zero, false
			}
		}
	}
}

// Swap stores value for key and returns the previous value, if any.
func (m *SyncMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	checkKey(&m.keys, key)
	if !findable(key) {
		m.addUnfindable(key, value)
		return previous, false
	}
	prev, loaded := m.m.Swap(key, &box[V]{value})
	if !loaded {
		m.counter().add(1)
		return previous, false
	}
	return prev.(*box[V]).v, true
}

// CompareAndSwap stores new for key if its current value == old. It panics
// if V is not comparable.
func (m *SyncMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	mustComparableValue("CompareAndSwap", old)
	var nb *box[V]
	for {
		cur := m.loadBox(key)
		if cur == nil || !equalValues("CompareAndSwap", cur.v, old) {
			return false
		}
		if nb == nil {
			nb = &box[V]{new}
		}
		if m.m.CompareAndSwap(key, cur, nb) {
			return true
		}
	}
}

// CompareAndDelete deletes key if its current value == old. It panics if V
// is not comparable.
func (m *SyncMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	mustComparableValue("CompareAndDelete", old)
	for {
		cur := m.loadBox(key)
		if cur == nil || !equalValues("CompareAndDelete", cur.v, old) {
			return false
		}
		if m.m.CompareAndDelete(key, cur) {
			m.counter().add(-1)
			return true
		}
	}
}

// LoadAndDelete deletes key and returns the value it had, if any. A
// LoadOrCompute of key in flight stores nothing (see
// [ConcurrentMap.LoadAndDelete]). It takes no lock unless a LoadOrCompute
// of some key is in flight.
func (m *SyncMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	checkKey(&m.keys, key)
	if m.flights.pending() {
		return m.loadAndDeleteSlow(key)
	}
	b, loaded := m.m.LoadAndDelete(key)
	if !loaded {
		return value, false
	}
	m.counter().add(-1)
	return b.(*box[V]).v, true
}

// loadAndDeleteSlow is LoadAndDelete while flights may be live: it
// invalidates key's flight and deletes key under flightMu, so that no
// claim or land of key comes between the two.
func (m *SyncMap[K, V]) loadAndDeleteSlow(key K) (value V, loaded bool) {
	m.flightMu.Lock()
	defer m.flightMu.Unlock()
	m.flights.invalidate(key)
	b, loaded := m.m.LoadAndDelete(key)
	if !loaded {
		return value, false
	}
	m.counter().add(-1)
	return b.(*box[V]).v, true
}

// Delete deletes key. A LoadOrCompute of key in flight stores nothing.
func (m *SyncMap[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// Range calls fn for each entry until fn returns false. It holds no lock
// while fn runs, so fn may call any method of the map. It is weakly
// consistent: each key is visited at most once, and a write made during
// Range may or may not be seen.
func (m *SyncMap[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	stopped := false
	m.m.Range(func(k, b any) bool {
		key, _ := k.(K) // a nil interface key fails the plain assertion
		stopped = !fn(key, b.(*box[V]).v)
		return !stopped
	})
	if stopped {
		return
	}
	m.unfindableMu.Lock()
	rest := slices.Clone(m.unfindable)
	m.unfindableMu.Unlock()
	for _, e := range rest {
		if !fn(e.key, e.value) {
			return
		}
	}
}

// All returns an iterator over the entries with the guarantees of Range.
func (m *SyncMap[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Len returns the number of entries, in O(GOMAXPROCS).
func (m *SyncMap[K, V]) Len() int {
	c := m.count.Load()
	if c == nil {
		return 0
	}
	return int(c.sum())
}

// Clear deletes every entry. Each key is deleted atomically, so Len stays
// exact; an entry stored while Clear runs may survive it. The
// LoadOrCompute calls in flight when Clear is called store nothing.
func (m *SyncMap[K, V]) Clear() {
	m.flightMu.Lock()
	m.flights.invalidateAll()
	m.flightMu.Unlock()
	m.m.Range(func(k, _ any) bool {
		if _, loaded := m.m.LoadAndDelete(k); loaded {
			m.counter().add(-1)
		}
		return true
	})
	m.unfindableMu.Lock()
	defer m.unfindableMu.Unlock()
	if n := len(m.unfindable); n > 0 {
		m.counter().add(-int64(n))
		m.unfindable = nil
	}
}

// loadOrComputeReporting is LoadOrTryCompute (LoadOrCompute for a nil ctx)
// that also reports a discarded value, for Profile (see discardReporter).
func (m *SyncMap[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	if b := m.loadBox(key); b != nil {
		return b.v, true, false, nil
	}
	return loadOrCompute[K, V](m, ctx, key, 0, fn)
}
