package advisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// nsCase is a case whose samples took the given ns/op.
func nsCase(impl string, ns ...float64) results.Case {
	c := results.Case{Impl: impl, Variant: "synthetic", KeyType: "int", Goroutines: 2}
	for _, v := range ns {
		c.Samples = append(c.Samples, results.Sample{Ops: 1000, NsPerOp: v, AllocsPerOp: 0.5})
	}
	return c
}

// around returns 8 samples spread ±frac around c, in a shuffled order.
func around(c, frac float64) []float64 {
	offsets := []float64{0.1, -0.7, 1, -0.3, 0.6, -1, 0.3, -0.1}
	xs := make([]float64, len(offsets))
	for i, o := range offsets {
		xs[i] = c * (1 + frac*o)
	}
	return xs
}

// fakeMeasure returns m, after checking that it was given the workload and
// a live context.
func fakeMeasure(t *testing.T, m results.Workload) MeasureFunc {
	return func(ctx context.Context, w Workload) (results.Workload, error) {
		t.Helper()
		if ctx == nil || ctx.Err() != nil {
			t.Errorf("measure got context %v; want a live one", ctx)
		}
		if err := w.Validate(); err != nil {
			t.Errorf("measure got an invalid workload: %v", err)
		}
		return m, nil
	}
}

// shardedFastest is a measurement where NewShardedMap wins clearly and
// New comes second.
func shardedFastest() results.Workload {
	return results.Workload{
		Name: "advise", Description: "synthetic", Param: "", Primary: "ns/op",
		Cases: []results.Case{
			nsCase("New", around(51, 0.02)...),
			nsCase("NewSyncMap", around(91, 0.03)...),
			nsCase("NewRWMap", around(125, 0.04)...),
			nsCase("NewShardedMap", around(31, 0.03)...),
			nsCase("NewSnapshotMap", around(405, 0.01)...),
		},
	}
}

// loaderBound is the profile measured: a 5 ms loader dominates,
// and every strategy is within 2 % of the others, the order noise. The
// fastest median here is NewShardedMap's.
func loaderBound() results.Workload {
	return results.Workload{
		Name: "advise", Primary: "ns/op",
		Cases: []results.Case{
			nsCase("New", around(503_775, 0.06)...),
			nsCase("NewSyncMap", around(501_000, 0.05)...),
			nsCase("NewRWMap", around(499_500, 0.07)...),
			nsCase("NewShardedMap", around(496_844, 0.06)...),
			nsCase("NewSnapshotMap", around(505_000, 0.05)...),
		},
	}
}

func TestDecideMeasured_RecommendsTheMeasuredFastest(t *testing.T) {
	w := with(func(w *Workload) { w.Processes = 3 })
	a, err := DecideMeasured(context.Background(), w, fakeMeasure(t, shardedFastest()))
	if err != nil {
		t.Fatal(err)
	}
	// Three processes share the data: the Redis tier, with the measured
	// best as the in-process choice.
	if a.Recommended != stratRedis || a.RunnerUp != stratSharded {
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratRedis, stratSharded)
	}
	if a.Measured == nil || a.Measured.Name != "advise" {
		t.Errorf("Measured = %v; want the measurement", a.Measured)
	}
	text := adviceText(a)
	if a.Basis != BasisMeasurement {
		t.Errorf("Basis = %q; want %q", a.Basis, BasisMeasurement)
	}
	wantPhrases(t, text,
		"safemap.NewShardedMap is best at 31 ns/op (95 % interval 30.1–31.6, n=8), significantly ahead of every other candidate",
		"Measured second: 51 ns/op (95 % interval 50–51.6, n=8), 1.65× the best (p = 0.000155)",
		"The rules alone would recommend safemap.New; the measurement overrides them",
		"shared by 3 processes",
		"Inside each process the choice would be safemap.NewShardedMap",
		"→ safemap.NewSyncMap",
		"if you needed a point-in-time snapshot of all entries → safemap.NewRWMap or safemap.NewSnapshotMap",
		"measure again",
	)
	if strings.Contains(text, "Tie") || strings.Contains(text, "(-measure) ranked") {
		t.Errorf("advice calls a clear winner a tie or suggests measuring:\n%s", text)
	}
	if a.Workload != w {
		t.Errorf("Workload = %+v; want %+v", a.Workload, w)
	}
}

