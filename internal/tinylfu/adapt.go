package tinylfu

import "math"

// windowTuner moves the boundary between the window and the main region while the workload
// runs, as adaptive W-TinyLFU does (Einziger, Eytan, Friedman and Manes, "Adaptive Software
// Cache Management", Middleware 2018). Caffeine climbs the hill of the hit ratio it measures;
// this policy never sees a hit when it happens (Touch only sets bits it harvests later, and
// how many it harvests depends on the window size itself, which misled a climber built on
// it), so it estimates the slope of the hill from misses, which it sees exactly.
//
// Growing the window by Δ would have kept the last Δ candidates rejected at admission a little
// longer; shrinking the main region by Δ would have lost the Δ victims it would displace next.
// So two ghosts remember the fingerprints of the last capacity/16 rejected candidates and of
// the last capacity/16 displaced victims, and a sample of adds counts the misses on each:
// rw misses a larger window would have turned into hits, rm misses a larger main region
// would have. The window steps toward the larger count when the two differ by more than
// their noise; like Caffeine's climber it takes one step per sample and stops moving when
// neither side wins, and like ARC's ghost lists it follows what the workload punishes.
type windowTuner struct {
	rejectedGhost, victimGhost *ghost
	adds                       uint64    // in the current sample
	sample                     uint64    // adds per sample
	returned                   [3]uint64 // per ghost class, in the current sample
}

const (
	// probeFraction sizes each ghost: the last capacity/16 evictions of its kind. A key that
	// comes back within that many evictions would have been kept by a region that much larger.
	probeFraction = 16
	// tuneZ is how many standard deviations (Poisson noise on the two counts) apart the
	// counts must be before the window moves, and tuneMargin the relative gap (dead band).
	tuneZ      = 2.0
	tuneMargin = 1.1
	// tuneStepFraction is the window step per sample, as a fraction of the bound.
	tuneStepFraction = 0.04
	// minSample is the fewest adds in a sample, so a small cache's samples are not noise.
	minSample = 256
	// maxWindowFraction keeps the main region at least a fifth of the bound.
	maxWindowFraction = 0.8
)

func (t *windowTuner) init(capacity uint64) {
	d := capacity / probeFraction
	t.rejectedGhost = newGhost(d)
	t.victimGhost = newGhost(d)
	t.sample = max(capacity, minSample)
}

// resize keeps the ghosts in proportion to the number of entries the cache holds.
func (t *windowTuner) resize(capacity uint64) {
	d := capacity / probeFraction
	t.rejectedGhost = t.rejectedGhost.grown(d)
	t.victimGhost = t.victimGhost.grown(d)
	t.sample = max(capacity, minSample)
}

// rejected and victim record an eviction of each kind.
func (t *windowTuner) rejected(h uint64) { t.rejectedGhost.add(h, ghostRejected) }

func (t *windowTuner) victim(h uint64) { t.victimGhost.add(h, ghostVictim) }

// miss records a miss on the key hashed h and returns +1 when the window should grow, -1
// when it should shrink, and 0 otherwise (mostly: a verdict comes once per sample).
func (t *windowTuner) miss(h uint64) int {
	t.returned[t.rejectedGhost.take(h)]++
	t.returned[t.victimGhost.take(h)]++
	t.adds++
	if t.adds < t.sample {
		return 0
	}
	rw := float64(t.returned[ghostRejected])
	rm := float64(t.returned[ghostVictim])
	t.adds = 0
	t.returned = [3]uint64{}
	noise := tuneZ * math.Sqrt(rw+rm)
	switch {
	case rw > rm*tuneMargin && rw-rm > noise:
		return +1
	case rm > rw*tuneMargin && rm-rw > noise:
		return -1
	}
	return 0
}
