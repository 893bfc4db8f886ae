package advisor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

const usageHeader = `Usage: mapbench advise [flags]

Recommends a safemap strategy for a workload: the recommendation with the
reasons, the runner-up, what would change the answer, and warnings.

The workload starts from the defaults below. -profile FILE (a Workload JSON
document, fields as in the -json output's "workload") or -from FILE (a
profile recorded on real traffic by safemap.Profile) replaces them; flags
given explicitly override both. -measure runs the workload against every
strategy on this machine and recommends from the numbers.

Flags:
`

const usageFooter = `
Examples:
  mapbench advise -reads 0.99 -miss 0.3 -keyset growing -keys 100000 -loader-cost 1ms
  mapbench advise -reads 0.999 -keyset static -keys 500 -iterate -snapshot
  mapbench advise -from profile.json -snapshot -processes 3
  mapbench advise -profile workload.json -measure -json

Exit status: 0 on success, 1 if the measurement fails, 2 for bad flags,
values or files.
`

// Main runs `mapbench advise` with args (without the program and
// subcommand names), writing the advice to stdout and problems to stderr,
// and returns the exit status: 0 on success (and for -h), 1 if the
// measurement fails or the output cannot be written, 2 for bad flags,
// values or files. measure is called for -measure; it may be nil if the
// caller cannot measure, and -measure then fails with status 1.
func Main(args []string, stdout, stderr io.Writer, measure MeasureFunc) int {
	fs := flag.NewFlagSet("mapbench advise", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in one line
	fs.Usage = func() {}

	def := DefaultWorkload()
	fw := def // the values the workload flags set
	fs.Float64Var(&fw.ReadFraction, "reads", def.ReadFraction, "fraction of operations that read (Load, LoadOrStore, LoadOrCompute, LoadOrTryCompute), 0..1; the rest write")
	fs.Float64Var(&fw.MissRate, "miss", def.MissRate, "fraction of reads whose key is absent, 0..1")
	fs.TextVar(&fw.KeySet, "keyset", def.KeySet, "`KIND` of key set: static (fixed, or filled once), growing (keys keep arriving) or churning (keys arrive and expire)")
	fs.IntVar(&fw.Keys, "keys", def.Keys, "typical number of live keys (0: unknown)")
	fs.DurationVar(&fw.LoaderCost, "loader-cost", def.LoaderCost, "mean running time of the value function on a miss, e.g. 1ms (0: values are cheap or known)")
	fs.Float64Var(&fw.LoaderFailRate, "loader-fail", def.LoaderFailRate, "fraction of value-function calls that fail (error or panic), 0..1")
	fs.BoolVar(&fw.NeedIteration, "iterate", def.NeedIteration, "the program ranges over the map")
	fs.BoolVar(&fw.NeedSnapshot, "snapshot", def.NeedSnapshot, "iteration needs a point-in-time consistent view of all entries")
	fs.BoolVar(&fw.Unbounded, "unbounded", def.Unbounded, "the key set grows without bound: keys keep arriving for as long as the process runs (user IDs, URLs, request keys)")
	fs.DurationVar(&fw.StaleAfter, "stale-after", def.StaleAfter, "how long after it is loaded a value goes stale, e.g. 5m (0: values do not go stale)")
	fs.IntVar(&fw.Processes, "processes", def.Processes, "number of processes that must share the map's contents")
	fs.IntVar(&fw.Goroutines, "goroutines", def.Goroutines, "goroutines using the map at once (0: GOMAXPROCS)")
	from := fs.String("from", "", "read the workload from `FILE`, a safemap.ProfileStats JSON written by safemap.Profile")
	profile := fs.String("profile", "", "read the workload from `FILE`, a Workload JSON document")
	doMeasure := fs.Bool("measure", false, "measure the workload against every strategy and recommend from the numbers")
	asJSON := fs.Bool("json", false, "print the advice as JSON instead of text")

	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mapbench advise: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'mapbench advise -h' for usage.")
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return 0
		}
		return usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q: the workload is given by flags", fs.Arg(0))
	}
	if *from != "" && *profile != "" {
		return usageErr("-from and -profile both give the workload: use one")
	}

	w := def
	switch {
	case *from != "":
		s, err := readStats(*from)
		if err != nil {
			return usageErr("-from: %v", err)
		}
		w = FromStats(s)
	case *profile != "":
		p, err := readWorkload(*profile, def)
		if err != nil {
			return usageErr("-profile: %v", err)
		}
		w = p
	}
	fs.Visit(func(fl *flag.Flag) {
		if set, ok := workloadFlags[fl.Name]; ok {
			set(&w, fw)
		}
	})
	if err := w.Validate(); err != nil {
		return usageErr("%v", err)
	}

	var a Advice
	if *doMeasure {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		var err error
		a, err = DecideMeasured(ctx, w, measure)
		stop()
		if err != nil {
			fmt.Fprintf(stderr, "mapbench advise: %v\n", err)
			return 1
		}
	} else {
		a = Decide(w)
	}
	var err error
	if *asJSON {
		err = writeJSON(stdout, a)
	} else {
		err = writeText(stdout, a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mapbench advise: writing the advice: %v\n", err)
		return 1
	}
	return 0
}

