package report

import (
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// fixtureRun is a small run with every shape a report must handle: a
// workload with three Param values, two with one, a Primary metric, a
// Primary that is better when higher (with values more than 20× apart, so
// a log axis), two key types, two goroutine counts, an unsupported case, a
// violation at both goroutine counts, a tie, a noisy row, notes, a variant
// with "/" in it and an implementation and a metric with a space in their
// names.
func fixtureRun() *results.Run {
	run := &results.Run{
		Version:    results.Version,
		Started:    time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC),
		Elapsed:    97 * time.Second,
		GoVersion:  "go1.26.8",
		GOOS:       "linux",
		GOARCH:     "amd64",
		CPUs:       2,
		GOMAXPROCS: 2,
		Config: results.Config{
			Keys:       1000,
			Goroutines: []int{2, 8},
			Duration:   100 * time.Millisecond,
			Reps:       6,
			MaxReps:    12,
			Budget:     2 * time.Minute,
			Precision:  0.05,
			KeyTypes:   []string{"int", "string"},
			Workloads:  []string{"load", "mixed", "slowload", "memory"},
			Impls:      []string{"Map", "xsync", "cmap", "builtin", "sync Map"},
		},
		Impls: []results.Impl{
			{Name: "Map", Kind: results.KindSafemap, About: "the default map", Default: true},
			{Name: "xsync", Kind: results.KindPeer, About: "xsync"},
			{Name: "cmap", Kind: results.KindPeer, About: "concurrent-map"},
			{Name: "builtin", Kind: results.KindBound, About: "a built-in map"},
			{Name: "sync Map", Kind: results.KindPeer, About: "sync.Map, with a space"},
		},
		Calibration: []float64{1e6, 1.02e6, 0.99e6, 1.4e6, 1.01e6, 1e6, 1.03e6, 0.98e6, 1e6, 2.5e6},
	}

	// load: three miss rates, both key types, both goroutine counts. The
	// built-in map is the single-goroutine lower bound, far below the others
	// (so the chart needs a log axis), and cannot run with 8 goroutines.
	load := results.Workload{
		Name:        "load",
		Description: "Load on a pre-filled map at miss rates 0 %, 50 %, 99 % (keys never inserted).",
		Param:       "miss %",
		Primary:     "ns/op",
	}
	base := map[string]float64{"Map": 20, "xsync": 25, "cmap": 60, "builtin": 1.5}
	for _, g := range []int{2, 8} {
		for _, kt := range []string{"int", "string"} {
			for _, miss := range []float64{0, 50, 99} {
				for _, impl := range []string{"Map", "xsync", "cmap", "builtin"} {
					c := results.Case{
						Impl: impl, Variant: "miss=" + ftoa(miss) + "%", Param: miss,
						KeyType: kt, Goroutines: g,
					}
					if impl == "builtin" && g == 8 {
						c.Unsupported = "a built-in map has no concurrent writers; it runs with 2 goroutines only"
						load.Cases = append(load.Cases, c)
						continue
					}
					ns := base[impl] * (1 + miss/100) * float64(g) / 2
					if kt == "string" {
						ns *= 1.5
					}
					c.Samples = samples(6, ns, 0, 0, nil)
					load.Cases = append(load.Cases, c)
				}
			}
		}
	}

	// mixed: two mixes whose names hold "/", int keys only, one sample each.
	mixed := results.Workload{
		Name:        "mixed",
		Description: "Read-mostly mixes of Load, Store and Delete on a fixed key space.",
		Param:       "reads %",
		Primary:     "ns/op",
	}
	for _, m := range []struct {
		name  string
		reads float64
	}{{"mix=90/9/1", 90}, {"mix=99/0.9/0.1", 99}} {
		for _, impl := range []string{"Map", "xsync", "sync Map"} {
			mixed.Cases = append(mixed.Cases, results.Case{
				Impl: impl, Variant: m.name, Param: m.reads, KeyType: "int", Goroutines: 2,
				Samples: samples(1, base2(impl)*(200-m.reads)/100, 0.1, 12, nil),
			})
		}
	}

	// slowload: one variant, Primary "isolation", better when higher, at two
	// goroutine counts. xsync breaks the run-once guarantee at both; cmap
	// cannot run it; "sync Map" keeps 1.5 % of the others' throughput, so
	// the values span more than 20× and the chart has a log axis (where
	// gonum's StackOn once drew every bar in the bottom row).
	slow := results.Workload{
		Name:           "slowload",
		Description:    "LoadOrCompute where one key's value function takes 1 ms while other goroutines work on other keys.",
		Param:          "loader ms",
		Primary:        "isolation",
		HigherIsBetter: true,
		Notes:          []string{"cmap has no LoadOrCompute, so it cannot show a slow loader."},
	}
	for _, g := range []int{2, 8} {
		slow.Cases = append(slow.Cases,
			results.Case{Impl: "Map", Variant: "loader=1ms", Param: 1, KeyType: "int", Goroutines: g,
				Samples: samples(6, 40, 1, 48, map[string]float64{"isolation": 0.95, "loader ms": 1})},
			results.Case{Impl: "xsync", Variant: "loader=1ms", Param: 1, KeyType: "int", Goroutines: g,
				Samples:    samples(6, 35, 1, 40, map[string]float64{"isolation": 0.5, "loader ms": 1}),
				Violations: []string{"value function ran 17 times for 1 missing key"}},
			results.Case{Impl: "sync Map", Variant: "loader=1ms", Param: 1, KeyType: "int", Goroutines: g,
				Samples: samples(6, 900, 1, 40, map[string]float64{"isolation": 0.015, "loader ms": 1})},
			results.Case{Impl: "cmap", Variant: "loader=1ms", Param: 1, KeyType: "int", Goroutines: g,
				Unsupported: "no LoadOrCompute"},
		)
	}

	// memory: Primary "B/entry", one variant, two goroutine counts.
	memory := results.Workload{
		Name:        "memory",
		Description: "Bytes per entry after N inserts, GC cycles and allocated bytes per operation.",
		Param:       "entries",
		Primary:     "B/entry",
		Notes:       []string{"B/entry counts the heap after a forced GC."},
	}
	for _, g := range []int{2, 8} {
		for _, impl := range []string{"Map", "xsync", "cmap"} {
			memory.Cases = append(memory.Cases, results.Case{
				Impl: impl, Variant: "n=1000", Param: 1000, KeyType: "int", Goroutines: g,
				Samples: samples(6, 100, 1, 64, map[string]float64{
					"B/entry": map[string]float64{"Map": 72, "xsync": 96, "cmap": 150}[impl],
					"GCs/Mop": 3,
				}),
			})
		}
	}

	run.Workloads = []results.Workload{load, mixed, slow, memory}
	return run
}

func base2(impl string) float64 {
	return map[string]float64{"Map": 30, "xsync": 28, "sync Map": 55}[impl]
}

// samples makes n samples around ns ns/op, 2 % apart, each with the
// metrics.
func samples(n int, ns, allocs, bytes float64, metrics map[string]float64) []results.Sample {
	var ss []results.Sample
	for i := range n {
		f := 1 + 0.02*float64(i-n/2)
		s := results.Sample{
			Ops:         int64(1e8 / ns),
			NsPerOp:     ns * f,
			AllocsPerOp: allocs,
			BytesPerOp:  bytes,
		}
		if metrics != nil {
			s.Metrics = map[string]float64{}
			for u, v := range metrics {
				s.Metrics[u] = v * f
			}
		}
		ss = append(ss, s)
	}
	return ss
}

func ftoa(x float64) string { return csvFloat(x) }

// fixtureImpls is every implementation the fixture has.
var fixtureImpls = []string{"Map", "xsync", "cmap", "builtin", "sync Map"}

// countSamples counts the samples of the run, and its cases without any.
func countSamples(run *results.Run) (samples, empty int) {
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			samples += len(c.Samples)
			if len(c.Samples) == 0 {
				empty++
			}
		}
	}
	return samples, empty
}
