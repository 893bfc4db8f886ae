package tinylfu

// climber tunes the window's share of the bound by hill climbing, as Caffeine's adaptive
// W-TinyLFU does (Einziger, Eytan, Friedman and Manes, "Adaptive Software Cache Management",
// Middleware 2018): after each sample of accesses it moves the window by a step, keeps the
// direction while the hit ratio improves and reverses it when it drops, and shrinks the step
// as the ratio settles, restarting it when the ratio jumps (the workload changed).
//
// The policy never sees a hit when it happens, so the sample counts the hits it harvests
// (at most 3 per node per look) against the misses it is told about (Add and Miss). That
// undercounts hits by the same bias in consecutive samples, which is what a comparison
// between them needs.
type climber struct {
	hits, misses uint64  // in the current sample
	sample       uint64  // accesses per sample
	prevRatio    float64 // hit ratio of the previous sample; < 0 before the first
	step         float64 // signed, in units of weight
	initialStep  float64
}

const (
	climbStepFraction = 0.0625 // initial step: 6.25 % of the bound
	climbDecay        = 0.98   // the step shrinks by this factor each sample
	climbRestart      = 0.05   // a change of hit ratio this large restarts the step
	climbMinMain      = 0.20   // the window never takes more than 80 % of the bound
)

func (c *climber) init(maxWeight uint64) {
	c.sample = max(10*min(maxWeight, 1<<24), 1024)
	c.initialStep = climbStepFraction * float64(maxWeight)
	c.step = c.initialStep
	c.prevRatio = -1
}

// due reports whether a sample is complete.
func (c *climber) due() bool { return c.hits+c.misses >= c.sample }

// adjust ends the sample and returns the window's new share.
func (c *climber) adjust(window, maxWeight uint64) uint64 {
	ratio := float64(c.hits) / float64(c.hits+c.misses)
	c.hits, c.misses = 0, 0
	if c.prevRatio < 0 {
		c.prevRatio = ratio
		return window
	}
	delta := ratio - c.prevRatio
	c.prevRatio = ratio
	if delta < 0 {
		c.step = -c.step
	}
	if delta >= climbRestart || delta <= -climbRestart {
		if c.step < 0 {
			c.step = -c.initialStep
		} else {
			c.step = c.initialStep
		}
	}
	next := float64(window) + c.step
	c.step *= climbDecay
	limit := float64(maxWeight) * (1 - climbMinMain)
	switch {
	case next < 1:
		next = 1
	case next > limit:
		next = limit
	}
	return uint64(next)
}
