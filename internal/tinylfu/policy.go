package tinylfu

// Policy decides which nodes a bounded cache keeps. It is not safe for concurrent use: the
// cache calls every method while holding its own maintenance mutex, and never on the hit
// path (which only calls Touch). evict callbacks run synchronously inside Add and Update,
// still under the cache's mutex; they must not call back into the Policy.
type Policy struct {
	maxWeight    uint64
	maxWindow    uint64 // the window's share of maxWeight, moved by the climber
	maxProtected uint64 // 80 % of the main region

	window, probation, protected list

	sketch   *sketch
	tuner    windowTuner
	step     uint64 // the tuner's step, in weight
	lastMove int    // the tuner's last verdict that moved the window: +1, -1, or 0
	streak   int    // how many verdicts in a row repeated lastMove
	capacity uint64 // how many entries the sketch and the ghost are sized for
	rng      uint64 // xorshift state for the rare random admission of a warm candidate
}

const (
	// secondChances bounds how many hit nodes one victim search may skip (and promote)
	// before it takes the cold end regardless, so a writer's time under the mutex stays
	// bounded even when hits keep arriving on every candidate.
	secondChances = 256
	// warmFrequency is the sketch frequency from which a candidate that does not beat its
	// victim is still admitted once in 128 tries: without it an attacker who makes a hot
	// key's hash collide could keep one victim in the cache for ever.
	warmFrequency = 6
)

// New returns a policy that keeps the total weight of its nodes at most maxWeight: the
// cache's MaxEntries (every node weighing 1) or its MaxWeight. It panics if maxWeight is 0.
func New(maxWeight uint64) *Policy {
	if maxWeight == 0 {
		panic("tinylfu: New with maxWeight 0")
	}
	// The sketch and the ghost start small and grow with the number of entries held, so a
	// cache bounded by a large total weight of few entries does not pay for millions.
	capacity := min(maxWeight, minSketchWords)
	p := &Policy{
		maxWeight: maxWeight,
		sketch:    newSketch(capacity),
		capacity:  capacity,
		step:      max(1, uint64(tuneStepFraction*float64(maxWeight))),
		rng:       0x9e3779b97f4a7c15,
	}
	p.window.init()
	p.probation.init()
	p.protected.init()
	p.setWindow(max(1, maxWeight/100))
	p.tuner.init(capacity)
	return p
}

// grow resizes the sketch and the ghost once the policy holds more entries than they were
// sized for: doubling keeps the cost amortised O(1) per Add.
func (p *Policy) grow() {
	p.capacity = min(2*p.capacity, p.maxWeight)
	p.sketch.resize(p.capacity)
	p.tuner.resize(p.capacity)
}

// missed feeds a miss to the tuner and moves the window if it says so.
func (p *Policy) missed(h uint64) {
	dir := p.tuner.miss(h)
	if dir == 0 {
		return
	}
	// Momentum: a move in the same direction as the last one doubles the step (up to a
	// quarter of the bound), so a large cache crosses to a new workload's best window in a
	// few samples; any other verdict restarts from the base step.
	base := max(1, uint64(tuneStepFraction*float64(p.maxWeight)))
	if dir == p.lastMove {
		p.streak++
	} else {
		p.streak = 0
	}
	p.step = base
	if p.streak >= 2 {
		p.step = min(base<<min(p.streak-1, 3), max(base, p.maxWeight/8))
	}
	p.lastMove = dir
	if dir > 0 {
		p.setWindow(min(p.maxWindow+p.step, uint64(maxWindowFraction*float64(p.maxWeight))))
	} else {
		p.setWindow(max(p.maxWindow-min(p.step, p.maxWindow), 1))
	}
}

// setWindow sets the window's share and the protected region's share of what remains.
func (p *Policy) setWindow(w uint64) {
	p.maxWindow = min(w, p.maxWeight)
	p.maxProtected = (p.maxWeight - p.maxWindow) / 5 * 4
}

// Weight returns the total weight of the nodes the policy holds.
func (p *Policy) Weight() uint64 {
	return p.window.weight + p.probation.weight + p.protected.weight
}

