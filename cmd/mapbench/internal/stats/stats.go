// Package stats is the statistics mapbench reports and decides by: the
// median of a case's samples with its 95 % confidence interval, the
// Mann-Whitney U test between two cases (as benchstat computes them, with
// golang.org/x/perf/benchmath), and the ranking built from them, in which
// cases whose difference is not significant share a rank.
//
// A difference counts only when it is both statistically significant
// (p < [Alpha]) and at least a given relative size (the precision): with
// enough samples any two maps differ significantly by a fraction of a per
// cent, which no reader should act on and which the next run on a shared
// machine may reverse.
package stats

import (
	"cmp"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Confidence is the level of every confidence interval, and Alpha the
// significance level of every comparison: benchstat's defaults.
const (
	Confidence = 0.95
	Alpha      = 0.05
)

// MinSamplesForCI is the fewest samples whose median has a finite 95 %
// confidence interval (order statistics 1 and 6 of 6 cover the median with
// probability 96.9 %); with fewer, [Summary.Lo] and [Summary.Hi] are
// infinite.
const MinSamplesForCI = 6

// NoisyAbove is the half-width of a median's confidence interval, relative
// to the median, above which a row is marked noisy.
const NoisyAbove = 0.25

// Summary is the middle and spread of one figure over a case's samples.
type Summary struct {
	Median float64
	// Lo and Hi bound the 95 % confidence interval of the median; they are
	// -Inf and +Inf with fewer than MinSamplesForCI samples.
	Lo, Hi   float64
	Min, Max float64
	N        int
}

var thresholds = benchmath.Thresholds{CompareAlpha: Alpha}

// Summarize returns the summary of xs, which it does not modify. The zero
// Summary (N = 0) describes no samples.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := benchmath.NewSample(slices.Clone(xs), &thresholds) // sorts its copy
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	return Summary{
		Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi,
		Min: s.Values[0], Max: s.Values[len(s.Values)-1], N: len(xs),
	}
}

// HalfWidth is the larger distance from the median to an end of its
// confidence interval, relative to the median: 0.04 for "±4 %". It is +Inf
// when the interval is unbounded or the median is 0 with a non-zero spread.
func (s Summary) HalfWidth() float64 {
	if s.N == 0 || math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return math.Inf(1)
	}
	if s.Median == 0 {
		if s.Lo == 0 && s.Hi == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return max(s.Hi/s.Median-1, 1-s.Lo/s.Median, 0)
}

// Noisy reports whether the confidence interval is wider than ±NoisyAbove.
func (s Summary) Noisy() bool { return s.HalfWidth() > NoisyAbove }

// PValue is the p-value of the Mann-Whitney U test that a and b come from
// the same distribution: small when one tends to be larger than the other.
// It is 1 when either has no samples or the test cannot be computed (all
// values equal).
func PValue(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 1
	}
	sa := benchmath.NewSample(slices.Clone(a), &thresholds)
	sb := benchmath.NewSample(slices.Clone(b), &thresholds)
	return benchmath.AssumeNothing.Compare(sa, sb).P
}

// A Judge decides which of two sample sets is better.
type Judge struct {
	// HigherIsBetter is set when a larger figure is better (isolation);
	// otherwise smaller is (ns/op, B/entry).
	HigherIsBetter bool
	// Precision is the smallest relative difference of the medians that
	// counts, 0.05 for 5 %: smaller differences are ties however
	// significant.
	Precision float64
}

// Better reports whether a is better than b: its median is better by at
// least the precision and the U test says the difference is significant.
func (j Judge) Better(a, b []float64) bool {
	ma, mb := Summarize(a).Median, Summarize(b).Median
	if !j.ahead(ma, mb) {
		return false
	}
	return PValue(a, b) < Alpha
}

// ahead reports whether median a beats median b by at least the precision.
func (j Judge) ahead(a, b float64) bool {
	if j.HigherIsBetter {
		a, b = b, a // now smaller is better
	}
	switch {
	case math.IsNaN(a) || math.IsNaN(b) || a >= b:
		return false
	case a <= 0:
		return true
	}
	return b/a-1 >= j.Precision
}

