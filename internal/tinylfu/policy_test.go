package tinylfu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkInvariants fails t unless every queue's links, lengths and weights agree, every node
// is tagged with the queue that holds it, the total is within the bound, and the hand points
// into the main region.
func checkInvariants(t *testing.T, p *Policy) {
	t.Helper()
	if err := p.invariantErr(); err != nil {
		t.Fatal(err)
	}
}

// invariantErr is checkInvariants' body, returned as an error so a planted bug can be shown
// to be caught.
func (p *Policy) invariantErr() error {
	handSeen := p.hand == nil
	for _, q := range []struct {
		l     *list
		queue queue
	}{{&p.window, queueWindow}, {&p.probation, queueProbation}, {&p.protected, queueProtected}} {
		var weight uint64
		n := 0
		for x := q.l.root.next; x != &q.l.root; x = x.next {
			if x.next.prev != x {
				return fmt.Errorf("queue %d: broken back link at node %d", q.queue, n)
			}
			if x.queue != q.queue {
				return fmt.Errorf("queue %d: node tagged %d", q.queue, x.queue)
			}
			if x == p.hand {
				if q.queue == queueWindow {
					return fmt.Errorf("hand points into the window")
				}
				handSeen = true
			}
			weight += uint64(x.weight)
			n++
		}
		if n != q.l.len || weight != q.l.weight {
			return fmt.Errorf("queue %d: counted %d nodes of weight %d; recorded %d, %d",
				q.queue, n, weight, q.l.len, q.l.weight)
		}
	}
	if !handSeen {
		return fmt.Errorf("hand points at a node no queue holds")
	}
	if p.Weight() > p.maxWeight {
		return fmt.Errorf("weight %d over the bound %d", p.Weight(), p.maxWeight)
	}
	return nil
}

// fakeCache drives a Policy the way the cache does: a table of key → node; a hit calls
// Touch, a miss Adds; evicted nodes leave the table.
type fakeCache struct {
	p       *Policy
	table   map[uint64]*Node
	evicted int
	hits    int
	gets    int
}

func newFakeCache(maxWeight uint64) *fakeCache {
	return &fakeCache{p: New(maxWeight), table: make(map[uint64]*Node)}
}

func (c *fakeCache) evict(n *Node) {
	delete(c.table, n.hash)
	c.evicted++
}

func (c *fakeCache) get(key uint64, weight uint32) bool {
	c.gets++
	h := mix(key + 1)
	if n, ok := c.table[h]; ok {
		Touch(n, n.Word.Load())
		c.hits++
		return true
	}
	n := new(Node)
	n.Init(h, weight)
	c.table[h] = n
	c.p.Add(n, c.evict)
	return false
}

func TestPolicy_WeightNeverExceedsTheBoundAfterAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, bound := range []uint64{1, 2, 10, 100, 1000} {
		c := newFakeCache(bound)
		for i := 0; i < 20000; i++ {
			w := uint32(1)
			if bound > 1 {
				w = uint32(r.IntN(int(bound)/2+1)) + 1
			}
			c.get(r.Uint64N(bound*4), w)
			if c.p.Weight() > bound {
				t.Fatalf("bound %d: weight %d after Add %d", bound, c.p.Weight(), i)
			}
			if i%97 == 0 {
				checkInvariants(t, c.p)
			}
		}
		if len(c.table) != c.p.Len() {
			t.Fatalf("bound %d: table holds %d nodes; policy %d", bound, len(c.table), c.p.Len())
		}
	}
}