// workloadFlags copies each workload flag's value into a workload, so that
// only the flags given explicitly override a file.
var workloadFlags = map[string]func(dst *Workload, src Workload){
	"reads":       func(d *Workload, s Workload) { d.ReadFraction = s.ReadFraction },
	"miss":        func(d *Workload, s Workload) { d.MissRate = s.MissRate },
	"keyset":      func(d *Workload, s Workload) { d.KeySet = s.KeySet },
	"keys":        func(d *Workload, s Workload) { d.Keys = s.Keys },
	"loader-cost": func(d *Workload, s Workload) { d.LoaderCost = s.LoaderCost },
	"loader-fail": func(d *Workload, s Workload) { d.LoaderFailRate = s.LoaderFailRate },
	"iterate":     func(d *Workload, s Workload) { d.NeedIteration = s.NeedIteration },
	"snapshot":    func(d *Workload, s Workload) { d.NeedSnapshot = s.NeedSnapshot },
	"unbounded":   func(d *Workload, s Workload) { d.Unbounded = s.Unbounded },
	"stale-after": func(d *Workload, s Workload) { d.StaleAfter = s.StaleAfter },
	"processes":   func(d *Workload, s Workload) { d.Processes = s.Processes },
	"goroutines":  func(d *Workload, s Workload) { d.Goroutines, d.GoroutinesFrom = s.Goroutines, "" },
}

func printUsage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprint(out, usageHeader)
	fs.SetOutput(out)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(out, usageFooter)
}

// readStats reads a profile written by safemap.Profile.
func readStats(path string) (safemap.ProfileStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return safemap.ProfileStats{}, err
	}
	defer f.Close()
	s, err := safemap.ReadProfileStats(f)
	if err != nil {
		return safemap.ProfileStats{}, fmt.Errorf("%s: %w", path, err)
	}
	if recordedOps(s) == 0 {
		return safemap.ProfileStats{}, fmt.Errorf("%s: the profile records no operations", path)
	}
	return s, nil
}

// readWorkload reads a Workload JSON document; fields it omits keep their
// values in base.
func readWorkload(path string, base Workload) (Workload, error) {
	f, err := os.Open(path)
	if err != nil {
		return Workload{}, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	w := base
	if err := dec.Decode(&w); err != nil {
		return Workload{}, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return Workload{}, fmt.Errorf("%s: more than one JSON document", path)
	}
	return w, nil
}

func writeJSON(out io.Writer, a Advice) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(withEmptyLists(a))
}

// withEmptyLists replaces nil lists with empty ones, so that JSON holds []
// rather than null.
func withEmptyLists(a Advice) Advice {
	for _, l := range []*[]string{&a.Reasons, &a.RunnerUpWhy, &a.WouldChange, &a.Warnings} {
		if *l == nil {
			*l = []string{}
		}
	}
	return a
}

