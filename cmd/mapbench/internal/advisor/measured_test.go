package advisor

import (
	"context"
	"errors"
	"strings"
	"testing"

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
			nsCase("New", 50, 52, 51),
			nsCase("NewSyncMap", 90, 95, 91),
			nsCase("NewRWMap", 120, 130, 125),
			nsCase("NewShardedMap", 30, 31, 32),
			nsCase("NewSnapshotMap", 400, 410, 405),
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
	for _, p := range []string{
		"safemap.NewShardedMap is best at 31 ns/op, the median of 3 runs (min–max 30–32)",
		"Measured second: 51 ns/op (min–max 50–52), 1.65× the best",
		"The rules alone would recommend safemap.New",
		"shared by 3 processes",
		"Inside each process the choice would be safemap.NewShardedMap",
		"→ safemap.NewSyncMap",
		"if you needed a point-in-time snapshot of all entries → safemap.NewRWMap or safemap.NewSnapshotMap",
		"measure again",
	} {
		if !strings.Contains(text, p) {
			t.Errorf("advice lacks %q; it says:\n%s", p, text)
		}
	}
	if strings.Contains(text, "overlap") || strings.Contains(text, "(-measure) ranked") {
		t.Errorf("advice has an overlap note or suggests measuring:\n%s", text)
	}
	if a.Workload != w {
		t.Errorf("Workload = %+v; want %+v", a.Workload, w)
	}
}

func TestDecideMeasured_AgreesWithRules(t *testing.T) {
	m := shardedFastest()
	m.Cases[0] = nsCase("New", 10, 11, 12)
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
		metric("New", 0.5, 0.6),
		metric("NewRWMap", 0.95, 0.97),
		metric("NewShardedMap", 0.8, 0.9),
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

func TestDecideMeasured_TiesGoToTheEarlierStrategy(t *testing.T) {
	m := results.Workload{Primary: "ns/op", Cases: []results.Case{
		nsCase("NewSnapshotMap", 40), nsCase("NewRWMap", 40), nsCase("New", 40),
	}}
	a, err := DecideMeasured(context.Background(), base(), fakeMeasure(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratNew || a.RunnerUp != stratRW {
		t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratNew, stratRW)
	}
	if !strings.Contains(adviceText(a), "overlap in their min–max spread") {
		t.Errorf("advice does not flag the tie as possible noise:\n%s", adviceText(a))
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
	for _, p := range []string{
		"safemap.NewShardedMap measured 31 ns/op but is left out",
		"if you no longer needed a point-in-time snapshot → safemap.NewShardedMap, the fastest measured",
	} {
		if !strings.Contains(adviceText(a), p) {
			t.Errorf("advice lacks %q:\n%s", p, adviceText(a))
		}
	}
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
	for _, p := range []string{"safemap.NewShardedMap broke a guarantee", "ran 3 times", "safemap.NewSyncMap could not run the measured workload: no Compute", "a peer could not run"} {
		if !strings.Contains(ws, p) {
			t.Errorf("warnings lack %q: %s", p, ws)
		}
	}
}

func TestDecideMeasured_OneCandidateKeepsTheRulesRunnerUp(t *testing.T) {
	m := results.Workload{Primary: "ns/op", Cases: []results.Case{nsCase("NewShardedMap", 10), {Impl: "New"}}}
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
