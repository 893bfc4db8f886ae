package tinylfu

import (
	"math/rand/v2"
	"testing"
)

// TestGhost_RemembersExactlyTheLastEvictions checks the ghost against a plain model: a key is
// remembered with its latest class while it is among the last len(ring) evictions and not
// taken since, across ring wrap-arounds, probe-run deletions and growth.
func TestGhost_RemembersExactlyTheLastEvictions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := newGhost(64)
	type rec struct {
		key   uint64
		class uint32
	}
	var log []rec // every add, in order
	taken := map[int]bool{}
	floor := 0 // evictions before this one were forgotten when the ghost grew
	want := func(key uint64) uint32 {
		n := len(g.ring)
		for i := len(log) - 1; i >= floor && i >= len(log)-n; i-- {
			if log[i].key == key {
				if taken[i] {
					return ghostNone
				}
				return log[i].class
			}
		}
		return ghostNone
	}
	for step := 0; step < 20000; step++ {
		key := r.Uint64N(200)
		switch {
		case step == 10000:
			floor = len(log) - len(g.ring)
			g = g.grown(128)
		case r.IntN(3) == 0:
			w := want(key)
			if got := g.take(key); got != w {
				t.Fatalf("step %d: take(%d) = %d; want %d", step, key, got, w)
			}
			for i := len(log) - 1; i >= 0; i-- {
				if log[i].key == key {
					taken[i] = true
					break
				}
			}
		default:
			class := uint32(1 + r.IntN(2))
			g.add(key, class)
			log = append(log, rec{key, class})
		}
	}
}

// TestGhost_FingerprintsSharingATagAreToldApart checks that a table entry's tag only filters:
// two fingerprints differing in a bit the tag drops are still two keys, found and forgotten
// each on its own.
func TestGhost_FingerprintsSharingATagAreToldApart(t *testing.T) {
	g := newGhost(64)
	a := uint32(0x2a5)
	b := a | 1<<29 // the tag holds fingerprint bits 1 to 32-slotBits, below bit 29
	if g.tag(a) != g.tag(b) {
		t.Fatalf("tags %#x and %#x differ; the test needs them equal", g.tag(a), g.tag(b))
	}
	g.addFingerprint(a, ghostRejected)
	g.addFingerprint(b, ghostVictim)
	for _, c := range []struct {
		fp    uint32
		class uint32
	}{{a, ghostRejected}, {b, ghostVictim}} {
		i := g.find(c.fp)
		if i < 0 {
			t.Fatalf("fingerprint %#x not found", c.fp)
		}
		if got := g.ring[g.slot(g.table[i])]; got != c.fp<<2|c.class {
			t.Fatalf("fingerprint %#x: ring holds %#x; want %#x", c.fp, got, c.fp<<2|c.class)
		}
		s := g.slot(g.table[i])
		g.remove(i)
		g.ring[s] = 0
		if g.find(c.fp) >= 0 {
			t.Fatalf("fingerprint %#x still found after its removal", c.fp)
		}
	}
}

// TestGhost_GrowingToTheSameLengthKeepsThePositionInTheRing checks grown at the length cap,
// where the new ring is no longer than the old: its next add must wrap, not overrun.
func TestGhost_GrowingToTheSameLengthKeepsThePositionInTheRing(t *testing.T) {
	g := newGhost(16)
	for k := range uint64(10) {
		g.add(k, ghostVictim)
	}
	g.take(9) // the newest slot is empty, so grown ends on an empty slot
	ng := g.grown(uint64(len(g.ring)))
	if ng.pos >= len(ng.ring) {
		t.Fatalf("pos %d in a ring of %d", ng.pos, len(ng.ring))
	}
	ng.add(100, ghostRejected)
	if got := ng.take(100); got != ghostRejected {
		t.Fatalf("take after the add = %d; want %d", got, ghostRejected)
	}
}
