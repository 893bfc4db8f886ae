package report

import (
	"math"
	"slices"
	"strconv"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// A section is the cases of a workload that share a key type and a
// goroutine count, in the order the run measured them. Text prints one
// aligned table per section; HTML one table body; every section gets its
// own chart.
type section struct {
	KeyType    string
	Goroutines int
	Groups     []group
}

// A group is the cases of a section that share a variant: the
// implementations one ranking compares.
type group struct {
	Variant string
	Param   float64
	// Rows are ranked: best rank first (ties by median), then supported
	// cases without the figure, then unsupported cases, each in run order.
	Rows []row
}

// A row is one case of a group with its Primary figure and its place in
// the group's ranking.
type row struct {
	Case       *results.Case
	Primary    stats.Summary
	HasPrimary bool
	// Rank is 1 + the number of rows of the group significantly better
	// (stats.Judge.Better), 0 without a Primary figure; Tied is set when
	// another row shares the rank.
	Rank int
	Tied bool
	// Best marks the row with the best median; TiedWithBest every row that
	// shares its rank, 1 (nothing is significantly better than either).
	Best, TiedWithBest bool
	// Ratio is how many times worse than the best median this one is (1
	// for the best, +Inf when the best is 0 or, when higher is better,
	// this one is). NaN without a Primary figure.
	Ratio float64
}

// primaryUnit is the unit the workload ranks and charts by.
func primaryUnit(w *results.Workload) string {
	if w.Primary == "" {
		return "ns/op"
	}
	return w.Primary
}

// betterText says which way the workload's Primary figure improves.
func betterText(w *results.Workload) string {
	if w.HigherIsBetter {
		return "higher is better"
	}
	return "lower is better"
}

// defaultPrecision is the precision of a run that did not record one.
const defaultPrecision = 0.05

// judge is how the run's rows are ranked.
func judge(run *results.Run, w *results.Workload) stats.Judge {
	p := run.Config.Precision
	if p <= 0 {
		p = defaultPrecision
	}
	return stats.Judge{HigherIsBetter: w.HigherIsBetter, Precision: p}
}

// sections splits the workload's cases into sections and groups, keeping
// the order in which the run measured them, and ranks every group.
func sections(run *results.Run, w *results.Workload) []section {
	unit := primaryUnit(w)
	var secs []section
	for i := range w.Cases {
		c := &w.Cases[i]
		si := slices.IndexFunc(secs, func(s section) bool {
			return s.KeyType == c.KeyType && s.Goroutines == c.Goroutines
		})
		if si < 0 {
			secs = append(secs, section{KeyType: c.KeyType, Goroutines: c.Goroutines})
			si = len(secs) - 1
		}
		s := &secs[si]
		gi := slices.IndexFunc(s.Groups, func(g group) bool {
			return g.Variant == c.Variant && g.Param == c.Param
		})
		if gi < 0 {
			s.Groups = append(s.Groups, group{Variant: c.Variant, Param: c.Param})
			gi = len(s.Groups) - 1
		}
		s.Groups[gi].Rows = append(s.Groups[gi].Rows, row{Case: c, Ratio: math.NaN()})
	}
	j := judge(run, w)
	for si := range secs {
		for gi := range secs[si].Groups {
			rank(secs[si].Groups[gi].Rows, unit, j)
		}
	}
	return secs
}

// rank orders rows best first and fills in their places.
func rank(rows []row, unit string, j stats.Judge) {
	sets := make([][]float64, len(rows))
	for i := range rows {
		if rows[i].Case.Unsupported == "" {
			sets[i], _ = rows[i].Case.Values(unit)
		}
	}
	rk := j.Rank(sets)
	for i := range rows {
		r := &rows[i]
		if len(sets[i]) == 0 {
			continue
		}
		r.Primary, r.HasPrimary = rk.Summaries[i], true
		r.Rank, r.Tied = rk.Rank[i], rk.Tied[i]
		r.Best, r.TiedWithBest = i == rk.Best, rk.Rank[i] == 1
		r.Ratio = rk.Ratio[i]
	}
	sorted := make([]row, 0, len(rows))
	for _, i := range rk.Order {
		if len(sets[i]) > 0 {
			sorted = append(sorted, rows[i])
		}
	}
	for _, class := range []bool{false, true} { // measured nothing, then unsupported
		for i := range rows {
			if len(sets[i]) == 0 && (rows[i].Case.Unsupported != "") == class {
				sorted = append(sorted, rows[i])
			}
		}
	}
	copy(rows, sorted)
}

// rankText is a row's rank, "≈2" when it shares it.
func rankText(r row) string {
	if r.Rank == 0 {
		return ""
	}
	s := strconv.Itoa(r.Rank)
	if r.Tied {
		s = "≈" + s
	}
	return s
}

// intervalText is the half-width of a median's confidence interval, "±4%",
// marked "*" beyond ±25 % (noisy) and capped at "±>99%"; "±∞" with too few
// samples for one.
func intervalText(st stats.Summary) string {
	h := st.HalfWidth()
	switch {
	case st.N == 0:
		return ""
	case math.IsInf(h, 1):
		return "±∞"
	}
	s := "±" + strconv.FormatFloat(100*h, 'f', 0, 64) + "%"
	if h >= 0.995 {
		s = "±>99%"
	}
	if st.Noisy() {
		s += "*"
	}
	return s
}

// vsBestText is a row's place against the group's best: "best", "≈best"
// for a row the ranking cannot tell from it, or the ratio of the medians,
// "3.40×".
func vsBestText(r row) string {
	switch {
	case !r.HasPrimary:
		return ""
	case r.Best:
		return "best"
	case r.TiedWithBest:
		return "≈best"
	}
	return format.Ratio(r.Ratio)
}

// settingText names a case's setting for a note: "miss=50%, key=int,
// goroutines=2".
func settingText(c *results.Case) string {
	s := "key=" + c.KeyType + ", goroutines=" + strconv.Itoa(c.Goroutines)
	if c.Variant != "" {
		s = c.Variant + ", " + s
	}
	return s
}

// violationText is the flagged note for one broken guarantee.
func violationText(c *results.Case, v string) string {
	return "! " + c.Impl + ": " + v + " (" + settingText(c) + ")"
}

// figureColumns are the standard figures every table shows after the
// Primary one, which is left out here if it is one of them.
func figureColumns(w *results.Workload) []string {
	var cols []string
	for _, u := range [...]string{"ns/op", "allocs/op", "B/op", "ops/s"} {
		if u != primaryUnit(w) {
			cols = append(cols, u)
		}
	}
	return cols
}

// figureText formats one figure of a case for a table cell: the median,
// with ops/s like the others ("12.3M").
func figureText(c *results.Case, unit string) string {
	st, ok := c.Figure(unit)
	if !ok {
		return ""
	}
	if (unit == "allocs/op" || unit == "B/op") && st.Median < 0.01 {
		// The runtime's own background allocations, spread over millions
		// of operations: nothing the map did.
		return "0"
	}
	return format.Number(st.Median)
}
