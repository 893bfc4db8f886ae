// Package results holds what a mapbench run measured: the types that
// results.json stores and every report is drawn from.
package results

import (
	"bytes"
	"os"
	"runtime"
	"slices"
	"time"
	"unicode/utf8"
)

// Version is the version of the results.json layout. Bump it when a
// field changes meaning.
const Version = 1

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
	Workloads  []Workload    `json:"workloads"`
}

// Config is the parameters the run used (after defaults were applied).
type Config struct {
	Keys       int           `json:"keys"`       // key-space size of the pre-filled workloads
	Goroutines []int         `json:"goroutines"` // each workload runs once per entry
	Duration   time.Duration `json:"duration_ns"`
	Reps       int           `json:"reps"`      // repetitions of every case
	KeyTypes   []string      `json:"key_types"` // "int", "string"
	Workloads  []string      `json:"workloads"`
	Impls      []string      `json:"impls"`
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

// Stat is the middle and the spread of one figure over a case's samples.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// stat summarises the figure f over the samples.
func (c *Case) stat(f func(Sample) float64) Stat {
	if len(c.Samples) == 0 {
		return Stat{}
	}
	xs := make([]float64, len(c.Samples))
	for i, s := range c.Samples {
		xs[i] = f(s)
	}
	slices.Sort(xs)
	n := len(xs)
	med := xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	return Stat{Median: med, Min: xs[0], Max: xs[n-1], N: n}
}

// NsPerOp, AllocsPerOp, BytesPerOp and Metric summarise the samples.
func (c *Case) NsPerOp() Stat     { return c.stat(func(s Sample) float64 { return s.NsPerOp }) }
func (c *Case) AllocsPerOp() Stat { return c.stat(func(s Sample) float64 { return s.AllocsPerOp }) }
func (c *Case) BytesPerOp() Stat  { return c.stat(func(s Sample) float64 { return s.BytesPerOp }) }

// Metric summarises a workload-specific metric; ok is false if no sample
// has it.
func (c *Case) Metric(unit string) (st Stat, ok bool) {
	for _, s := range c.Samples {
		if _, ok = s.Metrics[unit]; ok {
			break
		}
	}
	if !ok {
		return Stat{}, false
	}
	return c.stat(func(s Sample) float64 { return s.Metrics[unit] }), true
}

// Figure summarises the figure with the given unit: "ns/op", "allocs/op",
// "B/op", "ops/s" or a metric's unit.
func (c *Case) Figure(unit string) (st Stat, ok bool) {
	switch unit {
	case "ns/op":
		return c.NsPerOp(), len(c.Samples) > 0
	case "allocs/op":
		return c.AllocsPerOp(), len(c.Samples) > 0
	case "B/op":
		return c.BytesPerOp(), len(c.Samples) > 0
	case "ops/s":
		return c.stat(Sample.OpsPerSec), len(c.Samples) > 0
	}
	return c.Metric(unit)
}

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
