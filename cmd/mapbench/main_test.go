package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/perf/benchfmt"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/advisor"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stampede"
)

// tinyRun is the smallest run that still exercises every workload and
// adaptive sampling: 2 samples per case, a third for unsettled ones.
// The stampede workload, which needs Redis, is tested in stampede_test.go.
var tinyRun = []string{"-keys", "300", "-duration", "2ms", "-reps", "2", "-max-reps", "3", "-goroutines", "2,3", "-progress", "off", "-redis", "off"}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIContext(t, context.Background(), args...)
}

func runCLIContext(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mapbench(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestMain shortens the wait that tells a lock left held after a panic,
// which every slowload case pays for the peers that leave one.
//
// The stampede workload runs the running binary as its worker processes:
// under go test, this test binary, which then works as one and exits.
func TestMain(m *testing.M) {
	stampede.MaybeWorker()
	panicWait = 100 * time.Millisecond
	os.Exit(m.Run())
}

func TestMapbench_EndToEndWritesEveryReport(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, append(tinyRun, "-keytype", "int,string", "-o", dir)...)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstderr: %s", code, stderr)
	}
	for _, w := range workloads {
		if !strings.Contains(out, w.name) {
			t.Errorf("table output does not mention workload %q", w.name)
		}
	}
	for _, im := range impls {
		if !strings.Contains(out, im.name) {
			t.Errorf("table output does not mention implementation %q", im.name)
		}
	}

	// results.json round-trips and holds every workload × implementation.
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := report.ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if want := len(workloads) + len(cacheWorkloads); len(run.Workloads) != want {
		t.Fatalf("results.json has %d workloads; want %d (the maps' and the caches')", len(run.Workloads), want)
	}
	for _, w := range run.Workloads {
		if strings.HasPrefix(w.Name, cacheGroup+"-") {
			continue // rows of caches, not of -impls: cache_test.go
		}
		for _, im := range impls {
			i := slices.IndexFunc(w.Cases, func(c results.Case) bool { return c.Impl == im.name })
			if i < 0 {
				t.Errorf("workload %s: no case for %s", w.Name, im.name)
				continue
			}
			c := w.Cases[i]
			if c.Unsupported == "" && (len(c.Samples) < 2 || len(c.Samples) > 3) {
				t.Errorf("workload %s, %s: %d samples; want 2 or 3 (-reps 2 -max-reps 3)", w.Name, im.name, len(c.Samples))
			}
		}
	}
	var buf bytes.Buffer
	if err := report.JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	again, err := report.ReadJSON(&buf)
	if err != nil {
		t.Fatalf("ReadJSON of re-encoded results: %v", err)
	}
	if len(again.Workloads) != len(run.Workloads) || again.Elapsed != run.Elapsed {
		t.Errorf("results.json does not round-trip")
	}

	// bench.txt parses as Go benchmark output, one result per sample.
	bf, err := os.Open(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	samples := 0
	for _, w := range run.Workloads {
		for _, c := range w.Cases {
			samples += len(c.Samples)
		}
	}
	got := 0
	r := benchfmt.NewReader(bf, "bench.txt")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			got++
			if _, ok := rec.Value("sec/op"); !ok { // benchfmt tidies ns/op to sec/op
				t.Errorf("%s: no ns/op", rec.Name.Full())
			}
		case *benchfmt.SyntaxError:
			t.Errorf("bench.txt: %v", rec)
		}
	}
	if got != samples {
		t.Errorf("bench.txt has %d results; want %d (one per sample)", got, samples)
	}

	// report.html parses and has one chart per workload and setting: two
	// key types × two goroutine counts for the concurrent workloads, two key
	// types for memory.
	hf, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(hf))
	if err != nil {
		t.Fatalf("report.html does not parse: %v", err)
	}
	charts := map[string]int{}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "figure" {
			var workload string
			hasSVG := false
			for _, a := range n.Attr {
				if a.Key == "data-workload" {
					workload = a.Val
				}
			}
			for d := range n.Descendants() {
				hasSVG = hasSVG || (d.Type == html.ElementNode && d.Data == "svg")
			}
			if workload != "" && hasSVG {
				charts[workload]++
			}
		}
	}
	for _, w := range workloads {
		want := 4
		if !w.concurrent {
			want = 2
		}
		if charts[w.name] != want {
			t.Errorf("report.html has %d charts for %s; want %d", charts[w.name], w.name, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "results.csv")); err != nil {
		t.Error(err)
	}
}

