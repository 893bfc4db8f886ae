package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/perf/benchfmt"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// tinyRun is the smallest run that still exercises every workload.
// The stampede workload, which needs Redis, is tested in stampede_test.go.
var tinyRun = []string{"-keys", "300", "-duration", "2ms", "-reps", "2", "-goroutines", "2,3", "-progress", "off", "-redis", "off"}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mapbench(args, &out, &errb)
	return code, out.String(), errb.String()
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
	if len(run.Workloads) != len(workloads) {
		t.Fatalf("results.json has %d workloads; want %d", len(run.Workloads), len(workloads))
	}
	for _, w := range run.Workloads {
		for _, im := range impls {
			i := slices.IndexFunc(w.Cases, func(c results.Case) bool { return c.Impl == im.name })
			if i < 0 {
				t.Errorf("workload %s: no case for %s", w.Name, im.name)
				continue
			}
			c := w.Cases[i]
			if c.Unsupported == "" && len(c.Samples) != 2 {
				t.Errorf("workload %s, %s: %d samples; want 2 (-reps 2)", w.Name, im.name, len(c.Samples))
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

	// report.html parses and has one chart per workload.
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
		if charts[w.name] != 1 {
			t.Errorf("report.html has %d charts for %s; want 1", charts[w.name], w.name)
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
	impls = []*impl{findImpl("Map"), {
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
	if strings.Contains(out, "Map: value function ran") || strings.Contains(out, "Map: a panic") {
		t.Errorf("output reports a broken guarantee for Map:\n%s", out)
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
	for _, f := range []string{"-keys", "-goroutines", "-duration", "-reps", "-keytype", "-workloads", "-impls", "-o", "-progress", "-cpuprofile", "-redis", "advise", "list"} {
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
			loaderCost: time.Microsecond, failRate: 0.1, duration: 2 * time.Millisecond, reps: 2}
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
