package safemap

import "unsafe"

// WithBadHash degrades the map's hash to a single bit, so that keys pile up
// in at most two shards or buckets: tests use it to prove correctness does
// not depend on hash quality.
func WithBadHash() Option {
	return func(o *options) { o.hashBits = 1 }
}

// ShardSize is the size of one ShardedMap shard, which must be a whole
// number of cache lines.
const ShardSize = unsafe.Sizeof(shard[int64, int64]{})

// CacheLine is the cache line size the padding assumes.
const CacheLine = cacheLine

// MapBuckets returns the number of root buckets of m's current table, or 0
// for a zero Map that has never been written.
func MapBuckets[K comparable, V any](m *Map[K, V]) int {
	if t := m.table.Load(); t != nil {
		return len(t.buckets)
	}
	return 0
}

// SlotsPerBucket is the number of slots in a bucket.
const SlotsPerBucket = slotsPerBucket

// RaceEnabled reports whether this is a race build, in which Map's Load
// takes its slow path only (hashmap_race.go).
const RaceEnabled = raceEnabled
