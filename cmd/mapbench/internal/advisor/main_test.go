package advisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// advise calls Main and returns what it wrote to stdout, failing t unless
// it exited 0 and wrote nothing to stderr.
func advise(t *testing.T, measure MeasureFunc, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, measure, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("mapbench advise %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errOut)
	}
	return out
}

// run calls Main and returns its exit status and output.
func run(t *testing.T, measure MeasureFunc, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut, measure)
	return code, out.String(), errOut.String()
}

func TestMain_FlagsGiveTextAdvice(t *testing.T) {
	out := advise(t, nil, "-reads", "0.5", "-keyset", "churning", "-keys", "1000", "-goroutines", "8",
		"-loader-cost", "2ms", "-loader-fail", "0.1", "-iterate", "-processes", "2")
	wantPhrases(t, out,
		"Workload: reads 50 %, misses 10 %, churning key set, ~1000 keys, value function 2ms failing 10 %, iteration, 2 processes, 8 goroutines",
		"Recommended: redismap.New\n  - ",
		"Runner-up: safemap.New\n  - ",
		"This would change if:\n  - you needed a point-in-time snapshot",
		"Warnings:\n  - ",
		"shared by 2 processes",
		"Inside each process the choice would be safemap.New",
		"Cache negative results",
		"The key set churns",
	)
}

func TestMain_DefaultsAlone(t *testing.T) {
	code, out, _ := run(t, nil)
	if code != 0 || !strings.Contains(out, "Recommended: safemap.New\n") || !strings.Contains(out, "GOMAXPROCS") {
		t.Errorf("exit %d; output:\n%s", code, out)
	}
	// The default key set grows, and the map recommended does not evict:
	// that is the one warning, and it names the cache.
	if !strings.Contains(out, "Warnings:\n  - The key set grows: safemap.New does not evict or expire entries") ||
		strings.Count(out[strings.Index(out, "Warnings:"):], "\n  - ") != 1 {
		t.Errorf("the defaults do not produce exactly the memory-growth warning:\n%s", out)
	}
}

func decodeAdvice(t *testing.T, out string) Advice {
	t.Helper()
	var a Advice
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("output is not an Advice in JSON: %v\n%s", err, out)
	}
	return a
}

func TestMain_JSON(t *testing.T) {
	out := advise(t, nil, "-json", "-snapshot", "-reads", "0.999", "-keyset", "static", "-keys", "500", "-goroutines", "4")
	a := decodeAdvice(t, out)
	if a.Recommended != stratSnapshot || a.RunnerUp != stratRW || len(a.Reasons) == 0 {
		t.Errorf("advice = %+v; want %s with reasons, runner-up %s", a, stratSnapshot, stratRW)
	}
	if a.Warnings == nil || a.Measured != nil {
		t.Errorf("warnings = %#v, measured = %v; want [] and none", a.Warnings, a.Measured)
	}
	want := Workload{ReadFraction: 0.999, MissRate: 0.1, KeySet: Static, Keys: 500, NeedSnapshot: true, Processes: 1, Goroutines: 4}
	if a.Workload != want {
		t.Errorf("workload = %+v; want %+v", a.Workload, want)
	}
	if !strings.Contains(out, `"warnings": []`) || !strings.Contains(out, `"key_set": "static"`) {
		t.Errorf("JSON lacks empty warnings or the key set's name:\n%s", out)
	}
}

func TestMain_FromProfileStats(t *testing.T) {
	out := advise(t, nil, "-json", "-from", "testdata/profile.json")
	a := decodeAdvice(t, out)
	if a.Workload.Keys != 48000 || a.Workload.KeySet != Growing || a.Workload.MissRate != 0.05 || !a.Workload.NeedIteration {
		t.Errorf("workload = %+v; want the one derived from testdata/profile.json", a.Workload)
	}
	if a.Recommended != stratNew {
		t.Errorf("Recommended = %s; want %s", a.Recommended, stratNew)
	}
	if !strings.Contains(strings.Join(a.Warnings, "\n"), "Cache negative results") == (a.Workload.LoaderFailRate >= highFailRate) {
		t.Errorf("fail-rate warning does not match the derived rate %v: %q", a.Workload.LoaderFailRate, a.Warnings)
	}
}

func TestMain_ExplicitFlagsOverrideTheFile(t *testing.T) {
	code, out, _ := run(t, nil, "-json", "-from", "testdata/profile.json", "-miss", "0", "-snapshot", "-processes", "2")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	a := decodeAdvice(t, out)
	w := a.Workload
	if w.MissRate != 0 || !w.NeedSnapshot || w.Processes != 2 {
		t.Errorf("workload = %+v; want the flags' miss rate 0, snapshot and 2 processes", w)
	}
	if w.Keys != 48000 || w.ReadFraction != 1e6/1.001e6 {
		t.Errorf("workload = %+v; want keys and reads from the file, not the flag defaults", w)
	}
}

