package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
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
// the runs disagree on, and returns the counts. A pair "ranked apart" has
// different ranks (one significantly better, by the run's precision); a
// reversed pair is ranked apart both times, in opposite orders, or apart
// in one run and in the opposite order by median in the other: the
// disagreement no noise-aware ranking should produce.
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
							out[k][r.Case.Impl] = place{r.Rank, r.Primary.Median, wl.HigherIsBetter}
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
						sa := sign(ra[ix].rank, ra[iy].rank)
						sb := sign(rb[ix].rank, rb[iy].rank)
						if sa == 0 && sb == 0 {
							continue
						}
						ag.Separated++
						ma := medianSign(ra[ix], ra[iy])
						mb := medianSign(rb[ix], rb[iy])
						what := ""
						switch {
						case sa != 0 && sb != 0 && sa == sb:
							ag.Same++
							continue
						case sa != 0 && sb != 0, sa != 0 && mb == -sa, sb != 0 && ma == -sb:
							ag.Reversed++
							what = "REVERSED"
						default:
							ag.OneTies++
							what = "one run ties"
						}
						fmt.Fprintf(bw, "%s: %s %s, key=%s, goroutines=%d: %s vs %s: ranks %d/%d in the first run, %d/%d in the second\n",
							what, wl.Name, g.Variant, sec.KeyType, sec.Goroutines, ix, iy,
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

// sign is -1 when rank a is better than b, 1 when worse, 0 when shared.
func sign(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// place is one implementation's place in one run's group.
type place struct {
	rank   int
	median float64
	higher bool // of the workload: a larger median is better
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
