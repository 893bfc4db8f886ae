package bench_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// TestAlternatingLoads is a measurement, not a check: it runs only when
// SAFEMAP_ALTERNATE is set. On a host whose speed drifts, benchmark runs
// minutes apart are hard to compare; this builds Map and xsync side by side
// in one process and alternates short timed runs of the same random Loads
// on each, 400 times, then prints the minimum, 10th percentile and median
// ns per Load of each and their ratios. BENCHMARKS.md and docs/design.md
// quote it. Settings (environment):
//
//	SAFEMAP_ALTERNATE=int|string|longstring   key type ("user:%08d" strings,
//	                               or BenchmarkLoadLongString's 17-22 bytes)
//	SAFEMAP_KEYS=N                 keys stored (default 1000000 int, 100000 string)
//	SAFEMAP_MISS=1                 probe only absent keys (default: only present ones)
//	SAFEMAP_GOROUTINES=N           goroutines per timed run (default 1)
//
// For example:
//
//	SAFEMAP_ALTERNATE=int GOMAXPROCS=1 go test -run TestAlternatingLoads -v .
func TestAlternatingLoads(t *testing.T) {
	kind := os.Getenv("SAFEMAP_ALTERNATE")
	if kind == "" {
		t.Skip("a measurement: set SAFEMAP_ALTERNATE=int or string to run it")
	}
	n, goroutines := 1_000_000, 1
	if kind != "int" {
		n = 100_000
	}
	envInt(t, "SAFEMAP_KEYS", &n)
	envInt(t, "SAFEMAP_GOROUTINES", &goroutines)
	miss := os.Getenv("SAFEMAP_MISS") == "1"

	const seg, runs = 1 << 15, 400
	r := rand.New(rand.NewPCG(1, 2))
	probes := make([]int, 16*seg)
	for i := range probes {
		probes[i] = r.IntN(n)
		if miss {
			probes[i] += n
		}
	}
	var mapRun, xsyncRun func(ps []int) int64
	switch kind {
	case "int":
		m, x := safemap.New[int64, int64](), xsync.NewMap[int64, int64]()
		for i := range int64(n) {
			m.Store(i, i)
			x.Store(i, i)
		}
		mapRun = func(ps []int) (s int64) {
			for _, p := range ps {
				v, _ := m.Load(int64(p))
				s += v
			}
			return s
		}
		xsyncRun = func(ps []int) (s int64) {
			for _, p := range ps {
				v, _ := x.Load(int64(p))
				s += v
			}
			return s
		}
	case "string", "longstring":
		keys := make([]string, 2*n)
		for i := range keys {
			keys[i] = fmt.Sprintf("user:%08d", i)
		}
		if kind == "longstring" {
			keys = longStringKeys(2 * n)
		}
		m, x := safemap.New[string, int64](), xsync.NewMap[string, int64]()
		for i := range n {
			m.Store(keys[i], int64(i))
			x.Store(keys[i], int64(i))
		}
		mapRun = func(ps []int) (s int64) {
			for _, p := range ps {
				v, _ := m.Load(keys[p])
				s += v
			}
			return s
		}
		xsyncRun = func(ps []int) (s int64) {
			for _, p := range ps {
				v, _ := x.Load(keys[p])
				s += v
			}
			return s
		}
	default:
		t.Fatalf("SAFEMAP_ALTERNATE=%q: want int, string or longstring", kind)
	}

	// timed runs f on one segment of probes per goroutine, round i, and
	// returns the wall time per Load.
	timed := func(f func([]int) int64, i int) float64 {
		var wg sync.WaitGroup
		start := time.Now()
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := (i*goroutines + g) % 16
				sink.Add(f(probes[j*seg : (j+1)*seg]))
			}()
		}
		wg.Wait()
		return float64(time.Since(start).Nanoseconds()) / float64(goroutines*seg)
	}
	var tm, tx []float64
	for i := range runs {
		tm = append(tm, timed(mapRun, i))
		tx = append(tx, timed(xsyncRun, i))
	}
	slices.Sort(tm)
	slices.Sort(tx)
	at := func(s []float64, q int) float64 { return s[q*len(s)/100] }
	t.Logf("%s keys, %d stored, miss=%v, %d goroutine(s), %d alternating runs of %d Loads each",
		kind, n, miss, goroutines, runs, goroutines*seg)
	for _, q := range []struct {
		name string
		pct  int
	}{{"min", 0}, {"p10", 10}, {"median", 50}} {
		mv, xv := at(tm, q.pct), at(tx, q.pct)
		t.Logf("%-6s Map %6.1f ns  xsync %6.1f ns  ratio %.2f", q.name, mv, xv, mv/xv)
	}
}

// sink keeps the timed loops' results alive.
var sink atomic.Int64

// envInt sets *v from the environment variable name, if set.
func envInt(t *testing.T, name string, v *int) {
	s := os.Getenv(name)
	if s == "" {
		return
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	*v = n
}
