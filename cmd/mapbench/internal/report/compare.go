package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// Agreement is how two runs' rankings compare (see Compare).
type Agreement struct {
	// Pairs counts the pairs of implementations that both runs measured in
	// the same group; Separated those that at least one run ranks apart.
	Pairs, Separated int
	// Same counts the separated pairs that both runs rank apart in the
	// same order; OneTies those that one run ranks apart and the other
	// calls tied; Reversed those the runs rank in opposite orders.
	Same, OneTies, Reversed int
}

// Compare writes, for every group (workload, variant, key type, goroutine
// count) that both runs measured, the pairs of implementations whose order
// the runs disagree on, and returns the counts. A pair "ranked apart" is
// one the run's statistics tell apart (stats.Judge.Better: p < 0.05 and
// at least the run's precision between the medians); a reversed pair is ranked apart by both runs, in opposite orders: the
// disagreement a noise-aware ranking should not produce. A pair one run
// ranks apart and the other ties is counted apart: the tie says the other
// run could not tell, not that it saw the opposite.
func Compare(w io.Writer, a, b *results.Run) (Agreement, error) {
	bw := bufio.NewWriter(w)
	var ag Agreement
	type key struct {
		workload, variant, keyType string
		g                          int
	}
	places := func(run *results.Run) map[key]map[string]place {
		out := map[key]map[string]place{}
		for i := range run.Workloads {
			wl := &run.Workloads[i]
			for _, sec := range sections(run, wl) {
				for _, g := range sec.Groups {
					k := key{wl.Name, g.Variant, sec.KeyType, sec.Goroutines}
					out[k] = map[string]place{}
					for _, r := range g.Rows {
						if r.HasPrimary {
							xs, _ := r.Case.Values(primaryUnit(wl))
							out[k][r.Case.Impl] = place{r.Rank, r.Primary.Median, wl.HigherIsBetter, xs, judge(run, wl)}
						}
					}
				}
			}
		}
		return out
	}
	pa, pb := places(a), places(b)
	for i := range a.Workloads {
		wl := &a.Workloads[i]
		for _, sec := range sections(a, wl) {
			for _, g := range sec.Groups {
				k := key{wl.Name, g.Variant, sec.KeyType, sec.Goroutines}
				ra, rb := pa[k], pb[k]
				if rb == nil {
					continue
				}
				var impls []string
				for _, r := range g.Rows {
					if _, ok := rb[r.Case.Impl]; ok && r.HasPrimary {
						impls = append(impls, r.Case.Impl)
					}
				}
				for x := 0; x < len(impls); x++ {
					for y := x + 1; y < len(impls); y++ {
						ix, iy := impls[x], impls[y]
						ag.Pairs++
						sa := order(ra[ix], ra[iy])
						sb := order(rb[ix], rb[iy])
						if sa == 0 && sb == 0 {
							continue
						}
						ag.Separated++
						what := ""
						switch {
						case sa == sb:
							ag.Same++
							continue
						case sa != 0 && sb != 0:
							ag.Reversed++
							what = "REVERSED"
						default:
							ag.OneTies++
							what = "one run ties"
							// Say which way the tied run's medians lean.
							if m := medianSign(ra[ix], ra[iy]) * medianSign(rb[ix], rb[iy]); m < 0 {
								what += " (its medians the other way)"
							}
						}
						fmt.Fprintf(bw, "%s: %s %s, key=%s, goroutines=%d: %s vs %s: %s in the first run, %s in the second (ranks %d/%d, %d/%d)\n",
							what, wl.Name, g.Variant, sec.KeyType, sec.Goroutines, ix, iy, orderText(sa), orderText(sb),
							ra[ix].rank, ra[iy].rank, rb[ix].rank, rb[iy].rank)
					}
				}
			}
		}
	}
	fmt.Fprintf(bw, "%d pairs in both runs; %d ranked apart by at least one run: %d the same way in both, %d tied in the other, %d reversed\n",
		ag.Pairs, ag.Separated, ag.Same, ag.OneTies, ag.Reversed)
	return ag, bw.Flush()
}

// order is -1 when x is significantly better than y, 1 when worse, 0
// when the run cannot tell them apart.
func order(x, y place) int {
	switch {
	case x.judge.Better(x.values, y.values):
		return -1
	case x.judge.Better(y.values, x.values):
		return 1
	}
	return 0
}

func orderText(o int) string {
	switch o {
	case -1:
		return "better"
	case 1:
		return "worse"
	}
	return "tied"
}

// place is one implementation's place in one run's group.
type place struct {
	rank   int
	median float64
	higher bool // of the workload: a larger median is better
	values []float64
	judge  stats.Judge
}

// medianSign is -1 when x's median is better than y's, 1 when worse.
func medianSign(x, y place) int {
	s := 0
	switch {
	case x.median < y.median:
		s = -1
	case x.median > y.median:
		s = 1
	}
	if x.higher {
		s = -s
	}
	return s
}
