package safemap

import (
	"math/bits"
	"sync/atomic"
)

// This file holds Map's bucket and chain head, their layout, and the
// operations on one bucket chain: look a key up (find for readers, locate
// for the lock holder), insert, overwrite, remove, copy it out (collect)
// and uncount it. The sequence lock that makes those safe is in
// hashmap_seqlock.go, the arena of overflow buckets in hashmap_overflow.go.
//
//	heads[i] (16 bytes, dense)      buckets[i] (16 + 7×sizeof(slot) bytes)
//	┌──────────────┬──────────┐     ┌──────────┬──────────┬────────┬─────┬────────┐
//	│ meta: tags + │ seq      │     │ meta:    │ next     │ slot 0 │ ... │ slot 6 │
//	│ flags byte 7 │ L|D|M|n  │     │ tags (*) │ overflow │ key,val│     │ key,val│
//	└──────────────┴──────────┘     └──────────┴──────────┴────────┴─────┴────────┘
//	(*) overflow buckets only: a root's tags are in its head
//
// A key lives in the chain of root bucket hash&mask. The chain's head, in
// a dense array of its own, holds the root's tags (plus the moved and
// overflow flags) and the seq word that guards the whole chain (see
// hashmap_seqlock.go for its bits).

const slotsPerBucket = 7

type bucket[K comparable, V any] struct {
	meta  atomic.Uint64 // h2 of each occupied slot (0 = empty); unused in a root (see tags)
	next  atomic.Uint32 // the next overflow bucket (see overflows), 0 for none; only grows until the chain is moved
	_     uint32
	slots [slotsPerBucket]slot[K, V]
}

// head holds a root bucket's two hot words, kept apart from the buckets in
// the table's dense heads array (16 bytes a chain): a miss reads head.meta
// alone, and a hit reads the head's line and the slot's.
type head struct {
	meta atomic.Uint64 // the root bucket's tags, plus flags in byte 7
	seq  atomic.Uint64 // L, D, M and the count, for the whole chain
}

// tags returns the word that holds the tags of c, a bucket of the chain
// rooted at b whose head is hd. A root's tags live in its head alone (its
// own meta word stays zero), so that the writer who locked the head finds
// a free slot or a key's candidates without touching the bucket's first
// line, and touches only the line of the slot it writes. The head's top
// byte holds flags, which every user of the word masks off with metaSlots.
func (b *bucket[K, V]) tags(hd *head, c *bucket[K, V]) *atomic.Uint64 {
	if c == b {
		return &hd.meta
	}
	return &c.meta
}

type slot[K comparable, V any] struct {
	key   K
	value V
}

// A slot's byte in its bucket's tags word says what the slot holds:
//
//   - 0: nothing (empty);
//   - 0x80 | 7 bits of the key's hash (h2): an entry, the tag readers match;
//   - a reservation (high bit clear, slotReserved set): a slot that a
//     LoadOrCompute reserved for its key while its function runs (see
//     hashmap_flights.go). The key is written, the value is not; readers
//     never match it (matchTag only reports bytes with the high bit set),
//     writers never fill it (matchEmpty is exact), and Range, Len and Clear
//     do not count it. Its other bits:
//   - slotWaited: a waiter has registered a flight for the key in the
//     flight stripes;
//   - slotInvalid: a Delete, LoadAndDelete or Clear of the key came while
//     the function ran, so its land stores nothing, and a LoadOrCompute
//     that finds only invalid reservations of its key makes a new one;
//   - bits 3-6, the generation: the reservations of one key (at most one
//     of them valid) have different generations, so that each owner lands
//     into its own, and the flights waiters register are told apart by it.
//
// Marking a reservation waited or invalid is an or on the tags word.
const (
	slotReserved = 0x01
	slotWaited   = 0x02
	slotInvalid  = 0x04
	slotGenShift = 3
	numGens      = 16 // generations: bits 3-6
	allGens      = 1<<numGens - 1
)

// reservation returns the byte of a new reservation of generation gen.
func reservation(gen uint8) uint8 { return slotReserved | gen<<slotGenShift }

// slotGen returns the generation of reservation byte b.
func slotGen(b uint8) uint8 { return b >> slotGenShift & (numGens - 1) }

// SWAR constants: one bit per byte of meta.
const (
	metaLSB   = 0x0101010101010101
	metaMSB   = 0x8080808080808080
	metaLow7  = 0x7f7f7f7f7f7f7f7f
	metaSlots = 1<<(8*slotsPerBucket) - 1 // the bytes that are slots

	// The top byte of a root's meta holds no slot but two flags, so that
	// Load's fast path learns from the one word it reads whether the key
	// can be anywhere but in the root bucket.
	metaMoved    = 0x80 << (8 * slotsPerBucket) // set with M by markMoved
	metaOverflow = 0x40 << (8 * slotsPerBucket) // set before next is first linked
	metaFlags    = metaMoved | metaOverflow

	// metaLocked is the chain's lock, L (hashmap_seqlock.go): in the tags
	// word, so that a compare-and-swap of the word fails once anyone has
	// taken the chain. Readers ignore it: it is not in metaFlags.
	metaLocked = 0x20 << (8 * slotsPerBucket)
)

