package advisor

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
)

// The strategies, by constructor.
const (
	stratNew      = "safemap.New"
	stratSync     = "safemap.NewSyncMap"
	stratRW       = "safemap.NewRWMap"
	stratSharded  = "safemap.NewShardedMap"
	stratSnapshot = "safemap.NewSnapshotMap"
)

// Strategies returns the names a [MeasureFunc] reports its cases under
// (Case.Impl), one per strategy, in the order the advisor prefers them on a
// tie: "New", "NewSyncMap", "NewRWMap", "NewShardedMap", "NewSnapshotMap".
func Strategies() []string {
	return []string{"New", "NewSyncMap", "NewRWMap", "NewShardedMap", "NewSnapshotMap"}
}

// The thresholds of the rules. None of them is measured: each is a
// judgement, and the reason texts say so.
const (
	// snapshotMaxChanges and snapshotMaxKeys bound where a copy-on-write
	// map is worth it: every change copies all entries, so it suits maps
	// changed in at most ~1 % of operations and holding at most ~100k keys
	// (configuration, routing tables), where one copy stays short.
	snapshotMaxChanges = 0.01
	snapshotMaxKeys    = 100_000
	// maxCopiedPerOp bounds the entries a copy-on-write map copies per
	// operation, amortised (changes × keys), when no snapshot is needed:
	// above about one entry copied per operation, copying costs more than
	// the lock-free read saves.
	maxCopiedPerOp = 1.0
	// tinyKeys and lowConcurrency mark a map too small and too lightly
	// used for the strategy to matter.
	tinyKeys       = 64
	lowConcurrency = 4
	// writeHeavy is the fraction of operations changing the map from
	// which the workload counts as write-heavy.
	writeHeavy = 0.25
	// missHeavy is the miss rate from which misses dominate reads.
	missHeavy = 0.5
	// slowLoader is the value-function cost from which a miss costs
	// hundreds of map operations (a Load costs tens of ns).
	slowLoader = 10 * time.Microsecond
	// highFailRate is the loader failure rate from which retries of
	// failing keys become a load on the backend worth designing for.
	highFailRate = 0.05
)

// facts are what the rules look at, derived from a Workload.
type facts struct {
	reads   float64 // fraction of operations that read
	changes float64 // upper bound on the fraction of operations that change the map
	miss    float64
	keySet  KeySet
	keys    int // 0: unknown
	conc    int // goroutines, GOMAXPROCS resolved
	procs   int
	snap    bool
}

func factsOf(w Workload) facts {
	r, m := clamp01(w.ReadFraction), clamp01(w.MissRate)
	changes := 1 - r
	if w.KeySet != Static {
		changes += r * m // a miss in a growing key set may insert
	}
	conc := w.Goroutines
	if conc <= 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	return facts{
		reads:   r,
		changes: min(changes, 1),
		miss:    m,
		keySet:  w.KeySet,
		keys:    max(w.Keys, 0),
		conc:    conc,
		procs:   max(w.Processes, 1),
		snap:    w.NeedSnapshot,
	}
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(max(x, 0), 1)
}

// rule is the branch of Decide that picks the recommendation and the
// runner-up. The rules are tried in this order; the first that applies
// wins.
type rule int

const (
	// snapshotCopy: a point-in-time view is needed and the map changes
	// rarely and is small enough that copying it on every change is cheap.
	snapshotCopy rule = iota
	// snapshotLocked: a point-in-time view is needed but the map changes
	// too often, or is too large, to copy on every change.
	snapshotLocked
	// copyCheapHits: no snapshot needed, the map is read-only once filled
	// or changed so rarely that copying it costs under one entry per
	// operation, and most reads hit.
	copyCheapHits
	// copyCheapMisses: as copyCheapHits, but most reads miss.
	copyCheapMisses
	// tiny: a handful of keys used by a few goroutines.
	tiny
	// writeHeavy: a quarter or more of operations change the map.
	writeHeavyRule
	// general: everything else.
	general
)

