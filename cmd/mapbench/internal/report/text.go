package report

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// textWidth is the column at which Text wraps descriptions and notes.
const textWidth = 100

// inlineReason is the longest reason for an unsupported case that Text
// prints in its table row, which it keeps within 120 columns; a longer one
// is printed under the table.
const inlineReason = 32

// Text writes one table per workload in the run to w, readable in an 80–120
// column terminal.
//
// A workload's heading names it, describes it and says which parameter
// varies. Its cases follow in one table per key type and goroutine count,
// one block of rows per variant, best implementation first: the workload's
// Primary figure (median and min–max over the repetitions, or "n=1" for one),
// ns/op, allocs/op, B/op, ops/s, and the ratio to the best of the block
// ("1.00x" for the best). An unsupported case shows its reason instead of
// numbers (under the table if it is long), and an implementation that broke a guarantee is flagged "!" in
// the table and explained under it, above the workload's notes.
func Text(w io.Writer, run *results.Run) error {
	bw := bufio.NewWriter(w)
	for i := range run.Workloads {
		if i > 0 {
			bw.WriteString("\n")
		}
		textWorkload(bw, &run.Workloads[i])
	}
	return bw.Flush()
}

func textWorkload(w *bufio.Writer, wl *results.Workload) {
	heading := wl.Name
	if wl.Description != "" {
		heading += ": " + wl.Description
	}
	writeWrapped(w, heading, "", "  ")
	varied := ""
	if wl.Param != "" {
		varied = "varied: " + wl.Param + "; "
	}
	w.WriteString("  " + varied + "ranked by " + primaryUnit(wl) + " (" + betterText(wl) + ")\n")

	figs := figureColumns(wl)
	var unsupported, violations []string
	for _, sec := range sections(wl) {
		w.WriteString("\n  key=" + sec.KeyType + ", goroutines=" + strconv.Itoa(sec.Goroutines) + "\n")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		cells := []string{"  variant", "impl", primaryUnit(wl), "min–max"}
		cells = append(cells, figs...)
		cells = append(cells, "vs best")
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
		for _, g := range sec.Groups {
			for i, r := range g.Rows {
				c := r.Case
				variant := ""
				if i == 0 {
					variant = g.Variant
				}
				impl := c.Impl
				if len(c.Violations) > 0 {
					impl += " !"
				}
				for _, v := range c.Violations {
					violations = append(violations, violationText(c, v))
				}
				cells = append(cells[:0], "  "+variant, impl)
				switch {
				case c.Unsupported != "":
					cells = append(cells, make([]string, 2+len(figs))...)
					if len([]rune(c.Unsupported)) <= inlineReason {
						cells = append(cells, "unsupported: "+c.Unsupported)
						break
					}
					cells = append(cells, "unsupported, see below")
					if u := "unsupported: " + c.Impl + ": " + c.Unsupported; !slices.Contains(unsupported, u) {
						unsupported = append(unsupported, u)
					}
				case !r.HasPrimary:
					cells = append(cells, make([]string, 2+len(figs))...)
					cells = append(cells, "no "+primaryUnit(wl)+" measured")
				default:
					cells = append(cells, compact(r.Primary.Median), spreadText(r.Primary))
					for _, u := range figs {
						cells = append(cells, figureText(c, u))
					}
					cells = append(cells, ratioText(r.Ratio))
				}
				io.WriteString(tw, strings.Join(cells, "\t")+"\n")
			}
		}
		tw.Flush()
	}
	if len(unsupported)+len(violations)+len(wl.Notes) > 0 {
		w.WriteString("\n")
	}
	for _, u := range unsupported {
		writeWrapped(w, u, "  ", "    ")
	}
	for _, v := range violations {
		writeWrapped(w, v, "  ", "    ")
	}
	for _, n := range wl.Notes {
		writeWrapped(w, "note: "+n, "  ", "    ")
	}
}

// writeWrapped writes s as lines of at most textWidth columns where it can,
// breaking at spaces; the first line starts with first, the others with
// rest.
func writeWrapped(w *bufio.Writer, s, first, rest string) {
	line := first
	empty := true
	for _, word := range strings.Fields(s) {
		if !empty && len([]rune(line))+1+len([]rune(word)) > textWidth {
			w.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	w.WriteString(line + "\n")
}