func TestDecideMeasured_AgreesWithRules(t *testing.T) {
	m := shardedFastest()
	m.Cases[0] = nsCase("New", around(11, 0.05)...)
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratNew || a.RunnerUp != stratSharded {
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratNew, stratSharded)
	}
	if !strings.Contains(adviceText(a), "The rules, without measuring, recommend it too") {
		t.Errorf("advice does not say the rules agree:\n%s", adviceText(a))
	}
}

func TestDecideMeasured_HigherIsBetter(t *testing.T) {
	metric := func(impl string, vs ...float64) results.Case {
		c := results.Case{Impl: impl}
		for _, v := range vs {
			c.Samples = append(c.Samples, results.Sample{NsPerOp: 100, Metrics: map[string]float64{"isolation": v}})
		}
		return c
	}
	m := results.Workload{Name: "slowload", Primary: "isolation", HigherIsBetter: true, Cases: []results.Case{
		metric("New", around(0.55, 0.1)...),
		metric("NewRWMap", around(0.96, 0.02)...),
		metric("NewShardedMap", around(0.85, 0.05)...),
	}}
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratRW || a.RunnerUp != stratSharded {
		t.Errorf("got %s, runner-up %s; want %s (highest isolation), runner-up %s", a.Recommended, a.RunnerUp, stratRW, stratSharded)
	}
	if !strings.Contains(adviceText(a), "higher is better") || !strings.Contains(adviceText(a), "1.13× the best") {
		t.Errorf("advice lacks the direction or the ratio:\n%s", adviceText(a))
	}
}

// TestFromMeasurement_TieLetsTheRulesChoose is the profile: a 5 ms
// loader, every strategy within 2 %. The measurement cannot decide, so the
// advice says it is a tie, shows the intervals, and the rules choose New.
func TestFromMeasurement_TieLetsTheRulesChoose(t *testing.T) {
	w := with(func(w *Workload) { w.LoaderCost = 5 * time.Millisecond })
	a, err := FromMeasurement(w, loaderBound())
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratNew || a.Basis != BasisTie {
		t.Errorf("got %s (basis %q); want %s, a tie decided by the rules", a.Recommended, a.Basis, stratNew)
	}
	text := adviceText(a)
	wantPhrases(t, text,
		"Tie: Measured on this machine (advise) cannot tell safemap.NewShardedMap, ",
		"safemap.New 504k ns/op (95 % interval 474k–522k, n=8)",
		"the rules choose safemap.New (their recommendation for this workload)",
	)
	if strings.Contains(text, "overrides") {
		t.Errorf("advice lets a tie override the rules:\n%s", text)
	}
	var out strings.Builder
	if err := writeText(&out, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Recommended: safemap.New (tie on the measurement: the rules choose safemap.New)") {
		t.Errorf("text output does not say it is a tie:\n%s", out.String())
	}
}

// A tie that leaves out the rules' own choice goes to their runner-up.
func TestFromMeasurement_TieWithoutTheRulesChoiceGoesToTheirRunnerUp(t *testing.T) {
	m := loaderBound()
	m.Cases[0] = nsCase("New", around(900_000, 0.02)...) // far behind
	a, err := FromMeasurement(base(), m)
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratSharded || a.Basis != BasisTie {
		t.Errorf("got %s (basis %q); want %s, the rules' runner-up, on a tie", a.Recommended, a.Basis, stratSharded)
	}
	if text := adviceText(a); !strings.Contains(text, "Significantly behind the tied strategies: safemap.New 1.81×") ||
		!strings.Contains(text, "their runner-up") {
		t.Errorf("advice does not explain the pick:\n%s", text)
	}
}