func (f facts) rule() rule {
	switch {
	case f.snap && atMost(f.changes, snapshotMaxChanges) && f.keys >= 1 && f.keys <= snapshotMaxKeys:
		return snapshotCopy
	case f.snap:
		return snapshotLocked
	case f.copyCheap() && f.miss < missHeavy:
		return copyCheapHits
	case f.copyCheap():
		return copyCheapMisses
	case f.keys >= 1 && f.keys < tinyKeys && f.conc <= lowConcurrency:
		return tiny
	case atMost(writeHeavy, f.changes):
		return writeHeavyRule
	}
	return general
}

// copyCheap reports whether a copy-on-write map pays without a snapshot
// being needed: the map never changes, or changes in at most ~1 % of
// operations, holds at most ~100k keys, and copies at most about one entry
// per operation on average.
func (f facts) copyCheap() bool {
	if f.changes == 0 {
		return true
	}
	return atMost(f.changes, snapshotMaxChanges) && f.keys >= 1 && f.keys <= snapshotMaxKeys &&
		atMost(f.changes*float64(f.keys), maxCopiedPerOp)
}

// atMost reports whether x ≤ limit, allowing for rounding: 1 - 0.99 is
// 1 % even though it computes as 0.010000000000000009.
func atMost(x, limit float64) bool {
	return x <= limit*(1+1e-9)
}

// picks returns the recommendation and the runner-up of a rule.
func (r rule) picks() (rec, runnerUp string) {
	switch r {
	case snapshotCopy:
		return stratSnapshot, stratRW
	case snapshotLocked:
		return stratRW, stratSnapshot
	case copyCheapHits:
		return stratSnapshot, stratNew
	case copyCheapMisses:
		return stratNew, stratSnapshot
	case tiny:
		return stratNew, stratRW
	}
	return stratNew, stratSharded
}

// Decide recommends a strategy for w by the rules below, tried in order;
// the first that applies picks the recommendation and the runner-up. Let
// changes be the fraction of operations that may change the map: the
// writes, plus, in a growing or churning key set, the read misses (a
// get-or-create call inserts on a miss).
//
//	need snapshot, changes ≤ 1 %, 1 ≤ keys ≤ 100k      → NewSnapshotMap, runner-up NewRWMap
//	need snapshot, otherwise                             → NewRWMap, runner-up NewSnapshotMap (+ warning)
//	changes = 0, or changes ≤ 1 %, keys ≤ 100k and
//	  changes × keys ≤ 1 entry copied per operation:
//	    misses < 50 %                                    → NewSnapshotMap, runner-up New
//	    misses ≥ 50 %                                    → New, runner-up NewSnapshotMap
//	1 ≤ keys < 64 and goroutines ≤ 4                     → New, runner-up NewRWMap
//	changes ≥ 25 %                                       → New, runner-up NewShardedMap
//	otherwise                                            → New, runner-up NewShardedMap
//
// Independently of the rule, Decide explains what iteration sees, what a
// churning key set, a slow (≥ 10 µs) or failing value function mean, and
// warns when several processes must share the map, when loads fail often
// (≥ 5 %), and when the key count is unknown. WouldChange is found by
// re-running the rules on altered workloads. Keys = 0 (unknown) counts as
// large; Goroutines = 0 means GOMAXPROCS. Out-of-range fields are clamped:
// call [Workload.Validate] first to reject them.
func Decide(w Workload) Advice {
	return acrossProcesses(decideLocal(w), factsOf(w))
}

