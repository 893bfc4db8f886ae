package advisor

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
)

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
	// slowLoader is the value-function cost from which a miss costs far
	// more than any map operation, so running the function once per
	// missing key matters more than the map's own speed.
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
	// unbounded and stale: the key set grows without bound, values go
	// stale this long after they are loaded (0: never).
	unbounded bool
	stale     time.Duration
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
		reads:     r,
		changes:   min(changes, 1),
		miss:      m,
		keySet:    w.KeySet,
		keys:      max(w.Keys, 0),
		conc:      conc,
		procs:     max(w.Processes, 1),
		snap:      w.NeedSnapshot,
		unbounded: w.Unbounded,
		stale:     max(w.StaleAfter, 0),
	}
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(max(x, 0), 1)
}

// rule is one branch of Decide: when it applies, the strategy it
// recommends and its runner-up, and why, in sentences built from the
// workload's facts and the strategies' rows of [strategyTable].
type rule struct {
	// name says when the rule applies, for tests and for reading.
	name string
	// applies reports whether the rule decides for f.
	applies func(f facts) bool
	// rec and runnerUp are constructors in strategyTable.
	rec, runnerUp string
	// why and runnerUpWhy explain rec and runnerUp for f.
	why, runnerUpWhy func(f facts) []string
	// warning, when set, is a problem no strategy solves under the rule.
	warning string
}

