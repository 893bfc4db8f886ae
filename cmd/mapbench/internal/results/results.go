// Package results holds what a mapbench run measured: the types that
// results.json stores and every report is drawn from.
package results

import (
	"bytes"
	"os"
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// Version is the version of the results.json layout. Bump it when a
// field changes meaning. Version 2 added adaptive repetitions (Config's
// MaxReps, Budget and Precision), Incomplete and Calibration.
const Version = 2

// Run is everything one mapbench invocation measured. It is what
// results.json holds, and what every report is drawn from.
type Run struct {
	Version    int           `json:"version"`
	Started    time.Time     `json:"started"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	GoVersion  string        `json:"go_version"`
	GOOS       string        `json:"goos"`
	GOARCH     string        `json:"goarch"`
	CPU        string        `json:"cpu,omitempty"` // processor model, where the OS tells
	CPUs       int           `json:"cpus"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	Config     Config        `json:"config"`
	// Incomplete says why the run stopped before measuring everything it
	// was asked to (an interrupt); "" for a complete run. Workloads then
	// holds what was measured.
	Incomplete string `json:"incomplete,omitempty"`
	// Calibration holds the wall time, in ns, of a fixed CPU-bound loop run
	// on GOMAXPROCS goroutines before every round of samples: on a quiet
	// machine they are all alike, and their spread is how much the
	// machine's load disturbed the run.
	Calibration []float64 `json:"calibration_ns,omitempty"`
	// Impls describes the implementations the run measured, in run order.
	Impls     []Impl     `json:"impls,omitempty"`
	Workloads []Workload `json:"workloads"`
}

// Impl describes one implementation a run measured.
type Impl struct {
	Name  string `json:"name"`  // as in Case.Impl: "safemap.Map", "xsync.Map", …
	Kind  string `json:"kind"`  // KindSafemap, KindPeer or KindBound
	About string `json:"about"` // one line on what it is
	// Default marks the map a user gets without choosing: safemap.New.
	Default bool `json:"default,omitempty"`
}

// The kinds of implementation.
const (
	KindSafemap = "safemap" // one of safemap's strategies
	KindPeer    = "peer"    // a public Go map safemap is compared with
	KindBound   = "bound"   // a lower bound that is no concurrent map (a built-in map read without writers)
)

// Config is the parameters the run used (after defaults were applied).
type Config struct {
	Keys       int           `json:"keys"`       // key-space size of the pre-filled workloads
	Goroutines []int         `json:"goroutines"` // each workload runs once per entry
	Duration   time.Duration `json:"duration_ns"`
	// Reps is the samples every case gets; MaxReps the most a case gets
	// while its ranking against its neighbours is unsettled.
	Reps    int `json:"reps"`
	MaxReps int `json:"max_reps"`
	// Budget is the wall time the run aimed to finish in: extra samples
	// are taken only while the run is on course for it.
	Budget time.Duration `json:"budget_ns"`
	// Precision is the smallest relative difference of medians that the
	// ranking tells apart (0.05: 5 %).
	Precision float64  `json:"precision"`
	KeyTypes  []string `json:"key_types"` // "int", "string"
	Workloads []string `json:"workloads"`
	Impls     []string `json:"impls"`
}

// Workload is the results of one named scenario.
type Workload struct {
	Name        string `json:"name"` // "load", "grow", …
	Description string `json:"description"`
	// Param names what Case.Param means for this workload ("miss %",
	// "new keys %", "zipf s"), the x axis of its chart.
	Param string `json:"param"`
	// Primary is the unit of the workload's headline figure: "ns/op" for
	// most, a Sample.Metrics key for others ("B/entry" for memory,
	// "isolation" for slowload). Reports rank and chart by it.
	Primary string `json:"primary"`
	// HigherIsBetter is true when a larger Primary figure is better
	// (isolation); false for costs such as ns/op and B/entry.
	HigherIsBetter bool   `json:"higher_is_better,omitempty"`
	Cases          []Case `json:"cases"`
	// Notes are findings about the workload as a whole, such as a peer that
	// could not run it.
	Notes []string `json:"notes,omitempty"`
	// Elapsed is how long the workload took, setup included.
	Elapsed time.Duration `json:"elapsed_ns,omitempty"`
}

// Case is one implementation measured under one setting of a workload.
type Case struct {
	Impl       string  `json:"impl"`       // "Map", "xsync", …
	Variant    string  `json:"variant"`    // benchmark name element, e.g. "miss=50%"
	Param      float64 `json:"param"`      // numeric value of the variant (x axis)
	KeyType    string  `json:"key_type"`   // "int" or "string"
	Goroutines int     `json:"goroutines"` // goroutines driving the map
	// Samples holds one entry per repetition, in the order they ran.
	Samples []Sample `json:"samples,omitempty"`
	// Unsupported says why the implementation cannot run this case (it lacks
	// the operation); the case then has no samples.
	Unsupported string `json:"unsupported,omitempty"`
	// Violations lists guarantees the implementation broke while it ran, such
	// as "value function ran 17 times for 1 missing key".
	Violations []string `json:"violations,omitempty"`
}

// Sample is one repetition of a case.
type Sample struct {
	Ops         int64   `json:"ops"`
	NsPerOp     float64 `json:"ns_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// Metrics holds workload-specific figures, keyed by their unit as it
	// appears in bench.txt: "B/entry", "GCs/Mop", "isolation" (throughput
	// of the other goroutines with a slow loader in flight ÷ without), …
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// OpsPerSec is the throughput of the sample, in operations per second over
// all goroutines.
func (s Sample) OpsPerSec() float64 {
	if s.NsPerOp <= 0 {
		return 0
	}
	return 1e9 / s.NsPerOp
}

// Values returns the figure with the given unit ("ns/op", "allocs/op",
// "B/op", "ops/s" or a metric's unit) of every sample that has it, in run
// order; ok is false if none has.
func (c *Case) Values(unit string) (xs []float64, ok bool) {
	for _, s := range c.Samples {
		var v float64
		switch unit {
		case "ns/op":
			v, ok = s.NsPerOp, true
		case "allocs/op":
			v, ok = s.AllocsPerOp, true
		case "B/op":
			v, ok = s.BytesPerOp, true
		case "ops/s":
			v, ok = s.OpsPerSec(), true
		default:
			v, ok = s.Metrics[unit]
		}
		if ok {
			xs = append(xs, v)
		}
	}
	return xs, len(xs) > 0
}

// Figure summarises the figure with the given unit over the samples (see
// Values); ok is false if no sample has it.
func (c *Case) Figure(unit string) (st stats.Summary, ok bool) {
	xs, ok := c.Values(unit)
	if !ok {
		return stats.Summary{}, false
	}
	return stats.Summarize(xs), true
}

// NsPerOp and AllocsPerOp summarise the samples' standard figures.
func (c *Case) NsPerOp() stats.Summary     { st, _ := c.Figure("ns/op"); return st }
func (c *Case) AllocsPerOp() stats.Summary { st, _ := c.Figure("allocs/op"); return st }

// LocalCPU returns this machine's processor model name, as go test prints
// it on its cpu: line, or "" where the OS does not tell (read from
// /proc/cpuinfo on Linux).
func LocalCPU() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for l := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if ok && string(bytes.TrimSpace(k)) == "model name" {
			if v = bytes.TrimSpace(v); utf8.Valid(v) {
				return string(v)
			}
		}
	}
	return ""
}