// decideLocal is Decide for the map of one process, whatever w.Processes.
func decideLocal(w Workload) Advice {
	f := factsOf(w)
	r := f.rule()
	a := Advice{Workload: w, Basis: BasisRules}
	a.Recommended, a.RunnerUp = r.picks()
	a.Reasons = ruleReasons(r, f)
	a.Reasons = append(a.Reasons, strategyNotes(a.Recommended, w)...)
	a.Reasons = append(a.Reasons, loaderNotes(w)...)
	a.RunnerUpWhy = runnerUpWhy(r, f)
	a.WouldChange = wouldChange(f, a.Recommended)
	a.WouldChange = append(a.WouldChange, staticWouldChange(a.Recommended, f, true)...)
	a.Warnings = warnings(r, f, w)
	return a
}

// newStrengths is why New is the default, from its design and BENCHMARKS.md.
var newStrengths = []string{
	"safemap.New is the default: its reads take no lock and never allocate, keys and values live inline in the table (no allocation per entry), and the table grows and shrinks one bucket chain at a time while other goroutines go on",
	"BENCHMARKS.md's mapbench run (2 shared cores, 100k keys, 2 goroutines): New's Load takes ~22–28 ns against 48–60 ns for NewShardedMap and NewRWMap and ~100 ns for NewSyncMap, and a 90/9/1 read/insert/delete mix ~23 ns against 45–96 ns; inserting new keys through LoadOrCompute is where it is slowest relative to its own reads (~110–210 ns, with NewRWMap and NewShardedMap at 145–354 ns), so run with -measure to rank them on your machine",
}

func ruleReasons(r rule, f facts) []string {
	switch r {
	case snapshotCopy:
		return []string{
			fmt.Sprintf("You need a point-in-time view of all entries, and at most %s of operations change the map, on ~%d keys (the limits, ~1 %% of operations and ~100k keys, are judgements): NewSnapshotMap's Range and All iterate one immutable snapshot, so a consistent view costs nothing, and its reads take no lock and never allocate", format.Percent(f.changes), f.keys),
			"Every change copies the whole map (O(n) time and an n-entry map of garbage) under one writer mutex; apply batches with StoreAll, which copies once per batch, and fill it that way too (one Store per key costs O(n²))",
		}
	case snapshotLocked:
		return []string{
			fmt.Sprintf("You need a point-in-time view of all entries, but %s: NewSnapshotMap would copy the whole map on every change", snapshotObstacle(f)),
			"NewRWMap's Range and All copy every entry under its read lock: a point-in-time snapshot that costs O(n) time and memory per iteration rather than per write, while writes stay O(1)",
		}
	case copyCheapHits:
		rs := []string{}
		if f.changes == 0 {
			rs = append(rs, "The map is never changed once it is filled: NewSnapshotMap's Load is one atomic pointer load plus a built-in map lookup, takes no lock and never allocates — the `builtin` lower bound of BENCHMARKS.md plus one load — and the map's size does not matter for reads")
			rs = append(rs, "Fill it with StoreAll, which copies the map once per batch; one Store per key would cost O(n²)")
		} else {
			rs = append(rs, fmt.Sprintf("The map changes in at most %s of operations on ~%d keys: copying it on every change costs about %s entries per operation on average, under the ~1 entry a lookup costs (a judgement), so NewSnapshotMap's lock-free, allocation-free reads (an atomic pointer load plus a built-in map lookup) come almost for free", format.Percent(f.changes), f.keys, format.Number(f.changes*float64(f.keys))))
			rs = append(rs, "Every change still copies the whole map under one writer mutex: apply batches with StoreAll (one copy per batch)")
		}
		return append(rs, fmt.Sprintf("Most reads hit (misses %s): a hit in a built-in map is as cheap as it gets, and Range and All see a point-in-time snapshot at no cost", format.Percent(f.miss)))
	case copyCheapMisses:
		return append([]string{
			fmt.Sprintf("Most reads miss (%s) and the map rarely changes: New answers a miss from one 8-byte word of a dense array — 11.9 ns against ~31 ns for a built-in map in BENCHMARKS.md (Load on 1M keys, 99 %% misses) — so it beats even NewSnapshotMap's lock-free built-in map lookup here", format.Percent(f.miss)),
		}, newStrengths...)
	case tiny:
		return append([]string{
			fmt.Sprintf("The map holds ~%d keys and %d goroutines use it (under ~64 keys and at most ~4 goroutines, judgements): contention is low, so every strategy is fast and the choice hardly matters; New stays the default", f.keys, f.conc),
		}, newStrengths...)
	case writeHeavyRule:
		return append([]string{
			fmt.Sprintf("Up to %s of operations change the map (writes, and misses that insert): New's writers lock one bucket chain (a handful of keys) while readers go on without waiting, and an insert allocates only an occasional overflow bucket", format.Percent(f.changes)),
		}, newStrengths...)
	}
	return append([]string{
		fmt.Sprintf("Reads are %s of operations and up to %s change the map (writes, and misses that insert): New serves reads without locks and writes under one bucket-chain lock, with no allocation per entry", format.Percent(f.reads), format.Percent(f.changes)),
	}, newStrengths...)
}