// Len returns the number of nodes the policy holds.
func (p *Policy) Len() int { return p.window.len + p.probation.len + p.protected.len }

// Add admits n, a new entry already in the cache's table, prepared by Init. It counts the
// access in the frequency sketch (the cache should not also call Miss for it), then calls
// evict for every node the policy drops to keep the total weight within the bound; that may
// be n itself (the admission was rejected, or n alone weighs more than the bound). A node
// passed to evict has already left the policy (Remove of it does nothing). On its way, Add
// harvests the hit bits of the nodes it finds at the queues' cold ends; each harvest clears
// bits a Touch set, so the work is amortised O(1) per Add and Touch, and one call skips at
// most 256 hit nodes before it evicts regardless.
func (p *Policy) Add(n *Node, evict func(*Node)) {
	if n.queue() != queueNone {
		panic("tinylfu: Add of a node the policy already holds")
	}
	p.sketch.increment(n.hash(), 1)
	p.missed(n.hash())
	if uint64(n.weight) > p.maxWeight {
		evict(n)
		return
	}
	n.setQueue(queueWindow)
	p.window.pushNewest(n)
	if uint64(p.Len()) > p.capacity && p.capacity < p.maxWeight {
		p.grow()
	}
	p.maintain(evict)
}

// Update records that n's value was replaced: an access, and possibly a new weight. It
// promotes n as a hit would, then evicts as Add does; n itself is evicted if it now weighs
// more than the bound.
func (p *Policy) Update(n *Node, weight uint32, evict func(*Node)) {
	if n.queue() == queueNone {
		panic("tinylfu: Update of a node the policy does not hold")
	}
	hits := n.takeHits()
	p.sketch.increment(n.hash(), hits+1)
	q := n.queue()
	p.unlink(n)
	n.weight = weight
	if uint64(weight) > p.maxWeight {
		evict(n)
		return
	}
	switch q {
	case queueWindow:
		n.setQueue(queueWindow)
		p.window.pushNewest(n)
	default:
		n.setQueue(queueProtected)
		p.protected.pushNewest(n)
		p.rebalanceProtected()
	}
	p.maintain(evict)
}

// Replace puts n, a new node prepared by Init for the same key, in the place of old, which
// the policy holds and which leaves it: for a cache whose nodes are immutable, a write that
// replaces a value is then an access of the same entry (as Update is), not a new entry
// that must earn its place again from the window. old's unharvested hits are counted. It
// evicts as Add does; n itself is evicted if it weighs more than the bound. If the policy
// no longer holds old, Replace is Add.
func (p *Policy) Replace(old, n *Node, evict func(*Node)) {
	if n.queue() != queueNone {
		panic("tinylfu: Replace with a node the policy already holds")
	}
	if old.queue() == queueNone {
		p.Add(n, evict)
		return
	}
	hits := old.takeHits()
	p.sketch.increment(n.hash(), hits+1)
	q := old.queue()
	p.unlink(old)
	if uint64(n.weight) > p.maxWeight {
		evict(n)
		return
	}
	if q == queueWindow {
		n.setQueue(queueWindow)
		p.window.pushNewest(n)
	} else {
		n.setQueue(queueProtected)
		p.protected.pushNewest(n)
		p.rebalanceProtected()
	}
	p.maintain(evict)
}

// Remove drops n, which left the cache by Delete, expiry or replacement. It calls nothing.
// Removing a node the policy does not hold (already evicted) does nothing.
func (p *Policy) Remove(n *Node) {
	if n.queue() == queueNone {
		return
	}
	p.unlink(n)
}

// Miss records a lookup of the key hashed hash that found nothing, so that the key's
// frequency is known when it is stored later. Call it only for misses that Add does not
// follow (Add counts its own access).
func (p *Policy) Miss(hash uint64) {
	h := shortHash(hash)
	p.sketch.increment(h, 1)
	p.missed(h)
}

// listOf returns the list that holds n.
func (p *Policy) listOf(n *Node) *list {
	switch n.queue() {
	case queueWindow:
		return &p.window
	case queueProbation:
		return &p.probation
	case queueProtected:
		return &p.protected
	}
	panic("tinylfu: node in no queue")
}

