package report

import (
	"bytes"
	"math"
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
		"xsync !",
		"note: cmap has no LoadOrCompute",
		"note: B/entry counts the heap after a forced GC.",
		"n=1", "1.00x",
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

// TestText_RatioColumn pins the layout of a small table: best first at
// 1.00x, the others as multiples of it, the spread, an unsupported row.
func TestText_RatioColumn(t *testing.T) {
	run := &results.Run{
		Version: results.Version,
		Workloads: []results.Workload{{
			Name: "load", Description: "Load at a miss rate.", Param: "miss %", Primary: "ns/op",
			Cases: []results.Case{
				{Impl: "slow", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: []results.Sample{{NsPerOp: 20}, {NsPerOp: 22}, {NsPerOp: 19}}},
				{Impl: "fast", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: []results.Sample{{NsPerOp: 10, AllocsPerOp: 1, BytesPerOp: 16}}},
				{Impl: "mid", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Samples: []results.Sample{{NsPerOp: 15}, {NsPerOp: 14}}},
				{Impl: "none", Variant: "miss=50%", Param: 50, KeyType: "int", Goroutines: 2,
					Unsupported: "no Load"},
			},
		}, {
			Name: "slowload", Param: "loader ms", Primary: "isolation", HigherIsBetter: true,
			Cases: []results.Case{
				{Impl: "shared", KeyType: "int", Goroutines: 2,
					Samples: []results.Sample{{NsPerOp: 2000, Metrics: map[string]float64{"isolation": 0.25}}}},
				{Impl: "isolated", KeyType: "int", Goroutines: 2,
					Samples: []results.Sample{{NsPerOp: 1000, Metrics: map[string]float64{"isolation": 1}}}},
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
  variant   impl  ns/op  min–max  allocs/op  B/op  ops/s  vs best
  miss=50%  fast  10     n=1      1          16    100M   1.00x
            mid   14.5   14–15    0          0     69M    1.45x
            slow  20     19–22    0          0     50M    2.00x
            none                                          unsupported: no Load

slowload
  varied: loader ms; ranked by isolation (higher is better)

  key=int, goroutines=2
  variant  impl      isolation  min–max  ns/op  allocs/op  B/op  ops/s  vs best
           isolated  1          n=1      1k     0          0     1M     1.00x
           shared    0.25       n=1      2k     0          0     500k   4.00x
`
	if got := buf.String(); got != want {
		t.Errorf("Text:\n%s\nwant:\n%s", got, want)
	}
}

func TestCompact(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.5, "0.5"}, {12.34, "12.3"}, {123.4, "123"},
		{999.7, "1k"}, {1234, "1.23k"}, {12_345_678, "12.3M"}, {2e9, "2G"},
		{0.000123, "0.000123"}, {0.0000123, "1.23e-05"}, {-1500, "-1.5k"},
		{math.Inf(1), "+Inf"},
	} {
		if got := compact(tt.x); got != tt.want {
			t.Errorf("compact(%v) = %q; want %q", tt.x, got, tt.want)
		}
	}
}

func TestRatio_BestIsOne(t *testing.T) {
	for _, tt := range []struct {
		v, best float64
		higher  bool
		want    float64
	}{
		{10, 10, false, 1}, {20, 10, false, 2}, {0.5, 1, true, 2},
		{0, 0, false, 1}, {5, 0, false, math.Inf(1)}, {0, 1, true, math.Inf(1)},
	} {
		if got := ratio(tt.v, tt.best, tt.higher); got != tt.want {
			t.Errorf("ratio(%v, %v, %v) = %v; want %v", tt.v, tt.best, tt.higher, got, tt.want)
		}
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
