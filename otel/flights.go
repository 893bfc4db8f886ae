package safemapotel

import (
	"hash/maphash"
	"slices"
	"sync"
)

// flightShards is the number of shards of a flightTable: enough that
// callers of different keys seldom share a lock.
const flightShards = 64

// flightTable is Traced's in-flight record per key: who waits for the key
// and which load runs for it. A key's record exists while a traced call or
// a load is working on it.
type flightTable[K comparable] struct {
	seed   maphash.Seed
	shards [flightShards]flightShard[K]
}

type flightShard[K comparable] struct {
	mu sync.Mutex
	m  map[K]*keyFlight
	_  [48]byte // with mu and m, one 64-byte cache line per shard
}

// keyFlight is one key's record, guarded by its shard's mutex.
type keyFlight struct {
	refs    int           // registered callers and running loads
	waiters []*waiter     // registered callers
	loads   []*tracedLoad // loads running for the key (more than one only across a retry)
}

func (t *flightTable[K]) shard(key K) *flightShard[K] {
	return &t.shards[maphash.Comparable(t.seed, key)%flightShards]
}

// get returns key's record in s, creating it; s.mu must be held.
func (s *flightShard[K]) get(key K) *keyFlight {
	f := s.m[key]
	if f == nil {
		if s.m == nil {
			s.m = make(map[K]*keyFlight)
		}
		f = &keyFlight{}
		s.m[key] = f
	}
	return f
}

// release drops a reference to key's record f, deleting it at the last;
// s.mu must be held.
func (s *flightShard[K]) release(key K, f *keyFlight) {
	if f.refs--; f.refs == 0 {
		delete(s.m, key)
	}
}

// enter registers w as waiting for key, linking it to the loads running
// for it.
func (t *flightTable[K]) enter(key K, w *waiter) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.get(key)
	f.refs++
	f.waiters = append(f.waiters, w)
	for _, l := range f.loads {
		l.link(w)
	}
}

// leave unregisters w from key.
func (t *flightTable[K]) leave(key K, w *waiter) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.m[key]
	if i := slices.Index(f.waiters, w); i >= 0 {
		f.waiters = slices.Delete(f.waiters, i, i+1)
	}
	s.release(key, f)
}

// startLoad marks key as loading by l, linking l to every registered
// waiter but self (the caller that runs the loader, or nil).
func (t *flightTable[K]) startLoad(key K, l *tracedLoad, self *waiter) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.get(key)
	f.refs++
	f.loads = append(f.loads, l)
	for _, w := range f.waiters {
		if w != self {
			l.link(w)
		}
	}
}

// endLoad marks key as no longer loading by l.
func (t *flightTable[K]) endLoad(key K, l *tracedLoad) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.m[key]
	if i := slices.Index(f.loads, l); i >= 0 {
		f.loads = slices.Delete(f.loads, i, i+1)
	}
	s.release(key, f)
}

// len returns the number of keys with a record, for tests.
func (t *flightTable[K]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