// snapshotObstacle says why a copy-on-write map does not fit.
func snapshotObstacle(f facts) string {
	var parts []string
	if !atMost(f.changes, snapshotMaxChanges) {
		parts = append(parts, fmt.Sprintf("up to %s of operations change the map (more than ~1 %%, a judgement)", format.Percent(f.changes)))
	}
	switch {
	case f.keys == 0:
		parts = append(parts, "the key count is unknown")
	case f.keys > snapshotMaxKeys:
		parts = append(parts, fmt.Sprintf("it holds ~%d keys (more than ~100k, a judgement)", f.keys))
	}
	if len(parts) == 2 {
		return parts[0] + " and " + parts[1]
	}
	return parts[0]
}

func runnerUpWhy(r rule, f facts) []string {
	switch r {
	case snapshotCopy:
		return []string{"NewRWMap's Range is also a point-in-time snapshot, copied under its read lock: O(n) per iteration instead of per change, and writers wait while it copies; prefer it if the map changes more often than you iterate over it"}
	case snapshotLocked:
		return []string{"NewSnapshotMap also gives point-in-time views, and wins if you iterate about as often as the map changes, or can batch changes with StoreAll: it copies on every change (or batch), NewRWMap on every Range"}
	case copyCheapHits:
		return []string{"safemap.New keeps writes O(1) and is close to a built-in map on reads (1.03× at 99 % misses in BENCHMARKS.md): choose it if the map may be changed more often or grow larger than it is now"}
	case copyCheapMisses:
		return []string{"NewSnapshotMap reads a built-in map with no lock and gives Range a point-in-time snapshot for free; its misses cost a full built-in map lookup"}
	case tiny:
		return []string{"NewRWMap, one RWMutex over a built-in map, is as good at this size and concurrency, and the simplest and most compact; its Range is a point-in-time copy"}
	case writeHeavyRule:
		return []string{"NewShardedMap is the usual alternative for write-heavy maps: built-in maps behind per-shard read-write locks (4 × GOMAXPROCS shards by default), so writers to different shards never wait for each other, with no allocation per entry and a predictable cost"}
	}
	return []string{"NewShardedMap: built-in maps behind per-shard read-write locks, with no allocation per entry (unlike NewSyncMap); readers share a shard's read lock, a writer blocks about 1/shards of the keys, and Range copies one shard at a time"}
}

// rangeSemantics is what Range and All see under each strategy (README).
var rangeSemantics = map[string]string{
	stratNew:      "Range and All on New visit one bucket chain at a time, each at one instant: every key present throughout is visited exactly once, but the whole is not a snapshot",
	stratSync:     "Range and All on NewSyncMap are weakly consistent, like sync.Map's: a write made during the iteration may or may not be seen",
	stratRW:       "Range and All on NewRWMap copy every entry under the read lock: a point-in-time snapshot, at O(n) time and memory per iteration",
	stratSharded:  "Range and All on NewShardedMap copy one shard at a time: each shard is seen at one instant, different shards at different instants",
	stratSnapshot: "Range and All on NewSnapshotMap iterate one point-in-time snapshot without copying it",
}

