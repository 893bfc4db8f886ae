package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

func TestJSON_RoundTrips(t *testing.T) {
	run := fixtureRun()
	var buf bytes.Buffer
	if err := JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Errorf("ReadJSON(JSON(run)) differs from run:\ngot  %+v\nwant %+v", got, run)
	}
}

// TestJSON_StoresStartInUTC checks that a start time read from the clock, in
// a local zone and with a monotonic reading, comes back as the same instant
// in UTC, and that JSON leaves the caller's run alone.
func TestJSON_StoresStartInUTC(t *testing.T) {
	run := fixtureRun()
	started := time.Now().In(time.FixedZone("CEST", 2*60*60))
	run.Started = started
	var buf bytes.Buffer
	if err := JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	if run.Started != started {
		t.Errorf("JSON changed the run's Started")
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := started.UTC().Round(0); got.Started != want {
		t.Errorf("Started = %v; want %v", got.Started, want)
	}
}

func TestReadJSON_RejectsOtherVersionsAndGarbage(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"newer version", fmt.Sprintf(`{"version": %d, "workloads": []}`, results.Version+1),
			fmt.Sprintf("results file has version %d; this mapbench reads version %d", results.Version+1, results.Version)},
		{"version 0", `{"version": 0}`, "version 0"},
		{"no version", `{"workloads": []}`, "not a mapbench results file: no version field"},
		{"garbage", "goos: linux\nBenchmarkLoad 1 2 ns/op\n", "not a mapbench results file"},
		{"empty", "", "not a mapbench results file"},
		{"older version", `{"version": 1, "workloads": []}`, "results file has version 1; this mapbench reads version 2"},
		{"truncated", `{"version": 2, "workloads": [`, "not a mapbench results file"},
		{"two objects", `{"version": 2} {"version": 2}`, "not a mapbench results file"},
		{"wrong types", `{"version": 2, "workloads": "load"}`, "reading results"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run, err := ReadJSON(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadJSON = %+v, nil; want an error", run)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadJSON error = %q; want it to say %q", err, tt.want)
			}
		})
	}
}

func TestCSV_RowPerSample(t *testing.T) {
	run := fixtureRun()
	var buf bytes.Buffer
	if err := CSV(&buf, run); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll() // also checks every row has the header's width
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{
		"workload", "impl", "variant", "param", "key_type", "goroutines",
		"rep", "ops", "ns_per_op", "allocs_per_op", "bytes_per_op",
		"B/entry", "GCs/Mop", "isolation", "loader ms", "note",
	}
	if !slices.Equal(recs[0], wantHeader) {
		t.Errorf("header = %q; want %q", recs[0], wantHeader)
	}
	samples, empty := countSamples(run)
	if got, want := len(recs)-1, samples+empty; got != want {
		t.Errorf("got %d rows; want %d (%d samples, %d cases without)", got, want, samples, empty)
	}
	col := func(name string) int { return slices.Index(wantHeader, name) }
	var unsupported, violations, isolation int
	for _, r := range recs[1:] {
		note := r[col("note")]
		if strings.HasPrefix(note, "unsupported: ") {
			unsupported++
			if r[col("ns_per_op")] != "" || r[col("rep")] != "" {
				t.Errorf("unsupported row %q has numbers", r)
			}
		}
		if strings.Contains(note, "violation: value function ran 17 times") {
			violations++
		}
		if r[col("isolation")] != "" {
			isolation++
		}
	}
	if unsupported != empty {
		t.Errorf("got %d unsupported rows; want %d", unsupported, empty)
	}
	if violations != 12 {
		t.Errorf("got %d rows noting xsync's violation; want one per sample, 12", violations)
	}
	if isolation != 36 {
		t.Errorf("got %d rows with an isolation figure; want 36", isolation)
	}
	first := recs[1]
	if want := []string{"load", "Map", "miss=0%", "0", "int", "2", "1"}; !slices.Equal(first[:7], want) {
		t.Errorf("first row starts %q; want %q", first[:7], want)
	}
}