func writeText(out io.Writer, a Advice) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Workload: %s\n\n", describe(a.Workload))
	if a.Measured != nil {
		writeTable(&b, *a.Measured)
		b.WriteString("\n")
	}
	switch a.Basis {
	case BasisTie:
		fmt.Fprintf(&b, "Recommended: %s (tie on the measurement: the rules choose %s)\n", a.Recommended, a.Recommended)
	case BasisMeasurement:
		fmt.Fprintf(&b, "Recommended: %s (measured winner)\n", a.Recommended)
	default:
		fmt.Fprintf(&b, "Recommended: %s\n", a.Recommended)
	}
	bullets(&b, a.Reasons)
	if a.RunnerUp != "" {
		fmt.Fprintf(&b, "\nRunner-up: %s\n", a.RunnerUp)
		bullets(&b, a.RunnerUpWhy)
	}
	if len(a.WouldChange) > 0 {
		b.WriteString("\nThis would change if:\n")
		for _, s := range a.WouldChange {
			fmt.Fprintf(&b, "  - %s\n", strings.TrimPrefix(s, "if "))
		}
	}
	if len(a.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		bullets(&b, a.Warnings)
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func bullets(b *strings.Builder, items []string) {
	for _, s := range items {
		fmt.Fprintf(b, "  - %s\n", s)
	}
}

// describe summarises a workload in one line.
func describe(w Workload) string {
	loader := "cheap value function"
	if w.LoaderCost > 0 {
		loader = "value function " + format.Duration(w.LoaderCost)
	}
	if w.LoaderFailRate > 0 {
		loader += fmt.Sprintf(" failing %s", format.Percent(w.LoaderFailRate))
	}
	keys := fmt.Sprintf("~%d keys", w.Keys)
	if w.Keys == 0 {
		keys = "unknown key count"
	}
	iter := "no iteration"
	switch {
	case w.NeedSnapshot:
		iter = "point-in-time snapshots"
	case w.NeedIteration:
		iter = "iteration"
	}
	procs := "1 process"
	if w.Processes > 1 {
		procs = fmt.Sprintf("%d processes", w.Processes)
	}
	gs := fmt.Sprintf("%d goroutines", w.Goroutines)
	switch {
	case w.Goroutines == 0:
		gs = fmt.Sprintf("GOMAXPROCS (%d) goroutines", runtime.GOMAXPROCS(0))
	case w.GoroutinesFrom != "":
		gs = fmt.Sprintf("≥ %d goroutines (%s)", w.Goroutines, w.GoroutinesFrom)
	}
	return fmt.Sprintf("reads %s, misses %s, %s key set, %s, %s, %s, %s, %s",
		format.Percent(w.ReadFraction), format.Percent(w.MissRate), w.KeySet, keys, loader, iter, procs, gs)
}

// writeTable prints the measurement: one row per strategy in rank order,
// with the median, its 95 % confidence interval, the rank ("≈" when shared:
// the difference is noise) and the ratio to the best.
func writeTable(b *strings.Builder, m results.Workload) {
	unit := m.Primary
	if unit == "" {
		unit = "ns/op"
	}
	title := "Measured: " + workloadName(m)
	if m.Description != "" {
		title += " — " + m.Description
	}
	b.WriteString(title + "\n")
	sets := make([][]float64, len(m.Cases))
	for i := range m.Cases {
		if m.Cases[i].Unsupported == "" {
			sets[i], _ = m.Cases[i].Values(unit)
		}
	}
	rk := stats.Judge{HigherIsBetter: m.HigherIsBetter, Precision: MeasuredPrecision}.Rank(sets)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  rank\tstrategy\t%s median\t95 %% interval\tallocs/op\tvs best\tn\n", unit)
	for _, i := range rk.Order {
		c := &m.Cases[i]
		name := strategyName(c.Impl)
		if len(c.Violations) > 0 {
			name += " (broke a guarantee)"
		}
		if len(sets[i]) == 0 {
			why := c.Unsupported
			if why == "" {
				why = "no " + unit + " figure"
			}
			fmt.Fprintf(tw, "  \t%s\t—\t\t\t%s\t\n", name, why)
			continue
		}
		st := rk.Summaries[i]
		r := strconv.Itoa(rk.Rank[i])
		if rk.Tied[i] {
			r = "≈" + r
		}
		ci, ok := interval(st)
		if !ok {
			ci = "—"
		}
		vs := format.Ratio(rk.Ratio[i])
		if rk.TiedWithBest[i] && i != rk.Best {
			vs = "≈" + vs
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\n", r, name, format.Number(st.Median), ci,
			format.Number(c.AllocsPerOp().Median), vs, st.N)
	}
	tw.Flush()
	b.WriteString("  (rank: 1 + the strategies significantly better, Mann-Whitney U p < 0.05 and ≥ " + format.Percent(MeasuredPrecision) + " apart; ≈: tied)\n")
}
