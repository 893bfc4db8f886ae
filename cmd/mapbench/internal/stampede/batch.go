package stampede

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/safemap-go/safemap/redismap/redistest"
)

// The batch workload: P processes each resolve overlapping random batches
// of Size keys out of Keys, one batch after another, with a loader that
// costs a fixed time (Config.Load) plus PerKey per key: redismap's
// LoadOrTryComputeAll (one loader call for the keys its process leased)
// against one call per key, all at once, through redismap's
// LoadOrTryCompute and go-redis/cache's Once. Each round uses fresh keys.

// BatchImpls lists the implementations the batch workload compares.
var BatchImpls = []string{RedismapBatch, Redismap, GoRedisOnce}

// BatchShape is the batch workload's shape.
type BatchShape struct {
	Keys    int           // the key space
	Size    int           // keys per batch
	Batches int           // batches per process per round
	PerKey  time.Duration // the loader's cost per key, on top of Config.Load per call
}

// loadAll is how a worker resolves a batch with one call.
type loadAll func(ctx context.Context, keys []string, fn func(ctx context.Context, missing []string) (map[string]string, error)) (map[string]string, error)

// BatchSummary condenses batch rounds.
type BatchSummary struct {
	Rounds             int
	LoaderCallsPerProc float64       // loader calls per process per batch
	LoadsPerKey        float64       // keys loaded ÷ distinct keys loaded (target 1)
	TripsPerProc       float64       // round trips per process per batch
	P50, P99           time.Duration // a batch's latency
	Errors             int
}

// SummarizeBatch condenses the batch rounds of cfg.
func SummarizeBatch(cfg Config, results []RoundResult) BatchSummary {
	s := BatchSummary{Rounds: len(results)}
	if len(results) == 0 || cfg.Batch == nil {
		return s
	}
	var lat []time.Duration
	var calls, trips, loaded, distinct int64
	for _, r := range results {
		calls += r.LoaderCalls
		trips += r.RoundTrips
		s.Errors += r.Errors
		lat = append(lat, r.Latencies...)
		loaded += int64(len(r.Loaded))
		distinct += int64(len(distinctKeys(r.Loaded)))
	}
	batches := float64(len(results) * cfg.Procs * cfg.Batch.Batches)
	s.LoaderCallsPerProc = float64(calls) / batches
	s.TripsPerProc = float64(trips) / batches
	if distinct > 0 {
		s.LoadsPerKey = float64(loaded) / float64(distinct)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		s.P50 = lat[len(lat)*50/100]
		s.P99 = lat[min(len(lat)*99/100, len(lat)-1)]
	}
	return s
}

func distinctKeys(keys []string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

// batchWorker is a worker's side of the batch rounds: for each round it
// resolves its batches, one after another, and reports them. getAll is nil
// for the implementations that resolve a batch with one get per key.
func batchWorker(ctx context.Context, wc workerConfig, get load, getAll loadAll, trips *redistest.RoundTrips, r io.Reader, w io.Writer) error {
	in, out := bufio.NewScanner(r), json.NewEncoder(w)
	shape := wc.Batch
	for in.Scan() {
		prefix := wc.Prefix + ":batch:" + in.Text() + ":"
		var mu sync.Mutex
		res := workerResult{}
		record := func(keys ...string) {
			mu.Lock()
			res.Calls++
			res.Loaded = append(res.Loaded, keys...)
			mu.Unlock()
		}
		loadMany := func(ctx context.Context, missing []string) (map[string]string, error) {
			record(missing...)
			time.Sleep(wc.Load + time.Duration(len(missing))*shape.PerKey) // one query for every key
			vals := make(map[string]string, len(missing))
			for _, k := range missing {
				vals[k] = "value"
			}
			return vals, nil
		}
		rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		before := trips.Load()
		for range shape.Batches {
			keys := make([]string, shape.Size)
			for i := range keys {
				keys[i] = fmt.Sprint(prefix, rnd.IntN(shape.Keys))
			}
			begin := time.Now()
			var got map[string]string
			var err error
			if getAll != nil {
				got, err = getAll(ctx, keys, loadMany)
			} else {
				got, err = getEach(ctx, keys, get, func(ctx context.Context, key string) (string, error) {
					vals, err := loadMany(ctx, []string{key})
					return vals[key], err
				})
			}
			res.Latencies = append(res.Latencies, int64(time.Since(begin)))
			for _, k := range keys {
				if err != nil || got[k] != "value" {
					res.Errors++
				}
			}
			res.Batches++
		}
		res.Trips = trips.Load() - before
		if err := out.Encode(res); err != nil {
			return err
		}
	}
	return in.Err()
}

// getEach resolves keys with one get per key, all at once, as a caller
// without a batch API does.
func getEach(ctx context.Context, keys []string, get load, loader func(ctx context.Context, key string) (string, error)) (map[string]string, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := make(map[string]string, len(keys))
	var firstErr error
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := get(ctx, k, func(ctx context.Context) (string, error) { return loader(ctx, k) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			got[k] = v
		}()
	}
	wg.Wait()
	return got, firstErr
}
