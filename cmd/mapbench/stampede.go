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

const stampedeDescription = "P processes × G goroutines miss the same K keys of a Redis cache at once (needs -redis or redis-server on PATH): loader calls (want K), callers' p50/p99, server commands per miss, round trips per process per miss"

// splitStampede takes the stampede workload out of a -workloads list: it
// is not one of the in-process workloads. It reports whether the list
// asked for it (all does), and returns the list without it ("" if nothing
// else is left).
func splitStampede(list string) (rest string, want bool) {
	if list == "all" {
		return list, true
	}
	var keep []string
	for _, w := range strings.Split(list, ",") {
		if strings.TrimSpace(w) == stampedeName {
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
	return ""
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

// stampedeListRow is the stampede workload's row of mapbench list.
func stampedeListRow() [3]string {
	return [3]string{stampedeName, fmt.Sprintf("procs=%d/goroutines=%d/keys=%d", stampedeProcs, stampedeGoroutines, stampedeKeys), stampedeDescription}
}
