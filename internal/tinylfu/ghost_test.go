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
