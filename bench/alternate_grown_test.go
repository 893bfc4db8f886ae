package bench_test

import (
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestAlternatingGrownTables is a measurement, not a check: it runs only
// when SAFEMAP_ALTERNATE_GROWN is set. It asks whether a table that grew
// while two goroutines ran BenchmarkMixed's 90/9/1 mix is slower
// afterwards than one that grew on one goroutine: two maps of one kind
// start from keys 0..49999 (fill), run the same 4M calls of the mix (one
// on two goroutines, one on one, each growing from 16,384 to 32,768
// chains on the way), and then the two are timed on the same calls in
// alternating short runs on two goroutines, 1000 each. docs/design.md
// ("Where the mixed row's time goes") quotes it.
//
//	SAFEMAP_ALTERNATE_GROWN=map|xsync GOMAXPROCS=2 go test -run TestAlternatingGrownTables -v ./bench
func TestAlternatingGrownTables(t *testing.T) {
	var newOps func() costOps
	switch kind := os.Getenv("SAFEMAP_ALTERNATE_GROWN"); kind {
	case "":
		t.Skip("a measurement: set SAFEMAP_ALTERNATE_GROWN=map or xsync to run it")
	case "map":
		newOps = func() costOps { return mapCostOps(0) }
	case "xsync":
		newOps = func() costOps { return xsyncCostOps(0) }
	default:
		t.Fatalf("SAFEMAP_ALTERNATE_GROWN=%q: want map or xsync", kind)
	}
	byTwo, byOne := newOps(), newOps()
	keys := make([]int64, 50_000)
	for i := range keys {
		keys[i] = int64(i)
	}
	byTwo.loadOrStore(keys)
	byOne.loadOrStore(keys)
	warm := mixedOps(4_000_000)
	halves := [][]mixedOp{warm[:len(warm)/2], warm[len(warm)/2:]}
	var wg sync.WaitGroup
	for _, h := range halves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sink.Add(byTwo.mixed(h))
		}()
	}
	wg.Wait()
	sink.Add(byOne.mixed(halves[0]) + byOne.mixed(halves[1]))

	const seg, segs, runs = 1 << 14, 16, 1000
	calls := mixedOps(2 * segs * seg) // one half per goroutine
	timed := func(f func([]mixedOp) int64, i int) float64 {
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := g*segs + i%segs
				sink.Add(f(calls[j*seg : (j+1)*seg]))
			}()
		}
		wg.Wait()
		return float64(time.Since(start).Nanoseconds()) / float64(2*seg)
	}
	var t2, t1 []float64
	for i := range runs {
		if i%2 == 0 {
			t2 = append(t2, timed(byTwo.mixed, i))
			t1 = append(t1, timed(byOne.mixed, i))
		} else {
			t1 = append(t1, timed(byOne.mixed, i))
			t2 = append(t2, timed(byTwo.mixed, i))
		}
	}
	slices.Sort(t2)
	slices.Sort(t1)
	at := func(s []float64, q int) float64 { return s[q*len(s)/100] }
	for _, q := range []struct {
		name string
		pct  int
	}{{"min", 0}, {"p10", 10}, {"median", 50}} {
		a, b := at(t2, q.pct), at(t1, q.pct)
		t.Logf("%-6s grown on two goroutines %5.1f ns  on one %5.1f ns  ratio %.2f", q.name, a, b, a/b)
	}
}