func TestDecideMeasured_TiesGoToTheEarlierStrategy(t *testing.T) {
	m := results.Workload{Primary: "ns/op", Cases: []results.Case{
		nsCase("NewSnapshotMap", around(40, 0.01)...), nsCase("NewRWMap", around(40, 0.01)...), nsCase("NewSyncMap", around(40, 0.01)...),
	}}
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratSync || a.Basis != BasisTie {
		t.Errorf("got %s, basis %q; want %s on a tie (the earliest strategy tied, the rules' picks not measured)", a.Recommended, a.Basis, stratSync)
	}
}

func TestDecideMeasured_SnapshotNeedFiltersStrategies(t *testing.T) {
	w := with(func(w *Workload) { w.NeedSnapshot, w.Keys = true, 1000 })
	a, err := DecideMeasured(context.Background(), w, fakeMeasure(t, shardedFastest()))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratRW || a.RunnerUp != stratSnapshot {
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratRW, stratSnapshot)
	}
	wantPhrases(t, adviceText(a),
		"safemap.NewShardedMap measured 31 ns/op but is left out",
		"if you no longer needed a point-in-time snapshot → safemap.NewShardedMap, the fastest measured",
	)
}

func TestDecideMeasured_SkipsBrokenAndUnsupported(t *testing.T) {
	m := shardedFastest()
	m.Cases[3].Violations = []string{"value function ran 3 times for 1 missing key"}
	m.Cases[1] = results.Case{Impl: "NewSyncMap", Unsupported: "no Compute"}
	m.Notes = []string{"a peer could not run"}
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratNew || a.RunnerUp != stratRW {
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratNew, stratRW)
	}
	ws := strings.Join(a.Warnings, "\n")
	wantPhrases(t, ws, "safemap.NewShardedMap broke a guarantee", "ran 3 times", "safemap.NewSyncMap could not run the measured workload: no Compute", "a peer could not run")
}

func TestDecideMeasured_OneCandidateKeepsTheRulesRunnerUp(t *testing.T) {
	m := results.Workload{Primary: "ns/op", Cases: []results.Case{nsCase("NewShardedMap", around(10, 0.01)...), {Impl: "New"}}}
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratSharded || a.RunnerUp != stratSharded {
		// The rules' runner-up for the base workload is NewShardedMap too.
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratSharded, stratSharded)
	}
	if !strings.Contains(strings.Join(a.Warnings, "\n"), "safemap.New has no ns/op figure") {
		t.Errorf("warnings do not mention the case without samples: %q", a.Warnings)
	}
}

func TestDecideMeasured_Errors(t *testing.T) {
	boom := errors.New("boom")
	failing := func(context.Context, Workload) (results.Workload, error) { return results.Workload{}, boom }
	if _, err := DecideMeasured(context.Background(), base(), failing); !errors.Is(err, boom) {
		t.Errorf("measure error: got %v; want it wrapped", err)
	}
	if _, err := DecideMeasured(context.Background(), base(), nil); err == nil {
		t.Error("nil measure: got no error")
	}
	bad := with(func(w *Workload) { w.ReadFraction = 2 })
	if _, err := DecideMeasured(context.Background(), bad, fakeMeasure(t, shardedFastest())); err == nil || !strings.Contains(err.Error(), "read_fraction") {
		t.Errorf("invalid workload: got %v; want a read_fraction error", err)
	}
	dup := results.Workload{Primary: "ns/op", Cases: []results.Case{nsCase("New", 1), nsCase("New", 2)}}
	if _, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, dup)); err == nil || !strings.Contains(err.Error(), "more than one case for safemap.New") {
		t.Errorf("duplicate cases: got %v", err)
	}
	empty := results.Workload{Name: "advise", Primary: "ns/op", Cases: []results.Case{{Impl: "New", Unsupported: "no"}}}
	if _, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, empty)); err == nil || !strings.Contains(err.Error(), "no usable case") {
		t.Errorf("no usable case: got %v", err)
	}
}

func TestDecideMeasured_PassesTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	measure := func(ctx context.Context, w Workload) (results.Workload, error) {
		return results.Workload{}, ctx.Err()
	}
	if _, err := DecideMeasured(ctx, base(), measure); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}
