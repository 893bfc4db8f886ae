package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

func TestText_MentionsEveryWorkloadImplAndProblem(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, fixtureRun()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	want := []string{
		"load: Load on a pre-filled map", "mixed:", "slowload:", "memory:",
		"varied: miss %; ranked by ns/op (lower is better)",
		"ranked by isolation (higher is better)",
		"ranked by B/entry (lower is better)",
		"key=string, goroutines=8",
		"unsupported, see below", "unsupported: builtin: a built-in map has no concurrent writers",
		"unsupported: no LoadOrCompute",
		"! xsync: value function ran 17 times for 1 missing key (loader=1ms, key=int, goroutines=2)",
		"! xsync: value function ran 17 times for 1 missing key (loader=1ms, key=int, goroutines=8)",
		"xsync !",
		"note: cmap has no LoadOrCompute",
		"note: B/entry counts the heap after a forced GC.",
		"±∞", "≈1", "≈best", "best", "13.3×", "±5%",
		"machine noise: very noisy", "How to read: rank = 1 + the rows significantly better",
		"6–12 samples per case, precision 5 %",
	}
	want = append(want, fixtureImpls...)
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("Text output lacks %q:\n%s", s, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 120 {
			t.Errorf("line %d is %d columns wide; want at most 120:\n%s", i+1, n, line)
		}
	}
}

// TestText_RankedTable pins the layout of a small table: rows in rank
// order, ties sharing a rank marked ≈ and shown as ≈best, a noisy row, the
// ratio only for rows significantly behind, n, an unsupported row.
func TestText_RankedTable(t *testing.T) {
	ns := func(xs ...float64) []results.Sample {
		var ss []results.Sample
		for _, x := range xs {
			ss = append(ss, results.Sample{Ops: 1000, NsPerOp: x})
		}
		return ss
	}
	run := &results.Run{
		Version: results.Version,
		Config:  results.Config{Precision: 0.05},
		Workloads: []results.Workload{{
			Name: "load", Description: "Load at a miss rate.", Param: "miss %", Primary: "ns/op",
			Cases: []results.Case{
				{Impl: "slow", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: ns(20, 21, 22, 19, 20, 21)},
				{Impl: "fast", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: ns(10, 10.2, 9.9, 10.1, 10, 9.8)},
				{Impl: "twin", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: ns(10.1, 9.9, 10.2, 10, 9.8, 10.3)},
				{Impl: "noisy", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: ns(5, 30, 12, 40, 9, 25, 8, 35)},
				{Impl: "none", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Unsupported: "no Load"},
			},
		}},
	}
	var buf bytes.Buffer
	if err := Text(&buf, run); err != nil {
		t.Fatal(err)
	}
	want := `load: Load at a miss rate.
  varied: miss %; ranked by ns/op (lower is better)

  key=int, goroutines=2
  variant   rank  impl   ns/op  ±95%   allocs/op  B/op  ops/s  vs best  n
  miss=50%  ≈1    fast   10     ±2%    0          0     100M   best     6
            ≈1    twin   10.1   ±2%    0          0     99.5M  ≈best    6
            ≈1    noisy  18.5   ±89%*  0          0     61.7M  ≈best    8
            3     slow   20.5   ±7%    0          0     48.8M  2.05×    6
                  none                                                  unsupported: no Load
`
	got := buf.String()
	if i := strings.Index(got, "load:"); i >= 0 {
		got = got[i:] // after the header
	}
	if got != want {
		t.Errorf("Text:\n%s\nwant:\n%s", got, want)
	}
}

// TestText_EmptyRun checks that a run without workloads prints nothing and
// that a zero-time run does not trip anything.
func TestText_EmptyRun(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, &results.Run{Started: time.Time{}}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("Text of an empty run = %q; want nothing", buf.String())
	}
}
