package advisor

import (
	"fmt"
	"slices"
	"strings"
)

// strategy is what the advisor knows about one strategy, in words: what it
// guarantees, what it locks, what it costs. The table holds no benchmark
// figure: figures differ from machine to machine and go stale with every
// performance change, so the advice quotes only what -measure measured in
// the same run (see [FromMeasurement]).
//
// The text fields are clauses the advice builds sentences from; each says
// which sentence it completes. Adding a strategy is a row here (and, for
// -measure, a constructor in mapbench's synthetic workload); having the
// advisor recommend it is a rule in [rules] that names it.
type strategy struct {
	// name is the constructor, as the advice names it: "safemap.New".
	name string
	// impl is the name a MeasureFunc reports it under (Case.Impl), or ""
	// when -measure cannot replay it in one process (the Redis tier).
	impl string
	// is completes "<name> is …": what it is.
	is string
	// reads, misses and writes complete "In <name>, …": what a read that
	// finds its key, a read that does not, and a change cost.
	reads, misses, writes string
	// computeHolds completes "Compute holds …": what is locked while
	// Compute's function runs, and what that function may do.
	computeHolds string
	// rangeSees completes "Range and All on <name> …": what an iteration
	// sees while writes go on.
	rangeSees string
	// churn completes "<name> …": what keys arriving and leaving cost it.
	churn string
	// guarantee is what it promises beyond the ConcurrentMap contract every
	// in-process strategy shares, or "".
	guarantee string
	// limits is where that guarantee ends, as a warning, or "".
	limits string

	snapshot bool // Range and All see one point in time
	shrinks  bool // gives memory back when keys leave
	evicts   bool // bounds its own memory by evicting or expiring entries
	shared   bool // several processes share its contents and its loads
}

// The strategies, by constructor.
const (
	stratNew      = "safemap.New"
	stratSync     = "safemap.NewSyncMap"
	stratRW       = "safemap.NewRWMap"
	stratSharded  = "safemap.NewShardedMap"
	stratSnapshot = "safemap.NewSnapshotMap"
	stratRedis    = "redismap.New"
	stratCache    = "cache.New"
)

