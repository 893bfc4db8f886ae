package safemap

// This file holds Map's side of compute-once (see compute.go for the
// protocol): a LoadOrCompute that misses reserves a slot for its key in the
// key's own bucket chain, under the chain lock, runs its function with no
// lock held, and fills the slot under the chain lock again. Every step of
// the protocol for a key (claim, a waiter's arrival, land) happens under
// the lock of the chain that holds the key, the lock every writer of the
// key takes too, so a miss touches no shared line beyond its chain's head,
// hashes its key once and allocates nothing. Only a goroutine that finds
// the key reserved by another needs a flight record to wait on: it
// registers one in the striped flight table below, and the owner takes it
// back out when it lands. docs/design.md ("Compute-once") has the ordering
// argument.
//
// An invalidation (Delete, LoadAndDelete, Clear) of a key being computed
// marks its reservation invalid, under the chain lock: land then stores
// nothing. A caller that arrives after it finds no valid reservation and
// makes one of its own, of another generation (see hashmap_bucket.go), so
// a key may hold a valid reservation and invalid ones at once; the flights
// of the waiters are registered per (key, generation), so that waiters
// join the flight they claimed and no other.

import (
	"math/bits"
	"sync"
	"unsafe"
)

// claim looks key up in its chain, under the chain lock, and returns its
// value if it is present. Otherwise, if another LoadOrCompute holds a
// valid reservation for key, it returns that flight to wait on
// (registering it on the first waiter's arrival); if none does, it
// reserves a slot for key and returns no flight and no channel, and the
// reservation's generation: the caller owns the key's flight.
func (m *Map[K, V]) claim(key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8) {
	value, ok, f, wait, gen, _, _ = m.claimSlot(key, h)
	return value, ok, f, wait, gen
}

// claimSlot is claim, and also says where it reserved the key's slot when
// that was in the root bucket of its chain, as claim's common case does:
// the table rt and the slot ri, for landFast (rt is nil otherwise).
func (m *Map[K, V]) claimSlot(key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8, rt *mapTable[K, V], ri int) {
	t, b, hd := m.lockChain(h)
	if meta := hd.meta.Load(); meta&metaOverflow == 0 && findable(key) {
		// The common case, in line: the chain is its root alone, the key
		// is neither present nor reserved, and the root has a free slot.
		// It does what claimLocked does in that case (a test holds the two
		// to the same results and the same slots).
		i, ri := b.locateRoot(meta, key, h2(h))
		empty := matchEmpty(meta)
		if i < 0 && ri < 0 && empty != 0 {
			ri = slotIndex(empty)
			b.reserveUnlock(hd, ri, key) // generation 0
			return value, false, nil, nil, 0, t, ri
		}
	}
	value, ok, f, wait, gen = m.claimLocked(t, b, hd, key, h)
	return value, ok, f, wait, gen, nil, 0
}

// claimLocked is claim for any chain, once claim has locked the chain
// rooted at b, whose head is hd, in table t. It unlocks it.
func (m *Map[K, V]) claimLocked(t *mapTable[K, V], b *bucket[K, V], hd *head, key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8) {
	c, i, rc, ri, used := b.locateClaim(&t.ovf, hd, key, h2(h))
	if c != nil {
		value = c.slots[i].value
		hd.unlock()
		return value, true, nil, nil, 0
	}
	if rc == nil && used == allGens {
		// Every generation is held by an invalidated LoadOrCompute of key
		// still running (numGens invalidations while they ran): wait for
		// the one of generation 0 to land, then claim again. Its value is
		// not ours (it was discarded before we came), so f stays nil.
		_, _, rc, ri = b.locateGen(&t.ovf, hd, key, h2(h), 0)
		_, wait = m.flightStripe(h).wait(key, h, 0)
		w := b.tags(hd, rc)
		w.Store(w.Load() | uint64(slotWaited)<<(8*ri))
		hd.unlock()
		return value, false, nil, wait, 0
	}
	if rc != nil {
		// Another LoadOrCompute of key is running its function. The
		// flight is registered, and the slot marked, by the first waiter;
		// the owner takes the flight out in land, under this chain lock,
		// so it cannot land between the two.
		w := b.tags(hd, rc)
		f, wait = m.flightStripe(h).wait(key, h, slotGen(slotByte(w.Load(), ri)))
		w.Store(w.Load() | uint64(slotWaited)<<(8*ri))
		hd.unlock()
		return value, false, f, wait, 0
	}
	var overflowed bool
	if findable(key) {
		// A key not equal to itself (NaN) is never found again: nobody
		// could wait for it, and land could not find its reservation.
		// The lowest generation that no invalidated reservation of key
		// holds: its owner has landed, so nobody lands into it but us.
		gen = uint8(bits.TrailingZeros16(^used))
		overflowed = b.insert(&t.ovf, hd, key, value, reservation(gen), true)
	}
	hd.unlock()
	if overflowed {
		m.maybeResize(t)
	}
	return value, false, nil, nil, gen
}

