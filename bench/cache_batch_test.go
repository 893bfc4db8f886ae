package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"
)

// The batch workload of issue 19: P goroutines each resolve batchRounds
// batches of batchSize random keys out of batchKeys, so that batches
// overlap, through a loader that costs 5 ms plus 10 µs per key it is asked
// for. The caches start empty and never evict or expire, so each key needs
// loading once. It reports, per run,
//
//	loads/run     loader calls
//	keys/run      keys the loader was asked for, over all calls
//	dup-keys/run  of those, the loads of a key already loaded or being
//	              loaded (want 0: each key once per absence)
//	lost/run      requested keys missing from a batch's result (want 0)
//	p50-ns, p99-ns  the latency of one batch
//
// as benchmark metrics (ns/op is one whole run: ignore it).
//
//	go test -run '^$' -bench 'CacheBatch$' -benchtime 1x -count 3 ./bench

const (
	batchKeys    = 10_000
	batchSize    = 100
	batchRounds  = 25 // batches per goroutine
	batchBase    = 5 * time.Millisecond
	batchPerKey  = 10 * time.Microsecond
	batchMaxSize = 20_000 // the caches' bound: more than the keys
)

// batchGet resolves one batch, given as int64 keys and as the same keys
// formatted as strings (for sturdyc), and returns how many of them it
// returned values for.
type batchGet func(ctx context.Context, keys []int64, ids []string) (int, error)

// batchImpl is one cache in the batch workload: new builds it around load,
// which loads the keys it is given, and returns the batch read and the
// cleanup.
type batchImpl struct {
	name string
	new  func(load func(ctx context.Context, keys []int64) map[int64]int64) (batchGet, func())
	// missing, when set, says why the cache cannot run the workload: its
	// row skips with it.
	missing string
}

// batchImpls lists the caches with batch loads, ours first
// (cache_ours_test.go adds it).
var batchImpls = []batchImpl{
	{name: "otter", new: newOtterBatch},
	{name: "sturdyc", new: newSturdycBatch},
}

// newOtterBatch is otter v2's BulkGet.
func newOtterBatch(load func(context.Context, []int64) map[int64]int64) (batchGet, func()) {
	c := otter.Must(&otter.Options[int64, int64]{MaximumSize: batchMaxSize})
	loader := otter.BulkLoaderFunc[int64, int64](func(ctx context.Context, keys []int64) (map[int64]int64, error) {
		return load(ctx, keys), nil
	})
	return func(ctx context.Context, keys []int64, _ []string) (int, error) {
		m, err := c.BulkGet(ctx, keys, loader)
		return len(m), err
	}, func() { c.StopAllGoroutines() }
}

// newSturdycBatch is sturdyc's GetOrFetchBatch, whose keys are strings
// (formatted before the timed loop; the loader parses them back).
func newSturdycBatch(load func(context.Context, []int64) map[int64]int64) (batchGet, func()) {
	c := sturdyc.New[int64](batchMaxSize, 10, time.Hour, 10)
	keyFn := c.BatchKeyFn("k")
	fetch := func(ctx context.Context, ids []string) (map[string]int64, error) {
		keys := make([]int64, len(ids))
		for i, id := range ids {
			k, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, err
			}
			keys[i] = k
		}
		out := make(map[string]int64, len(ids))
		for k, v := range load(ctx, keys) {
			out[strconv.FormatInt(k, 10)] = v
		}
		return out, nil
	}
	return func(ctx context.Context, _ []int64, ids []string) (int, error) {
		m, err := c.GetOrFetchBatch(ctx, ids, keyFn, fetch)
		return len(m), err
	}, func() {}
}

// batchResult is what one run of the batch workload measured.
type batchResult struct {
	loads, keysLoaded, dupKeys, lost, errors int64
	latencies                                []time.Duration
}

// batchPlan returns each goroutine's batches: distinct keys within a
// batch, drawn uniformly from batchKeys, as int64 and as strings.
func batchPlan(p int) (keys [][][]int64, ids [][][]string) {
	r := rand.New(rand.NewPCG(5, 6))
	keys = make([][][]int64, p)
	ids = make([][][]string, p)
	for g := range p {
		for range batchRounds {
			perm := r.Perm(batchKeys)[:batchSize]
			ks := make([]int64, batchSize)
			ss := make([]string, batchSize)
			for i, k := range perm {
				ks[i] = int64(k)
				ss[i] = strconv.Itoa(k)
			}
			keys[g] = append(keys[g], ks)
			ids[g] = append(ids[g], ss)
		}
	}
	return keys, ids
}

// runBatch runs the workload once on im with p goroutines.
func runBatch(im batchImpl, p int, keys [][][]int64, ids [][][]string) batchResult {
	var loads, keysLoaded, dupKeys atomic.Int64
	var loadedOnce [batchKeys]atomic.Bool
	load := func(_ context.Context, ks []int64) map[int64]int64 {
		loads.Add(1)
		keysLoaded.Add(int64(len(ks)))
		for _, k := range ks {
			if loadedOnce[k].Swap(true) {
				dupKeys.Add(1)
			}
		}
		time.Sleep(batchBase + time.Duration(len(ks))*batchPerKey) // the backend being waited for
		out := make(map[int64]int64, len(ks))
		for _, k := range ks {
			out[k] = k
		}
		return out
	}
	get, closeFn := im.new(load)
	defer closeFn()
	var lost, errs atomic.Int64
	lat := make([][]time.Duration, p)
	var wg sync.WaitGroup
	for g := range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range keys[g] {
				t0 := time.Now()
				n, err := get(ctx, keys[g][i], ids[g][i])
				lat[g] = append(lat[g], time.Since(t0))
				if err != nil {
					errs.Add(1)
				}
				lost.Add(int64(batchSize - n))
			}
		}()
	}
	wg.Wait()
	res := batchResult{loads: loads.Load(), keysLoaded: keysLoaded.Load(), dupKeys: dupKeys.Load(), lost: lost.Load(), errors: errs.Load()}
	for _, l := range lat {
		res.latencies = append(res.latencies, l...)
	}
	slices.Sort(res.latencies)
	return res
}

// BenchmarkCacheBatch runs the batch workload once per iteration and
// reports its metrics, averaged over the iterations.
func BenchmarkCacheBatch(b *testing.B) {
	for _, p := range []int{8} {
		keys, ids := batchPlan(p)
		for _, im := range batchImpls {
			b.Run(fmt.Sprintf("impl=%s/goroutines=%d", im.name, p), func(b *testing.B) {
				if im.missing != "" {
					b.Skip(im.missing)
				}
				var loads, keysLoaded, dup, lost, p50, p99, errs float64
				for range b.N {
					r := runBatch(im, p, keys, ids)
					loads += float64(r.loads)
					keysLoaded += float64(r.keysLoaded)
					dup += float64(r.dupKeys)
					lost += float64(r.lost)
					p50 += float64(percentile(r.latencies, 50))
					p99 += float64(percentile(r.latencies, 99))
					errs += float64(r.errors)
				}
				n := float64(b.N)
				b.ReportMetric(loads/n, "loads/run")
				b.ReportMetric(keysLoaded/n, "keys/run")
				b.ReportMetric(dup/n, "dup-keys/run")
				b.ReportMetric(lost/n, "lost/run")
				b.ReportMetric(p50/n, "p50-ns")
				b.ReportMetric(p99/n, "p99-ns")
				if errs > 0 {
					b.Errorf("%v batches returned an error", errs)
				}
			})
		}
	}
}
