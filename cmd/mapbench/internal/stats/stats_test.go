package stats

import (
	"math"
	"slices"
	"testing"
)

// spread returns n values around c, ±frac, evenly spaced.
func spread(c, frac float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = c * (1 - frac + 2*frac*float64(i)/float64(n-1))
	}
	return xs
}

func TestSummarize_MedianIntervalAndSpread(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6}
	s := Summarize(xs)
	if s.Median != 3.5 || s.Min != 1 || s.Max != 6 || s.N != 6 {
		t.Errorf("Summarize = %+v; want median 3.5, min 1, max 6, n 6", s)
	}
	if s.Lo != 1 || s.Hi != 6 {
		t.Errorf("interval %v–%v; want 1–6 (order statistics 1 and 6 of 6)", s.Lo, s.Hi)
	}
	if !slices.Equal(xs, []float64{5, 1, 4, 2, 3, 6}) {
		t.Errorf("Summarize sorted its argument: %v", xs)
	}
	if few := Summarize([]float64{1, 2, 3}); !math.IsInf(few.HalfWidth(), 1) {
		t.Errorf("3 samples: half-width %v; want +Inf (no 95 %% interval below %d samples)", few.HalfWidth(), MinSamplesForCI)
	}
	if z := Summarize(nil); z.N != 0 || !math.IsInf(z.HalfWidth(), 1) {
		t.Errorf("no samples: %+v", z)
	}
	if h := Summarize(spread(100, 0.04, 12)).HalfWidth(); h <= 0 || h > 0.04 {
		t.Errorf("±4 %% samples: half-width %v; want within (0, 0.04]", h)
	}
	if !Summarize(spread(100, 0.6, 8)).Noisy() || Summarize(spread(100, 0.1, 8)).Noisy() {
		t.Errorf("Noisy is wrong for ±60 %% or ±10 %% samples")
	}
}

func TestJudge_BetterNeedsSignificanceAndSize(t *testing.T) {
	j := Judge{Precision: 0.05}
	fast, slow := spread(10, 0.02, 8), spread(12, 0.02, 8)
	if !j.Better(fast, slow) || j.Better(slow, fast) {
		t.Errorf("10 ± 2 %% vs 12 ± 2 %%, 8 samples each: Better = %v, reverse %v; want true, false", j.Better(fast, slow), j.Better(slow, fast))
	}
	// 2 % apart, perfectly separated: significant but under the precision.
	near := spread(10.2, 0.001, 8)
	tight := spread(10, 0.001, 8)
	if PValue(tight, near) >= Alpha {
		t.Fatalf("the test needs a significant pair; p = %v", PValue(tight, near))
	}
	if j.Better(tight, near) {
		t.Errorf("2 %% apart with precision 5 %%: Better = true; want a tie")
	}
	// Too few samples for the U test to be significant at all.
	if j.Better([]float64{1, 1, 1}, []float64{9, 9, 9}) {
		t.Errorf("3 samples each: Better = true; the U test cannot reach p < 0.05 with 3 + 3")
	}
	h := Judge{HigherIsBetter: true, Precision: 0.05}
	if !h.Better(slow, fast) || h.Better(fast, slow) {
		t.Errorf("higher is better: got the direction wrong")
	}
}

func TestJudge_RankSharesRanksBetweenTies(t *testing.T) {
	j := Judge{Precision: 0.05}
	sets := [][]float64{
		spread(20, 0.03, 8),   // 0: third
		spread(10, 0.03, 8),   // 1: best
		spread(10.2, 0.03, 8), // 2: tied with the best
		nil,                   // 3: not measured
		spread(15, 0.03, 8),   // 4: second
	}
	r := j.Rank(sets)
	if r.Best != 1 {
		t.Errorf("Best = %d; want 1", r.Best)
	}
	if want := []int{1, 2, 4, 0, 3}; !slices.Equal(r.Order, want) {
		t.Errorf("Order = %v; want %v", r.Order, want)
	}
	if want := []int{4, 1, 1, 0, 3}; !slices.Equal(r.Rank, want) {
		t.Errorf("Rank = %v; want %v (1 + the sets significantly better)", r.Rank, want)
	}
	if want := []bool{false, true, true, false, false}; !slices.Equal(r.Tied, want) || !slices.Equal(r.TiedWithBest, want) {
		t.Errorf("Tied = %v, TiedWithBest = %v; want %v for both", r.Tied, r.TiedWithBest, want)
	}
	if r.Ratio[1] != 1 || math.Abs(r.Ratio[0]-2) > 0.01 || !math.IsNaN(r.Ratio[3]) {
		t.Errorf("Ratio = %v; want 1 for the best, 2 for set 0, NaN for the empty one", r.Ratio)
	}
}

func TestJudge_UnsettledAsksForSamplesOnlyWhereNeeded(t *testing.T) {
	j := Judge{Precision: 0.05}
	sets := [][]float64{
		spread(10, 0.3, 8),   // 0: close to 1, both wide: unsettled
		spread(11, 0.3, 8),   // 1
		spread(50, 0.02, 8),  // 2: far from everything: settled
		spread(100, 0.01, 8), // 3: tied with 4, both within ±5 %: settled
		spread(101, 0.01, 8), // 4
		spread(500, 0.01, 3), // 5: too few samples for an interval
		nil,                  // 6: nothing to measure
	}
	got := j.Unsettled(sets)
	if want := []bool{true, true, false, false, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("Unsettled = %v; want %v", got, want)
	}
}
