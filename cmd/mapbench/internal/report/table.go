package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// A section is the cases of a workload that share a key type and a
// goroutine count, in the order the run measured them. Text prints one
// aligned table per section; HTML one table body.
type section struct {
	KeyType    string
	Goroutines int
	Groups     []group
}

// A group is the cases of a section that share a variant: the
// implementations one ratio column compares.
type group struct {
	Variant string
	Param   float64
	// Rows are ranked: the best Primary figure first, then supported cases
	// without the figure, then unsupported cases, each in run order.
	Rows []row
}

// A row is one case of a group with its Primary figure and its ratio to the
// group's best.
type row struct {
	Case       *results.Case
	Primary    results.Stat
	HasPrimary bool
	// Ratio is how many times worse than the group's best the case is: 1 for
	// the best, more for the others, +Inf when the best is 0 (or, when higher
	// is better, this case is 0). NaN without a Primary figure.
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

// sections splits the workload's cases into sections and groups, keeping
// the order in which the run measured them, and ranks every group.
func sections(w *results.Workload) []section {
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
		r := row{Case: c, Ratio: math.NaN()}
		if c.Unsupported == "" {
			r.Primary, r.HasPrimary = c.Figure(unit)
		}
		s.Groups[gi].Rows = append(s.Groups[gi].Rows, r)
	}
	for si := range secs {
		for gi := range secs[si].Groups {
			rank(secs[si].Groups[gi].Rows, w.HigherIsBetter)
		}
	}
	return secs
}

// rank orders rows best first and sets their ratios to the best.
func rank(rows []row, higherIsBetter bool) {
	class := func(r row) int {
		switch {
		case r.HasPrimary:
			return 0
		case r.Case.Unsupported == "":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if c := cmp.Compare(class(a), class(b)); c != 0 || !a.HasPrimary {
			return c
		}
		if higherIsBetter {
			return cmp.Compare(b.Primary.Median, a.Primary.Median)
		}
		return cmp.Compare(a.Primary.Median, b.Primary.Median)
	})
	if len(rows) == 0 || !rows[0].HasPrimary {
		return
	}
	best := rows[0].Primary.Median
	for i := range rows {
		if rows[i].HasPrimary {
			rows[i].Ratio = ratio(rows[i].Primary.Median, best, higherIsBetter)
		}
	}
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

// compact formats x to three significant digits, with an SI suffix from
// a thousand up: 0.512, 12.3, 987, 1.23k, 12.3M.
func compact(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	// Round first, so that 999.7 becomes 1k rather than 1e+03.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	a := math.Abs(r)
	for _, s := range [...]struct {
		scale  float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= s.scale {
			return strconv.FormatFloat(r/s.scale, 'g', 3, 64) + s.suffix
		}
	}
	if a != 0 && a < 1e-3 {
		return strconv.FormatFloat(r, 'g', 3, 64)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// spreadText is the min–max range of st, or "n=1" for a single sample.
func spreadText(st results.Stat) string {
	switch st.N {
	case 0:
		return ""
	case 1:
		return "n=1"
	}
	return compact(st.Min) + "–" + compact(st.Max)
}

// ratioText formats a row's ratio to its group's best: "1.00x", "3.4x".
func ratioText(r float64) string {
	switch {
	case math.IsNaN(r):
		return ""
	case math.IsInf(r, 1):
		return "∞"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64) + "x"
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64) + "x"
	}
	return strconv.FormatFloat(r, 'f', 0, 64) + "x"
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
	return compact(st.Median)
}
