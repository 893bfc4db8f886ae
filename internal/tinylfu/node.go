package tinylfu

import "sync/atomic"

// HitBits masks the two low bits of Node.Word that count the hits recorded since the
// policy last looked at the node, saturating at 3.
const HitBits = 3

// queue names the queue a node is linked into.
type queue uint8

const (
	queueNone      queue = iota // not held by the policy
	queueWindow                 // admission window, LRU order
	queueProbation              // main region, entries not yet hit while in main
	queueProtected              // main region, entries hit while in main
)

// Node is an entry as the policy sees it. The cache embeds it in its entry (as the first
// field, converting back with an unsafe cast, or with a back pointer) and passes its
// address to every method. The zero Node is ready for Init. A Node must not be copied
// after Init, and belongs to at most one Policy at a time.
//
// Word is the only field the cache's lock-free hit path may touch.
type Node struct {
	// Word is shared with the cache. Bits 0-1 (HitBits) count the hits recorded by Touch
	// since the policy last looked, saturating at 3. The policy clears them with a
	// compare-and-swap when it harvests them, so a concurrent writer of the other bits never
	// loses its update. Bits 2-63 belong to the cache (an expiry deadline, flags); the policy
	// never changes them.
	Word atomic.Uint64

	prev, next *Node // neighbours in the node's queue; the list is circular with a sentinel
	weight     uint32
	// tag packs the queue that holds the node (bits 0-1) with 30 bits of the key's hash
	// (bits 2-31, see shortHash), by which the sketch and the ghosts count the key: four
	// bytes where a full hash and a queue byte took twelve, so that the Node is 32 bytes on
	// 64-bit targets and a cache node with the wheel's links and 8-byte keys and values
	// fits the 64-byte size class (pinned by TestNode_SizeIsPinned).
	tag uint32
}

// hashBits is how many bits of a key's hash the policy keeps (see Node.tag). The sketch
// spreads them again (mix); two keys that share them are one key to the policy, which for
// 2^30 values only blurs a count: far fewer pairs than share sketch counters anyway.
const hashBits = 30

// shortHash returns the bits of hash h the policy keeps: its top 30 (the cache's hash is
// well mixed, so any 30 would do). Every hash the policy receives goes through it, from
// Init and from Miss alike, so a key is counted the same on both ways in.
func shortHash(h uint64) uint64 { return h >> (64 - hashBits) }

// queue returns the queue that holds n.
func (n *Node) queue() queue { return queue(n.tag & 3) }

// setQueue records that q holds n.
func (n *Node) setQueue(q queue) { n.tag = n.tag&^3 | uint32(q) }

// hash returns the key's hash as the policy keeps it (shortHash of Init's).
func (n *Node) hash() uint64 { return uint64(n.tag >> 2) }

// Touch records a hit on n, given the value w of n.Word that the caller's hit path has
// already loaded. It writes only when the hit count changes (w&HitBits < 3), and then with a
// single compare-and-swap from w, so it never overwrites a change another goroutine made to
// Word after w was read: such a race only drops this hit. It takes no lock and writes nothing
// shared. Touch is safe for concurrent use and small enough to be inlined.
func Touch(n *Node, w uint64) {
	if w&HitBits != HitBits {
		n.Word.CompareAndSwap(w, w+1)
	}
}

// Init prepares n to be added: hash is the key's hash (the policy counts accesses by it;
// it should be well mixed, as the cache's table hash is) and weight is the entry's weight
// (1 when the cache bounds the number of entries). It clears the hit bits and leaves the
// cache's bits of Word alone. Call it before Add, never on a node the policy holds.
func (n *Node) Init(hash uint64, weight uint32) {
	if n.queue() != queueNone {
		panic("tinylfu: Init of a node the policy holds")
	}
	n.tag = uint32(shortHash(hash))<<2 | uint32(queueNone)
	n.weight = weight
	n.prev, n.next = nil, nil
	for {
		w := n.Word.Load()
		if w&HitBits == 0 || n.Word.CompareAndSwap(w, w&^HitBits) {
			return
		}
	}
}

// Weight returns the weight n was given by Init or the last Update.
func (n *Node) Weight() uint32 { return n.weight }

// takeHits clears n's hit bits and returns how many there were (0 to 3). It retries only
// when a concurrent Touch or a cache write changed Word between the load and the swap.
func (n *Node) takeHits() uint64 {
	for {
		w := n.Word.Load()
		hits := w & HitBits
		if hits == 0 || n.Word.CompareAndSwap(w, w&^HitBits) {
			return hits
		}
	}
}

// list is a circular doubly linked list of nodes around a sentinel, with the total weight
// of its nodes. The sentinel's next is the oldest node (the cold end), its prev the newest.
type list struct {
	root   Node
	weight uint64
	len    int
}

func (l *list) init() {
	l.root.next = &l.root
	l.root.prev = &l.root
}

// oldest returns the node at the cold end, or nil when l is empty.
func (l *list) oldest() *Node {
	if l.root.next == &l.root {
		return nil
	}
	return l.root.next
}

// pushNewest links n at the hot end.
func (l *list) pushNewest(n *Node) {
	last := l.root.prev
	n.prev = last
	n.next = &l.root
	last.next = n
	l.root.prev = n
	l.weight += uint64(n.weight)
	l.len++
}

// unlink removes n, which l holds.
func (l *list) unlink(n *Node) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
	l.weight -= uint64(n.weight)
	l.len--
}