// rules are tried in order; the first that applies wins, and the last
// always applies. A strategy added to strategyTable is recommended by a
// rule placed before the ones it should win against.
var rules = []rule{
	{
		name: "snapshot needed, the map small and rarely changed: copy on write",
		applies: func(f facts) bool {
			return f.snap && atMost(f.changes, snapshotMaxChanges) && f.keys >= 1 && f.keys <= snapshotMaxKeys
		},
		rec: stratSnapshot, runnerUp: stratRW,
		why: func(f facts) []string {
			snap := row(stratSnapshot)
			return []string{
				fmt.Sprintf("You need a point-in-time view of all entries, and at most %s of operations change the map, on ~%d keys (the limits, ~1 %% of operations and ~100k keys, are judgements): Range and All on %s %s, so a consistent view costs nothing, and %s",
					format.Percent(f.changes), f.keys, snap.name, snap.rangeSees, snap.reads),
				capital(snap.writes) + ": apply changes in batches with StoreAll, and fill it that way too",
			}
		},
		runnerUpWhy: func(facts) []string {
			rw := row(stratRW)
			return []string{fmt.Sprintf("Range and All on %s also %s, and writers wait while it copies: prefer it if the map changes more often than you iterate over it", rw.name, rw.rangeSees)}
		},
	},
	{
		name:    "snapshot needed, the map too large or changed too often to copy",
		applies: func(f facts) bool { return f.snap },
		rec:     stratRW, runnerUp: stratSnapshot,
		why: func(f facts) []string {
			rw := row(stratRW)
			return []string{
				fmt.Sprintf("You need a point-in-time view of all entries, but %s: %s would copy the whole map on every change", snapshotObstacle(f), stratSnapshot),
				fmt.Sprintf("Range and All on %s %s, once per iteration rather than per change; in %s, %s", rw.name, rw.rangeSees, rw.name, rw.writes),
			}
		},
		runnerUpWhy: func(facts) []string {
			return []string{fmt.Sprintf("%s also gives point-in-time views, and wins if you iterate about as often as the map changes, or can batch changes with StoreAll: it copies on every change (or batch), %s on every Range", stratSnapshot, stratRW)}
		},
		warning: "No strategy gives cheap point-in-time snapshots at this rate of change and size: every NewRWMap Range copies all entries while writers wait, and its one lock serialises writers. If that is too slow, snapshot less often, or keep versioned immutable copies (batch the changes and publish each batch with SnapshotMap.StoreAll, one copy per batch)",
	},
	{
		name:    "no snapshot needed, the key set grows without bound or values go stale: a bounded, expiring cache",
		applies: func(f facts) bool { return f.needsCache() },
		rec:     stratCache, runnerUp: stratNew,
		why: func(f facts) []string {
			c := row(stratCache)
			var rs []string
			if f.unbounded {
				bound := "the number of entries you can afford to keep"
				if f.keys > 0 {
					bound = fmt.Sprintf("about the ~%d keys you expect to be live, or the number you can afford to keep", f.keys)
				}
				rs = append(rs, fmt.Sprintf("The key set grows without bound: %s, so with any of them memory grows for as long as the process runs. Bound it with %s(cache.Options{MaxEntries: …}), MaxEntries being %s: %s",
					"every map keeps each key until you delete it", c.name, bound, c.writes))
			}
			if f.stale > 0 {
				rs = append(rs, fmt.Sprintf("Values go stale ~%s after they are loaded: with %s(cache.Options{TTL: %s}) an entry is absent for every method once its TTL has passed, so the next call loads it afresh (%s); set RefreshAfter below the TTL to reload hot entries in the background instead of making callers wait at each expiry",
					format.Duration(f.stale), c.name, goDuration(f.stale), c.misses))
			}
			return append(rs, c.summary(), "Reads: "+c.reads)
		},
		runnerUpWhy: func(f facts) []string {
			n := row(stratNew)
			return []string{fmt.Sprintf("%s, if you can delete keys yourself when they leave or go stale (a Delete during a load discards the loaded value, so an invalidation wins): it never evicts or expires anything, and %s", n.name, n.reads)}
		},
	},
	{
		name:    "no snapshot needed, copying on change costs under an entry per operation, most reads hit",
		applies: func(f facts) bool { return f.copyCheap() && f.miss < missHeavy },
		rec:     stratSnapshot, runnerUp: stratNew,
		why: func(f facts) []string {
			snap := row(stratSnapshot)
			var rs []string
			if f.changes == 0 {
				rs = append(rs, fmt.Sprintf("The map is never changed once it is filled: in %s, %s, and the map's size does not matter for reads", snap.name, snap.reads))
				rs = append(rs, capital(snap.writes)+": fill it with StoreAll")
			} else {
				rs = append(rs, fmt.Sprintf("The map changes in at most %s of operations on ~%d keys: copying it on every change costs about %s entries per operation on average, under the ~1 entry a lookup costs (a judgement), so %s's reads come almost for free: %s",
					format.Percent(f.changes), f.keys, format.Number(f.changes*float64(f.keys)), snap.name, snap.reads))
				rs = append(rs, capital(snap.writes)+": apply changes in batches with StoreAll")
			}
			return append(rs, fmt.Sprintf("Most reads hit (misses %s), and Range and All on %s %s", format.Percent(f.miss), snap.name, snap.rangeSees))
		},
		runnerUpWhy: func(facts) []string {
			n := row(stratNew)
			return []string{fmt.Sprintf("%s keeps writes cheap however large the map grows (%s) and reads without a lock (%s): choose it if the map may be changed more often or grow larger than it is now", n.name, n.writes, n.reads)}
		},
	},
	{
		name:    "no snapshot needed, copying on change costs under an entry per operation, most reads miss",
		applies: func(f facts) bool { return f.copyCheap() },
		rec:     stratNew, runnerUp: stratSnapshot,
		why: func(f facts) []string {
			n, snap := row(stratNew), row(stratSnapshot)
			return []string{
				fmt.Sprintf("Most reads miss (%s) and the map rarely changes, so the cost of a miss decides: in %s, %s, while in %s, %s (-measure ranks the two on your machine)", format.Percent(f.miss), n.name, n.misses, snap.name, snap.misses),
				n.summary(),
			}
		},
		runnerUpWhy: func(facts) []string {
			snap := row(stratSnapshot)
			return []string{fmt.Sprintf("%s: %s, and Range and All on it %s; %s", snap.name, snap.reads, snap.rangeSees, snap.misses)}
		},
	},
	{
		name:    "a handful of keys and goroutines",
		applies: func(f facts) bool { return f.keys >= 1 && f.keys < tinyKeys && f.conc <= lowConcurrency },
		rec:     stratNew, runnerUp: stratRW,
		why: func(f facts) []string {
			return []string{
				fmt.Sprintf("The map holds ~%d keys and %d goroutines use it (under ~64 keys and at most ~4 goroutines, judgements): contention is low, so every strategy is fast and the choice hardly matters; New stays the default", f.keys, f.conc),
				row(stratNew).summary(),
			}
		},
		runnerUpWhy: func(facts) []string {
			rw := row(stratRW)
			return []string{fmt.Sprintf("%s, %s, is as good at this size and concurrency, and the simplest and most compact; Range and All on it %s", rw.name, rw.is, rw.rangeSees)}
		},
	},
	{
		name:    "write-heavy: a quarter or more of operations change the map",
		applies: func(f facts) bool { return atMost(writeHeavy, f.changes) },
		rec:     stratNew, runnerUp: stratSharded,
		why: func(f facts) []string {
			n := row(stratNew)
			return []string{
				fmt.Sprintf("Up to %s of operations change the map (writes, and misses that insert), so what a write costs decides: in %s, %s", format.Percent(f.changes), n.name, n.writes),
				n.summary(),
			}
		},
		runnerUpWhy: func(facts) []string {
			sh := row(stratSharded)
			return []string{fmt.Sprintf("%s is the usual alternative for write-heavy maps: %s; %s", sh.name, sh.is, sh.writes)}
		},
	},
	{
		name:    "everything else",
		applies: func(facts) bool { return true },
		rec:     stratNew, runnerUp: stratSharded,
		why: func(f facts) []string {
			n := row(stratNew)
			return []string{
				fmt.Sprintf("Reads are %s of operations and up to %s change the map (writes, and misses that insert), and %s", format.Percent(f.reads), format.Percent(f.changes), n.summary()),
				"Reads: " + n.reads,
				"Writes: " + n.writes,
			}
		},
		runnerUpWhy: func(facts) []string {
			sh := row(stratSharded)
			return []string{fmt.Sprintf("%s, %s: %s; %s; Range and All on it %s", sh.name, sh.is, sh.reads, sh.writes, sh.rangeSees)}
		},
	},
}

