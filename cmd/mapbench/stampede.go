package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stampede"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// The stampede workload measures the Redis tier against the usual ways of
// caching in Redis, with real processes: it needs a Redis server, given by
// -redis, or else a redis-server on PATH that mapbench starts on a free
// loopback port for the run. Without either it is skipped, with a line
// saying so. Its worker processes are mapbench itself (main calls
// stampede.MaybeWorker first).

const stampedeName = "stampede"

// The stampede's shape: every round, stampedeProcs processes ×
// stampedeGoroutines goroutines per key miss the same stampedeKeys keys,
// whose loader takes stampedeLoad.
const (
	stampedeProcs      = 4
	stampedeGoroutines = 8
	stampedeKeys       = 8
	stampedeLoad       = 20 * time.Millisecond
)

const stampedeDescription = "P processes × G goroutines miss the same K keys of a Redis cache at once (needs -redis or redis-server on PATH): loader calls (want K), callers' p50/p99, server commands per miss, round trips per process per miss; and its refresh variant, stampede-refresh: the same processes read one hot key through its expiries, with and without redismap's RefreshAfter"

// The refresh variant's shape (the workload is TTL 1 s, a 50 ms
// loader and 10 periods: BenchmarkRefreshHotKey in redismap runs that; this
// one is scaled down to fit mapbench's run).
const (
	refreshName        = "stampede-refresh"
	refreshTTL         = 150 * time.Millisecond
	refreshPeriods     = 4
	refreshLoad        = 20 * time.Millisecond
	refreshPace        = 2 * time.Millisecond
	refreshDescription = "P processes × G goroutines read one hot key of a Redis cache through 4 TTL periods (TTL 150 ms, a 20 ms loader), with and without redismap's RefreshAfter (80 % of TTL): reads that waited for a load (want 0 with refresh), loader calls per period (want about 1), p50/p99/max"
)

// splitStampede takes the stampede workload (and its refresh variant,
// which runs with it) out of a -workloads list: they are not in-process
// workloads. It reports whether the list asked for either (all does), and
// returns the list without them ("" if nothing else is left).
func splitStampede(list string) (rest string, want bool) {
	if list == "all" {
		return list, true
	}
	var keep []string
	for _, w := range strings.Split(list, ",") {
		if w := strings.TrimSpace(w); w == stampedeName || w == refreshName {
			want = true
			continue
		}
		keep = append(keep, w)
	}
	return strings.Join(keep, ","), want
}

// runStampede runs the stampede workload and adds it to res, or returns
// the line that says why it was skipped.
func (r *runner) runStampede(ctx context.Context, res *results.Run, progress io.Writer) (skipped string) {
	start := time.Now()
	defer func() { res.Elapsed += time.Since(start) }()
	addr := r.redisAddr
	if addr == "" {
		srv, err := redistest.Start()
		if errors.Is(err, redistest.ErrNoServer) {
			return "stampede: skipped: no Redis (pass -redis host:port, or put redis-server on PATH: " + redistest.InstallHint + ")"
		}
		if err != nil {
			return fmt.Sprintf("stampede: skipped: starting a local redis-server: %v", err)
		}
		defer srv.Stop()
		addr = srv.Addr()
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Sprintf("stampede: skipped: %v", err)
	}
	wl := results.Workload{
		Name: stampedeName, Description: stampedeDescription,
		Param: "processes", Primary: "loads/op",
	}
	variant := fmt.Sprintf("procs=%d/keys=%d", stampedeProcs, stampedeKeys) // goroutines per key is the case's Goroutines
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// At least as many rounds as a confidence interval needs: with fewer,
	// the report cannot tell 8 loader calls from 256 (both are "≈1").
	rounds := max(r.reps, stats.MinSamplesForCI)
	for _, impl := range stampede.Impls {
		if progress != nil {
			fmt.Fprintf(progress, "stampede: %s (%d rounds)\n", impl, rounds)
		}
		cfg := stampede.Config{
			Addr: addr, Impl: impl, Procs: stampedeProcs, Goroutines: stampedeGoroutines,
			Keys: stampedeKeys, Load: stampedeLoad,
			Command: func() *exec.Cmd { return exec.Command(self) },
		}
		c := results.Case{Impl: impl, Variant: variant, Param: stampedeProcs, KeyType: "string", Goroutines: stampedeGoroutines}
		if err := measureStampede(ctx, cfg, rounds, &c); err != nil {
			return fmt.Sprintf("stampede: skipped: %s: %v", impl, err)
		}
		wl.Cases = append(wl.Cases, c)
	}
	wl.Notes = append(wl.Notes,
		fmt.Sprintf("Each round is a cold stampede: %d processes × %d goroutines per key miss the same %d keys, whose loader takes %v. loads/op is loader calls per round: %d is once per key.", stampedeProcs, stampedeGoroutines, stampedeKeys, stampedeLoad, stampedeKeys),
		"cmds/miss counts the commands the server ran per missed key (INFO commandstats), those inside redismap's scripts included; trips/proc/miss counts round trips per process per missed key.",
		"rueidisaside is not measured: this machine's module proxy does not serve github.com/redis/rueidis/rueidisaside.")
	res.Workloads = append(res.Workloads, wl)
	res.Config.Workloads = append(res.Config.Workloads, stampedeName)
	return r.runRefreshVariant(ctx, addr, self, rounds, res, progress)
}

