package report

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// noiseSummary describes the run's calibration loops: how long the fixed
// loop took and how far its times spread.
type noiseSummary struct {
	N              int
	Median         float64 // ns
	P5, P95, Worst float64 // relative to the median: 0.97, 1.4, 3.1
}

// noise summarises run.Calibration.
func noise(run *results.Run) noiseSummary {
	xs := slices.Clone(run.Calibration)
	xs = slices.DeleteFunc(xs, func(x float64) bool { return !(x > 0) || math.IsInf(x, 0) })
	if len(xs) == 0 {
		return noiseSummary{}
	}
	slices.Sort(xs)
	q := func(p float64) float64 { return xs[int(math.Round(p*float64(len(xs)-1)))] }
	med := q(0.5)
	return noiseSummary{N: len(xs), Median: med, P5: q(0.05) / med, P95: q(0.95) / med, Worst: xs[len(xs)-1] / med}
}

// Verdicts on the machine's noise, by how much slower than its median the
// calibration loop's 95th percentile is.
const (
	quietBelow = 0.10
	noisyBelow = 0.30
)

// verdict is "quiet", "noisy" or "very noisy".
func (n noiseSummary) verdict() string {
	switch spread := n.P95 - 1; {
	case spread < quietBelow:
		return "quiet"
	case spread < noisyBelow:
		return "noisy"
	}
	return "very noisy"
}

// text is the header's line on noise.
func (n noiseSummary) text() string {
	s := fmt.Sprintf("%s. A fixed loop of arithmetic and memory reads on GOMAXPROCS goroutines, run before every round of samples (%d times), took %s median; "+
		"90 %% of runs within %+.0f %% … %+.0f %% of it, the slowest %s.",
		n.verdict(), n.N, format.Duration(time.Duration(n.Median)), 100*(n.P5-1), 100*(n.P95-1), format.Ratio(n.Worst))
	switch n.verdict() {
	case "noisy":
		s += " Other work shared the cores: intervals are wider and more samples were needed."
	case "very noisy":
		s += " Other work took much of the cores: trust only rows the ranking separates, and rerun on a quiet machine for close calls."
	}
	return s
}