// benchValue is the value of unit as the benchmark line wrote it.
func benchValue(r *benchfmt.Result, unit string) (float64, bool) {
	for _, v := range r.Values {
		if v.OrigUnit == unit {
			return v.OrigValue, true
		}
		if v.OrigUnit == "" && v.Unit == unit {
			return v.Value, true
		}
	}
	return 0, false
}

func TestBenchText_ParsesWithBenchfmt(t *testing.T) {
	run := fixtureRun()
	var buf bytes.Buffer
	if err := BenchText(&buf, run); err != nil {
		t.Fatal(err)
	}
	text := buf.String()

	// What every sample should become.
	type want struct {
		name   string
		sample results.Sample
	}
	var wants []want
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			for _, s := range c.Samples {
				// benchfmt drops the "Benchmark" prefix.
				name := strings.ToUpper(wl.Name[:1]) + wl.Name[1:] +
					"/impl=" + strings.ReplaceAll(c.Impl, " ", "_") +
					"/" + strings.ReplaceAll(c.Variant, "/", ":") +
					"/key=" + c.KeyType + fmt.Sprintf("/goroutines=%d-2", c.Goroutines)
				wants = append(wants, want{name, s})
			}
		}
	}

	r := benchfmt.NewReader(strings.NewReader(text), "bench.txt")
	var i int
	var higher bool
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.UnitMetadata:
			if rec.Unit == "isolation" && rec.Key == "better" && rec.Value == "higher" {
				higher = true
			}
		case *benchfmt.Result:
			if i >= len(wants) {
				t.Fatalf("more results than the %d samples: %s", len(wants), rec.Name)
			}
			w := wants[i]
			i++
			if got := rec.Name.String(); got != w.name {
				t.Errorf("result %d is named %q; want %q", i, got, w.name)
			}
			if rec.Iters != int(w.sample.Ops) {
				t.Errorf("%s: iterations = %d; want %d", w.name, rec.Iters, w.sample.Ops)
			}
			wantVals := map[string]float64{
				"ns/op": w.sample.NsPerOp, "B/op": w.sample.BytesPerOp, "allocs/op": w.sample.AllocsPerOp,
			}
			for u, v := range w.sample.Metrics {
				wantVals[strings.ReplaceAll(u, " ", "-")] = v
			}
			if len(rec.Values) != len(wantVals) {
				t.Errorf("%s: %d values; want %d", w.name, len(rec.Values), len(wantVals))
			}
			for u, v := range wantVals {
				if got, ok := benchValue(rec, u); !ok || got != v {
					t.Errorf("%s: %s = %v (present: %v); want %v", w.name, u, got, ok, v)
				}
			}
			for key, v := range map[string]string{"goos": "linux", "goarch": "amd64", "pkg": benchPkg, "go": "go1.26.8"} {
				if got := rec.GetConfig(key); got != v {
					t.Errorf("%s: config %s = %q; want %q", w.name, key, got, v)
				}
			}
			base, parts := rec.Name.Parts()
			if string(base) == "" || string(parts[len(parts)-1]) != "-2" {
				t.Errorf("%s: parts %q %q; want a base name and GOMAXPROCS last", w.name, base, parts)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(wants) {
		t.Errorf("got %d results; want one per sample, %d", i, len(wants))
	}
	if !higher {
		t.Errorf("no unit line says isolation is better when higher")
	}
	if strings.Contains(text, "cmap/loader") || strings.Contains(text, "Slowload/impl=cmap") {
		t.Errorf("an unsupported case has a benchmark line:\n%s", text)
	}
}

func TestBenchName_Sanitises(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"load", "Load"}, {"slow-load", "SlowLoad"}, {"memory_2", "Memory2"}, {"", "Mapbench"},
	} {
		if got := titleCase(tt.in); got != tt.want {
			t.Errorf("titleCase(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"sync Map", "sync_Map"}, {"mix=90/9/1", "mix=90:9:1"}, {"a\tb\nc", "a_b_c"}, {"", "_"},
	} {
		if got := benchElem(tt.in); got != tt.want {
			t.Errorf("benchElem(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteDir_WritesAllFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report", "sub")
	run := fixtureRun()
	if err := WriteDir(dir, run); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.html", "results.json", "results.csv", "bench.txt"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Size() == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Errorf("results.json does not read back as the run")
	}
}
