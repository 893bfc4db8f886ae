package tinylfu

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// checkInvariants fails t unless every queue's links, lengths and weights agree, every node
// is tagged with the queue that holds it, and the total is within the bound.
func checkInvariants(t *testing.T, p *Policy) {
	t.Helper()
	if err := p.invariantErr(); err != nil {
		t.Fatal(err)
	}
}

// invariantErr is checkInvariants' body, returned as an error so a planted bug can be shown
// to be caught.
func (p *Policy) invariantErr() error {
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
			if x.queue() != q.queue {
				return fmt.Errorf("queue %d: node tagged %d", q.queue, x.queue())
			}
			weight += uint64(x.weight)
			n++
		}
		if n != q.l.len || weight != q.l.weight {
			return fmt.Errorf("queue %d: counted %d nodes of weight %d; recorded %d, %d",
				q.queue, n, weight, q.l.len, q.l.weight)
		}
	}
	if p.Weight() > p.maxWeight {
		return fmt.Errorf("weight %d over the bound %d", p.Weight(), p.maxWeight)
	}
	return nil
}

// fakeCache drives a Policy the way the cache does: a table of key → node; a hit calls
// Touch, a miss Adds; evicted nodes leave the table. The table is keyed by the full hash,
// which hashes remembers per node (the policy keeps only 30 bits of it).
type fakeCache struct {
	p       *Policy
	table   map[uint64]*Node
	hashes  map[*Node]uint64
	evicted int
	hits    int
	gets    int
}

func newFakeCache(maxWeight uint64) *fakeCache {
	return &fakeCache{p: New(maxWeight), table: make(map[uint64]*Node), hashes: make(map[*Node]uint64)}
}

func (c *fakeCache) evict(n *Node) {
	delete(c.table, c.hashes[n])
	delete(c.hashes, n)
	c.evicted++
}

// put stores n as the node of the key hashed h.
func (c *fakeCache) put(h uint64, n *Node) {
	c.table[h] = n
	c.hashes[n] = h
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
	c.put(h, n)
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

func TestPolicy_RandomOperationsKeepTheQueuesConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const bound = 200
	c := newFakeCache(bound)
	for i := 0; i < 50_000; i++ {
		key := r.Uint64N(1000)
		h := mix(key + 1)
		switch op := r.IntN(10); {
		case op < 6:
			c.get(key, uint32(1+r.IntN(8)))
		case op < 7:
			if n, ok := c.table[h]; ok {
				c.p.Update(n, uint32(r.IntN(20)), c.evict)
			}
		case op < 8:
			if old, ok := c.table[h]; ok {
				n := new(Node)
				n.Init(h, uint32(r.IntN(20)))
				c.put(h, n) // before Replace: it may evict n, which deletes it
				c.p.Replace(old, n, c.evict)
			}
		default:
			if n, ok := c.table[h]; ok {
				c.p.Remove(n)
				delete(c.table, h)
				if n.queue() != queueNone {
					t.Fatalf("op %d: removed node still tagged %d", i, n.queue())
				}
			}
		}
		if err := c.p.invariantErr(); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if len(c.table) != c.p.Len() {
			t.Fatalf("op %d: table holds %d nodes; policy %d", i, len(c.table), c.p.Len())
		}
	}
	var sum uint64
	for _, n := range c.table {
		if n.queue() == queueNone {
			t.Fatalf("a node in the table is in no queue")
		}
		sum += uint64(n.weight)
	}
	if sum != c.p.Weight() {
		t.Fatalf("table weighs %d; policy says %d", sum, c.p.Weight())
	}
}

func TestPolicy_InvariantCheckerCatchesACorruptedQueue(t *testing.T) {
	c := newFakeCache(100)
	for k := uint64(0); k < 300; k++ {
		c.get(k, 1)
	}
	if err := c.p.invariantErr(); err != nil {
		t.Fatalf("healthy policy: %v", err)
	}
	c.p.probation.weight++ // plant: a weight that no longer adds up
	if c.p.invariantErr() == nil {
		t.Fatal("a queue weight off by one went unnoticed")
	}
	c.p.probation.weight--
	n := c.p.protected.oldest()
	if n == nil {
		n = c.p.probation.oldest()
	}
	n.setQueue(queueWindow) // plant: a node tagged with the wrong queue
	if c.p.invariantErr() == nil {
		t.Fatal("a node tagged with the wrong queue went unnoticed")
	}
}

