package safemap

import (
	"math/rand/v2"
	"unsafe"
)

// This file holds how Map grows and shrinks: counting entries, deciding to
// resize, and moving the table one chain at a time while readers and
// writers go on (Clear is a move that drops instead of copying).

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
	switch {
	case drop:
		ob.uncount(&t.ovf, oh, t.shared.count)
		t.moveReserved(ob, oh, nt)
	case grow: // the common case: called from here, not through moveChain
		t.growChain(ob, oh, nt, uint64(i))
	default:
		t.moveChain(ob, oh, nt, uint64(i))
	}
	oh.markMoved() // publishes the copy to whoever follows the mark
	oh.unlock()
}

// moveChain copies the locked chain ob, root i of t, into nt, which is
// smaller. (When nt is larger, the chains ob's keys go to are reachable
// only through ob, which is not marked yet, so growChain fills them
// without locks.) All of ob's keys go to one chain, which writers and
// readers may already be using via another moved chain, so it is locked
// and written as usual.
func (t *mapTable[K, V]) moveChain(ob *bucket[K, V], oh *head, nt *mapTable[K, V], i uint64) {
	dst, dh := &nt.buckets[i&nt.mask], &nt.heads[i&nt.mask]
	dh.lock()
	defer dh.unlock()
	for c := ob; c != nil; c = t.ovf.next(c) {
		meta := ob.tags(oh, c).Load()
		for used := matchUsed(meta); used != 0; used &= used - 1 {
			j := slotIndex(used)
			sl := &c.slots[j]
			dst.insert(&nt.ovf, dh, sl.key, sl.value, t.movedByte(sl, slotByte(meta, j)), true)
		}
	}
}

// movedByte returns the byte that sl, which has byte b in its bucket, gets
// in the next table: an entry's tag is hashed again (it is the same but
// for keys not equal to themselves, whose hash is not stable), a
// reservation stays what it is.
func (t *mapTable[K, V]) movedByte(sl *slot[K, V], b uint8) uint8 {
	if b&0x80 == 0 {
		return b
	}
	return h2(t.hash(sl.key))
}

// moveReserved carries the reservations of the locked chain ob, whose head
// is oh, to nt, when Clear empties the chain, marked invalid: a
// LoadOrCompute in flight is not an entry, but Clear discards its value,
// and its owner must still find its reservation to land (storing
// nothing). Goroutines that claim its key after Clear make a reservation
// of their own. nt's chains may already be in use through moved chains, so
// each is locked and written as usual.
func (t *mapTable[K, V]) moveReserved(ob *bucket[K, V], oh *head, nt *mapTable[K, V]) {
	for c := ob; c != nil; c = t.ovf.next(c) {
		meta := ob.tags(oh, c).Load()
		for res := matchReserved(meta); res != 0; res &= res - 1 {
			j := slotIndex(res)
			sl := &c.slots[j]
			idx := t.hash(sl.key) & nt.mask
			dst, dh := &nt.buckets[idx], &nt.heads[idx]
			dh.lock()
			dst.insert(&nt.ovf, dh, sl.key, sl.value, slotByte(meta, j)|slotInvalid, true)
			dh.unlock()
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
	lo := chainFill[K, V]{b: &nt.buckets[i], hd: &nt.heads[i], ovf: &nt.ovf}
	hi := chainFill[K, V]{b: &nt.buckets[i+high], hd: &nt.heads[i+high], ovf: &nt.ovf}
	// The loop keeps few values live (ob, oh and nt are not): on amd64,
	// the others were reloaded from the stack for every key.
	meta := oh.meta.Load() // ob.tags(oh, ob)
	for c := ob; ; {
		for used := matchUsed(meta); used != 0; used &= used - 1 {
			j := slotIndex(used)
			// Safety: used has bits only in metaSlots, so j is below
			// slotsPerBucket and sl lies in c.slots.
			sl := (*slot[K, V])(unsafe.Add(unsafe.Pointer(&c.slots), uintptr(j)*unsafe.Sizeof(slot[K, V]{})))
			// h = t.hash(sl.key), without hash's calls: this is the
			// resize's inner loop. TestGrow_PlacesEveryKeyAsTheWritersHashIt
			// holds it to hash.
			var h uint64
			switch {
			case t.intKey:
				h = t.intHash(intBits(sl.key))
			case t.strKey:
				h = t.strHash(stringOf(sl.key))
			default:
				h = t.hashAny(sl.key)
			}
			b := slotByte(meta, j)
			if b&0x80 != 0 {
				b = h2(h) // an entry; a reservation keeps its byte
			}
			d := &lo
			if h&high != 0 {
				d = &hi
			}
			if d.n == slotsPerBucket {
				d.link()
			}
			d.put(sl, b)
		}
		// Most chains are their root alone: test the link here rather
		// than call next to find it empty.
		if c.next.Load() == 0 {
			break
		}
		c = t.ovf.next(c)
		meta = c.meta.Load() // ob.tags(oh, c)
	}
	lo.finish()
	hi.finish()
}

// chainFill appends entries to an empty, unpublished chain of a new table.
type chainFill[K comparable, V any] struct {
	b    *bucket[K, V]    // the bucket being filled
	hd   *head            // the chain's head
	ovf  *overflows[K, V] // the new table's overflow buckets
	n    uintptr          // slots of b filled
	tags uint64           // their tags, not yet stored
}

// put appends a copy of sl with tag to b, which must not be full (link
// starts a new bucket when it is). It is small enough to be inlined into
// growChain's loop; link, which runs for one put in slotsPerBucket at
// most, is not.
func (f *chainFill[K, V]) put(sl *slot[K, V], tag uint8) {
	// Safety: b is not full, so f.n is below slotsPerBucket and the slot
	// lies in f.b.slots.
	*(*slot[K, V])(unsafe.Add(unsafe.Pointer(&f.b.slots), f.n*unsafe.Sizeof(slot[K, V]{}))) = *sl
	f.tags |= uint64(tag) << (8 * (f.n & 7)) // & 7 changes nothing but spares the shift a range check
	f.n++
}

// link stores the tags of the full bucket b and continues the chain in a
// new overflow bucket.
func (f *chainFill[K, V]) link() {
	f.finish()
	link, nb := f.ovf.alloc()
	f.hd.meta.Store(f.hd.meta.Load() | metaOverflow) // before next, as in insert
	f.b.next.Store(link)
	f.b, f.n, f.tags = nb, 0, 0
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