// measureStampede runs reps rounds of cfg into c.
func measureStampede(ctx context.Context, cfg stampede.Config, reps int, c *results.Case) error {
	run, err := stampede.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer run.Close()
	if _, err := run.Round(ctx); err != nil { // warm the connections and script caches
		return err
	}
	for range reps {
		begin := time.Now()
		res, err := run.Round(ctx)
		if err != nil {
			return err
		}
		s := stampede.Summarize(cfg, []stampede.RoundResult{res})
		c.Samples = append(c.Samples, results.Sample{
			Ops:     int64(len(res.Latencies)),
			NsPerOp: float64(time.Since(begin).Nanoseconds()) / float64(max(len(res.Latencies), 1)),
			Metrics: map[string]float64{
				"loads/op":        s.LoaderCalls,
				"p50-µs":          float64(s.P50.Microseconds()),
				"p99-µs":          float64(s.P99.Microseconds()),
				"cmds/miss":       s.CommandsPerMiss,
				"trips/proc/miss": s.TripsPerProcKey,
			},
		})
		if s.Errors > 0 {
			c.Violations = append(c.Violations, fmt.Sprintf("%d callers got an error", s.Errors))
		}
		if want := float64(cfg.Keys); s.LoaderCalls > want && len(c.Violations) == 0 {
			c.Violations = append(c.Violations, fmt.Sprintf("the loader ran %.0f times for %d missing keys", s.LoaderCalls, cfg.Keys))
		}
	}
	return nil
}

// runRefreshVariant runs the hot-key workload with and without refresh and
// adds it to res as the stampede-refresh workload, or returns the line
// that says why it was skipped.
func (r *runner) runRefreshVariant(ctx context.Context, addr, self string, rounds int, res *results.Run, progress io.Writer) (skipped string) {
	wl := results.Workload{
		Name: refreshName, Description: refreshDescription,
		Param: "processes", Primary: "waited-reads/op",
	}
	variant := fmt.Sprintf("procs=%d/ttl=%v/load=%v", stampedeProcs, refreshTTL, refreshLoad)
	for _, refresh := range []bool{false, true} {
		impl := "redismap"
		if refresh {
			impl = "redismap-RefreshAfter"
		}
		if progress != nil {
			fmt.Fprintf(progress, "stampede: %s on a hot key (%d rounds)\n", impl, rounds)
		}
		cfg := stampede.Config{
			Addr: addr, Impl: stampede.Redismap, Procs: stampedeProcs, Goroutines: stampedeGoroutines,
			Keys: 1, Load: refreshLoad,
			HotKey:  &stampede.HotKeyShape{TTL: refreshTTL, Periods: refreshPeriods, Pace: refreshPace, Refresh: refresh},
			Command: func() *exec.Cmd { return exec.Command(self) },
		}
		c := results.Case{Impl: impl, Variant: variant, Param: stampedeProcs, KeyType: "string", Goroutines: stampedeGoroutines}
		if err := measureHotKey(ctx, cfg, rounds, &c); err != nil {
			return fmt.Sprintf("stampede: skipped: %s on a hot key: %v", impl, err)
		}
		wl.Cases = append(wl.Cases, c)
	}
	wl.Notes = append(wl.Notes,
		fmt.Sprintf("Each round: %d processes × %d goroutines read one key, each goroutine once per %v, for %d TTL periods of %v; the loader takes %v. The first fill happens before the reads and is not counted.", stampedeProcs, stampedeGoroutines, refreshPace, refreshPeriods, refreshTTL, refreshLoad),
		"waited-reads/op counts the reads of a round that took at least 80 % of the loader's time: callers that waited for a load. loads/period is loader calls per TTL period: about 1 is one load per expiry (or per refresh).")
	res.Workloads = append(res.Workloads, wl)
	res.Config.Workloads = append(res.Config.Workloads, refreshName)
	return ""
}

// measureHotKey runs reps hot-key rounds of cfg into c.
func measureHotKey(ctx context.Context, cfg stampede.Config, reps int, c *results.Case) error {
	run, err := stampede.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer run.Close()
	for range reps {
		begin := time.Now()
		res, err := run.Round(ctx)
		if err != nil {
			return err
		}
		s := stampede.SummarizeHotKey(cfg, []stampede.RoundResult{res})
		c.Samples = append(c.Samples, results.Sample{
			Ops:     int64(s.ReadsPerRound),
			NsPerOp: float64(time.Since(begin).Nanoseconds()) / max(s.ReadsPerRound, 1),
			Metrics: map[string]float64{
				"waited-reads/op": s.WaitedReads,
				"loads/period":    s.LoadsPerPeriod,
				"p50-µs":          float64(s.P50.Microseconds()),
				"p99-µs":          float64(s.P99.Microseconds()),
				"max-µs":          float64(s.Max.Microseconds()),
			},
		})
		if s.ErrorsPerRound > 0 {
			c.Violations = append(c.Violations, fmt.Sprintf("%.0f reads got an error", s.ErrorsPerRound))
		}
	}
	return nil
}

// stampedeListRow is the stampede workload's row of mapbench list.
func stampedeListRow() [3]string {
	return [3]string{stampedeName, fmt.Sprintf("procs=%d/goroutines=%d/keys=%d", stampedeProcs, stampedeGoroutines, stampedeKeys), stampedeDescription}
}
