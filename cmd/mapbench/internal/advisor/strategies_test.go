package advisor

import (
	"regexp"
	"slices"
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
						w.Processes, w.Unbounded, w.StaleAfter = 1, keys == 0, time.Duration(keys%3)*time.Minute
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
		if s.impl == "" && !s.evicts {
			t.Errorf("%s: impl is empty; want the name -measure replays it under (only a cache, which -measure does not replay, has none)", s.name)
		}
		for field, v := range map[string]string{"is": s.is, "reads": s.reads, "misses": s.misses, "writes": s.writes,
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