// unlink takes n out of its queue.
func (p *Policy) unlink(n *Node) {
	p.listOf(n).unlink(n)
	n.setQueue(queueNone)
}

// moveNewest moves n, held in queue q, to the hot end of queue to.
func (p *Policy) moveNewest(n *Node, to queue) {
	p.unlink(n)
	n.setQueue(to)
	p.listOf(n).pushNewest(n)
}

// harvested counts hits the policy found on n in the sketch.
func (p *Policy) harvested(n *Node, hits uint64) {
	p.sketch.increment(n.hash(), hits)
}

// maintain restores the bounds: the window's overflow competes for the main region, then,
// if the total is still over the bound, the coldest nodes leave.
func (p *Policy) maintain(evict func(*Node)) {
	// Each second chance clears hits a Touch set, but hits keep arriving while the cache's
	// mutex is held: the budget bounds the loop however fast they come.
	budget := secondChances
	for p.window.weight > p.maxWindow {
		c := p.window.oldest()
		if hits := c.takeHits(); hits > 0 && p.window.len > 1 && budget > 0 {
			budget--
			p.harvested(c, hits)
			p.moveNewest(c, queueWindow)
			continue
		} else if hits > 0 {
			p.harvested(c, hits)
		}
		p.unlink(c)
		p.admit(c, evict)
	}
	for p.Weight() > p.maxWeight {
		v := p.mainVictim()
		if v == nil {
			v = p.window.oldest()
		}
		p.unlink(v)
		evict(v)
	}
}

// admit lets c, just pushed out of the window, into probation if there is room or if it is
// more frequent than each victim it displaces; otherwise c is evicted.
func (p *Policy) admit(c *Node, evict func(*Node)) {
	for p.Weight()+uint64(c.weight) > p.maxWeight {
		v := p.mainVictim()
		if v == nil {
			break // the main region is empty; maintain's second loop trims the window
		}
		if !p.prefers(c, v) {
			p.tuner.rejected(c.hash())
			evict(c)
			return
		}
		p.unlink(v)
		p.tuner.victim(v.hash())
		evict(v)
	}
	c.setQueue(queueProbation)
	p.probation.pushNewest(c)
}

// prefers reports whether candidate c should replace victim v.
func (p *Policy) prefers(c, v *Node) bool {
	cf := p.sketch.frequency(c.hash())
	vf := p.sketch.frequency(v.hash())
	if cf > vf {
		return true
	}
	if cf < warmFrequency {
		return false
	}
	p.rng ^= p.rng << 13
	p.rng ^= p.rng >> 7
	p.rng ^= p.rng << 17
	return p.rng&127 == 0
}

// mainVictim returns the coldest node of the main region without unlinking it: the oldest of
// probation, or of protected if probation is empty. A node with hits gets a second chance: its
// hits are counted and it is promoted (probation) or refreshed (protected) instead.
func (p *Policy) mainVictim() *Node {
	budget := secondChances
	for {
		v := p.probation.oldest()
		if v == nil {
			break
		}
		if budget == 0 {
			return v
		}
		hits := v.takeHits()
		if hits == 0 {
			return v
		}
		budget--
		p.harvested(v, hits)
		p.moveNewest(v, queueProtected)
		p.rebalanceProtected()
	}
	for {
		v := p.protected.oldest()
		if v == nil || budget == 0 {
			return v
		}
		hits := v.takeHits()
		if hits == 0 {
			return v
		}
		budget--
		p.harvested(v, hits)
		p.moveNewest(v, queueProtected)
	}
}

// rebalanceProtected demotes protected's coldest nodes to probation while protected is over
// its share; a node hit since it was last looked at is refreshed instead.
func (p *Policy) rebalanceProtected() {
	budget := secondChances
	for p.protected.weight > p.maxProtected {
		d := p.protected.oldest()
		if hits := d.takeHits(); hits > 0 && budget > 0 {
			budget--
			p.harvested(d, hits)
			p.moveNewest(d, queueProtected)
			continue
		}
		p.moveNewest(d, queueProbation)
	}
}