func TestPolicy_AnEntryHeavierThanTheBoundIsRejectedAtOnce(t *testing.T) {
	p := New(10)
	var evicted []*Node
	evict := func(n *Node) { evicted = append(evicted, n) }
	small := new(Node)
	small.Init(1, 5)
	p.Add(small, evict)
	big := new(Node)
	big.Init(2, 11)
	p.Add(big, evict)
	if len(evicted) != 1 || evicted[0] != big {
		t.Fatalf("evicted %v; want only the heavy node", evicted)
	}
	if p.Weight() != 5 || p.Len() != 1 {
		t.Fatalf("weight %d, len %d; want 5, 1", p.Weight(), p.Len())
	}
	// Growing past the bound by Update evicts the node too.
	p.Update(small, 11, evict)
	if len(evicted) != 2 || evicted[1] != small || p.Len() != 0 || p.Weight() != 0 {
		t.Fatalf("after Update to 11: evicted %d nodes, len %d, weight %d; want 2, 0, 0",
			len(evicted), p.Len(), p.Weight())
	}
	checkInvariants(t, p)
}

func TestPolicy_UpdateMovesWeightAndEvictsToStayWithinTheBound(t *testing.T) {
	c := newFakeCache(100)
	for k := uint64(0); k < 100; k++ {
		c.get(k, 1)
	}
	if c.p.Weight() != 100 || c.evicted != 0 {
		t.Fatalf("weight %d, evicted %d; want 100, 0", c.p.Weight(), c.evicted)
	}
	n := c.table[mix(50+1)]
	c.p.Update(n, 30, c.evict)
	if c.p.Weight() > 100 {
		t.Fatalf("weight %d after Update; want at most 100", c.p.Weight())
	}
	if c.evicted < 29 {
		t.Fatalf("evicted %d; want at least 29 to make room for 29 more", c.evicted)
	}
	checkInvariants(t, c.p)
}

func TestPolicy_RemoveOfANodeItNoLongerHoldsDoesNothing(t *testing.T) {
	c := newFakeCache(10)
	var gone *Node
	c.p.Add(func() *Node { n := new(Node); n.Init(1, 11); gone = n; return n }(), func(*Node) {})
	c.p.Remove(gone) // evicted at once: the cache may still call Remove
	if c.p.Len() != 0 {
		t.Fatalf("len %d; want 0", c.p.Len())
	}
	checkInvariants(t, c.p)
}

