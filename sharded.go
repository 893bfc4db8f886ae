package safemap

import (
	"context"
	"hash/maphash"
	"iter"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ShardedMap spreads keys over a power-of-two number of shards, each an
// [RWMap] with its own lock, chosen by a [hash/maphash] hash seeded per map
// (so an attacker who picks keys cannot aim them all at one shard). Writers
// to different shards never wait for each other.
//
// Every operation on a key locks only that key's shard. LoadOrCompute and
// LoadOrTryCompute run their function with no lock held; Compute runs its
// function under the write lock of the key's shard, blocking the keys of
// that shard (about 1/shards of all keys) until it returns.
//
// The zero ShardedMap is empty and ready for use, with the default shard
// count. A ShardedMap must not be copied after first use.
type ShardedMap[K comparable, V any] struct {
	table  atomic.Pointer[shardTable[K, V]] // nil until first use of a zero value
	initMu sync.Mutex                       // serialises that first use
	keys   keyCheck
}

type shardTable[K comparable, V any] struct {
	seed     maphash.Seed
	mask     uint64 // len(shards) - 1
	hashMask uint64 // all ones, or fewer bits to degrade the hash in tests
	shards   []shard[K, V]
}

// shard is one RWMap padded to a whole number of cache lines, so that
// goroutines locking neighbouring shards do not contend for one line.
type shard[K comparable, V any] struct {
	RWMap[K, V]
	_ [(cacheLine - unsafe.Sizeof(RWMap[K, V]{})%cacheLine) % cacheLine]byte
}

// NewShardedMap returns an empty ShardedMap. It accepts [WithShards] and
// [WithCapacity] (spread evenly over the shards).
func NewShardedMap[K comparable, V any](opts ...Option) *ShardedMap[K, V] {
	o := buildOptions("NewShardedMap", setCapacity|setShards, opts)
	m := new(ShardedMap[K, V])
	m.table.Store(newShardTable[K, V](o))
	return m
}

func newShardTable[K comparable, V any](o options) *shardTable[K, V] {
	n := defaultShards()
	if o.shards > 0 {
		n = ceilPow2(o.shards)
	}
	t := &shardTable[K, V]{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		hashMask: ^uint64(0),
		shards:   make([]shard[K, V], n),
	}
	if o.hashBits > 0 {
		t.hashMask = 1<<o.hashBits - 1
	}
	per := (o.capacity + n - 1) / n
	for i := range t.shards {
		t.shards[i].m = make(map[K]V, per)
	}
	return t
}

// shards returns the shard table, creating it on the first use of a zero
// value.
func (m *ShardedMap[K, V]) shards() *shardTable[K, V] {
	if t := m.table.Load(); t != nil {
		return t
	}
	return m.initSlow()
}

// initSlow creates the shard table of a zero ShardedMap (outlined so that
// shards can be inlined).
func (m *ShardedMap[K, V]) initSlow() *shardTable[K, V] {
	m.initMu.Lock()
	defer m.initMu.Unlock()
	if t := m.table.Load(); t != nil {
		return t
	}
	t := newShardTable[K, V](options{})
	m.table.Store(t)
	return t
}

// shardFor returns the shard that holds key.
func (m *ShardedMap[K, V]) shardFor(key K) *RWMap[K, V] {
	checkKey(&m.keys, key)
	t := m.shards()
	h := maphash.Comparable(t.seed, key) & t.hashMask
	return &t.shards[h&t.mask].RWMap
}

// Load returns the value stored for key, or the zero value and false if the
// key is absent. It takes the read lock of the key's shard.
func (m *ShardedMap[K, V]) Load(key K) (value V, ok bool) {
	return m.shardFor(key).Load(key)
}

// Store sets the value for key.
func (m *ShardedMap[K, V]) Store(key K, value V) {
	m.shardFor(key).Store(key, value)
}

// LoadOrStore returns the existing value for key if present (loaded is
// true); otherwise it stores value and returns it.
func (m *ShardedMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	return m.shardFor(key).LoadOrStore(key, value)
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent. fn runs with no lock held, at most once however
// many goroutines miss the key together; see [ConcurrentMap.LoadOrCompute].
func (m *ShardedMap[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	return m.shardFor(key).LoadOrCompute(key, fn)
}

// LoadOrTryCompute is LoadOrCompute for a loader that can fail; fn runs
// with no lock held. See [ConcurrentMap.LoadOrTryCompute].
func (m *ShardedMap[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	return m.shardFor(key).LoadOrTryCompute(ctx, key, fn)
}

// Compute atomically updates the entry for key; see
// [ConcurrentMap.Compute]. fn runs under the write lock of the key's shard,
// so it must not call methods of the same map with keys of that shard
// (that would deadlock); in practice, call none. A panic in fn changes
// nothing and releases the lock.
func (m *ShardedMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	return m.shardFor(key).Compute(key, fn)
}

// Swap stores value for key and returns the previous value, if any.
func (m *ShardedMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	return m.shardFor(key).Swap(key, value)
}

// CompareAndSwap stores new for key if its current value == old. It panics
// if V is not comparable.
func (m *ShardedMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	return m.shardFor(key).CompareAndSwap(key, old, new)
}

// CompareAndDelete deletes key if its current value == old. It panics if V
// is not comparable.
func (m *ShardedMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	return m.shardFor(key).CompareAndDelete(key, old)
}

// LoadAndDelete deletes key and returns the value it had, if any.
func (m *ShardedMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	return m.shardFor(key).LoadAndDelete(key)
}

// Delete deletes key.
func (m *ShardedMap[K, V]) Delete(key K) {
	m.shardFor(key).Delete(key)
}

// Range calls fn for each entry until fn returns false. It copies one shard
// at a time under that shard's read lock and calls fn with no lock held, so
// fn may call any method of the map. Each shard is seen at one instant, but
// different shards at different instants: an entry written during Range
// may or may not be visited, and no key is visited twice. The copy costs
// O(Len/shards) memory.
func (m *ShardedMap[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	t := m.shards()
	for i := range t.shards {
		for _, e := range t.shards[i].snapshot() {
			if !fn(e.key, e.value) {
				return
			}
		}
	}
}

// All returns an iterator over the entries with the guarantees of Range.
func (m *ShardedMap[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Len returns the number of entries, in O(shards).
func (m *ShardedMap[K, V]) Len() int {
	t := m.shards()
	n := 0
	for i := range t.shards {
		n += t.shards[i].Len()
	}
	return n
}

// Clear deletes every entry, one shard at a time.
func (m *ShardedMap[K, V]) Clear() {
	t := m.shards()
	for i := range t.shards {
		t.shards[i].Clear()
	}
}

// loadOrComputeReporting is LoadOrTryCompute (LoadOrCompute for a nil ctx)
// that also reports a discarded value, for Profile (see discardReporter).
func (m *ShardedMap[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	return m.shardFor(key).loadOrComputeReporting(ctx, key, fn)
}