func TestMain_WorkloadProfile(t *testing.T) {
	out := advise(t, nil, "-profile", "testdata/workload.json", "-goroutines", "2")
	wantPhrases(t, out, "Recommended: safemap.NewSnapshotMap", "~500 keys", "1 process", "2 goroutines")
}

func TestMain_ProfileRoundTripsTheJSONWorkload(t *testing.T) {
	_, out, _ := run(t, nil, "-json", "-reads", "0.6", "-keyset", "churning", "-keys", "77", "-loader-cost", "3ms", "-goroutines", "5")
	first := decodeAdvice(t, out)
	b, err := json.Marshal(first.Workload)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, _ = run(t, nil, "-json", "-profile", path)
	if second := decodeAdvice(t, out); second.Workload != first.Workload || second.Recommended != first.Recommended {
		t.Errorf("round trip: got %+v → %s; want %+v → %s", second.Workload, second.Recommended, first.Workload, first.Recommended)
	}
}

func TestMain_Measure(t *testing.T) {
	out := advise(t, fakeMeasure(t, shardedFastest()), "-measure", "-goroutines", "2")
	wantPhrases(t, out,
		"Measured: advise — synthetic",
		"strategy",
		"ns/op median",
		"allocs/op",
		"vs best",
		"Recommended: safemap.NewShardedMap",
		"Runner-up: safemap.New\n",
	)
	if !regexp.MustCompile(`1 +safemap\.NewShardedMap +31 +30\.1–31\.6 +0\.5 +1\.00× +8\n`).MatchString(out) ||
		!regexp.MustCompile(`5 +safemap\.NewSnapshotMap +405 +401–407 +0\.5 +13\.1× +8\n`).MatchString(out) {
		t.Errorf("table rows are not as measured:\n%s", out)
	}
	if i, j := strings.Index(out, "safemap.NewShardedMap  "), strings.Index(out, "safemap.NewSnapshotMap  "); i < 0 || j < i {
		t.Errorf("table is not ordered best first:\n%s", out)
	}

	code, out, _ := run(t, fakeMeasure(t, shardedFastest()), "-measure", "-json")
	if a := decodeAdvice(t, out); code != 0 || a.Measured == nil || len(a.Measured.Cases) != 5 {
		t.Errorf("exit %d, measured = %v; want the measurement in the JSON", code, a.Measured)
	}
}

func TestMain_MeasureTableMarksUnusableRows(t *testing.T) {
	m := shardedFastest()
	m.Cases[1] = results.Case{Impl: "NewSyncMap", Unsupported: "no Compute"}
	m.Cases[2].Violations = []string{"lock left held"}
	_, out, _ := run(t, fakeMeasure(t, m), "-measure")
	wantPhrases(t, out, "no Compute", "safemap.NewRWMap (broke a guarantee)")
}

func TestMain_MeasureFailure(t *testing.T) {
	failing := func(context.Context, Workload) (results.Workload, error) {
		return results.Workload{}, errors.New("out of memory")
	}
	code, out, errOut := run(t, failing, "-measure")
	if code != 1 || out != "" || !strings.Contains(errOut, "out of memory") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, the error", code, out, errOut)
	}
	code, _, errOut = run(t, nil, "-measure")
	if code != 1 || !strings.Contains(errOut, "no MeasureFunc") {
		t.Errorf("nil measure: exit %d, stderr %q; want 1 and a message", code, errOut)
	}
}

func TestMain_BadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-reads", "1.5"}, "read_fraction (-reads) is 1.5"},
		{[]string{"-reads", "lots"}, `invalid value "lots" for flag -reads`},
		{[]string{"-keyset", "round"}, `unknown key set "round"`},
		{[]string{"-loader-cost", "fast"}, `invalid value "fast" for flag -loader-cost`},
		{[]string{"-loader-fail", "-0.5"}, "loader_fail_rate (-loader-fail) is -0.5"},
		{[]string{"-keys", "-3"}, "keys (-keys) is -3"},
		{[]string{"advise"}, `unexpected argument "advise"`},
		{[]string{"-from", "testdata/missing.json"}, "-from: open testdata/missing.json"},
		{[]string{"-from", "testdata/bad-profile.json"}, "hits (3) + misses (3) != reads (10)"},
		{[]string{"-from", "testdata/empty-profile.json"}, "the profile records no operations"},
		{[]string{"-from", "testdata/workload.json"}, "-from: testdata/workload.json"},
		{[]string{"-profile", "testdata/bad-workload.json"}, `unknown field "reed_fraction"`},
		{[]string{"-profile", "testdata/two-workloads.json"}, "more than one JSON document"},
		{[]string{"-profile", "testdata/missing.json"}, "-profile: open testdata/missing.json"},
		{[]string{"-from", "testdata/profile.json", "-profile", "testdata/workload.json"}, "-from and -profile both give the workload"},
		{[]string{"-from", "testdata/profile.json", "-reads", "9"}, "read_fraction (-reads) is 9"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, nil, tt.args...)
			if code != 2 {
				t.Errorf("exit %d; want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q; want nothing", out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "mapbench advise: ") || !strings.Contains(lines[0], tt.want) ||
				lines[1] != "Run 'mapbench advise -h' for usage." {
				t.Errorf("stderr %q; want one line containing %q and the usage hint", errOut, tt.want)
			}
		})
	}
}