// rule returns the first rule that applies to f.
func (f facts) rule() *rule {
	for i := range rules {
		if rules[i].applies(f) {
			return &rules[i]
		}
	}
	panic("advisor: no rule applies; the last rule must always apply")
}

// goDuration writes d as a Go expression: 5 * time.Minute.
func goDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}} {
		if d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return fmt.Sprintf("%d * %s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("time.Duration(%d)", int64(d))
}

// needsCache reports whether a map that keeps every key until it is
// deleted does not fit: the key set grows without bound or values go
// stale.
func (f facts) needsCache() bool {
	return f.unbounded || f.stale > 0
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

// Decide recommends a strategy for w by the rules below, tried in order;
// the first that applies picks the recommendation and the runner-up. Let
// changes be the fraction of operations that may change the map: the
// writes, plus, in a growing or churning key set, the read misses (a
// get-or-create call inserts on a miss).
//
//	need snapshot, changes ≤ 1 %, 1 ≤ keys ≤ 100k      → NewSnapshotMap, runner-up NewRWMap
//	need snapshot, otherwise                             → NewRWMap, runner-up NewSnapshotMap (+ warning)
//	key set unbounded, or values stale after a time      → cache.New (MaxEntries, TTL), runner-up New
//	changes = 0, or changes ≤ 1 %, keys ≤ 100k and
//	  changes × keys ≤ 1 entry copied per operation:
//	    misses < 50 %                                    → NewSnapshotMap, runner-up New
//	    misses ≥ 50 %                                    → New, runner-up NewSnapshotMap
//	1 ≤ keys < 64 and goroutines ≤ 4                     → New, runner-up NewRWMap
//	changes ≥ 25 %                                       → New, runner-up NewShardedMap
//	otherwise                                            → New, runner-up NewShardedMap
//
// The reasons state what each strategy guarantees, locks and costs, in
// words; they quote no benchmark figure (run [DecideMeasured] for figures
// from this machine). Independently of the rule, Decide explains what
// iteration sees, what a churning key set, a slow (≥ 10 µs) or failing
// value function mean, and warns when several processes must share the
// map, when loads fail often (≥ 5 %), when the key count is unknown, and
// when a snapshot need keeps a workload that needs a bound or expiry off
// the cache.
// WouldChange is found by re-running the rules on altered workloads. Keys
// = 0 (unknown) counts as large; Goroutines = 0 means GOMAXPROCS.
// Out-of-range fields are clamped: call [Workload.Validate] first to
// reject them.
func Decide(w Workload) Advice {
	return acrossProcesses(decideLocal(w), factsOf(w))
}

// decideLocal is Decide for the map of one process, whatever w.Processes.
func decideLocal(w Workload) Advice {
	f := factsOf(w)
	r := f.rule()
	a := Advice{Workload: w, Basis: BasisRules}
	a.Recommended, a.RunnerUp = r.rec, r.runnerUp
	a.Reasons = r.why(f)
	a.Reasons = append(a.Reasons, strategyNotes(a.Recommended, w)...)
	a.Reasons = append(a.Reasons, loaderNotes(w, a.Recommended)...)
	a.RunnerUpWhy = r.runnerUpWhy(f)
	a.WouldChange = wouldChange(f, a.Recommended)
	a.WouldChange = append(a.WouldChange, staticWouldChange(a.Recommended, f, true)...)
	a.Warnings = warnings(r, f, w)
	return a
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
	return joinAnd(parts)
}

// strategyNotes are the reasons that depend on the recommended strategy
// as well as the workload: iteration and churn.
func strategyNotes(rec string, w Workload) []string {
	var notes []string
	s := row(rec)
	if w.NeedIteration && !w.NeedSnapshot && s.rangeSees != "" {
		notes = append(notes, "You iterate over the map: "+s.iterationNote())
	}
	if w.KeySet == Churning && s.shrinks {
		var others []string
		for _, o := range strategyTable {
			if o.name != s.name && !o.shared {
				others = append(others, o.name+" "+o.churn)
			}
		}
		notes = append(notes, fmt.Sprintf("The key set churns: %s %s. By contrast, %s", s.name, s.churn, strings.Join(others, "; ")))
	}
	return notes
}

// growthWarning is the warning for a growing key set when rec keeps every
// key it is given: memory grows with the keys. The remedies name the
// in-process strategies that evict, when the table has any.
func growthWarning(rec string, f facts) string {
	size := ""
	if f.keys > 0 {
		size = fmt.Sprintf(" (~%d keys now, each holding its key and value and what they point to)", f.keys)
	}
	evicting := inProcess(func(s strategy) bool { return s.evicts })
	keeps, bound := "none of safemap's in-process maps (nor the built-in map, sync.Map or the peers measured) evicts or expires entries",
		"use an eviction-capable cache (size- or time-bounded, such as otter or ristretto) in front of the source"
	if len(evicting) > 0 {
		keeps = rec + " does not evict or expire entries"
		bound = "use " + joinOr(evicting) + ", which bounds its own memory"
	}
	return "The key set grows: " + keeps + ", so memory grows with every new key and is never given back while the keys stay" + size +
		". If the keys are unbounded (user IDs, URLs, request keys; say so with -unbounded), bound the map: delete keys you no longer need, " + bound + ", " +
		"or keep the data in the distributed tier (safemap's Redis-backed redismap module, with TTLs), using an in-process map only for the hot set"
}

// cacheWarning is the warning for a workload that needs a bound or expiry
// when the rules recommend a strategy that has neither (one that gives
// point-in-time snapshots, which the cache does not).
func cacheWarning(rec string, f facts) string {
	var needs []string
	if f.unbounded {
		needs = append(needs, "the key set grows without bound")
	}
	if f.stale > 0 {
		needs = append(needs, "values go stale ~"+format.Duration(f.stale)+" after they are loaded")
	}
	return fmt.Sprintf("%s, but %s keeps every key until it is deleted and never expires a value, and %s, which would, gives no point-in-time snapshot: delete keys yourself when they leave or go stale (a Delete during a load discards the loaded value), or drop the snapshot need and use %s",
		capital(joinAnd(needs)), rec, stratCache, stratCache)
}

// counterNote is the reason for workloads that update existing keys
// often: read-modify-write belongs in Compute, and what Compute locks
// under rec matters.
func counterNote(f facts, rec string) (string, bool) {
	writes := 1 - f.reads
	if writes < writeHeavy && (f.keySet != Static || writes < 0.01) {
		return "", false
	}
	note := fmt.Sprintf("%s of operations write: if those writes are read-modify-write updates of existing keys (counters, sums, appending to a value), "+
		"make each one a single Compute call, which runs your function atomically for its key; Load followed by Store loses updates when two goroutines change one key at once", format.Percent(writes))
	if s := row(rec); s.computeHolds != "" {
		note += fmt.Sprintf(". While the function runs, Compute on %s holds %s", s.name, s.computeHolds)
	}
	return note, true
}

// loaderNotes are the reasons about the value function and the kind of
// writes; all but the Compute note hold for every strategy.
func loaderNotes(w Workload, rec string) []string {
	var notes []string
	if n, ok := counterNote(factsOf(w), rec); ok {
		notes = append(notes, n)
	}
	if w.LoaderCost >= slowLoader {
		notes = append(notes, fmt.Sprintf("The value function takes ~%s per miss (≥ ~10 µs, a judgement: far longer than any map operation): what matters is that it runs once per missing key. Call it through LoadOrCompute or LoadOrTryCompute, not Load then Store: every safemap strategy runs it at most once per absence however many goroutines miss the key together, with no lock held, so a slow load never stalls other keys", format.Duration(w.LoaderCost)))
	}
	if w.LoaderFailRate > 0 {
		notes = append(notes, fmt.Sprintf("%s of value-function calls fail: with LoadOrTryCompute an error stores nothing and is returned to every caller waiting on that computation, so a failing backend is called once per wave of misses, not once per waiter", format.Percent(w.LoaderFailRate)))
	}
	return notes
}

func warnings(r *rule, f facts, w Workload) []string {
	var ws []string
	if r.warning != "" {
		ws = append(ws, r.warning)
	}
	if w.LoaderFailRate >= highFailRate {
		ws = append(ws, fmt.Sprintf("%s of value-function calls fail (≥ ~5 %%, a judgement): nothing is cached on failure, so every new call for a failing key calls the backend again. Cache negative results (store a \"not found\" marker with an expiry) and add backoff or a circuit breaker to the value function", format.Percent(w.LoaderFailRate)))
	}
	if f.keySet == Growing && !f.unbounded && !row(r.rec).evicts {
		ws = append(ws, growthWarning(r.rec, f))
	}
	if f.needsCache() && !row(r.rec).evicts {
		ws = append(ws, cacheWarning(r.rec, f))
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
		alt := g.rule().rec
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
			if alt := g.rule().rec; alt != snapAlt {
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
	if !f.needsCache() {
		g = f
		g.unbounded = true
		try(g, "the key set grew without bound (-unbounded) or values went stale after a known time (-stale-after)")
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
		out = append(out, "if several processes had to share the data and its loads → "+sharedTier().name+" (safemap's Redis tier: one loader call per key for all of them; see -processes)")
	}
	if fromRules {
		out = append(out, "if measuring your workload on your machine (-measure) ranked another strategy first → that one: these rules rest on the strategies' cost models, not on figures from your machine")
	}
	return out
}
