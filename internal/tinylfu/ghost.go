package tinylfu

import "math/bits"

// ghost remembers, for the last len(ring) evictions, the key's fingerprint and why it left:
// rejected at admission, or evicted from the main region as a victim. A key that comes back
// while remembered tells the window tuner which of the two decisions it regrets.
//
// The fingerprints live in a ring (oldest overwritten first), indexed by an open-addressed
// table with linear probing whose entries name a ring slot, so a lookup is O(1) and an
// eviction repeated while remembered is remembered from its latest occurrence. A table entry
// is 4 bytes: the ring slot plus one in its low slotBits bits, and in the bits above them as
// many bits of the fingerprint as fit, so that a probe reads the ring only when those match.
// The ghost costs 10 to 16 bytes per remembered key (it took 16 to 28 with 8-byte table
// entries that held the whole fingerprint). Two keys sharing a 30-bit fingerprint are
// confused, which only blurs a statistic.
type ghost struct {
	ring     []uint32 // fingerprint<<2 | class, 0 when empty or taken
	pos      int
	table    []uint32 // tag<<slotBits | ring slot+1, 0 when empty; len a power of two
	slotBits uint     // bits.Len(len(ring)): slot+1 <= len(ring) < 1<<slotBits
}

const (
	ghostNone     = 0
	ghostRejected = 1 // a window candidate that lost to a victim
	ghostVictim   = 2 // a main-region node that lost to a candidate
)

// maxGhost bounds a ghost's length, so that a ring slot takes at most 25 bits of a table
// entry and leaves at least 7 for the fingerprint tag. It is reached only by caches holding
// more than 2^28 entries (the tuner sizes each ghost at a sixteenth of the entries), whose
// tuner then samples the last 16 million evictions of each kind.
const maxGhost = 1 << 24

func newGhost(n uint64) *ghost {
	n = min(max(n, 16), maxGhost)
	size := uint64(1)
	for size < n+n/2 {
		size <<= 1
	}
	return &ghost{ring: make([]uint32, n), table: make([]uint32, size), slotBits: uint(bits.Len64(n))}
}

// fingerprint returns a key's non-zero 30-bit fingerprint.
func fingerprint(h uint64) uint32 { return uint32(mix(h^0x5bd1e995)>>34) | 1 }

// tag returns the bits of fp that a table entry holds: its high bits (the lowest is always
// set), as many as fit above the slot.
func (g *ghost) tag(fp uint32) uint32 { return fp >> 1 << g.slotBits >> g.slotBits }

// entry returns the table entry for fp in ring slot i.
func (g *ghost) entry(fp uint32, i int) uint32 { return g.tag(fp)<<g.slotBits | uint32(i+1) }

// slot returns the ring slot a table entry names.
func (g *ghost) slot(e uint32) int { return int(e&(1<<g.slotBits-1)) - 1 }

// home returns a fingerprint's home slot in the table.
func (g *ghost) home(fp uint32) int { return int(mix(uint64(fp)) & uint64(len(g.table)-1)) }

// find returns fp's slot in the table, or -1.
func (g *ghost) find(fp uint32) int {
	mask := len(g.table) - 1
	tag := g.tag(fp)
	for i := g.home(fp); g.table[i] != 0; i = (i + 1) & mask {
		if e := g.table[i]; e>>g.slotBits == tag && g.ring[g.slot(e)]>>2 == fp {
			return i
		}
	}
	return -1
}

// add remembers the key hashed h as evicted for class, forgetting the oldest eviction.
func (g *ghost) add(h uint64, class uint32) { g.addFingerprint(fingerprint(h), class) }

// addFingerprint is add for a key known by its fingerprint.
func (g *ghost) addFingerprint(fp, class uint32) {
	if old := g.ring[g.pos]; old != 0 {
		// Forget the oldest eviction unless its key was evicted again since (its table
		// entry then names a newer ring slot). The ring still holds it: find reads it.
		if i := g.find(old >> 2); i >= 0 && g.slot(g.table[i]) == g.pos {
			g.remove(i)
		}
	}
	// The older occurrence of fp, if any, is found before the ring slot is overwritten,
	// while every table entry still names a slot holding its own fingerprint.
	i := g.find(fp)
	if i >= 0 {
		g.ring[g.slot(g.table[i])] = 0 // the older occurrence no longer counts
	}
	g.ring[g.pos] = fp<<2 | class
	e := g.entry(fp, g.pos)
	g.pos++
	if g.pos == len(g.ring) {
		g.pos = 0
	}
	if i >= 0 {
		g.table[i] = e
		return
	}
	mask := len(g.table) - 1
	i = g.home(fp)
	for g.table[i] != 0 {
		i = (i + 1) & mask
	}
	g.table[i] = e
}

// take returns the class the key hashed h was last evicted as (ghostNone if it is not
// remembered) and forgets it.
func (g *ghost) take(h uint64) uint32 {
	i := g.find(fingerprint(h))
	if i < 0 {
		return ghostNone
	}
	s := g.slot(g.table[i])
	class := g.ring[s] & 3
	g.remove(i) // before the ring slot is cleared: remove reads only the others'
	g.ring[s] = 0
	return class
}

// remove empties slot i and shifts later members of its probe run back, so that every
// lookup still finds its key without tombstones. It reads the ring for their fingerprints.
func (g *ghost) remove(i int) {
	mask := len(g.table) - 1
	g.table[i] = 0
	for j := (i + 1) & mask; g.table[j] != 0; j = (j + 1) & mask {
		home := g.home(g.ring[g.slot(g.table[j])] >> 2)
		// table[j] may fill the hole at i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			g.table[i] = g.table[j]
			g.table[j] = 0
			i = j
		}
	}
}

// grown returns a ghost remembering the last n evictions, holding g's in their order (an
// empty slot stays empty, so each eviction is forgotten n evictions after it happened).
func (g *ghost) grown(n uint64) *ghost {
	ng := newGhost(max(n, uint64(len(g.ring))))
	for i := range g.ring {
		if v := g.ring[(g.pos+i)%len(g.ring)]; v != 0 {
			ng.addFingerprint(v>>2, v&3)
		} else {
			ng.pos++ // the new ring is at least as long: this reaches its end at most
		}
	}
	if ng.pos == len(ng.ring) { // as long (both at maxGhost), its last slot empty
		ng.pos = 0
	}
	return ng
}