// land ends the flight of key that claim made the caller own, with
// generation gen: under the chain lock, it fills the slot reserved for key
// with value (store set), unless a writer stored the key while the
// function ran, which wins, or an invalidation marked the reservation,
// which discards value; else it empties the reservation. It takes out the
// flight that waiters registered, if any, to return it. The insert is
// counted, and may start a resize, after the chain lock is released.
func (m *Map[K, V]) land(key K, h uint64, _ *flight[V], gen uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool) {
	tag := h2(h)
	t, b, hd := m.lockChain(h)
	if meta := hd.meta.Load(); store && meta&metaOverflow == 0 {
		// The common case, in line: the chain is its root alone, nobody
		// waits, nobody invalidated the reservation and nobody stored the
		// key meanwhile. It does what landLocked does in that case (a test
		// holds the two to the same results and the same slots).
		if i, ri := b.locateRoot(meta, key, tag); i < 0 && ri >= 0 && slotByte(meta, ri) == reservation(gen) {
			b.fill(hd, b, ri, value, tag)
			hd.unlock()
			m.inserted(t, tag, false)
			return value, false, nil, false
		}
	}
	return m.landLocked(t, b, hd, key, h, gen, value, store)
}

// landFast is land's common case, with store set, done without the chain
// lock: the key's reservation of generation 0 is still slot ri of its
// chain's root in table t (claimSlot's rt and ri), nobody waits for it,
// nobody invalidated it, nobody stored the key meanwhile, and the chain is
// its root alone. It writes value into the slot and turns the slot's byte
// into the key's tag with one compare-and-swap of the root's tags word,
// which expects the word it checked those facts in, with L clear. It
// reports false, having published nothing, if any fact does not hold or
// the word changed since (a writer took the chain, say): the caller then
// lands with land, which locks the chain and writes value again.
//
// Why that is land: every change to the chain a writer makes happens
// while it holds L, which is a bit of the same word, so the swap succeeds
// only if no writer held the chain when the word was read or took it
// since; a writer that took and released it meanwhile left the word as it
// was, so it stored no entry of the key (that adds a tag), invalidated
// nothing and registered no waiter (those mark the reservation's byte) and
// moved nothing (that sets metaMoved). The word then says all land needs:
// the key has no entry (no byte holds its tag, and the root is the whole
// chain), and ri holds its valid reservation, which only its owner
// removes. The swap is the land's linearization point, as the unlock is a
// locked land's. Writing the value first, unlocked, races only with a
// resize copying the reserved slot, which holds L, so the swap then fails
// and land fills the slot in the new table (overwriting the copy, torn or
// not, before its tag publishes it); readers never copy a reserved
// slot, and the swap, like fill's store, publishes the value with the tag.
// Race builds always lock: their readers exclude writers through D, and
// the detector would report the unlocked write.
// TestMap_LandFastRacesEveryWriterOfItsChain aims writers of every kind at
// the chain while it lands.
func (m *Map[K, V]) landFast(t *mapTable[K, V], h uint64, ri int, value V) bool {
	if raceEnabled {
		return false
	}
	idx := uintptr(h & t.mask)
	hd := t.head(idx)
	tag := h2(h)
	w := hd.meta.Load()
	if w&(metaFlags|metaLocked) != 0 || slotByte(w, ri) != reservation(0) || matchTag(w, tag) != 0 {
		return false
	}
	b := t.root(idx)
	// Safety: ri < slotsPerBucket (claimSlot's slot of the root).
	sl := (*slot[K, V])(unsafe.Add(unsafe.Pointer(&b.slots), uintptr(ri)*unsafe.Sizeof(slot[K, V]{})))
	sl.value = value
	if !hd.meta.CompareAndSwap(w, w&^(0xff<<(8*ri))|uint64(tag)<<(8*ri)) {
		return false
	}
	m.inserted(t, tag, false)
	return true
}

// landLocked is land for any chain, once land has locked the chain rooted
// at b, whose head is hd, in table t. It unlocks it.
func (m *Map[K, V]) landLocked(t *mapTable[K, V], b *bucket[K, V], hd *head, key K, h uint64, gen uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool) {
	tag := h2(h)
	c, i, rc, ri := b.locateGen(&t.ovf, hd, key, tag, gen)
	if rc == nil && findable(key) {
		hd.unlock()
		// Reservations move with their chain (resizes and Clear carry
		// them), and only their owner removes them.
		panic("safemap: internal error: LoadOrCompute lost its reservation")
	}
	invalid := false
	if rc != nil {
		by := slotByte(b.tags(hd, rc).Load(), ri)
		if by&slotWaited != 0 {
			waiters = m.flightStripe(h).take(key, h, gen)
		}
		invalid = by&slotInvalid != 0
	}
	if c != nil || !store || invalid {
		if rc != nil {
			b.unreserve(hd, rc, ri)
		}
		if c != nil {
			actual, loaded = c.slots[i].value, true // stored while fn ran: it wins
		} else if store {
			actual, discarded = value, true // invalidated: its callers get it, the map does not
		}
		hd.unlock()
		return actual, loaded, waiters, discarded
	}
	var overflowed bool
	if rc != nil {
		b.fill(hd, rc, ri, value, tag)
	} else {
		overflowed = b.insert(&t.ovf, hd, key, value, tag, true) // NaN: never reserved
	}
	hd.unlock()
	m.inserted(t, tag, overflowed)
	return value, false, waiters, false
}