// strategyTable lists every strategy the advisor can recommend, in the
// order it prefers them when nothing else decides.
var strategyTable = []strategy{
	{
		name:         stratNew,
		impl:         "New",
		is:           "the default map: keys and values live inline in one table (no allocation per entry), reads take no lock, writers lock one bucket chain, and the table grows and shrinks one chain at a time while other goroutines go on",
		reads:        "a Load takes no lock and never allocates; it retries only while a writer changes the same bucket",
		misses:       "most misses are answered from one 8-byte word of a dense per-table array, without reading a bucket (docs/design.md)",
		writes:       "a writer locks one bucket chain (a handful of keys) while readers go on without waiting; an insert allocates only an occasional overflow bucket, and a resize moves one chain at a time",
		computeHolds: "the key's bucket chain lock: readers never wait for it, writers of that chain and a resize do; the function may call Load, nothing else on the same map",
		rangeSees:    "visit one bucket chain at a time, each at one instant: every key present throughout is visited exactly once, but the whole is not a snapshot",
		churn:        "reuses freed slots without allocating and shrinks its table when it falls under 3/32 full (docs/design.md)",
		shrinks:      true,
	},
	{
		name:         stratSync,
		impl:         "NewSyncMap",
		is:           "a typed wrapper over sync.Map, a hash trie",
		reads:        "a Load takes no lock; values are boxed, so a hit follows one more pointer",
		misses:       "a miss walks the trie with no lock",
		writes:       "every write allocates (the value is boxed so that any type can be swapped atomically, on top of sync.Map's own nodes); Len sums a striped counter",
		computeHolds: "nothing: Compute is an optimistic compare-and-swap loop, so its function may run more than once under contention and should have no side effects",
		rangeSees:    "are weakly consistent, like sync.Map's: a write made during the iteration may or may not be seen",
		churn:        "allocates on every insert",
	},
	{
		name:         stratRW,
		impl:         "NewRWMap",
		is:           "one sync.RWMutex over a built-in map",
		reads:        "a Load takes the shared read lock, and waits while a writer holds the lock",
		misses:       "a miss is a built-in map lookup under the read lock",
		writes:       "all writers share one lock; a write is O(1) and allocates only when the built-in map grows",
		computeHolds: "the whole map's write lock: every other operation waits, and the function must not call the same map",
		rangeSees:    "copy every entry under the read lock: a point-in-time snapshot, at O(n) time and memory per iteration",
		churn:        "keeps a built-in map, which never shrinks",
		snapshot:     true,
	},
	{
		name:         stratSharded,
		impl:         "NewShardedMap",
		is:           "N built-in maps, each behind its own read-write lock (WithShards sets N)",
		reads:        "a Load takes its shard's read lock, shared with the shard's other readers",
		misses:       "a miss is a built-in map lookup under its shard's read lock",
		writes:       "a writer blocks its shard, about 1/N of the keys, so writers to different shards never wait for each other; no allocation per entry; Len is O(shards)",
		computeHolds: "the key's shard write lock, blocking about 1/N of the keys; the function must not call the same map",
		rangeSees:    "copy one shard at a time: each shard is seen at one instant, different shards at different instants",
		churn:        "keeps built-in maps, which never shrink",
	},
	{
		name:         stratSnapshot,
		impl:         "NewSnapshotMap",
		is:           "an immutable built-in map behind an atomic pointer, copied on every change",
		reads:        "a Load is one atomic pointer load and a built-in map lookup: no lock, no allocation",
		misses:       "a miss costs a full built-in map lookup",
		writes:       "every change copies the whole map (O(n) time and an n-entry map of garbage) under one writer mutex; StoreAll copies once per batch, where filling it one Store at a time costs O(n²)",
		computeHolds: "the writer mutex: other writers wait, readers never do; the function must not write to the same map",
		rangeSees:    "iterate one immutable point-in-time snapshot without copying it",
		churn:        "copies the whole map on every change",
		snapshot:     true,
	},
	{
		name: stratCache,
		// impl is empty: -measure replays the maps, which keep every key;
		// a workload that needs a bound or expiry is decided by the rules.
		is:           "safemap's cache (github.com/safemap-go/safemap/cache): the default map's table with a bound on its size (MaxEntries, or MaxWeight with a Weigher; W-TinyLFU chooses what to evict) and expiry (TTL, or TTLFunc per entry), keeping the same ConcurrentMap contract",
		reads:        "a Load hit takes no lock and records the access with at most one store, to a word it already reads; for an entry that can expire it reads a coarse millisecond clock, never the system clock",
		misses:       "an evicted or expired key is a miss: LoadOrCompute and LoadOrTryCompute load it once per absence, with no lock held, and a Delete during the load discards the loaded value",
		writes:       "a write that takes the cache past its bound evicts under the cache's maintenance lock, which a hit never takes; OnEvict runs after every lock is released",
		computeHolds: "no lock: Compute swaps the key's entry with a compare-and-swap, so its function may run again when a writer of the same key races it (keep it free of side effects), and may call the cache",
		rangeSees:    "skip expired entries and visit the rest as safemap.New's Range does: each key at most once, with no lock held while your function runs, not a snapshot",
		churn:        "gives back the memory of evicted entries at once and of expired ones lazily and by an incremental cleanup, without a full scan",
		guarantee:    "the bound holds within a small slack (max(1 %, 64) entries) and an expired entry is absent for every method; RefreshAfter reloads a hot entry in the background before it expires, and NegativeTTL and ErrorTTL remember keys the source does not have and errors for a short time",
		evicts:       true,
		shrinks:      true,
	},
	{
		name:      stratRedis,
		is:        "safemap's Redis tier (github.com/safemap-go/safemap/redismap): the data lives in Redis, and LoadOrTryCompute's contract holds across processes",
		reads:     "a remote hit is one round trip, like a GET; with NearCache, a hit makes no Redis call and is invalidated by pub/sub from every write",
		misses:    "a miss takes each process 2 Redis round trips (acquire, then commit or re-read) whatever its goroutine count, each running one script of a few server commands",
		writes:    "Store and Delete issue a fencing token, write and publish, one round trip each",
		guarantee: "the loader runs once per key per lease epoch for all processes (go-redis/cache's Once runs it once per process, a plain GET-then-SET cache-aside once per goroutine that misses), waiters are woken by the commit's notification, a loader's error is shared with every process, and a holder that crashes is taken over within one lease",
		limits:    "redismap's guarantee is time-based, not exactly-once: the loader runs at most once per key per lease epoch on one Redis primary; a holder that outlives its lease, or a failover that loses it, lets a second loader run (only the current fencing token's commit is stored, the other caller gets ErrFenced). If two runs would be incorrect rather than wasteful, fence the side effects with FencingToken or use a consensus store (docs/redis.md)",
		shared:    true,
	},
}

