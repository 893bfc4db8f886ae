package tinylfu

// ghost remembers, for the last len(ring) evictions, the key's fingerprint and why it left:
// rejected at admission, or evicted from the main region as a victim. A key that comes back
// while remembered tells the window tuner which of the two decisions it regrets.
//
// The fingerprints live in a ring (oldest overwritten first) and in an open-addressed table
// with linear probing whose entries also name their ring slot, so a lookup is O(1), an
// eviction repeated while remembered is remembered from its latest occurrence, and the ghost
// costs 16 to 28 bytes per remembered key. Two keys sharing a 30-bit fingerprint are
// confused, which only blurs a statistic.
type ghost struct {
	ring  []uint32 // fingerprint<<2 | class, 0 when empty or taken
	pos   int
	table []uint64 // ring slot<<32 | fingerprint<<2 | class, 0 when empty; len a power of two
}

const (
	ghostNone     = 0
	ghostRejected = 1 // a window candidate that lost to a victim
	ghostVictim   = 2 // a main-region node that lost to a candidate
)

func newGhost(n uint64) *ghost {
	n = max(n, 16)
	size := uint64(1)
	for size < n+n/2 {
		size <<= 1
	}
	return &ghost{ring: make([]uint32, n), table: make([]uint64, size)}
}

// fingerprint returns a key's non-zero 30-bit fingerprint.
func fingerprint(h uint64) uint32 { return uint32(mix(h^0x5bd1e995)>>34) | 1 }

// home returns a fingerprint's home slot in the table.
func (g *ghost) home(fp uint32) int { return int(mix(uint64(fp)) & uint64(len(g.table)-1)) }

// find returns fp's slot in the table, or -1.
func (g *ghost) find(fp uint32) int {
	mask := len(g.table) - 1
	for i := g.home(fp); g.table[i] != 0; i = (i + 1) & mask {
		if uint32(g.table[i])>>2 == fp {
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
		// entry then names a newer ring slot).
		if i := g.find(old >> 2); i >= 0 && int(g.table[i]>>32) == g.pos {
			g.remove(i)
		}
	}
	v := fp<<2 | class
	g.ring[g.pos] = v
	e := uint64(g.pos)<<32 | uint64(v)
	g.pos++
	if g.pos == len(g.ring) {
		g.pos = 0
	}
	if i := g.find(fp); i >= 0 {
		g.ring[g.table[i]>>32] = 0 // the older occurrence no longer counts
		g.table[i] = e
		return
	}
	mask := len(g.table) - 1
	i := g.home(fp)
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
	e := g.table[i]
	g.ring[e>>32] = 0
	g.remove(i)
	return uint32(e) & 3
}

// remove empties slot i and shifts later members of its probe run back, so that every
// lookup still finds its key without tombstones.
func (g *ghost) remove(i int) {
	mask := len(g.table) - 1
	g.table[i] = 0
	for j := (i + 1) & mask; g.table[j] != 0; j = (j + 1) & mask {
		home := g.home(uint32(g.table[j]) >> 2)
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
			ng.pos++ // the new ring is longer, so this never wraps
		}
	}
	return ng
}