// Ranking ranks sample sets. Every slice is indexed like the input.
type Ranking struct {
	// Order lists the indexes best first: by rank, then by median.
	Order []int
	// Rank is 1 + the number of sets significantly better than this one, so
	// sets that nothing separates share a rank.
	Rank []int
	// Tied is set for a set that shares its rank with another.
	Tied []bool
	// Best is the index of the set with the best median, or -1 if none
	// has samples.
	Best int
	// TiedWithBest is set for every set that is not significantly worse
	// than Best (Best included).
	TiedWithBest []bool
	// Ratio is how many times worse than Best a set's median is: 1 for
	// Best, more for the others, +Inf when Best's median is 0 (or, when
	// higher is better, this one's is). NaN for a set without samples.
	Ratio []float64
	// Summaries are the sets' summaries.
	Summaries []Summary
}

// Rank ranks the sample sets. Sets without samples rank last, unranked
// (Rank 0, Ratio NaN), in input order.
func (j Judge) Rank(sets [][]float64) Ranking {
	n := len(sets)
	r := Ranking{
		Order: make([]int, 0, n), Rank: make([]int, n), Tied: make([]bool, n),
		Best: -1, TiedWithBest: make([]bool, n), Ratio: make([]float64, n),
		Summaries: make([]Summary, n),
	}
	for i, s := range sets {
		r.Summaries[i] = Summarize(s)
		r.Ratio[i] = math.NaN()
	}
	var with []int
	for i := range sets {
		if len(sets[i]) > 0 {
			with = append(with, i)
		}
	}
	better := func(a, b float64) int { // -1 when median a is better
		if j.HigherIsBetter {
			return cmp.Compare(b, a)
		}
		return cmp.Compare(a, b)
	}
	for _, i := range with {
		r.Rank[i] = 1
		for _, k := range with {
			if k != i && j.Better(sets[k], sets[i]) {
				r.Rank[i]++
			}
		}
		if r.Best < 0 || better(r.Summaries[i].Median, r.Summaries[r.Best].Median) < 0 {
			r.Best = i
		}
	}
	for _, i := range with {
		for _, k := range with {
			if k != i && r.Rank[k] == r.Rank[i] {
				r.Tied[i] = true
			}
		}
		r.TiedWithBest[i] = i == r.Best || !j.Better(sets[r.Best], sets[i])
		r.Ratio[i] = ratio(r.Summaries[i].Median, r.Summaries[r.Best].Median, j.HigherIsBetter)
	}
	r.Order = append(r.Order, with...)
	slices.SortStableFunc(r.Order, func(a, b int) int {
		if c := cmp.Compare(r.Rank[a], r.Rank[b]); c != 0 {
			return c
		}
		return better(r.Summaries[a].Median, r.Summaries[b].Median)
	})
	for i := range sets {
		if len(sets[i]) == 0 {
			r.Order = append(r.Order, i)
		}
	}
	return r
}

// ratio is how many times worse v is than best.
func ratio(v, best float64, higherIsBetter bool) float64 {
	worse, better := v, best
	if higherIsBetter {
		worse, better = best, v
	}
	switch {
	case worse == better:
		return 1
	case better == 0:
		return math.Inf(1)
	}
	return worse / better
}

// Unsettled reports which sets need more samples before the ranking can
// be trusted: a set with fewer than MinSamplesForCI samples, and both sets
// of every pair of neighbours (in median order) that are neither told apart
// (one significantly better) nor known to be alike (both confidence
// intervals within ±Precision). Sets without samples are never unsettled:
// they have nothing to measure.
func (j Judge) Unsettled(sets [][]float64) []bool {
	out := make([]bool, len(sets))
	var order []int
	sums := make([]Summary, len(sets))
	for i, s := range sets {
		if len(s) == 0 {
			continue
		}
		sums[i] = Summarize(s)
		order = append(order, i)
		if len(s) < MinSamplesForCI {
			out[i] = true
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		c := cmp.Compare(sums[a].Median, sums[b].Median)
		if j.HigherIsBetter {
			return -c
		}
		return c
	})
	for k := 1; k < len(order); k++ {
		a, b := order[k-1], order[k]
		if j.Better(sets[a], sets[b]) {
			continue
		}
		if sums[a].HalfWidth() <= j.Precision && sums[b].HalfWidth() <= j.Precision {
			continue
		}
		out[a], out[b] = true, true
	}
	return out
}