// strategyNotes are the reasons that depend on the recommended strategy
// as well as the workload: iteration and churn.
func strategyNotes(rec string, w Workload) []string {
	var notes []string
	if w.NeedIteration && !w.NeedSnapshot {
		if s, ok := rangeSemantics[rec]; ok {
			notes = append(notes, "You iterate over the map: "+s)
		}
	}
	if w.KeySet == Churning && rec == stratNew {
		notes = append(notes, "The key set churns: New reuses freed slots without allocating and shrinks its table when it falls under 3/32 full (docs/design.md), while the built-in maps inside NewRWMap and NewShardedMap never shrink and NewSyncMap allocates on every insert")
	}
	return notes
}

// growthWarning is the warning for a growing key set: nothing here
// evicts, so memory grows with the keys.
func growthWarning(f facts) string {
	size := ""
	if f.keys > 0 {
		size = fmt.Sprintf(" (~%d keys now; at New's ~38–48 B per int→int entry in BENCHMARKS.md, plus what your keys and values point to)", f.keys)
	}
	return "The key set grows: none of safemap's in-process maps (nor the built-in map, sync.Map or the peers measured) evicts or expires entries, so memory grows with every new key and is never given back while the keys stay" + size +
		". If the keys are unbounded (user IDs, URLs, request keys), bound the map: delete keys you no longer need, use an eviction-capable cache (size- or time-bounded, such as otter or ristretto) in front of the source, " +
		"or keep the data in the distributed tier (safemap's Redis-backed redismap module, with TTLs), using an in-process map only for the hot set"
}

// counterNote is the reason for workloads that update existing keys
// often: read-modify-write belongs in Compute.
func counterNote(f facts) (string, bool) {
	writes := 1 - f.reads
	if writes < writeHeavy && (f.keySet != Static || writes < 0.01) {
		return "", false
	}
	return fmt.Sprintf("%s of operations write: if those writes are read-modify-write updates of existing keys (counters, sums, appending to a value), "+
		"make each one a single Compute call, which runs your function atomically for its key; Load followed by Store loses updates when two goroutines change one key at once", format.Percent(writes)), true
}

// loaderNotes are the reasons about the value function and the kind of
// writes, which hold for every strategy.
func loaderNotes(w Workload) []string {
	var notes []string
	if n, ok := counterNote(factsOf(w)); ok {
		notes = append(notes, n)
	}
	if w.LoaderCost >= slowLoader {
		notes = append(notes, fmt.Sprintf("The value function takes ~%s per miss (≥ ~10 µs, a judgement: hundreds of map operations): what matters is that it runs once per missing key. Call it through LoadOrCompute or LoadOrTryCompute, not Load then Store: every safemap strategy runs it at most once per absence however many goroutines miss the key together, with no lock held, so a slow load never stalls other keys", format.Duration(w.LoaderCost)))
	}
	if w.LoaderFailRate > 0 {
		notes = append(notes, fmt.Sprintf("%s of value-function calls fail: with LoadOrTryCompute an error stores nothing and is returned to every caller waiting on that computation, so a failing backend is called once per wave of misses, not once per waiter", format.Percent(w.LoaderFailRate)))
	}
	return notes
}

func warnings(r rule, f facts, w Workload) []string {
	var ws []string
	if r == snapshotLocked {
		ws = append(ws, "No strategy gives cheap point-in-time snapshots at this rate of change and size: every NewRWMap Range copies all entries while writers wait, and its one lock serialises writers. If that is too slow, snapshot less often, or keep versioned immutable copies (batch the changes and publish each batch with SnapshotMap.StoreAll, one copy per batch)")
	}
	if w.LoaderFailRate >= highFailRate {
		ws = append(ws, fmt.Sprintf("%s of value-function calls fail (≥ ~5 %%, a judgement): nothing is cached on failure, so every new call for a failing key calls the backend again. Cache negative results (store a \"not found\" marker with an expiry) and add backoff or a circuit breaker to the value function", format.Percent(w.LoaderFailRate)))
	}
	if f.keySet == Growing {
		ws = append(ws, growthWarning(f))
	}
	if f.keys == 0 {
		ws = append(ws, "The key count is unknown (keys = 0), so the rules assume it is large: NewSnapshotMap is considered only for a map never changed once filled, and the small-map rule does not apply. Give -keys for a better answer")
	}
	return ws
}

