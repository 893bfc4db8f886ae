// Command mapbench measures safemap's strategies and the best public Go
// concurrent maps on the workloads of the missing-key path, draws the
// results, and advises which strategy suits a workload.
//
// Usage:
//
//	go run ./cmd/mapbench [flags]          run the suite, print one table per workload
//	go run ./cmd/mapbench -o report        … and write report.html, results.json, results.csv, bench.txt
//	go run ./cmd/mapbench list             list the workloads and implementations
//	go run ./cmd/mapbench advise [flags]   recommend a strategy for a workload profile
//	go run ./cmd/mapbench compare OLD NEW  the pairs two runs (results.json or -o dirs) rank differently
//
// With no flags the suite takes about two minutes on two cores: every case
// gets 6 samples, interleaved with the other implementations', and the
// cases whose ranking is still unsettled get more (up to 20) while the
// two-minute budget lasts. Every row shows its median with a 95 %
// confidence interval; rows that the statistics cannot tell apart share a
// rank, marked ≈. Ctrl-C stops after the sample in progress and prints (and
// writes, with -o) what was measured, marked incomplete. Run `mapbench -h`
// and `mapbench advise -h` for every flag. Two runs' bench.txt files
// compare with benchstat:
//
//	benchstat -col /impl report/bench.txt
//	benchstat old/bench.txt new/bench.txt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/advisor"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stampede"
)

func main() {
	stampede.MaybeWorker() // the stampede workload runs mapbench itself as its worker processes
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		<-sigs
		signal.Stop(sigs) // a second Ctrl-C ends the process at once
		fmt.Fprintln(os.Stderr, "\nmapbench: interrupted: stopping after the sample in progress (Ctrl-C again to quit at once)")
		cancel()
	}()
	code := mapbench(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1   // the run failed (for example, -o could not be written)
	exitUsage       = 2   // bad flags or values
	exitInterrupted = 130 // interrupted (SIGINT): what was measured is printed, and written with -o
)

// mapbench is the whole command, testable: it returns the exit status.
// When ctx ends, a run stops after the sample in progress, prints and
// writes what it measured, marked incomplete, and returns exitInterrupted.
func mapbench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "advise":
			return advisor.Main(args[1:], stdout, stderr, measureSynthetic)
		case "compare":
			return compare(args[1:], stdout, stderr)
		case "list":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "mapbench list: unexpected argument %q\n", args[1])
				return exitUsage
			}
			list(stdout, outputWidth(stdout))
			return exitOK
		}
	}
	r, dir, err := parseRun(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errReported):
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "mapbench: %v\nRun 'mapbench -h' for usage.\n", err)
		return exitUsage
	}
	if dir != "" {
		// Say so now, not after two minutes of measuring.
		if err := checkWritableDir(dir); err != nil {
			fmt.Fprintf(stderr, "mapbench: -o %s: %v\n", dir, err)
			return exitError
		}
	}
	if r.cpuProfile != "" {
		f, err := os.Create(r.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "mapbench: %v\n", err)
			return exitError
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "mapbench: %v\n", err)
			return exitError
		}
		defer pprof.StopCPUProfile()
	}
	res := r.run(ctx)
	if r.stampede && ctx.Err() == nil {
		if skipped := r.runStampede(ctx, res, r.progress); skipped != "" {
			fmt.Fprintf(stdout, "%s\n\n", skipped)
		}
	}
	if err := report.Text(stdout, res); err != nil {
		fmt.Fprintf(stderr, "mapbench: %v\n", err)
		return exitError
	}
	if dir != "" {
		if err := report.WriteDir(dir, res); err != nil {
			fmt.Fprintf(stderr, "mapbench: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "\nWrote %s/report.html, results.json, results.csv and bench.txt.\n", dir)
	}
	if res.Incomplete != "" {
		fmt.Fprintf(stderr, "mapbench: incomplete: %s\n", res.Incomplete)
		return exitInterrupted
	}
	return exitOK
}

// compare is `mapbench compare OLD NEW`: it reads two runs' results.json
// (or the -o directories holding them) and prints the pairs of
// implementations whose order the runs disagree on.
func compare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: mapbench compare OLD NEW (two results.json files, or -o directories holding them)")
		return exitUsage
	}
	var runs [2]*results.Run
	for i, p := range args {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "results.json")
		}
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintf(stderr, "mapbench compare: %v\n", err)
			return exitUsage
		}
		runs[i], err = report.ReadJSON(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "mapbench compare: %s: %v\n", p, err)
			return exitUsage
		}
	}
	if _, err := report.Compare(stdout, runs[0], runs[1]); err != nil {
		fmt.Fprintf(stderr, "mapbench compare: %v\n", err)
		return exitError
	}
	return exitOK
}

