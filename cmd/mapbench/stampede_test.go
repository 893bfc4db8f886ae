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
	for _, want := range []string{"stampede", "redismap", "go-redis-cache-once", "cache-aside", "loads/op"} {
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
	waited := map[string]float64{}
	for _, c := range run.Workloads[1].Cases {
		st, ok := c.Figure("waited-reads/op")
		if !ok || len(c.Violations) > 0 {
			t.Errorf("%s on a hot key: waited-reads/op present %v, violations %v; want it, none", c.Impl, ok, c.Violations)
		}
		waited[c.Impl] = st.Median
	}
	if waited["redismap-RefreshAfter"] >= waited["redismap"] {
		t.Errorf("reads that waited for a load: %v with RefreshAfter, %v without; want fewer with it", waited["redismap-RefreshAfter"], waited["redismap"])
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
	if err != nil || !strings.Contains(string(html), "stampede") {
		t.Errorf("report.html lacks the stampede workload (%v)", err)
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
