// Package tinylfu is the eviction and admission policy of safemap's bounded cache:
// W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy", ACM TOS 2017) with an adaptive admission window tuned by hill climbing.
//
// The cache keeps its entries in its own hash table; the policy sees each entry as a Node
// embedded in it and decides which entries leave when the total weight exceeds the bound.
// Three queues hold the nodes: a small window that every new entry enters, and a main
// region split into probation and protected. An entry pushed out of the window competes
// with the probation queue's oldest entry, and the one a count-min sketch of recent
// accesses (4-bit counters, halved periodically) rates less frequent is evicted.
//
// A hit never runs policy code beyond Touch, which sets two bits in the node's Word. The
// policy learns about hits lazily, when a write runs it: the node at the cold end of a
// queue is examined before it is demoted or evicted (a CLOCK-style second chance). A
// harvested hit is counted in the sketch and promotes the node (probation to protected, or
// back to the hot end of its queue), so the queues approximate LRU order without a write
// per hit. (A hand sweeping two more nodes per write, as an earlier version had, lost up to
// 2 points of hit ratio on bench's traces and cost two cache misses per write: a promotion
// from the middle of a queue disturbs the order more than it informs the sketch.)
//
// The window starts at 1 % of the bound and adapts (windowTuner in adapt.go): two small
// ghosts remember recently rejected candidates and recently displaced victims, and the
// window steps toward whichever decision the following misses show to be the costlier.
// The sketch and the ghosts start small and grow with the number of entries held.
//
// Nothing in this package is safe for concurrent use except Touch and Node.Word: the cache
// calls every Policy method while holding its own maintenance mutex.
package tinylfu
