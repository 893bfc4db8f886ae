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
//
// With no flags the suite takes about two minutes on two cores. Run
// `mapbench -h` and `mapbench advise -h` for every flag. Two runs' bench.txt
// files compare with benchstat:
//
//	benchstat -col /impl report/bench.txt
//	benchstat old/bench.txt new/bench.txt
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/advisor"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stampede"
)

func main() {
	stampede.MaybeWorker() // the stampede workload runs mapbench itself as its worker processes
	os.Exit(mapbench(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the run failed (for example, -o could not be written)
	exitUsage = 2 // bad flags or values
)

// mapbench is the whole command, testable: it returns the exit status.
func mapbench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "advise":
			return advisor.Main(args[1:], stdout, stderr, measureSynthetic)
		case "list":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "mapbench list: unexpected argument %q\n", args[1])
				return exitUsage
			}
			list(stdout)
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
	res := r.run()
	var stampedeSkipped string
	if r.stampede {
		stampedeSkipped = r.runStampede(res, r.progress)
	}
	fmt.Fprintf(stdout, "mapbench: %s %s/%s, %d CPUs (%s), GOMAXPROCS %d; %d keys, %v per sample, %d reps; took %v\n\n",
		res.GoVersion, res.GOOS, res.GOARCH, res.CPUs, cmp.Or(res.CPU, "model unknown"), res.GOMAXPROCS,
		res.Config.Keys, res.Config.Duration, res.Config.Reps, res.Elapsed.Round(time.Second))
	if stampedeSkipped != "" {
		fmt.Fprintf(stdout, "%s\n\n", stampedeSkipped)
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
	return exitOK
}

// errReported is a usage error whose message is already on stderr.
var errReported = errors.New("usage error already reported")

// parseRun turns the command line into a runner and the -o directory.
func parseRun(args []string, stderr io.Writer) (*runner, string, error) {
	procs := runtime.GOMAXPROCS(0)
	fs := flag.NewFlagSet("mapbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		keys        = fs.Int("keys", 100_000, "key-space `size`: keys pre-filled (load, mixed, skew, slowload), inserted (grow, memory) or live (churn)")
		goroutines  = fs.String("goroutines", fmt.Sprintf("%d,%d", procs, 4*procs), "comma-separated goroutine `counts`; every concurrent workload runs once per count (the default is GOMAXPROCS and 4×GOMAXPROCS, oversubscribed)")
		duration    = fs.Duration("duration", 100*time.Millisecond, "how long one sample runs (grow also stops after -keys operations)")
		reps        = fs.Int("reps", 3, "samples per case; tables show the median and the min–max spread")
		keyTypeList = fs.String("keytype", "int", "comma-separated key `types`: int, string")
		wls         = fs.String("workloads", "all", "comma-separated workload `names`, or all (see 'mapbench list')")
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

mapbench measures every safemap strategy and the best public Go concurrent
maps on the workloads of the missing-key path and prints one table per
workload. With no flags it takes about two minutes on two cores.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, `
Examples:
  mapbench -workloads load,grow -keytype int,string
  mapbench -o report && open report/report.html
  benchstat -col /impl report/bench.txt
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
	r := &runner{keys: *keys, duration: *duration, reps: *reps}
	if *keys < 1 || *keys > 1<<26 {
		return nil, "", fmt.Errorf("-keys %d: want 1 … %d", *keys, 1<<26)
	}
	if *duration <= 0 {
		return nil, "", fmt.Errorf("-duration %v: want a positive duration such as 100ms", *duration)
	}
	if *reps < 1 {
		return nil, "", fmt.Errorf("-reps %d: want at least 1", *reps)
	}
	var err error
	if r.goroutines, err = parseCounts(*goroutines); err != nil {
		return nil, "", fmt.Errorf("-goroutines: %v", err)
	}
	if r.keyTypes, err = pick("-keytype", *keyTypeList, keyTypes, func(s string) string { return s }); err != nil {
		return nil, "", err
	}
	list, wantStampede := splitStampede(*wls)
	r.stampede, r.redisAddr = wantStampede && *redisAddr != "off", *redisAddr
	if list != "" {
		if r.workloads, err = pick("-workloads", list, workloads, func(w *workload) string { return w.name }); err != nil {
			return nil, "", err
		}
	}
	if r.impls, err = pick("-impls", *ims, impls, func(im *impl) string { return im.name }); err != nil {
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

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// list prints the workloads and implementations.
func list(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tVARIANTS\tDESCRIPTION")
	for _, wl := range workloads {
		var vs []string
		for _, v := range wl.variants {
			vs = append(vs, v.name)
		}
		if len(vs) == 0 {
			vs = []string{"keys=<-keys>"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", wl.name, strings.Join(vs, " "), wl.description)
	}
	listStampede(tw)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "IMPL\tKIND\tDESCRIPTION")
	for _, im := range impls {
		kind := "safemap"
		if im.peer {
			kind = "peer"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", im.name, kind, im.about)
	}
	tw.Flush()
}
