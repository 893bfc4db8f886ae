package cache

import "unsafe"

// This file holds the hierarchical timing wheel (Varghese and Lauck, SOSP
// 1987) that finds expired entries without scanning: each entry with a
// deadline sits in one bucket, and advancing the wheel to the present
// visits only the buckets whose time has come. Level i's buckets each span
// 2^wheelShift[i] ms and it has wheelBuckets of them: 16 ms, 1 s, 65 s,
// 70 min and 3 days per bucket; deadlines beyond the last level's reach
// (about 200 days) wait in its farthest bucket and are placed again when it
// comes round. Level 0 drains a bucket once its span has fully passed, so
// the entries there are expired; a higher level drains a bucket when its
// span begins, moving the entries to lower levels. An entry thus leaves the
// wheel at most one level-0 bucket (16 ms) after its deadline, measured
// from the last advance.
//
// The wheel is not safe for concurrent use: the cache calls it under its
// maint mutex.

const (
	wheelLevels  = 5
	wheelBuckets = 64
)

var wheelShift = [wheelLevels]uint{4, 10, 16, 22, 28}

// wlink links a node into a wheel bucket, a circular list whose sentinel
// is the bucket's own wlink.
type wlink struct {
	prev, next *wlink
}

// wlinkOffset is the offset of wl in a node; nodeOfLink subtracts it.
func nodeOfLink[K comparable, V any](l *wlink) *node[K, V] {
	// Safety: every wlink in a bucket other than its sentinel is the wl
	// field of a node[K, V] of this cache.
	return (*node[K, V])(unsafe.Add(unsafe.Pointer(l), -int(unsafe.Offsetof((*node[K, V])(nil).wl))))
}

type wheel[K comparable, V any] struct {
	time    int64 // ms, as of the last advance
	buckets [wheelLevels][wheelBuckets]wlink
}

func newWheel[K comparable, V any](now int64) *wheel[K, V] {
	w := &wheel[K, V]{time: now}
	for i := range w.buckets {
		for j := range w.buckets[i] {
			b := &w.buckets[i][j]
			b.prev, b.next = b, b
		}
	}
	return w
}

// schedule links n, whose deadline is d, into the bucket for d.
func (w *wheel[K, V]) schedule(n *node[K, V], d int64) {
	now := w.time
	if d < now {
		d = now // overdue: the current level-0 bucket, drained at its end
	}
	var b *wlink
	for i := range wheelLevels {
		s := wheelShift[i]
		if dt := d>>s - now>>s; dt < wheelBuckets {
			b = &w.buckets[i][(d>>s)&(wheelBuckets-1)]
			break
		}
	}
	if b == nil { // beyond the wheel's reach: the last level's farthest bucket
		s := wheelShift[wheelLevels-1]
		b = &w.buckets[wheelLevels-1][(now>>s+wheelBuckets-1)&(wheelBuckets-1)]
	}
	l := &n.wl
	l.prev, l.next = b.prev, b
	b.prev.next = l
	b.prev = l
}

// remove unlinks n if it is in a bucket.
func (w *wheel[K, V]) remove(n *node[K, V]) {
	l := &n.wl
	if l.next == nil {
		return
	}
	l.prev.next = l.next
	l.next.prev = l.prev
	l.prev, l.next = nil, nil
}

// advance moves the wheel to now, calling expire for every node whose
// deadline has passed (unlinked first) and placing the others again.
func (w *wheel[K, V]) advance(now int64, expire func(*node[K, V])) {
	old := w.time
	if now <= old {
		return
	}
	w.time = now
	for i := range wheelLevels {
		s := wheelShift[i]
		po, pn := old>>s, now>>s
		if po == pn {
			break // higher levels' buckets are wider: nothing changed there either
		}
		from, to := po+1, pn // a higher level drains the buckets whose span began
		if i == 0 {
			from, to = po, pn-1 // level 0 drains those whose span ended
		}
		if to-from >= wheelBuckets {
			from = to - wheelBuckets + 1 // every bucket, once
		}
		for t := from; t <= to; t++ {
			w.drain(&w.buckets[i][t&(wheelBuckets-1)], now, expire)
		}
	}
}

// drain empties bucket b, expiring or placing again each node in it.
func (w *wheel[K, V]) drain(b *wlink, now int64, expire func(*node[K, V])) {
	if b.next == b {
		return
	}
	first, last := b.next, b.prev
	b.prev, b.next = b, b
	last.next = nil
	for l := first; l != nil; {
		next := l.next
		l.prev, l.next = nil, nil
		n := nodeOfLink[K, V](l)
		if d := deadlineOf(n.Word.Load()); d <= now {
			expire(n)
		} else {
			w.schedule(n, d)
		}
		l = next
	}
}