// A peer that breaks compute-once must be reported, not skipped.
func TestMapbench_ReportsBrokenGuarantees(t *testing.T) {
	saved := impls
	t.Cleanup(func() { impls = saved })
	impls = []*impl{findImpl("safemap.Map"), {
		name:      "eager",
		about:     "runs the value function in every caller, like Load + LoadOrStore(k, fn())",
		newInt:    func() target[int] { return &eagerTarget[int]{syncMapTarget: new(syncMapTarget[int])} },
		newString: func() target[string] { return &eagerTarget[string]{syncMapTarget: new(syncMapTarget[string])} },
	}, {
		name:      "leaky",
		about:     "runs the value function under a lock it unlocks without defer",
		newInt:    func() target[int] { return &leakyTarget[int]{syncMapTarget: new(syncMapTarget[int])} },
		newString: func() target[string] { return &leakyTarget[string]{syncMapTarget: new(syncMapTarget[string])} },
	}}
	code, out, stderr := runCLI(t, append(tinyRun, "-workloads", "grow,slowload")...)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstderr: %s", code, stderr)
	}
	if !strings.Contains(out, "eager: value function ran") {
		t.Errorf("output does not report the broken guarantee:\n%s", out)
	}
	if !strings.Contains(out, "leaky: a panic in the value function left a lock held") {
		t.Errorf("output does not report the lock left held:\n%s", out)
	}
	if strings.Contains(out, "safemap.Map: value function ran") || strings.Contains(out, "safemap.Map: a panic") {
		t.Errorf("output reports a broken guarantee for safemap.Map:\n%s", out)
	}
	// Both checks run at every goroutine count, so the flags show in every
	// table where the implementation appears.
	// (Notes wrap: match them with their lines joined.)
	joined := strings.Join(strings.Fields(out), " ")
	for _, g := range []string{"goroutines=2)", "goroutines=3)"} {
		for _, v := range []string{"! eager: value function ran", "! leaky: a panic in the value function left a lock held"} {
			if !regexpMatch(regexp.QuoteMeta(v)+`[^!]*`+regexp.QuoteMeta(g), joined) {
				t.Errorf("output does not flag %q at %s:\n%s", v, g, out)
			}
		}
	}
}

// leakyTarget runs fn under a mutex and unlocks it without defer, so a
// panic in fn leaves the mutex locked (as xsync v4.5.0's bucket lock is).
type leakyTarget[K comparable] struct {
	*syncMapTarget[K]
	mu sync.Mutex
}

func (t *leakyTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	t.mu.Lock()
	v, loaded := t.LoadOrStore(key, fn())
	t.mu.Unlock()
	return v, loaded
}

// eagerTarget calls fn on every LoadOrCompute, hit or miss.
type eagerTarget[K comparable] struct{ *syncMapTarget[K] }

func (t *eagerTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	return t.LoadOrStore(key, fn())
}

