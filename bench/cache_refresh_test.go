package bench_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"
)

// The refresh workload of issue 19: G goroutines read one hot key through
// 10 TTL periods (TTL 100 ms, refresh after 50 ms, a 20 ms loader), each
// goroutine once per refreshPace. It reports, per run of 10 periods,
//
//	loads/period  loader calls per TTL period (about 1 is one load per
//	              expiry or refresh; the first fill is not counted)
//	waited/run    reads that took at least 80 % of the loader's time:
//	              callers that waited for a load (0 with refresh ahead)
//	p50-ns, p99-ns, max-ns  the reads' latencies
//
// as benchmark metrics (ns/op is one whole run: ignore it). Without
// refresh ahead (impl=safemap-noRefresh) every expiry makes the callers of
// that moment wait about 20 ms.
//
//	go test -run '^$' -bench 'CacheRefreshHotKey$' -benchtime 1x -count 3 ./bench

const (
	refreshTTL     = 100 * time.Millisecond
	refreshAfter   = 50 * time.Millisecond
	refreshLoad    = 20 * time.Millisecond
	refreshPeriods = 10
	refreshPace    = time.Millisecond
)

// refreshGet reads the hot key, loading it with load on a miss.
type refreshGet func(ctx context.Context) (int64, error)

// refreshImpl is one cache in the refresh workload: new builds it with
// the workload's TTL and refresh time around load, and returns the read
// and the cleanup.
type refreshImpl struct {
	name string
	new  func(load func(context.Context) (int64, error)) (get refreshGet, closeFn func())
}

// refreshImpls lists the caches with refresh ahead, ours first
// (cache_ours_test.go adds it and its no-refresh baseline).
var refreshImpls = []refreshImpl{
	{name: "otter", new: newOtterRefresh},
	{name: "sturdyc", new: newSturdycRefresh},
}

// newOtterRefresh is otter v2 with ExpiryWriting(TTL) and
// RefreshWriting(refresh after): a Get of an entry due for refresh returns
// it and reloads it asynchronously.
func newOtterRefresh(load func(context.Context) (int64, error)) (refreshGet, func()) {
	c := otter.Must(&otter.Options[string, int64]{
		MaximumSize:       1000,
		ExpiryCalculator:  otter.ExpiryWriting[string, int64](refreshTTL),
		RefreshCalculator: otter.RefreshWriting[string, int64](refreshAfter),
	})
	loader := otter.LoaderFunc[string, int64](func(ctx context.Context, _ string) (int64, error) { return load(ctx) })
	return func(ctx context.Context) (int64, error) { return c.Get(ctx, "hot", loader) },
		func() { c.StopAllGoroutines() }
}

// newSturdycRefresh is sturdyc with early refreshes: a read after
// refreshAfter (min = max, no randomisation) starts a background refresh,
// one after the TTL refreshes synchronously. Its eviction goroutine has no
// stop.
func newSturdycRefresh(load func(context.Context) (int64, error)) (refreshGet, func()) {
	c := sturdyc.New[int64](1000, 1, refreshTTL, 10,
		sturdyc.WithEarlyRefreshes(refreshAfter, refreshAfter, refreshTTL, 10*time.Millisecond))
	return func(ctx context.Context) (int64, error) { return c.GetOrFetch(ctx, "hot", load) },
		func() {}
}

// refreshResult is what one run of the workload measured.
type refreshResult struct {
	loads     int64 // loader calls after the first fill
	waited    int   // reads that took ≥ 80 % of the loader's time
	latencies []time.Duration
	errors    int64
}

// runRefresh runs the workload once on im with g goroutines.
func runRefresh(im refreshImpl, g int) refreshResult {
	var loads atomic.Int64
	load := func(context.Context) (int64, error) {
		n := loads.Add(1)
		time.Sleep(refreshLoad) // the backend being waited for
		return n, nil
	}
	get, closeFn := im.new(load)
	defer closeFn()
	ctx := context.Background()
	if _, err := get(ctx); err != nil { // the first fill, not counted
		panic(fmt.Sprintf("%s: first fill: %v", im.name, err))
	}
	loads.Store(0)

	var res refreshResult
	var errs atomic.Int64
	lat := make([][]time.Duration, g)
	deadline := time.Now().Add(refreshPeriods * refreshTTL)
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, int(refreshPeriods*refreshTTL/refreshPace)+1)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if _, err := get(ctx); err != nil {
					errs.Add(1)
				}
				own = append(own, time.Since(t0))
				time.Sleep(refreshPace) // the workload's pace, not a synchronisation
			}
			lat[i] = own
		}()
	}
	wg.Wait()
	res.loads = loads.Load()
	res.errors = errs.Load()
	for _, l := range lat {
		res.latencies = append(res.latencies, l...)
	}
	slices.Sort(res.latencies)
	for _, d := range res.latencies {
		if d >= refreshLoad*8/10 {
			res.waited++
		}
	}
	return res
}

// percentile returns the p-th percentile (0..100) of sorted durations, by
// the nearest rank; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// BenchmarkCacheRefreshHotKey runs the refresh workload once per
// iteration and reports its metrics, averaged over the iterations.
func BenchmarkCacheRefreshHotKey(b *testing.B) {
	for _, g := range []int{8, 64} {
		for _, im := range refreshImpls {
			b.Run(fmt.Sprintf("impl=%s/goroutines=%d", im.name, g), func(b *testing.B) {
				var loads, waited, p50, p99, maxLat, errs float64
				for range b.N {
					r := runRefresh(im, g)
					loads += float64(r.loads) / refreshPeriods
					waited += float64(r.waited)
					p50 += float64(percentile(r.latencies, 50))
					p99 += float64(percentile(r.latencies, 99))
					maxLat += float64(r.latencies[len(r.latencies)-1])
					errs += float64(r.errors)
				}
				n := float64(b.N)
				b.ReportMetric(loads/n, "loads/period")
				b.ReportMetric(waited/n, "waited/run")
				b.ReportMetric(p50/n, "p50-ns")
				b.ReportMetric(p99/n, "p99-ns")
				b.ReportMetric(maxLat/n, "max-ns")
				if errs > 0 {
					b.Errorf("%v reads returned an error", errs)
				}
			})
		}
	}
}