// checkWritableDir creates dir if needed and checks that a file can be
// created in it, leaving nothing behind but the directory.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".mapbench-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in the directory: %w", err)
	}
	name := f.Name()
	_, werr := f.WriteString("mapbench\n")
	cerr := f.Close()
	os.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("cannot write in the directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".")); err != nil {
		return err
	}
	return nil
}

// errReported is a usage error whose message is already on stderr.
var errReported = errors.New("usage error already reported")

// parseRun turns the command line into a runner and the -o directory.
func parseRun(args []string, stderr io.Writer) (*runner, string, error) {
	procs := runtime.GOMAXPROCS(0)
	fs := flag.NewFlagSet("mapbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		keys        = fs.Int("keys", 100_000, "key-space `size`: keys pre-filled (load, mixed, skew; slowload at most 10000), inserted (grow, memory) or live (churn)")
		goroutines  = fs.String("goroutines", fmt.Sprintf("%d,%d", procs, 4*procs), "comma-separated goroutine `counts`; every concurrent workload runs once per count (the default is GOMAXPROCS and 4×GOMAXPROCS, oversubscribed)")
		duration    = fs.Duration("duration", 25*time.Millisecond, "how long one sample runs (grow also stops after -keys operations)")
		reps        = fs.Int("reps", 6, "samples every case gets, interleaved with the other implementations' (6 or more give a 95 % confidence interval of the median and let benchstat -col /impl give verdicts)")
		maxReps     = fs.Int("max-reps", 20, "the most samples a case gets while its rank against its neighbours is unsettled (`n` ≥ -reps; = -reps turns adaptive sampling off)")
		budget      = fs.Duration("budget", 2*time.Minute, "wall time the run aims at: extra samples for unsettled cases are taken only while the run is on course for it (every case still gets -reps)")
		precision   = fs.Float64("precision", 0.05, "smallest relative `difference` of medians the ranking tells apart, and the interval half-width at which a tie counts as settled; smaller buys tighter answers with more samples (with -budget and -max-reps)")
		keyTypeList = fs.String("keytype", "int", "comma-separated key `types`: int, string")
		wls         = fs.String("workloads", "all", "comma-separated workload `names`, cache for the cache workloads (safemap's cache against otter, ristretto, theine and golang-lru), or all (see 'mapbench list')")
		ims         = fs.String("impls", "all", "comma-separated implementation `names`, or all (see 'mapbench list')")
		dir         = fs.String("o", "", "write report.html, results.json, results.csv and bench.txt into `dir`")
		redisAddr   = fs.String("redis", "", "Redis `address` for the stampede workload, or off to skip it (default: start a redis-server from PATH on a free loopback port; skip the workload if there is none)")
		progress    = fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on or off")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof reads it)")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: mapbench [flags]
       mapbench list
       mapbench advise [flags]   (see 'mapbench advise -h')
       mapbench compare OLD NEW  (two runs' results.json, or -o directories)

mapbench measures every safemap strategy and the best public Go concurrent
maps on the workloads of the missing-key path and prints one table per
workload. With no flags it takes about two minutes on two cores.

Every case gets -reps samples, interleaved across implementations; cases
whose ranking is unsettled (neighbours neither significantly apart nor both
within -precision) get more, up to -max-reps, while -budget lasts. Rows show
the median with its 95 %% confidence interval; rows the statistics cannot
tell apart share a rank (≈). Ctrl-C stops after the sample in progress and
prints (and writes, with -o) what was measured, marked incomplete.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, `
Examples:
  mapbench -workloads load,grow -keytype int,string
  mapbench -workloads load -impls Map,xsync -precision 0.02 -max-reps 40 -budget 5m
  mapbench -o report && open report/report.html
  benchstat -col /impl report/bench.txt

Exit status: 0 on success, 1 if the run fails (-o cannot be written), 2 for
bad flags, 130 when interrupted (what was measured is still printed).
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", err
		}
		return nil, "", errReported // the flag package printed it, with the usage
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("unexpected argument %q (subcommands: list, advise)", fs.Arg(0))
	}
	r := &runner{keys: *keys, duration: *duration, reps: *reps, maxReps: *maxReps, budget: *budget, precision: *precision}
	if *keys < 1 || *keys > 1<<26 {
		return nil, "", fmt.Errorf("-keys %d: want 1 … %d", *keys, 1<<26)
	}
	if *duration <= 0 {
		return nil, "", fmt.Errorf("-duration %v: want a positive duration such as 100ms", *duration)
	}
	if *reps < 1 {
		return nil, "", fmt.Errorf("-reps %d: want at least 1 (6 or more for confidence intervals)", *reps)
	}
	if *maxReps < *reps {
		return nil, "", fmt.Errorf("-max-reps %d: want at least -reps (%d)", *maxReps, *reps)
	}
	if *budget < 0 {
		return nil, "", fmt.Errorf("-budget %v: want 0 (no extra samples) or a duration such as 2m", *budget)
	}
	if !(*precision > 0 && *precision < 1) {
		return nil, "", fmt.Errorf("-precision %v: want a fraction between 0 and 1, such as 0.05 for 5 %%", *precision)
	}
	var err error
	if r.goroutines, err = parseCounts(*goroutines); err != nil {
		return nil, "", fmt.Errorf("-goroutines: %v", err)
	}
	if r.keyTypes, err = pick("-keytype", *keyTypeList, keyTypes, func(s string) string { return s }); err != nil {
		return nil, "", err
	}
	list, wantStampede := splitStampede(expandCacheGroup(*wls))
	r.stampede, r.redisAddr = wantStampede && *redisAddr != "off", *redisAddr
	if list != "" {
		all := append(workloads[:len(workloads):len(workloads)], cacheWorkloads...)
		if r.workloads, err = pick("-workloads", list, all, func(w *workload) string { return w.name }); err != nil {
			return nil, "", err
		}
	}
	if r.impls, err = pickImpls(*ims); err != nil {
		return nil, "", err
	}
	switch *progress {
	case "on":
		r.progress = stderr
	case "off":
	case "auto":
		if f, ok := stderr.(*os.File); ok && isTerminal(f) {
			r.progress = stderr
		}
	default:
		return nil, "", fmt.Errorf("-progress %q: want auto, on or off", *progress)
	}
	r.cpuProfile = *cpuProfile
	return r, *dir, nil
}

// pick returns the elements of all named in the comma-separated list (in
// the order of all), or all of them for "all".
func pick[T any](flagName, list string, all []T, name func(T) string) ([]T, error) {
	if list == "all" {
		return all, nil
	}
	var names []string
	for _, x := range all {
		names = append(names, name(x))
	}
	want := strings.Split(list, ",")
	for _, w := range want {
		if !slices.Contains(names, strings.TrimSpace(w)) {
			return nil, fmt.Errorf("%s: unknown name %q (want all or some of %s)", flagName, w, strings.Join(names, ", "))
		}
	}
	var out []T
	for _, x := range all {
		if slices.ContainsFunc(want, func(w string) bool { return strings.TrimSpace(w) == name(x) }) {
			out = append(out, x)
		}
	}
	return out, nil
}

// parseCounts parses "2,8" into positive counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("%q is not a goroutine count from 1 to 4096", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// pickImpls returns the implementations named in the comma-separated
// list, by name or alias, in the order of impls; all of them for "all".
func pickImpls(list string) ([]*impl, error) {
	if list == "all" {
		return impls, nil
	}
	var names []string
	for _, im := range impls {
		names = append(names, im.name)
	}
	var picked []*impl
	for _, w := range strings.Split(list, ",") {
		im := findImpl(strings.TrimSpace(w))
		if im == nil {
			return nil, fmt.Errorf("-impls: unknown name %q (want all or some of %s; safemap's also without the \"safemap.\" prefix)", w, strings.Join(names, ", "))
		}
		picked = append(picked, im)
	}
	var out []*impl
	for _, im := range impls {
		if slices.Contains(picked, im) {
			out = append(out, im)
		}
	}
	return out, nil
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// defaultWidth is the width list wraps to when it cannot tell the
// terminal's.
const defaultWidth = 100

// outputWidth is the width to wrap w's text to: $COLUMNS if set, else the
// terminal's width if w is one, else defaultWidth.
func outputWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		if n := terminalWidth(f); n > 0 {
			return n
		}
	}
	return defaultWidth
}

// list prints the workloads and implementations, wrapping descriptions to
// width columns.
func list(w io.Writer, width int) {
	var rows [][3]string
	for _, wl := range workloads {
		var vs []string
		for _, v := range wl.variants {
			vs = append(vs, v.name)
		}
		if len(vs) == 0 {
			vs = []string{"keys=<-keys>"}
		}
		rows = append(rows, [3]string{wl.name, strings.Join(vs, " "), wl.description})
	}
	cacheRows, cacheImplRows := cacheListRows()
	rows = append(rows, cacheRows...)
	rows = append(rows, stampedeListRow())
	writeColumns(w, width, [3]string{"WORKLOAD", "VARIANTS", "DESCRIPTION"}, rows)
	fmt.Fprintln(w)
	rows = rows[:0]
	for _, im := range impls {
		name := im.name
		if im.alias != "" {
			name += " (" + im.alias + ")"
		}
		rows = append(rows, [3]string{name, im.kind(), im.about})
	}
	rows = append(rows, cacheImplRows...)
	writeColumns(w, width, [3]string{"IMPL", "KIND", "DESCRIPTION"}, rows)
}

// writeColumns prints a three-column table whose last column wraps within
// width. When the first two columns leave the last fewer than 30 columns,
// the variants move to the description's lines, and when even that is too
// narrow, each row becomes a name line with its text indented below.
func writeColumns(w io.Writer, width int, head [3]string, rows [][3]string) {
	const gap, minText = 2, 30
	w0, w1 := len([]rune(head[0])), len([]rune(head[1]))
	for _, r := range rows {
		w0, w1 = max(w0, len([]rune(r[0]))), max(w1, len([]rune(r[1])))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(n-len([]rune(s)), 0)) }
	switch {
	case width-(w0+gap+w1+gap) >= minText:
		indent := w0 + gap + w1 + gap
		fmt.Fprintln(w, pad(head[0], w0+gap)+pad(head[1], w1+gap)+head[2])
		for _, r := range rows {
			lines := wrap(r[2], width-indent)
			fmt.Fprintln(w, pad(r[0], w0+gap)+pad(r[1], w1+gap)+lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
			}
		}
	case width-(w0+gap) >= minText:
		indent := w0 + gap
		fmt.Fprintln(w, pad(head[0], indent)+head[1]+"; "+head[2])
		for _, r := range rows {
			lines := wrap(r[1]+"; "+r[2], width-indent)
			fmt.Fprintln(w, pad(r[0], indent)+lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
			}
		}
	default:
		const indent = 4
		for _, r := range rows {
			fmt.Fprintln(w, r[0])
			for _, l := range wrap(r[1]+"; "+r[2], max(width-indent, minText)) {
				fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
			}
		}
	}
}

// wrap breaks s at spaces into lines of at most width columns (a word
// longer than width gets a line of its own).
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
