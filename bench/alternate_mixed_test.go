package bench_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAlternatingMixed is a measurement, not a check: it runs only when
// SAFEMAP_ALTERNATE_MIXED is set. It is BenchmarkMixed's 90/9/1 row timed
// the way TestAlternatingLoads times Loads: Map and xsync, each brought to
// the row's steady state (settle, opcost_test.go: about 90k of the 100k
// keys present), run the same calls of the mix, drawn as BenchmarkMixed
// draws them (the draw's cost is in both), in short timed runs,
// alternating (and alternating which goes first) 1000 times in one
// process, and it prints the minimum, 10th percentile and median ns per
// call of each and their ratios. On a host whose speed drifts by the
// second, the low percentiles of runs a millisecond apart compare the two
// maps where benchmark runs a second apart cannot. docs/design.md ("Where
// the mixed row's time goes") quotes it. Settings (environment):
//
//	SAFEMAP_ALTERNATE_MIXED=1      run it
//	SAFEMAP_GOROUTINES=N           goroutines per timed run (default 1),
//	                               each with its own calls
//	SAFEMAP_MIX=loads              every call a Load of a random key (the
//	                               mix without its writes): what the
//	                               writes add is the difference
//	SAFEMAP_RUNS=N                 alternating runs of each (default 1000);
//	                               the ratios are also given for each
//	                               quarter of the runs, in order
//	SAFEMAP_MIX_START=fill         start from BenchmarkMixed's own start (keys
//	                               0..49999, fill) instead of the steady
//	                               state: the runs then cross the first
//	                               million calls' climb to it, and the
//	                               table's growth, as the benchmark does;
//	                               fill-map or fill-xsync: that map only,
//	                               the other from the steady state
//	SAFEMAP_MIX_PRESIZE=1          create both maps sized for 100k keys
//	                               (WithCapacity, WithPresize): no growth
//	SAFEMAP_MIX_WARM=N             before timing, run N calls of the mix on
//	                               each map on one goroutine (with
//	                               SAFEMAP_MIX_START=fill: whether the table
//	                               grew with one goroutine or with several)
//
// For example:
//
//	SAFEMAP_ALTERNATE_MIXED=1 SAFEMAP_GOROUTINES=2 GOMAXPROCS=2 go test -run TestAlternatingMixed -v ./bench
func TestAlternatingMixed(t *testing.T) {
	if os.Getenv("SAFEMAP_ALTERNATE_MIXED") == "" {
		t.Skip("a measurement: set SAFEMAP_ALTERNATE_MIXED=1 to run it")
	}
	goroutines := 1
	envInt(t, "SAFEMAP_GOROUTINES", &goroutines)
	loadsOnly := os.Getenv("SAFEMAP_MIX") == "loads"

	presize := 0
	if os.Getenv("SAFEMAP_MIX_PRESIZE") == "1" {
		presize = 100_000
	}
	m, x := mapCostOps(presize), xsyncCostOps(presize)
	start := os.Getenv("SAFEMAP_MIX_START")
	for _, c := range []struct {
		name string
		ops  costOps
	}{{"map", m}, {"xsync", x}} {
		if start == "fill" || start == "fill-"+c.name {
			keys := make([]int64, 50_000)
			for i := range keys {
				keys[i] = int64(i)
			}
			c.ops.loadOrStore(keys)
		} else {
			c.ops.settle()
		}
	}

	warm := 0
	envInt(t, "SAFEMAP_MIX_WARM", &warm)
	if warm > 0 {
		ops := mixedOps(warm)
		sink.Add(m.mixed(ops) + x.mixed(ops))
	}

	const seg = 1 << 14
	runs := 1000
	envInt(t, "SAFEMAP_RUNS", &runs)
	loadPct := 90
	if loadsOnly {
		loadPct = 100
	}
	// Each goroutine draws its calls as BenchmarkMixed does, from a
	// generator of its own that carries over from run to run, one for
	// each map with the same seed: both maps see the same calls, none
	// repeated. (Replaying a fixed set of calls instead would hold the
	// map in a state of its own: from 50k keys, 16 replayed segments
	// leave 66k keys present, not 90k.)
	rm, rx := make([]*rand.Rand, goroutines), make([]*rand.Rand, goroutines)
	for g := range goroutines {
		rm[g] = newGoroutineRand(uint64(g)+1, 1) // padded: see newGoroutineRand
		rx[g] = newGoroutineRand(uint64(g)+1, 1)
	}

	// timed runs seg calls of f on each goroutine and returns the wall
	// time per call.
	timed := func(f func(*rand.Rand, int, int) int64, rs []*rand.Rand) float64 {
		var wg sync.WaitGroup
		start := time.Now()
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sink.Add(f(rs[g], seg, loadPct))
			}()
		}
		wg.Wait()
		return float64(time.Since(start).Nanoseconds()) / float64(goroutines*seg)
	}
	var tm, tx []float64
	for i := range runs {
		if i%2 == 0 {
			tm = append(tm, timed(m.mixedDrawn, rm))
			tx = append(tx, timed(x.mixedDrawn, rx))
		} else {
			tx = append(tx, timed(x.mixedDrawn, rx))
			tm = append(tm, timed(m.mixedDrawn, rm))
		}
	}
	at := func(s []float64, q int) float64 { return s[q*len(s)/100] }
	var quarters []string
	for i := range 4 {
		qm := slices.Clone(tm[i*runs/4 : (i+1)*runs/4])
		qx := slices.Clone(tx[i*runs/4 : (i+1)*runs/4])
		slices.Sort(qm)
		slices.Sort(qx)
		quarters = append(quarters, fmt.Sprintf("%.2f", at(qm, 10)/at(qx, 10)))
	}
	slices.Sort(tm)
	slices.Sort(tx)
	mix := "90/9/1"
	if loadsOnly {
		mix = "its Loads only"
	}
	t.Logf("mix %s, 100k keys, %d goroutine(s), %d alternating runs of %d calls each",
		mix, goroutines, runs, goroutines*seg)
	for _, q := range []struct {
		name string
		pct  int
	}{{"min", 0}, {"p10", 10}, {"median", 50}} {
		mv, xv := at(tm, q.pct), at(tx, q.pct)
		t.Logf("%-6s Map %6.1f ns  xsync %6.1f ns  ratio %.2f", q.name, mv, xv, mv/xv)
	}
	t.Logf("p10 ratio by quarter of the runs: %s", strings.Join(quarters, " "))
	t.Logf("at the end: Map %s; xsync %s", m.shape(), x.shape())
}
