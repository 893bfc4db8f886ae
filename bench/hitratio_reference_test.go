package bench_test

import "container/list"

// Reference policies for the hit-ratio comparison (BenchmarkHitRatio), written from their
// papers so docs/cache-policy.md can compare the choice of W-TinyLFU with the state of the
// art on the same traces. They are measurement tools, not candidates for the cache: each
// keeps its own map and runs on one goroutine.

// lruReplay is least-recently-used eviction, the baseline every paper compares with.
type lruReplay struct {
	size  int
	order *list.List // front: most recent
	table map[uint64]*list.Element
}

func newLRUReplay(size int) *lruReplay {
	return &lruReplay{size: size, order: list.New(), table: make(map[uint64]*list.Element, size)}
}

func (r *lruReplay) get(key uint64) bool {
	if e, ok := r.table[key]; ok {
		r.order.MoveToFront(e)
		return true
	}
	if r.order.Len() >= r.size {
		last := r.order.Back()
		delete(r.table, last.Value.(uint64))
		r.order.Remove(last)
	}
	r.table[key] = r.order.PushFront(key)
	return false
}

func (r *lruReplay) len() int { return r.order.Len() }

// sieveReplay is SIEVE (Zhang et al., "SIEVE is Simpler than LRU", NSDI 2024): one FIFO
// queue, a visited bit set by a hit, and a hand that moves from the oldest entry toward
// the newest, clearing visited bits and evicting the first entry without one. New entries
// go to the head; survivors stay where they are.
type sieveReplay struct {
	size  int
	queue *list.List // front: newest
	hand  *list.Element
	table map[uint64]*list.Element
}

type sieveEntry struct {
	key     uint64
	visited bool
}

func newSIEVEReplay(size int) *sieveReplay {
	return &sieveReplay{size: size, queue: list.New(), table: make(map[uint64]*list.Element, size)}
}

func (r *sieveReplay) get(key uint64) bool {
	if e, ok := r.table[key]; ok {
		e.Value.(*sieveEntry).visited = true
		return true
	}
	if r.queue.Len() >= r.size {
		h := r.hand
		if h == nil {
			h = r.queue.Back()
		}
		for h.Value.(*sieveEntry).visited {
			h.Value.(*sieveEntry).visited = false
			if h = h.Prev(); h == nil {
				h = r.queue.Back()
			}
		}
		r.hand = h.Prev()
		delete(r.table, h.Value.(*sieveEntry).key)
		r.queue.Remove(h)
	}
	r.table[key] = r.queue.PushFront(&sieveEntry{key: key})
	return false
}

func (r *sieveReplay) len() int { return r.queue.Len() }

// s3fifoReplay is S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP 2023): a small FIFO (10 % of the entries) that new keys enter, a main FIFO, and a
// ghost FIFO of keys evicted from the small queue (as many as main holds). A hit raises a
// 2-bit frequency. Leaving the small queue, a key hit at least once moves to main, any other
// to the ghost; a key found in the ghost on a miss enters main directly. Leaving main, a key
// with a frequency above 0 is reinserted with its frequency decremented.
type s3fifoReplay struct {
	size, smallSize int
	small, main     *list.List // front: newest
	ghost           *list.List // of uint64 keys
	ghostSet        map[uint64]*list.Element
	table           map[uint64]*list.Element
}

type s3Entry struct {
	key    uint64
	freq   uint8
	inMain bool
}

func newS3FIFOReplay(size int) *s3fifoReplay {
	return &s3fifoReplay{
		size: size, smallSize: max(size/10, 1),
		small: list.New(), main: list.New(), ghost: list.New(),
		ghostSet: make(map[uint64]*list.Element), table: make(map[uint64]*list.Element, size),
	}
}

func (r *s3fifoReplay) get(key uint64) bool {
	if e, ok := r.table[key]; ok {
		s := e.Value.(*s3Entry)
		s.freq = min(s.freq+1, 3)
		return true
	}
	for r.small.Len()+r.main.Len() >= r.size {
		r.evict()
	}
	if g, ok := r.ghostSet[key]; ok {
		r.ghost.Remove(g)
		delete(r.ghostSet, key)
		r.table[key] = r.main.PushFront(&s3Entry{key: key, inMain: true})
		return false
	}
	r.table[key] = r.small.PushFront(&s3Entry{key: key})
	return false
}

func (r *s3fifoReplay) evict() {
	if r.small.Len() >= r.smallSize || r.main.Len() == 0 {
		for r.small.Len() > 0 {
			t := r.small.Back()
			s := r.small.Remove(t).(*s3Entry)
			if s.freq > 0 {
				s.freq, s.inMain = 0, true
				r.table[s.key] = r.main.PushFront(s)
				if r.main.Len() > r.size-r.smallSize {
					r.evictMain()
				}
				continue
			}
			delete(r.table, s.key)
			r.ghostSet[s.key] = r.ghost.PushFront(s.key)
			for r.ghost.Len() > r.size-r.smallSize {
				delete(r.ghostSet, r.ghost.Remove(r.ghost.Back()).(uint64))
			}
			return
		}
	}
	r.evictMain()
}

func (r *s3fifoReplay) evictMain() {
	for r.main.Len() > 0 {
		t := r.main.Back()
		s := r.main.Remove(t).(*s3Entry)
		if s.freq > 0 {
			s.freq--
			r.table[s.key] = r.main.PushFront(s)
			continue
		}
		delete(r.table, s.key)
		return
	}
}

func (r *s3fifoReplay) len() int { return r.small.Len() + r.main.Len() }