// h2 is the per-slot tag stored in meta: the top 7 bits of the hash with
// the high bit set, so that a tag is never 0 (empty).
func h2(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// matchTag returns a bit set with the high bit of every byte of meta that
// may equal tag. Tags have their high bit set and empty bytes are 0, so the
// only false positives come from borrows next to a true match; callers
// compare keys anyway.
func matchTag(meta uint64, tag uint8) uint64 {
	x := meta ^ (metaLSB * uint64(tag))
	return (x - metaLSB) &^ x & metaMSB & metaSlots
}

// matchEmpty returns a bit set with the high bit of every empty slot byte
// (0), exactly: a reserved byte has its high bit clear but is not empty.
// (b&0x7f)+0x7f sets a byte's high bit unless its low bits are clear, and
// never carries into the next byte.
func matchEmpty(meta uint64) uint64 {
	return ^((meta&metaLow7 + metaLow7) | meta) & metaMSB & metaSlots
}

// matchReserved returns a bit set with the high bit of every reserved slot
// byte: not 0, high bit clear.
func matchReserved(meta uint64) uint64 {
	return (meta&metaLow7 + metaLow7) &^ meta & metaMSB & metaSlots
}

// matchUsed returns a bit set with the high bit of every slot byte that
// is not empty: entries and reservations, what a resize moves.
func matchUsed(meta uint64) uint64 {
	return ((meta&metaLow7 + metaLow7) | meta) & metaMSB & metaSlots
}

// slotByte returns slot i's byte of the tags word meta.
func slotByte(meta uint64, i int) uint8 { return uint8(meta >> (8 * i)) }

// slotIndex returns the slot of the lowest byte set in a match.
func slotIndex(match uint64) int { return bits.TrailingZeros64(match) >> 3 }

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

// locate returns the bucket and slot of key in the locked chain rooted at
// b, whose head is hd, or nil.
func (b *bucket[K, V]) locate(ovf *overflows[K, V], hd *head, key K, tag uint8) (*bucket[K, V], int) {
	meta := hd.meta.Load()
	for c := b; ; {
		for match := matchTag(meta, tag); match != 0; match &= match - 1 {
			if i := slotIndex(match); c.slots[i].key == key {
				return c, i
			}
		}
		if c == b && meta&metaOverflow == 0 {
			return nil, 0 // the chain is its root alone
		}
		if c = ovf.next(c); c == nil {
			return nil, 0
		}
		meta = c.meta.Load()
	}
}

// locateClaim returns, in the locked chain rooted at b whose head is hd,
// the bucket and slot of key's entry (c, nil if none) and of the valid
// reservation of key, the one a LoadOrCompute in flight that no
// invalidation discarded holds (rc, nil if none), and the generations
// that key's reservations, valid or not, hold (a bit each). An entry and a
// reservation may both exist: a writer that stores the key while its
// function runs does not touch the reservation.
func (b *bucket[K, V]) locateClaim(ovf *overflows[K, V], hd *head, key K, tag uint8) (c *bucket[K, V], i int, rc *bucket[K, V], ri int, used uint16) {
	meta := hd.meta.Load()
	for x := b; ; {
		if c == nil {
			for match := matchTag(meta, tag); match != 0; match &= match - 1 {
				if j := slotIndex(match); x.slots[j].key == key {
					c, i = x, j
					break
				}
			}
		}
		for match := matchReserved(meta); match != 0; match &= match - 1 {
			if j := slotIndex(match); x.slots[j].key == key {
				by := slotByte(meta, j)
				used |= 1 << slotGen(by)
				if by&slotInvalid == 0 {
					rc, ri = x, j
				}
			}
		}
		if x == b && meta&metaOverflow == 0 {
			return c, i, rc, ri, used // the chain is its root alone
		}
		if x = ovf.next(x); x == nil {
			return c, i, rc, ri, used
		}
		meta = x.meta.Load()
	}
}

// locateGen returns, in the locked chain rooted at b whose head is hd, the
// bucket and slot of key's entry (c, nil if none) and of key's reservation
// of generation gen (rc, nil if none): what land needs.
func (b *bucket[K, V]) locateGen(ovf *overflows[K, V], hd *head, key K, tag, gen uint8) (c *bucket[K, V], i int, rc *bucket[K, V], ri int) {
	meta := hd.meta.Load()
	for x := b; ; {
		if c == nil {
			for match := matchTag(meta, tag); match != 0; match &= match - 1 {
				if j := slotIndex(match); x.slots[j].key == key {
					c, i = x, j
					break
				}
			}
		}
		if rc == nil {
			for match := matchReserved(meta); match != 0; match &= match - 1 {
				if j := slotIndex(match); slotGen(slotByte(meta, j)) == gen && x.slots[j].key == key {
					rc, ri = x, j
					break
				}
			}
		}
		if x == b && meta&metaOverflow == 0 {
			return c, i, rc, ri // the chain is its root alone
		}
		if x = ovf.next(x); x == nil {
			return c, i, rc, ri
		}
		meta = x.meta.Load()
	}
}

// invalidate marks the valid reservation of key in the locked chain rooted
// at b, whose head is hd, invalid, if there is one: its LoadOrCompute will
// store nothing, and the next one makes a reservation of its own. Readers
// never look at a reservation, so this needs no D window.
func (b *bucket[K, V]) invalidate(ovf *overflows[K, V], hd *head, key K) {
	for x := b; x != nil; x = ovf.next(x) {
		w := b.tags(hd, x)
		meta := w.Load()
		for match := matchReserved(meta); match != 0; match &= match - 1 {
			if j := slotIndex(match); slotByte(meta, j)&slotInvalid == 0 && x.slots[j].key == key {
				w.Store(meta | uint64(slotInvalid)<<(8*j))
				return // at most one reservation of a key is valid
			}
		}
		if x == b && meta&metaOverflow == 0 {
			return
		}
	}
}

// locateRoot is locateClaim for a chain that is its root b alone (meta,
// its head's word, has no overflow flag): the slot of key's entry and of
// its reservation, -1 for none. Two small results, for claim's and land's
// common case.
func (b *bucket[K, V]) locateRoot(meta uint64, key K, tag uint8) (i, ri int) {
	i, ri = -1, -1
	for match := matchTag(meta, tag); match != 0; match &= match - 1 {
		if j := slotIndex(match); b.slots[j].key == key {
			i = j
			break
		}
	}
	for match := matchReserved(meta); match != 0; match &= match - 1 {
		if j := slotIndex(match); b.slots[j].key == key {
			ri = j
			break
		}
	}
	return i, ri
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

// reserveUnlock reserves the empty slot i of the locked root b, whose
// head is hd, for key, and releases L: insert's common case, with the
// reserved byte for a tag. Outside race builds the byte and the release
// are one store of the tags word (L is a bit of it), so the reservation
// costs one atomic write, not two.
func (b *bucket[K, V]) reserveUnlock(hd *head, i int, key K) {
	if raceEnabled {
		hd.beginWrite()
	}
	b.slots[i] = slot[K, V]{key: key}
	if !raceEnabled {
		hd.meta.Store((hd.meta.Load() | slotReserved<<(8*i)) &^ metaLocked) // after the key, as insert does
		return
	}
	hd.meta.Store(hd.meta.Load() | slotReserved<<(8*i))
	hd.endWrite()
	hd.unlock()
}

// insertUnlock is insert, with publish set, followed by unlock. Outside
// race builds its common case, an empty slot in a chain that is its root
// alone, stores the entry's tag and releases L with one store of the tags
// word.
func (b *bucket[K, V]) insertUnlock(ovf *overflows[K, V], hd *head, key K, value V, tag uint8) (overflowed bool) {
	if !raceEnabled {
		if w := hd.meta.Load(); w&metaOverflow == 0 {
			if empty := matchEmpty(w); empty != 0 {
				i := slotIndex(empty)
				b.slots[i] = slot[K, V]{key, value}
				hd.meta.Store((w | uint64(tag)<<(8*i)) &^ metaLocked) // after the slot, as insert does
				return false
			}
		}
	}
	overflowed = b.insert(ovf, hd, key, value, tag, true)
	hd.unlock()
	return overflowed
}

// fill turns slot i of c, reserved in the locked chain rooted at b, into
// an entry of value with tag. Like insert, it needs no D window outside
// race builds: no reader copies a reserved slot, and the tag, stored
// after the value, publishes the whole slot.
func (b *bucket[K, V]) fill(hd *head, c *bucket[K, V], i int, value V, tag uint8) {
	if raceEnabled {
		hd.beginWrite()
	}
	c.slots[i].value = value
	w := b.tags(hd, c)
	w.Store(w.Load()&^(0xff<<(8*i)) | uint64(tag)<<(8*i)) // after the value
	if raceEnabled {
		hd.endWrite()
	}
}

// unreserve empties slot i of c, reserved in the locked chain rooted at b,
// zeroing the key so the collector can free what it referenced. No reader
// copies a reserved slot, so outside race builds there is no D window.
func (b *bucket[K, V]) unreserve(hd *head, c *bucket[K, V], i int) {
	if raceEnabled {
		hd.beginWrite()
	}
	w := b.tags(hd, c)
	w.Store(w.Load() &^ (0xff << (8 * i)))
	c.slots[i] = slot[K, V]{}
	if raceEnabled {
		hd.endWrite()
	}
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