// row returns the table's row for a constructor. Every name the rules use
// has one (TestRules_NameStrategiesOfTheTable).
func row(name string) strategy {
	for _, s := range strategyTable {
		if s.name == name {
			return s
		}
	}
	panic("advisor: no strategy " + name + " in the table")
}

// Strategies returns the names a [MeasureFunc] reports its cases under
// (Case.Impl), one per strategy -measure can replay in one process, in the
// order the advisor prefers them on a tie: "New", "NewSyncMap", "NewRWMap",
// "NewShardedMap", "NewSnapshotMap".
func Strategies() []string {
	var out []string
	for _, s := range strategyTable {
		if s.impl != "" {
			out = append(out, s.impl)
		}
	}
	return out
}

// strategyName maps a Case.Impl such as "New" to its constructor,
// "safemap.New"; other names are kept as they are.
func strategyName(impl string) string {
	for _, s := range strategyTable {
		if s.impl != "" && s.impl == impl {
			return s.name
		}
	}
	return impl
}

// isStrategy reports whether a constructor is one -measure replays.
func isStrategy(name string) bool {
	return slices.ContainsFunc(strategyTable, func(s strategy) bool { return s.impl != "" && s.name == name })
}

// rankOf is a constructor's place in the table: its preference on a tie.
func rankOf(name string) int {
	if i := slices.IndexFunc(strategyTable, func(s strategy) bool { return s.name == name }); i >= 0 {
		return i
	}
	return len(strategyTable)
}

// givesSnapshots reports whether Range and All of a strategy see one point
// in time.
func givesSnapshots(name string) bool {
	return slices.ContainsFunc(strategyTable, func(s strategy) bool { return s.name == name && s.snapshot })
}

// inProcess returns the names of the strategies that keep their data in
// the process and satisfy keep.
func inProcess(keep func(strategy) bool) []string {
	var out []string
	for _, s := range strategyTable {
		if !s.shared && keep(s) {
			out = append(out, s.name)
		}
	}
	return out
}

// sharedTier is the strategy that shares data and loads across processes.
func sharedTier() strategy {
	i := slices.IndexFunc(strategyTable, func(s strategy) bool { return s.shared })
	return strategyTable[i]
}

// summary is a strategy in one sentence: "safemap.New is …".
func (s strategy) summary() string {
	return s.name + " is " + s.is
}

// iterationNote says what Range and All see under s.
func (s strategy) iterationNote() string {
	return fmt.Sprintf("Range and All on %s %s", s.name, s.rangeSees)
}

// capital starts a sentence with a capital letter.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(xs []string) string {
	return joinWith(xs, " and ")
}

// joinOr joins "a", "b" and "c" as "a, b or c".
func joinOr(xs []string) string {
	return joinWith(xs, " or ")
}

func joinWith(xs []string, last string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + last + xs[len(xs)-1]
}