func TestMain_Help(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help"} {
		code, out, errOut := run(t, nil, h)
		if code != 0 || errOut != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", h, code, errOut)
		}
		flags := []string{"from", "profile", "measure", "json"}
		for name := range workloadFlags {
			flags = append(flags, name)
		}
		for _, name := range flags {
			if !strings.Contains(out, "  -"+name+" ") && !strings.Contains(out, "  -"+name+"\n") {
				t.Errorf("%s: usage does not document -%s:\n%s", h, name, out)
			}
		}
		wantPhrases(t, out, "Usage: mapbench advise", "Examples:", "mapbench advise -from profile.json", "Exit status")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMain_WriteFailure(t *testing.T) {
	for _, args := range [][]string{{}, {"-json"}} {
		var errOut bytes.Buffer
		if code := Main(args, failingWriter{}, &errOut, nil); code != 1 || !strings.Contains(errOut.String(), "disk full") {
			t.Errorf("%q: exit %d, stderr %q; want 1 and the write error", args, code, errOut.String())
		}
	}
}

func TestMain_UnknownKeyCount(t *testing.T) {
	_, out, _ := run(t, nil, "-keys", "0")
	if !strings.Contains(out, "unknown key count") || !strings.Contains(out, "The key count is unknown") {
		t.Errorf("output does not flag the unknown key count:\n%s", out)
	}
}

func TestMain_MeasureWithoutNameOrUnit(t *testing.T) {
	m := results.Workload{Cases: []results.Case{nsCase("xsync", 20, 21), nsCase("New", 30, 31), nsCase("NewRWMap", 30, 31)}}
	code, out, _ := run(t, fakeMeasure(t, m), "-measure")
	if code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
	wantPhrases(t, out, "Measured: synthetic workload\n", "ns/op median", "Recommended: safemap.New (tie on the measurement: the rules choose safemap.New)\n",
		"xsync measured 20.5 ns/op; it is shown for comparison", "Runner-up: safemap.NewRWMap\n", "no interval: fewer than 6 samples")
}

// writeProfile writes s where -from can read it.
func writeProfile(t *testing.T, s safemap.ProfileStats) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// loaderBoundProfile is what safemap.Profile records for 32 workers that
// spend most of their time in a 5.606278 ms loader: about 31 value
// functions in flight on average.
func loaderBoundProfile() safemap.ProfileStats {
	return safemap.ProfileStats{
		Version: safemap.ProfileStatsVersion, Duration: 10 * time.Second,
		Reads: 600_000, Hits: 544_000, Misses: 56_000, Inserts: 55_000,
		Computes: 55_000, ComputeTime: 55_000 * 5_606_278, Waiters: 1000,
		Len: 55_000, MaxLen: 55_000, Calls: map[string]int64{"LoadOrTryCompute": 600_000},
	}
}

func TestMain_FromUsesTheProfilesConcurrency(t *testing.T) {
	path := writeProfile(t, loaderBoundProfile())
	out := advise(t, nil, "-from", path)
	wantPhrases(t, out,
		"≥ 31 goroutines (estimated from the profile: value functions ran 30.8 at a time on average)",
		"value function 5.61ms", // rounded, not 5.606278ms
		"The value function takes ~5.61ms per miss",
	)
	if strings.Contains(out, "GOMAXPROCS") || strings.Contains(out, "5.606278") {
		t.Errorf("output assumes GOMAXPROCS goroutines or prints an unrounded duration:\n%s", out)
	}
	// -goroutines overrides the estimate, and says nothing of it.
	_, out, _ = run(t, nil, "-from", path, "-goroutines", "64")
	if !strings.Contains(out, ", 64 goroutines\n") || strings.Contains(out, "estimated") {
		t.Errorf("-goroutines 64 does not override the estimate:\n%s", out)
	}
	// The measurement replays the estimated concurrency.
	var got Workload
	measure := func(_ context.Context, w Workload) (results.Workload, error) {
		got = w
		return loaderBound(), nil
	}
	out = advise(t, measure, "-from", path, "-measure")
	if got.Goroutines != 31 {
		t.Errorf("-measure replayed %d goroutines; want 31, the profile's", got.Goroutines)
	}
	if !strings.Contains(out, "Recommended: safemap.New (tie on the measurement: the rules choose safemap.New)") {
		t.Errorf("the loader-bound profile's measurement is not a tie decided by the rules:\n%s", out)
	}
}

func TestMain_FromWithoutConcurrencyEvidenceSaysGOMAXPROCS(t *testing.T) {
	s := loaderBoundProfile()
	s.ComputeTime, s.Waiters = 0, 0
	_, out, _ := run(t, nil, "-from", writeProfile(t, s))
	if !strings.Contains(out, "GOMAXPROCS (") {
		t.Errorf("a profile without evidence of concurrency should fall back to GOMAXPROCS:\n%s", out)
	}
}
