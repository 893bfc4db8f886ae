// Package safemap provides concurrent maps that get the missing-key path
// right: check-then-insert is one atomic call, a value function runs at most
// once per missing key however many goroutines miss it together, it runs
// without holding a lock that blocks other keys, and a panic or an error in it
// leaves nothing behind.
//
// Every map type in this package implements [ConcurrentMap] and is safe for
// concurrent use by multiple goroutines without additional locking or
// coordination. Every operation is linearizable per key: it appears to take
// effect atomically at some instant between its call and its return. In the
// terminology of [the Go memory model], an operation that stores a value
// "synchronizes before" any operation that observes it, so data written
// before a Store is visible to the goroutine whose Load returns that value.
//
// [New] returns the default [Map], the one most programs should use: lock-free
// reads of keys and values stored inline in the table, per-chain write locks,
// and growth that never stops readers or writers. The other strategies exist
// to compare against and for special cases; they differ in cost, not in
// contract:
//
//   - [SyncMap] wraps [sync.Map] (a hash trie since Go 1.24) with types and
//     an exact Len.
//   - [RWMap] is a built-in map behind one [sync.RWMutex]: simple, compact,
//     and fast when there is little contention.
//   - [ShardedMap] splits keys over independently locked shards chosen by a
//     seeded hash, so writers to different keys rarely meet.
//   - [SnapshotMap] serves reads lock-free from an immutable map and copies it
//     on every write: the fastest reads and point-in-time iteration, for data
//     that is read far more often than it changes.
//
// All zero values are empty maps ready for use. No map may be copied after
// first use.
//
// Keys behave as they do in a built-in map: +0.0 and -0.0 are the same key, a
// NaN key is never found (each store of NaN adds an entry, as in a built-in
// map), and a key holding an interface value whose dynamic type is not
// comparable (say an any key holding a []int, or a struct key with such a
// field) makes the call panic with a message naming that type, before the
// map is touched, so the map stays unchanged and usable.
//
// [the Go memory model]: https://go.dev/ref/mem
package safemap