// wouldChange re-runs the rules on altered facts and lists each alteration
// that changes the recommendation.
func wouldChange(f facts, rec string) []string {
	var out []string
	try := func(g facts, cond string) string {
		alt, _ := g.rule().picks()
		if alt != rec {
			out = append(out, "if "+cond+" → "+alt)
		}
		return alt
	}
	// Keys clamped into the range a copy-on-write map is considered for.
	smallKeys, keysNote := f.keys, ""
	if f.keys == 0 || f.keys > snapshotMaxKeys {
		smallKeys, keysNote = snapshotMaxKeys, fmt.Sprintf(", on at most ~%d keys", snapshotMaxKeys)
	}

	g := f
	g.snap = !f.snap
	var snapAlt string
	if f.snap {
		try(g, "you no longer needed a point-in-time snapshot")
		g = f
		g.changes, g.keys = min(f.changes, snapshotMaxChanges), smallKeys
		if g != f {
			try(g, "at most 1 in 100 operations changed the map"+keysNote)
		}
	} else {
		snapAlt = try(g, "you needed a point-in-time snapshot of all entries")
		if !atMost(f.changes, snapshotMaxChanges) || keysNote != "" {
			g.changes, g.keys = min(f.changes, snapshotMaxChanges), smallKeys
			if alt, _ := g.rule().picks(); alt != snapAlt {
				try(g, "you needed a point-in-time snapshot and at most 1 in 100 operations changed the map"+keysNote)
			}
		}
	}

	if !f.snap {
		limit := min(snapshotMaxChanges, maxCopiedPerOp/float64(max(smallKeys, 1)))
		if !atMost(f.changes, limit) || keysNote != "" {
			g = f
			g.changes, g.keys = min(f.changes, limit), smallKeys
			try(g, fmt.Sprintf("at most 1 in %d operations changed the map (a write, or a miss that inserts)%s", int(math.Round(1/limit)), keysNote))
		}
		if f.keySet == Static && f.copyCheap() {
			g = f
			if f.miss < missHeavy {
				g.miss = 0.9
				try(g, "most reads missed")
			} else {
				g.miss = 0.1
				try(g, "most reads hit")
			}
		}
	}
	if f.changes < writeHeavy {
		g = f
		g.changes = writeHeavy
		try(g, "a quarter or more of operations changed the map")
	}
	if f.keys >= 1 && f.keys <= snapshotMaxKeys {
		g = f
		g.keys = 10 * snapshotMaxKeys
		try(g, fmt.Sprintf("the map grew past ~%d keys", snapshotMaxKeys))
	}
	return out
}

// staticWouldChange lists the changes no rule models: sync.Map semantics,
// several processes, and (for rule-based advice) a measurement.
func staticWouldChange(rec string, f facts, fromRules bool) []string {
	var out []string
	if rec != stratSync {
		out = append(out, "if code had to keep sync.Map's semantics (a drop-in for code written against sync.Map, whose Compute may run its function more than once) → "+stratSync)
	}
	if f.procs <= 1 {
		out = append(out, "if several processes had to share the data and its loads → "+stratRedis+" (safemap's Redis tier: one loader call per key for all of them; see -processes)")
	}
	if fromRules {
		out = append(out, "if measuring your workload on your machine (-measure) ranked another strategy first → that one: these rules rest on numbers from a 2-core machine")
	}
	return out
}
