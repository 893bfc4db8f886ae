package cache

import (
	"unsafe"

	"github.com/safemap-go/safemap/internal/tinylfu"
)

// node is one entry of a Cache: the value the cache's map holds for a key.
// A node is immutable once published, except for the bits of its Word:
// every write stores a new node, so a lock-free hit can read key and value
// without synchronisation beyond the map's own.
type node[K comparable, V any] struct {
	// Node comes first: the policy hands back *tinylfu.Node, and nodeOf
	// converts it to the *node around it.
	tinylfu.Node
	wl    wlink // timing wheel bucket links; guarded by the cache's maint mutex
	key   K
	value V
}

// nodeOf returns the node whose embedded tinylfu.Node is pn.
//
// Safety: every *tinylfu.Node the cache passes to its policy is the first
// field of a node[K, V] of this cache, so both share an address.
func nodeOf[K comparable, V any](pn *tinylfu.Node) *node[K, V] {
	return (*node[K, V])(unsafe.Pointer(pn))
}

// The cache's bits of Node.Word. Bits 0-1 are the policy's hit count
// (tinylfu.HitBits), which the hit path sets with tinylfu.Touch.
//
//	bit  2       hidden: a negative or error entry (issue 19), absent for lookups
//	bit  3       retired: the node left the map and its bookkeeping is done
//	bit  4       ext: the node is the first field of an extNode
//	bit  5       pinned: a writer under the key's lock read the node live and
//	             may write a value derived from it; the node does not expire
//	             while it is set (see Cache.pin)
//	bit  6       dead: a caller saw the node expired; it is never live again
//	bits 7-23    gen: the generation (see Cache.gen) of the policy and wheel
//	             that hold the node; 0 while neither does
//	bits 24-63   deadline in coarse clock milliseconds; 0: never expires
//
// The deadline and the hidden and ext bits are set before the node is
// published and never change; retired and gen change under the cache's
// maint mutex, pinned under the key's bucket lock, and dead with no lock;
// each with a compare-and-swap so that a concurrent Touch is never lost (a
// Touch racing them may be dropped, which only forgets a hit).
const (
	hiddenBit     = 1 << 2
	retiredBit    = 1 << 3
	extBit        = 1 << 4
	pinnedBit     = 1 << 5
	deadBit       = 1 << 6
	genShift      = 7
	genBits       = 17
	genMask       = (1<<genBits - 1) << genShift
	deadlineShift = 24
	maxDeadline   = 1<<(64-deadlineShift) - 1
)

// deadlineOf returns the deadline packed in Word value w (0: none).
func deadlineOf(w uint64) int64 { return int64(w >> deadlineShift) }

// expiredAt reports whether Word value w has a deadline at or before now.
func expiredAt(w uint64, now int64) bool {
	d := deadlineOf(w)
	return d != 0 && d <= now
}

// genOf returns the generation packed in Word value w.
func genOf(w uint64) uint64 { return (w & genMask) >> genShift }

// setWord changes n's Word to (w &^ clear) | set, retrying if a Touch
// changed the hit bits meanwhile, and returns the value it replaced.
func setWord(n *tinylfu.Node, clear, set uint64) uint64 {
	for {
		w := n.Word.Load()
		if n.Word.CompareAndSwap(w, w&^clear|set) {
			return w
		}
	}
}
