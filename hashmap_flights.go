package safemap

// This file holds Map's flight table: where the LoadOrCompute calls in
// progress are registered (see compute.go for the protocol). It is striped
// by the key's hash; each stripe is a mutex guarding a small open-addressing
// table keyed by that same hash, and a few recycled flight records, so that
// a miss that nobody else waits for neither hashes its key again nor
// allocates.

import "sync"

// flightStripe returns the stripe that registers flights for the key with
// hash h. The table exists: LoadOrCompute hashed the key with it.
func (m *Map[K, V]) flightStripe(h uint64) *flightStripe[K, V] {
	sh := m.table.Load().shared
	return &sh.flights[(h>>32)&sh.flightMask]
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

// flightStripe guards the LoadOrCompute calls in progress for the keys
// whose hash picks it (see Map.flightStripe).
type flightStripe[K comparable, V any] struct {
	mu    sync.Mutex
	slots []flightSlot[K, V] // nil, or a power of two long, at most half full
	n     int                // slots in use
	// free holds flights that no waiter ever saw, ready for the next claim
	// of this stripe: land recycles a flight only when none did.
	free [flightFree]*flight[V]
	_    [cacheLine - 8 - 24 - 8 - 8*flightFree]byte // one stripe per cache line
}

const (
	flightFree     = 2  // recycled flights kept per stripe
	flightMinSlots = 8  // slots of a stripe's first table
	flightKeep     = 64 // an empty stripe keeps a table this long at most
)

// flightSlot is one registered flight: the key, its hash and the flight.
type flightSlot[K comparable, V any] struct {
	f   *flight[V] // nil: the slot is empty
	h   uint64
	key K
}

// claim returns the flight registered for key, whose hash is h, with the
// channel to wait on, or registers a new flight and returns it with a nil
// channel: the caller owns it. The caller holds st.mu and has seen the key
// absent while holding it.
func (st *flightStripe[K, V]) claim(key K, h uint64) (f *flight[V], wait <-chan struct{}) {
	if key == key && st.slots != nil {
		mask := uint64(len(st.slots) - 1)
		for i := h & mask; st.slots[i].f != nil; i = (i + 1) & mask {
			if s := &st.slots[i]; s.h == h && s.key == key {
				return s.f, s.f.waitChan()
			}
		}
	}
	for i := range st.free {
		if f = st.free[i]; f != nil {
			st.free[i] = nil
			break
		}
	}
	if f == nil {
		f = new(flight[V])
	}
	if key != key {
		// A key not equal to itself (NaN) is never found again: nobody
		// could wait for its flight, and land could not unregister it.
		return f, nil
	}
	if 2*(st.n+1) > len(st.slots) {
		st.rehash(max(flightMinSlots, 2*len(st.slots)))
	}
	st.put(flightSlot[K, V]{f, h, key})
	st.n++
	return f, nil
}

// put stores s in the first free slot of its probe sequence.
func (st *flightStripe[K, V]) put(s flightSlot[K, V]) {
	mask := uint64(len(st.slots) - 1)
	i := s.h & mask
	for st.slots[i].f != nil {
		i = (i + 1) & mask
	}
	st.slots[i] = s
}

// rehash moves the registered flights to a table of n slots.
func (st *flightStripe[K, V]) rehash(n int) {
	old := st.slots
	st.slots = make([]flightSlot[K, V], n)
	for _, s := range old {
		if s.f != nil {
			st.put(s)
		}
	}
}

// land unregisters f, registered for key with hash h, and reports whether
// a waiter claimed it. If none did, nobody else holds f: it is recycled,
// and the caller must not touch it again. The caller holds st.mu.
func (st *flightStripe[K, V]) land(key K, h uint64, f *flight[V]) (waited bool) {
	if key == key {
		st.remove(h, f)
	}
	if f.done != nil {
		return true
	}
	// Owned by the caller alone, who ran it and is done with it: fields
	// other than done were never written (finish runs only for waiters).
	for i := range st.free {
		if st.free[i] == nil {
			st.free[i] = f
			break
		}
	}
	return false
}

// remove deletes f, registered with hash h, closing the gap it leaves by
// shifting later slots of the same probe run back (no tombstones).
func (st *flightStripe[K, V]) remove(h uint64, f *flight[V]) {
	mask := uint64(len(st.slots) - 1)
	i := h & mask
	for st.slots[i].f != f {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; st.slots[j].f != nil; j = (j + 1) & mask {
		// The slot at j may move back to i unless its home lies
		// cyclically in (i, j]: then i is before its home.
		if home := st.slots[j].h & mask; (j-home)&mask >= (j-i)&mask {
			st.slots[i] = st.slots[j]
			i = j
		}
	}
	st.slots[i] = flightSlot[K, V]{} // drop the key for the collector
	st.n--
	if st.n == 0 && len(st.slots) > flightKeep {
		st.slots = nil // a burst of flights is over: free its table
	}
}