func TestMapbench_BadFlagsExitTwoWithAMessage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-keys", "0"}, "-keys 0"},
		{[]string{"-keys", "many"}, "invalid value"},
		{[]string{"-duration", "-1s"}, "-duration"},
		{[]string{"-reps", "0"}, "-reps 0"},
		{[]string{"-reps", "8", "-max-reps", "4"}, "-max-reps 4"},
		{[]string{"-budget", "-1s"}, "-budget"},
		{[]string{"-precision", "0"}, "-precision 0"},
		{[]string{"-precision", "1.5"}, "-precision 1.5"},
		{[]string{"-goroutines", "2,x"}, `"x" is not a goroutine count`},
		{[]string{"-keytype", "float"}, `unknown name "float"`},
		{[]string{"-workloads", "load,nope"}, `unknown name "nope"`},
		{[]string{"-impls", "Map,HashMap"}, `unknown name "HashMap"`},
		{[]string{"-progress", "maybe"}, `-progress "maybe"`},
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"list", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage {
			t.Errorf("mapbench %v: exit %d; want %d", tc.args, code, exitUsage)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("mapbench %v: stderr %q; want it to mention %q", tc.args, stderr, tc.want)
		}
	}
}

func TestMapbench_CPUProfileIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	code, _, stderr := runCLI(t, "-keys", "100", "-duration", "1ms", "-reps", "1", "-goroutines", "1",
		"-workloads", "load", "-impls", "Map", "-progress", "off", "-cpuprofile", path)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstderr: %s", code, stderr)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("-cpuprofile %s: got %v, %v; want a non-empty file", path, st, err)
	}
	if code, _, _ := runCLI(t, "-workloads", "load", "-cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir")); code != exitError {
		t.Errorf("-cpuprofile into a missing directory: exit %d; want %d", code, exitError)
	}
}

func TestMapbench_HelpDocumentsEveryFlag(t *testing.T) {
	code, _, stderr := runCLI(t, "-h")
	if code != exitOK {
		t.Fatalf("-h: exit %d; want 0", code)
	}
	for _, f := range []string{"-keys", "-goroutines", "-duration", "-reps", "-max-reps", "-budget", "-precision", "-keytype", "-workloads", "-impls", "-o", "-progress", "-cpuprofile", "-redis", "advise", "list"} {
		if !strings.Contains(stderr, f) {
			t.Errorf("-h does not mention %s", f)
		}
	}
}

func TestMapbench_ListNamesEveryWorkloadAndImpl(t *testing.T) {
	code, out, _ := runCLI(t, "list")
	if code != exitOK {
		t.Fatalf("list: exit %d", code)
	}
	for _, w := range workloads {
		if !strings.Contains(out, w.name) {
			t.Errorf("list does not mention workload %s", w.name)
		}
	}
	for _, im := range impls {
		if !strings.Contains(out, im.name) {
			t.Errorf("list does not mention %s", im.name)
		}
	}
}

