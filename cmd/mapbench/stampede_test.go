package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stampede"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
	"github.com/safemap-go/safemap/redismap/redistest"
)

func TestMapbench_StampedeWorkloadRunsOnALocalRedisAndIsReported(t *testing.T) {
	redistest.Require(t)
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "-workloads", "stampede", "-reps", "2", "-progress", "off", "-o", dir)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"stampede", "redismap", "go-redis-cache-once", "cache-aside", "loads/op", "stampede-refresh", "redismap-RefreshAfter", "waited-reads/op"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Workloads) != 2 || run.Workloads[0].Name != stampedeName || run.Workloads[1].Name != refreshName {
		t.Fatalf("results.json holds %d workloads; want the stampede and its refresh variant", len(run.Workloads))
	}
	// The refresh variant's guarantee is not a count of waited reads (a
	// read on a loaded machine may take as long as the loader without
	// waiting for it; CI saw RefreshAfter's median above the other's) but
	// how often the loader runs: the entry's lease lets one load run at a
	// time, across processes, and a load commits at least TTL (without
	// refresh) or RefreshAfter (with it) after the previous one committed.
	// So a round's reads, lasting refreshPeriods TTLs, see at most
	// periods·TTL/spacing + 1 committed loads; +1 for the reading windows'
	// ends (each process's starts when it reads "go") or a refresh of the
	// previous round's key that starts late, and +stampedeProcs for a load
	// that each process's reads cut short as they end (the lease passes to
	// another process, which loads again). A lease that let every process
	// load would run the loader about stampedeProcs times per period.
	refreshCases := run.Workloads[1].Cases
	if len(refreshCases) != 2 || refreshCases[0].Impl != "redismap" || refreshCases[1].Impl != "redismap-RefreshAfter" {
		t.Fatalf("stampede-refresh holds %d cases; want redismap and redismap-RefreshAfter", len(refreshCases))
	}
	for _, c := range refreshCases {
		spacing := refreshTTL
		if c.Impl == "redismap-RefreshAfter" {
			spacing = refreshTTL * 8 / 10
		}
		perRound := int(refreshPeriods*refreshTTL/spacing) + 2 + stampedeProcs
		maxPerPeriod := float64(perRound) / refreshPeriods
		_, waited := c.Figure("waited-reads/op")
		loads, ok := c.Figure("loads/period")
		switch {
		case !ok || !waited || len(c.Samples) != stats.MinSamplesForCI || len(c.Violations) > 0:
			t.Errorf("%s on a hot key: %d samples, loads/period present %v, waited-reads/op present %v, violations %v; want %d, both, none",
				c.Impl, len(c.Samples), ok, waited, c.Violations, stats.MinSamplesForCI)
		case loads.Max <= 0 || loads.Max > maxPerPeriod:
			t.Errorf("%s on a hot key: loads/period at most: got %v; want more than 0 and at most %v (once per expiry is 1)", c.Impl, loads.Max, maxPerPeriod)
		}
	}
	for _, c := range run.Workloads[0].Cases {
		st, ok := c.Figure("loads/op")
		switch {
		case !ok || len(c.Samples) != stats.MinSamplesForCI:
			t.Errorf("%s: %d samples, loads/op present %v; want %d (-reps 2 is raised to what a confidence interval needs) with it", c.Impl, len(c.Samples), ok, stats.MinSamplesForCI)
		case c.Impl == stampede.Redismap && (st.Max != stampedeKeys || len(c.Violations) > 0):
			t.Errorf("redismap: loads/op max %v, violations %v; want %d, none", st.Max, c.Violations, stampedeKeys)
		case c.Impl != stampede.Redismap && st.Median > stampedeKeys && len(c.Violations) == 0:
			t.Errorf("%s ran the loader %v times for %d keys and was not flagged", c.Impl, st.Median, stampedeKeys)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "stampede") || !strings.Contains(string(html), "stampede-refresh") {
		t.Errorf("report.html lacks the stampede workload or its refresh variant (%v)", err)
	}
}

func TestMapbench_StampedeIsSkippedWithALineWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server to start
	code, out, _ := runCLI(t, "-workloads", "stampede", "-reps", "1", "-progress", "off")
	if code != exitOK || !strings.Contains(out, "stampede: skipped: no Redis") || !strings.Contains(out, "apt-get install redis-server") {
		t.Errorf("exit %d, output:\n%s\nwant exit 0 and a line saying the stampede was skipped and how to get Redis", code, out)
	}
	code, out, _ = runCLI(t, "-workloads", "stampede", "-redis", "off", "-progress", "off")
	if code != exitOK || strings.Contains(out, "stampede") {
		t.Errorf("-redis off: exit %d, output:\n%s\nwant no stampede", code, out)
	}
}

func TestMapbench_ListNamesTheStampedeWorkload(t *testing.T) {
	if _, out, _ := runCLI(t, "list"); !strings.Contains(out, "stampede") {
		t.Errorf("list does not mention the stampede workload:\n%s", out)
	}
}