func TestPolicy_AFrequentKeySurvivesAScan(t *testing.T) {
	const bound = 1000
	c := newFakeCache(bound)
	r := rand.New(rand.NewPCG(7, 8))
	// 100 hot keys, read often among a stream of colder ones.
	for i := 0; i < 100_000; i++ {
		if r.IntN(2) == 0 {
			c.get(r.Uint64N(100), 1)
		} else {
			c.get(1000+r.Uint64N(5000), 1)
		}
	}
	// A scan of ten times the bound, every key read once.
	for k := uint64(0); k < 10*bound; k++ {
		c.get(1_000_000+k, 1)
	}
	lost := 0
	for k := uint64(0); k < 100; k++ {
		if _, ok := c.table[mix(k+1)]; !ok {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("the scan evicted %d of the 100 hot keys; want 0", lost)
	}
}

func TestTouch_CountsToThreeAndLeavesTheCachesBitsAlone(t *testing.T) {
	var n Node
	const cacheBits = 0xABCD << 2
	n.Word.Store(cacheBits)
	for i := 0; i < 5; i++ {
		Touch(&n, n.Word.Load())
	}
	if got := n.Word.Load(); got != cacheBits|HitBits {
		t.Fatalf("Word %#x after 5 hits; want %#x", got, cacheBits|HitBits)
	}
	// A stale w (the word changed since it was read) records nothing.
	w := n.Word.Load() &^ HitBits
	n.Word.Store(w)
	Touch(&n, w+(1<<2)) // the caller read a different word
	if got := n.Word.Load(); got != w {
		t.Fatalf("Word %#x after a stale Touch; want %#x", got, w)
	}
	Touch(&n, w)
	if got := n.takeHits(); got != 1 {
		t.Fatalf("takeHits = %d; want 1", got)
	}
	if got := n.Word.Load(); got != w {
		t.Fatalf("Word %#x after harvest; want the cache's bits %#x", got, w)
	}
}

func TestSketch_HalvingHalvesEveryCounter(t *testing.T) {
	s := newSketch(1024)
	for i := 0; i < 12; i++ {
		s.increment(42, 1)
	}
	s.increment(7, 3)
	if f := s.frequency(42); f != 12 {
		t.Fatalf("frequency %d after 12 increments; want 12", f)
	}
	for i := 0; i < 10; i++ {
		s.increment(42, 1)
	}
	if f := s.frequency(42); f != counterMax {
		t.Fatalf("frequency %d after 22 increments; want the saturated %d", f, counterMax)
	}
	s.halve()
	if f := s.frequency(42); f != counterMax/2 {
		t.Fatalf("frequency %d after halving 15; want %d", f, counterMax/2)
	}
	if f := s.frequency(7); f != 1 {
		t.Fatalf("frequency %d after halving 3; want 1", f)
	}
}

func TestSketch_HalvesOnceTheSampleIsFull(t *testing.T) {
	s := newSketch(1024)
	for i := 0; s.halvings == 0; i++ {
		if i > s.sampleSize {
			t.Fatalf("no halving after %d increments; sample size %d", i, s.sampleSize)
		}
		s.increment(uint64(i)%5000, 1)
	}
	if s.additions > s.sampleSize/2 {
		t.Fatalf("additions %d after halving; want at most %d", s.additions, s.sampleSize/2)
	}
}

func TestSketch_ResizeKeepsEveryKeysCount(t *testing.T) {
	s := newSketch(1024)
	want := map[uint64]uint64{}
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 3000; i++ {
		k := r.Uint64N(500)
		s.increment(k, 1)
	}
	for k := uint64(0); k < 500; k++ {
		want[k] = s.frequency(k)
	}
	s.resize(8192)
	if len(s.table) != 8192 {
		t.Fatalf("table len %d; want 8192", len(s.table))
	}
	for k, f := range want {
		if got := s.frequency(k); got != f {
			t.Fatalf("key %d: frequency %d after resize; want %d", k, got, f)
		}
	}
}

func BenchmarkPolicy_Add(b *testing.B) {
	for _, hitPct := range []int{0, 50, 90} {
		b.Run(fmt.Sprintf("bound=10000/hits=%d%%", hitPct), func(b *testing.B) {
			c := newFakeCache(10_000)
			r := rand.New(rand.NewPCG(1, 1))
			for i := 0; i < 100_000; i++ {
				c.get(r.Uint64N(1_000_000), 1)
			}
			nodes := make([]*Node, 0, 10_000)
			for _, n := range c.table {
				nodes = append(nodes, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			next := uint64(1 << 40)
			for i := 0; b.Loop(); i++ {
				// hitPct % of the resident nodes were hit since the last write.
				if hitPct > 0 && i%100 < hitPct {
					n := nodes[i%len(nodes)]
					Touch(n, n.Word.Load())
				}
				next++
				c.get(next, 1) // always a miss: one Add
			}
		})
	}
}

func TestPolicy_AdmissionKeepsFrequentKeysAgainstOneTimeKeys(t *testing.T) {
	// Keys seen several times (misses counted by Miss before the store) fill the cache, with
	// no hits, so none is protected: only the frequency filter can keep them through a scan.
	const bound = 1000
	c := newFakeCache(bound)
	for k := uint64(0); k < bound; k++ {
		for i := 0; i < 4; i++ {
			c.p.Miss(mix(k + 1))
		}
		c.get(k, 1)
	}
	for k := uint64(0); k < 10*bound; k++ {
		c.get(1_000_000+k, 1)
	}
	kept := 0
	for k := uint64(0); k < bound; k++ {
		if _, ok := c.table[mix(k+1)]; ok {
			kept++
		}
	}
	if kept < bound*90/100 {
		t.Fatalf("the scan left %d of %d frequent keys; want at least 90 %%", kept, bound)
	}
}

func TestNode_IsThirtyTwoBytesOn64BitPlatforms(t *testing.T) {
	// Word 8, prev and next 16, weight 4, tag (queue and 30 hash bits) 4: the cache pays this
	// per bounded entry (plus about 10 bytes of sketch and ghost, see docs/cache-policy.md).
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("32-bit platform")
	}
	if got := unsafe.Sizeof(Node{}); got != 32 {
		t.Fatalf("unsafe.Sizeof(Node{}) = %d; want 32", got)
	}
}

func TestNode_KeepsTheQueueAndTheHashApart(t *testing.T) {
	n := new(Node)
	const h = 0xfedc_ba98_7654_3210
	n.Init(h, 1)
	for _, q := range []queue{queueWindow, queueProbation, queueProtected, queueNone} {
		n.setQueue(q)
		if n.queue() != q || n.hash() != shortHash(h) {
			t.Fatalf("after setQueue(%d): queue %d, hash %#x; want %d, %#x", q, n.queue(), n.hash(), q, shortHash(h))
		}
	}
}

func TestPolicy_HitsArrivingDuringAWriteCannotStallIt(t *testing.T) {
	// Another goroutine re-hits every node as fast as it can, as readers of hot keys would
	// while the cache's mutex is held: each Add must still finish (a second-chance loop
	// without a budget can chase the hits for ever) and keep the bound.
	c := newFakeCache(100)
	for k := uint64(0); k < 100; k++ {
		c.get(k, 1)
	}
	nodes := make([]*Node, 0, 100)
	for _, n := range c.table {
		nodes = append(nodes, n)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, n := range nodes {
				Touch(n, n.Word.Load())
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		c.get(uint64(1000+i), 1)
		if c.p.Weight() > 100 {
			t.Fatalf("weight %d after Add %d; want at most 100", c.p.Weight(), i)
		}
	}
	close(stop)
	<-done
	checkInvariants(t, c.p)
}

func TestPolicy_ReplaceKeepsTheEntrysPlaceAndWeighsTheNewNode(t *testing.T) {
	c := newFakeCache(100)
	for k := uint64(0); k < 300; k++ {
		c.get(k%120, 1)
	}
	// A node in the main region, replaced by a heavier one for the same key.
	var old *Node
	for _, n := range c.table {
		if n.queue() == queueProbation || n.queue() == queueProtected {
			old = n
			break
		}
	}
	n := new(Node)
	h := c.hashes[old]
	n.Init(h, 5)
	before := c.p.Len()
	c.put(h, n) // before Replace: it may evict n, which deletes it
	c.p.Replace(old, n, c.evict)
	if old.queue() != queueNone {
		t.Fatalf("old node still tagged %d", old.queue())
	}
	if n.queue() != queueProtected {
		t.Fatalf("new node in queue %d; want protected (%d): a replacement is an access", n.queue(), queueProtected)
	}
	if c.p.Weight() > 100 || c.p.Len() > before {
		t.Fatalf("weight %d, len %d (was %d); want at most 100 and no more entries", c.p.Weight(), c.p.Len(), before)
	}
	if len(c.table) != c.p.Len() {
		t.Fatalf("table holds %d; policy %d", len(c.table), c.p.Len())
	}
	checkInvariants(t, c.p)
	// Replacing a node the policy no longer holds adds the new one.
	gone := new(Node)
	gone.Init(mix(5000), 1)
	fresh := new(Node)
	fresh.Init(mix(5000), 1)
	c.p.Replace(gone, fresh, c.evict)
	if fresh.queue() != queueWindow {
		t.Fatalf("fresh node in queue %d; want the window (%d)", fresh.queue(), queueWindow)
	}
	checkInvariants(t, c.p)
}
