package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// textWidth is the column at which Text wraps descriptions and notes.
const textWidth = 100

// inlineReason is the longest reason for an unsupported case that Text
// prints in its table row, which it keeps within 120 columns; a longer one
// is printed under the table.
const inlineReason = 32

// Text writes the run's header (Header), then one table per workload, to
// w, readable in an 80–120 column terminal.
//
// A workload's heading names it, describes it and says which parameter
// varies. Its cases follow in one table per key type and goroutine count,
// one block of rows per variant, in rank order: the rank (1 + the rows
// significantly better; "≈" when shared), the implementation, the
// workload's Primary figure (the median over the samples) with the
// half-width of its 95 % confidence interval ("±4%", "noisy" beyond ±25 %),
// ns/op, allocs/op, B/op, ops/s, the place against the block's best
// ("best", "≈best" when not significantly worse, else the ratio of the
// medians) and the number of samples. An unsupported case shows its reason
// instead of numbers (under the table if it is long), and an
// implementation that broke a guarantee is flagged "!" in the table and
// explained under it, above the workload's notes.
func Text(w io.Writer, run *results.Run) error {
	bw := bufio.NewWriter(w)
	writeHeader(bw, run)
	for i := range run.Workloads {
		bw.WriteString("\n")
		textWorkload(bw, run, &run.Workloads[i])
	}
	return bw.Flush()
}

// Header writes the lines that open Text: the machine, the configuration,
// how long the run took, how noisy the machine was, whether the run is
// incomplete, and how to read the tables.
func Header(w io.Writer, run *results.Run) error {
	bw := bufio.NewWriter(w)
	writeHeader(bw, run)
	return bw.Flush()
}

func writeHeader(w *bufio.Writer, run *results.Run) {
	if len(run.Workloads) == 0 && run.GoVersion == "" {
		return // nothing to describe
	}
	writeWrapped(w, "mapbench: "+machineText(run)+"; "+configText(run)+"; took "+format.Duration(run.Elapsed)+".", "", "  ")
	if n := noise(run); n.N > 0 {
		writeWrapped(w, "machine noise: "+n.text(), "", "  ")
	}
	if run.Incomplete != "" {
		writeWrapped(w, "INCOMPLETE: "+run.Incomplete+".", "", "  ")
	}
	writeWrapped(w, legendText(run), "", "  ")
}

// machineText describes the machine: "go1.26.8 linux/amd64, 2 CPUs (AMD
// EPYC), GOMAXPROCS 2".
func machineText(run *results.Run) string {
	cpu := run.CPU
	if cpu == "" {
		cpu = "model unknown"
	}
	return fmt.Sprintf("%s %s/%s, %d CPUs (%s), GOMAXPROCS %d", run.GoVersion, run.GOOS, run.GOARCH, run.CPUs, cpu, run.GOMAXPROCS)
}

// configText describes the configuration: "100000 keys, 25ms per sample,
// 6–20 samples per case, precision 5 %, budget 2m0s".
func configText(run *results.Run) string {
	c := run.Config
	reps := plural(c.Reps, "sample", "samples")
	if c.MaxReps > c.Reps {
		reps = fmt.Sprintf("%d–%d samples", c.Reps, c.MaxReps)
	}
	s := fmt.Sprintf("%d keys, %v per sample, %s per case", c.Keys, c.Duration, reps)
	if c.Precision > 0 {
		s += ", precision " + format.Percent(c.Precision)
	}
	if c.Budget > 0 {
		s += ", budget " + format.Duration(c.Budget)
	}
	return s
}

// legendText says how to read a table.
func legendText(run *results.Run) string {
	p := run.Config.Precision
	if p <= 0 {
		p = defaultPrecision
	}
	return fmt.Sprintf("How to read: rank = 1 + the rows significantly better (Mann-Whitney U, p < %g, and at least %s apart); "+
		"≈ = shares its rank, the difference is noise. ± = 95 %% confidence interval of the median; * = noisy, wider than ±%s. "+
		"vs best: ≈best = ranked 1 with the best. n = samples, more where neighbours were close.",
		stats.Alpha, format.Percent(p), format.Percent(stats.NoisyAbove))
}

// plural is "1 sample" or "3 samples".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func textWorkload(w *bufio.Writer, run *results.Run, wl *results.Workload) {
	heading := wl.Name
	if wl.Description != "" {
		heading += ": " + wl.Description
	}
	writeWrapped(w, heading, "", "  ")
	varied := ""
	if wl.Param != "" {
		varied = "varied: " + wl.Param + "; "
	}
	took := ""
	if wl.Elapsed > 0 {
		took = "; took " + format.Duration(wl.Elapsed)
	}
	w.WriteString("  " + varied + "ranked by " + primaryUnit(wl) + " (" + betterText(wl) + ")" + took + "\n")

	figs := figureColumns(wl)
	var unsupported, violations []string
	for _, sec := range sections(run, wl) {
		w.WriteString("\n  key=" + sec.KeyType + ", goroutines=" + strconv.Itoa(sec.Goroutines) + "\n")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		cells := []string{"  variant", "rank", "impl", primaryUnit(wl), "±95%"}
		cells = append(cells, figs...)
		cells = append(cells, "vs best", "n")
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
				cells = append(cells[:0], "  "+variant, rankText(r), impl)
				switch {
				case c.Unsupported != "":
					// The reason goes in the last column, so that the
					// columns before it stay aligned below this row.
					cells = append(cells, make([]string, 3+len(figs))...)
					if len([]rune(c.Unsupported)) <= inlineReason {
						cells = append(cells, "unsupported: "+c.Unsupported)
						break
					}
					cells = append(cells, "unsupported, see below")
					if u := "unsupported: " + c.Impl + ": " + c.Unsupported; !slices.Contains(unsupported, u) {
						unsupported = append(unsupported, u)
					}
				case !r.HasPrimary:
					cells = append(cells, make([]string, 3+len(figs))...)
					cells = append(cells, "no "+primaryUnit(wl)+" measured")
				default:
					cells = append(cells, format.Number(r.Primary.Median), intervalText(r.Primary))
					for _, u := range figs {
						cells = append(cells, figureText(c, u))
					}
					cells = append(cells, vsBestText(r), strconv.Itoa(r.Primary.N))
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
