package advisor

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// workloadGrid is a spread of workloads that reaches every rule, with and
// without iteration, churn, slow or failing loaders and several processes.
func workloadGrid() []Workload {
	var ws []Workload
	for _, reads := range []float64{1, 0.9999, 0.99, 0.9, 0.5} {
		for _, miss := range []float64{0, 0.1, 0.9} {
			for _, ks := range []KeySet{Static, Growing, Churning} {
				for _, keys := range []int{0, 20, 5000, 2_000_000} {
					for _, snap := range []bool{false, true} {
						w := with(func(w *Workload) {
							w.ReadFraction, w.MissRate, w.KeySet, w.Keys = reads, miss, ks, keys
							w.NeedIteration, w.NeedSnapshot = true, snap
							w.Goroutines = 2
						})
						ws = append(ws, w)
						w.Processes, w.LoaderCost, w.LoaderFailRate = 3, time.Millisecond, 0.1
						ws = append(ws, w)
					}
				}
			}
		}
	}
	return ws
}

// figure matches a benchmark figure in prose: a time per operation, bytes
// per entry, a ratio, or a citation of BENCHMARKS.md.
var figure = regexp.MustCompile(`BENCHMARKS\.md|\d ?(ns|µs/op|B/entry|B per)\b|\d(\.\d+)? ?[×x]\b|\d(\.\d+)?×`)

// TestDecide_QuotesNoBenchmarkFigure checks that advice from the rules
// states strategies' costs in words: a figure copied from a benchmark run
// would go stale with the next performance change. Figures come only from
// the run's own measurement (FromMeasurement).
func TestDecide_QuotesNoBenchmarkFigure(t *testing.T) {
	rulesSeen := map[string]bool{}
	for _, w := range workloadGrid() {
		rulesSeen[factsOf(w).rule().name] = true
		a := Decide(w)
		text := adviceText(a)
		if m := figure.FindString(text); m != "" {
			t.Fatalf("advice for %+v quotes %q:\n%s", w, m, text)
		}
	}
	for _, r := range rules {
		if !rulesSeen[r.name] {
			t.Errorf("the grid never reaches the rule %q", r.name)
		}
	}
}

// TestStrategyTable_RowsAreComplete checks the table the advice is built
// from: every rule names strategies of the table, every in-process row
// says what it costs, locks and iterates over, names are unique, and one
// row shares data across processes.
func TestStrategyTable_RowsAreComplete(t *testing.T) {
	names := map[string]bool{}
	shared := 0
	for _, s := range strategyTable {
		if names[s.name] {
			t.Errorf("%s has two rows", s.name)
		}
		names[s.name] = true
		if s.shared {
			shared++
			if s.guarantee == "" || s.limits == "" || s.impl != "" {
				t.Errorf("%s shares data across processes: got guarantee %q, limits %q, impl %q; want a guarantee, its limits and no impl", s.name, s.guarantee, s.limits, s.impl)
			}
			continue
		}
		for field, v := range map[string]string{"impl": s.impl, "is": s.is, "reads": s.reads, "misses": s.misses, "writes": s.writes,
			"computeHolds": s.computeHolds, "rangeSees": s.rangeSees, "churn": s.churn} {
			if v == "" {
				t.Errorf("%s: %s is empty", s.name, field)
			}
		}
	}
	if shared != 1 {
		t.Errorf("%d rows share data across processes; want 1", shared)
	}
	for _, r := range rules {
		if !names[r.rec] || !names[r.runnerUp] {
			t.Errorf("rule %q names %s and %s; want rows of the table", r.name, r.rec, r.runnerUp)
		}
	}
	if last := rules[len(rules)-1]; !last.applies(facts{}) {
		t.Errorf("the last rule, %q, does not always apply", last.name)
	}
	if got, want := Strategies(), []string{"New", "NewSyncMap", "NewRWMap", "NewShardedMap", "NewSnapshotMap"}; !slices.Equal(got, want) {
		t.Errorf("Strategies() = %q; want %q", got, want)
	}
}

// TestStrategyTable_ANewStrategyIsOneRowAndOneRule adds a bounded cache the
// way the cache package will join: one row and one rule. The advisor then
// recommends it where the rule says, describes it from its row, and its
// growth warning names it as the way to bound memory where another
// strategy is recommended.
func TestStrategyTable_ANewStrategyIsOneRowAndOneRule(t *testing.T) {
	savedTable, savedRules := strategyTable, rules
	t.Cleanup(func() { strategyTable, rules = savedTable, savedRules })

	const stratCache = "cache.New"
	strategyTable = append(slices.Clone(strategyTable), strategy{
		name: stratCache, impl: "Cache",
		is:           "a bounded, expiring cache with the same contract",
		reads:        "a hit takes no lock",
		misses:       "a miss takes no lock",
		writes:       "an insert may evict the least useful entry",
		computeHolds: "the key's bucket lock",
		rangeSees:    "visit the entries present, one bucket at a time",
		churn:        "evicts and expires entries",
		evicts:       true,
	})
	grows := rule{
		name:        "the key set grows past what memory should hold",
		applies:     func(f facts) bool { return f.keySet == Growing && f.keys > 1_000_000 },
		rec:         stratCache,
		runnerUp:    stratNew,
		why:         func(facts) []string { return []string{row(stratCache).summary()} },
		runnerUpWhy: func(facts) []string { return []string{row(stratNew).summary()} },
	}
	rules = append(slices.Clone(rules[:len(rules)-1]), grows, rules[len(rules)-1])

	big := with(func(w *Workload) { w.KeySet, w.Keys = Growing, 5_000_000 })
	a := Decide(big)
	if a.Recommended != stratCache || a.RunnerUp != stratNew {
		t.Errorf("growing past a million keys: got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratCache, stratNew)
	}
	if text := adviceText(a); !strings.Contains(text, "cache.New is a bounded, expiring cache") || strings.Contains(text, "The key set grows") {
		t.Errorf("the cache's advice does not describe it from its row, or warns of growth it bounds:\n%s", text)
	}
	small := Decide(with(func(w *Workload) { w.KeySet, w.Keys = Growing, 10_000 }))
	if small.Recommended != stratNew || !strings.Contains(strings.Join(small.Warnings, "\n"), "use cache.New, which bounds its own memory") {
		t.Errorf("a smaller growing map: got %s with warnings %q; want %s and a growth warning naming cache.New", small.Recommended, small.Warnings, stratNew)
	}
	if got := Strategies(); !slices.Contains(got, "Cache") {
		t.Errorf("Strategies() = %q; want the new row's impl too", got)
	}
}