// computeMiss is LoadOrCompute after its lookup missed: compute.go's
// loadOrCompute and runFlight with no context, written out for Map so that
// the common miss, where the caller claims the key and owns its flight,
// calls claim and land directly (not through the flightTable interface)
// and fn without the noError adapter. That is most of what a miss costs
// beyond the insert itself (BENCHMARKS.md, "Issue 13"). Any other case
// takes the shared protocol: a caller that finds the key being computed
// waits, as loadOrCompute does with no context, and unless the flight
// landed starts the shared protocol over. The owner's half is runFlight's:
// land with store unset if fn panics or calls runtime.Goexit (the waiters
// retry), with store set when it returns.
// TestMap_ComputeMissDoesWhatTheSharedProtocolDoes runs every ending of a
// miss through both and fails if they differ.
func (m *Map[K, V]) computeMiss(key K, h uint64, fn func() V) (actual V, loaded bool) {
	value, ok, f, wait, gen, rt, ri := m.claimSlot(key, h)
	if ok {
		return value, true
	}
	if wait != nil {
		<-wait
		if f != nil && f.outcome == landed {
			return f.value, true
		}
		// The owner failed, panicked or exited (or f is nil: claim asked
		// us to wait and claim again): LoadOrCompute, which cannot report
		// an error, claims again and may run its own fn.
		actual, loaded, _, _ = loadOrCompute[K, V](m, nil, key, h, noError(fn))
		return actual, loaded
	}
	normalReturn := false
	defer func() {
		if !normalReturn {
			var zero V
			if _, _, w, _ := m.land(key, h, f, gen, zero, false); w != nil {
				w.finish(retry, zero, nil)
			}
		}
	}()
	value = fn()
	normalReturn = true
	if rt != nil && m.landFast(rt, h, ri, value) {
		return value, false
	}
	actual, loaded, w, _ := m.land(key, h, f, gen, value, true)
	if w != nil {
		w.finish(landed, actual, nil)
	}
	return actual, loaded
}

// flightStripe returns the stripe that registers the waiters' flights for
// the key with hash h. The table exists: LoadOrCompute hashed the key with
// it.
func (m *Map[K, V]) flightStripe(h uint64) *flightStripe[K, V] {
	sh := m.table.Load().shared
	return &sh.flights[(h>>32)&sh.flightMask]
}

// flightStripe holds the flights that waiters wait on, for the keys whose
// hash picks it (see Map.flightStripe). Its mutex is taken only by a
// goroutine that holds the lock of the key's chain, never the other way
// round.
type flightStripe[K comparable, V any] struct {
	mu    sync.Mutex
	slots []flightSlot[K, V]           // nil, or a power of two long, at most half full
	n     int                          // slots in use
	_     [cacheLine - 8 - 24 - 8]byte // one stripe per cache line
}

const (
	flightMinSlots = 8  // slots of a stripe's first table
	flightKeep     = 64 // an empty stripe keeps a table this long at most
)

// flightSlot is one registered flight: the key, its hash, the generation
// of the reservation it waits on, and the flight.
type flightSlot[K comparable, V any] struct {
	f   *flight[V] // nil: the slot is empty
	h   uint64
	gen uint8
	key K
}

// wait returns the flight registered for key, whose hash is h, and the
// reservation of generation gen, registering a new one if there is none,
// with the channel to wait on.
func (st *flightStripe[K, V]) wait(key K, h uint64, gen uint8) (f *flight[V], wait <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if f = st.find(key, h, gen); f == nil {
		f = new(flight[V])
		if 2*(st.n+1) > len(st.slots) {
			st.rehash(max(flightMinSlots, 2*len(st.slots)))
		}
		st.put(flightSlot[K, V]{f, h, gen, key})
		st.n++
	}
	return f, f.waitChan()
}

// take unregisters and returns the flight registered for key, whose hash
// is h, and generation gen, or nil if there is none.
func (st *flightStripe[K, V]) take(key K, h uint64, gen uint8) *flight[V] {
	st.mu.Lock()
	defer st.mu.Unlock()
	f := st.find(key, h, gen)
	if f != nil {
		st.remove(h, f)
	}
	return f
}

// find returns the flight registered for key, whose hash is h, and
// generation gen, or nil.
func (st *flightStripe[K, V]) find(key K, h uint64, gen uint8) *flight[V] {
	if st.slots == nil {
		return nil
	}
	mask := uint64(len(st.slots) - 1)
	for i := h & mask; st.slots[i].f != nil; i = (i + 1) & mask {
		if s := &st.slots[i]; s.h == h && s.gen == gen && s.key == key {
			return s.f
		}
	}
	return nil
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