func TestSynthetic_MeasuresEveryStrategy(t *testing.T) {
	for _, keySet := range []string{"static", "growing", "churning"} {
		sy := synthetic{keys: 200, goroutines: 2, readFrac: 0.8, missRate: 0.3, keySet: keySet,
			loaderCost: time.Microsecond, failRate: 0.1, duration: 2 * time.Millisecond, reps: 2, maxReps: 2}
		w, err := sy.run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Cases) != len(strategies) {
			t.Fatalf("%s: %d cases; want %d", keySet, len(w.Cases), len(strategies))
		}
		for i, c := range w.Cases {
			if c.Impl != strategies[i].name || len(c.Samples) != 2 || c.Samples[0].Ops == 0 {
				t.Errorf("%s: case %d = %s with %d samples; want %s with 2 non-empty samples", keySet, i, c.Impl, len(c.Samples), strategies[i].name)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (synthetic{keys: 10, duration: time.Millisecond}).run(ctx); err == nil {
		t.Error("run with a cancelled context: no error")
	}
}

// TestSynthetic_ReplaysEveryStrategyTheAdvisorNames keeps -measure's
// constructors in step with the advisor's table of strategies: a strategy
// added there (the cache, say) needs its constructor here to be measured.
func TestSynthetic_ReplaysEveryStrategyTheAdvisorNames(t *testing.T) {
	var got []string
	for _, st := range strategies {
		got = append(got, st.name)
	}
	if want := advisor.Strategies(); !slices.Equal(got, want) {
		t.Errorf("synthetic strategies = %q; want advisor.Strategies() = %q", got, want)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

func TestMapbench_UnwritableOutputFailsBeforeMeasuring(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/proc/nope", filepath.Join(file, "sub")} {
		code, out, stderr := runCLI(t, append(tinyRun, "-o", dir)...)
		if code != exitError || !strings.Contains(stderr, "-o "+dir) {
			t.Errorf("-o %s: exit %d, stderr %q; want %d and a message naming -o", dir, code, stderr, exitError)
		}
		if out != "" {
			t.Errorf("-o %s: it measured before failing:\n%s", dir, out)
		}
	}
}

// stopAfter is a context that is cancelled once Err has been called n
// times: the runner asks before every sample, so the run stops after n
// samples, as after a Ctrl-C at that moment.
type stopAfter struct {
	context.Context
	mu    sync.Mutex
	calls int
	n     int
}

func (c *stopAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls > c.n {
		return context.Canceled
	}
	return nil
}

func TestMapbench_InterruptWritesWhatWasMeasured(t *testing.T) {
	dir := t.TempDir()
	// load has 3 variants × 2 goroutine counts of 10 implementations: stop
	// in its second group.
	ctx := &stopAfter{Context: context.Background(), n: 25}
	code, out, stderr := runCLIContext(t, ctx, append(tinyRun, "-workloads", "load,grow", "-o", dir)...)
	if code != exitInterrupted {
		t.Fatalf("exit %d; want %d\nstderr: %s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(out, "INCOMPLETE: interrupted after") || !strings.Contains(stderr, "incomplete") {
		t.Errorf("output does not say the run is incomplete:\n%s\nstderr: %s", out, stderr)
	}
	if !strings.Contains(out, "miss=0%") || strings.Contains(out, "grow:") {
		t.Errorf("output lacks the first group or has the workload never run:\n%s", out)
	}
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatalf("no results.json after an interrupt: %v", err)
	}
	defer f.Close()
	run, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	samples := 0
	for _, w := range run.Workloads {
		for _, c := range w.Cases {
			samples += len(c.Samples)
		}
	}
	if run.Incomplete == "" || samples != 25 {
		t.Errorf("results.json: incomplete %q, %d samples; want it marked and the 25 samples taken", run.Incomplete, samples)
	}
}

func TestList_WrapsToTheWidth(t *testing.T) {
	for _, width := range []int{40, 60, 100, 200} {
		var buf bytes.Buffer
		list(&buf, width)
		for i, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			if n := len([]rune(line)); n > width && strings.Contains(strings.TrimSpace(line), " ") {
				t.Errorf("width %d: line %d is %d columns:\n%s", width, i+1, n, line)
			}
		}
		for _, w := range workloads {
			if !strings.Contains(buf.String(), w.name) {
				t.Errorf("width %d: list lacks %s", width, w.name)
			}
		}
	}
	var wide bytes.Buffer
	list(&wide, 1000)
	if n := strings.Count(wide.String(), "\n"); n != len(workloads)+len(cacheWorkloads)+1+len(impls)+len(cacheImpls)+3 { // +1: the stampede workload
		t.Errorf("1000 columns: %d lines; want one per workload (the stampede's too) and implementation, two headers and a blank line", n)
	}
}

func TestMapbench_CompareFindsNoReversalBetweenARunAndItself(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "-keys", "200", "-duration", "1ms", "-reps", "6", "-max-reps", "6", "-goroutines", "2",
		"-workloads", "memory", "-progress", "off", "-o", dir); code != exitOK {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "compare", dir, filepath.Join(dir, "results.json"))
	if code != exitOK || !strings.Contains(out, "0 tied in the other, 0 reversed") {
		t.Errorf("compare with itself: exit %d, %q, stderr %q; want no disagreement", code, out, stderr)
	}
	if code, _, _ := runCLI(t, "compare", dir); code != exitUsage {
		t.Errorf("compare with one argument: exit %d; want %d", code, exitUsage)
	}
}
