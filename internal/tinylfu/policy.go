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

	sketch *sketch
	climb  climber
	hand   *Node  // next main-region node the harvest hand examines; nil: start at the cold end
	rng    uint64 // xorshift state for the rare random admission of a warm candidate
}

const (
	// harvestPerOp is how many main-region nodes each Add or Update sweeps for hits.
	harvestPerOp = 2
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
	p := &Policy{
		maxWeight: maxWeight,
		sketch:    newSketch(maxWeight),
		rng:       0x9e3779b97f4a7c15,
	}
	p.window.init()
	p.probation.init()
	p.protected.init()
	p.setWindow(max(1, maxWeight/100))
	p.climb.init(maxWeight)
	return p
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
// passed to evict has already left the policy: the cache must not Remove it. Add also
// harvests the hit bits of a few nodes, so its cost is amortised O(1).
func (p *Policy) Add(n *Node, evict func(*Node)) {
	if n.queue != queueNone {
		panic("tinylfu: Add of a node the policy already holds")
	}
	p.sketch.increment(n.hash, 1)
	p.climb.misses++
	if uint64(n.weight) > p.maxWeight {
		evict(n)
		return
	}
	n.queue = queueWindow
	p.window.pushNewest(n)
	p.harvest(harvestPerOp)
	p.maintain(evict)
}

// Update records that n's value was replaced: an access, and possibly a new weight. It
// promotes n as a hit would, then evicts as Add does; n itself is evicted if it now weighs
// more than the bound.
func (p *Policy) Update(n *Node, weight uint32, evict func(*Node)) {
	if n.queue == queueNone {
		panic("tinylfu: Update of a node the policy does not hold")
	}
	hits := n.takeHits()
	p.climb.hits += hits
	p.sketch.increment(n.hash, hits+1)
	q := n.queue
	p.unlink(n)
	n.weight = weight
	if uint64(weight) > p.maxWeight {
		evict(n)
		return
	}
	switch q {
	case queueWindow:
		n.queue = queueWindow
		p.window.pushNewest(n)
	default:
		n.queue = queueProtected
		p.protected.pushNewest(n)
		p.rebalanceProtected()
	}
	p.harvest(harvestPerOp)
	p.maintain(evict)
}

// Remove drops n, which left the cache by Delete, expiry or replacement. It calls nothing.
// Removing a node the policy does not hold (already evicted) does nothing.
func (p *Policy) Remove(n *Node) {
	if n.queue == queueNone {
		return
	}
	p.unlink(n)
}

// Miss records a lookup of the key hashed hash that found nothing, so that the key's
// frequency is known when it is stored later. Call it only for misses that Add does not
// follow (Add counts its own access).
func (p *Policy) Miss(hash uint64) {
	p.sketch.increment(hash, 1)
	p.climb.misses++
}

// listOf returns the list that holds n.
func (p *Policy) listOf(n *Node) *list {
	switch n.queue {
	case queueWindow:
		return &p.window
	case queueProbation:
		return &p.probation
	case queueProtected:
		return &p.protected
	}
	panic("tinylfu: node in no queue")
}

// unlink takes n out of its queue, moving the harvest hand past it first.
func (p *Policy) unlink(n *Node) {
	if p.hand == n {
		p.hand = p.nextForHand(n)
	}
	p.listOf(n).unlink(n)
	n.queue = queueNone
}

// moveNewest moves n, held in queue q, to the hot end of queue to.
func (p *Policy) moveNewest(n *Node, to queue) {
	p.unlink(n)
	n.queue = to
	p.listOf(n).pushNewest(n)
}

// harvested counts hits the policy found on n in the sketch and the climber's sample.
func (p *Policy) harvested(n *Node, hits uint64) {
	p.sketch.increment(n.hash, hits)
	p.climb.hits += hits
}

// maintain restores the bounds: the window's overflow competes for the main region, then,
// if the total is still over the bound, the coldest nodes leave.
func (p *Policy) maintain(evict func(*Node)) {
	for p.window.weight > p.maxWindow {
		c := p.window.oldest()
		if hits := c.takeHits(); hits > 0 && p.window.len > 1 {
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
	if p.climb.due() {
		p.setWindow(p.climb.adjust(p.maxWindow, p.maxWeight))
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
			evict(c)
			return
		}
		p.unlink(v)
		evict(v)
	}
	c.queue = queueProbation
	p.probation.pushNewest(c)
}

// prefers reports whether candidate c should replace victim v.
func (p *Policy) prefers(c, v *Node) bool {
	cf := p.sketch.frequency(c.hash)
	vf := p.sketch.frequency(v.hash)
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

// harvest sweeps k nodes of the main region with a hand that walks probation then protected
// from the cold end to the hot end. A node found with hits has them counted and is promoted
// or refreshed, as if the hits had been seen when they happened.
func (p *Policy) harvest(k int) {
	for ; k > 0; k-- {
		n := p.hand
		if n == nil {
			n = p.firstForHand()
			if n == nil {
				return
			}
		}
		p.hand = p.nextForHand(n)
		hits := n.takeHits()
		if hits == 0 {
			continue
		}
		p.harvested(n, hits)
		p.moveNewest(n, queueProtected)
		if n.queue == queueProtected && p.protected.weight > p.maxProtected {
			p.rebalanceProtected()
		}
	}
}

// firstForHand returns the main region's coldest node, or nil.
func (p *Policy) firstForHand() *Node {
	if n := p.probation.oldest(); n != nil {
		return n
	}
	return p.protected.oldest()
}

// nextForHand returns the node the hand visits after n: the next hotter node of n's queue,
// then protected's coldest after probation's hottest; nil after protected's hottest (the hand
// then restarts at the cold end).
func (p *Policy) nextForHand(n *Node) *Node {
	if n.queue != queueProbation && n.queue != queueProtected {
		return nil
	}
	next := n.next
	if next == &p.probation.root {
		return p.protected.oldest()
	}
	if next == &p.protected.root {
		return nil
	}
	return next
}
