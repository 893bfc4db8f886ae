package bench_test

import (
	"context"
	"time"

	"github.com/safemap-go/safemap/cache"
)

// safemap's cache in the cache benchmarks: first in every list, so that
// benchstat -col /impl puts it in the first column and gives every peer's
// figure as a ratio to it.
func init() {
	cacheImpls = append([]cacheImpl{{name: "safemap", new: newOurCache}}, cacheImpls...)
	refreshImpls = append([]refreshImpl{
		{name: "safemap", new: newOurRefresh(refreshAfter)},
		// The baseline: no refresh ahead, so every expiry makes the callers
		// of that moment wait for the loader.
		{name: "safemap-noRefresh", new: newOurRefresh(0)},
	}, refreshImpls...)
	batchImpls = append([]batchImpl{{name: "safemap", new: newOurBatch, missing: ourBatchMissing()}}, batchImpls...)
}

// ourCache adapts cache.Cache: MaxEntries, TTL, LoadOrCompute.
type ourCache struct{ c *cache.Cache[int64, int64] }

func newOurCache(o cacheOptions) benchCache {
	c, err := cache.New(cache.Options[int64, int64]{MaxEntries: o.maxEntries, TTL: o.ttl})
	if err != nil {
		panic(err)
	}
	return ourCache{c}
}

func (c ourCache) Load(key int64) (int64, bool) { return c.c.Load(key) }
func (c ourCache) Store(key, value int64)       { c.c.Store(key, value) }
func (c ourCache) LoadOrCompute(key int64) int64 {
	v, _ := c.c.LoadOrCompute(key, computeOne)
	return v
}
func (c ourCache) Len() int { return c.c.Len() }
func (c ourCache) Close()   { c.c.Close() }

// newOurRefresh is the cache with the refresh workload's TTL and the given
// RefreshAfter (0: none), read with LoadOrTryCompute.
func newOurRefresh(after time.Duration) func(func(context.Context) (int64, error)) (refreshGet, func()) {
	return func(load func(context.Context) (int64, error)) (refreshGet, func()) {
		c, err := cache.New(cache.Options[string, int64]{MaxEntries: 1000, TTL: refreshTTL, RefreshAfter: after})
		if err != nil {
			panic(err)
		}
		return func(ctx context.Context) (int64, error) {
			v, _, err := c.LoadOrTryCompute(ctx, "hot", load)
			return v, err
		}, c.Close
	}
}

// batchLoader is the cache's batch load (issue 19 §4), asserted rather
// than called directly so that the benchmarks build on a cache that does
// not have it yet; the batch row then skips, saying why.
type batchLoader interface {
	LoadOrTryComputeAll(ctx context.Context, keys []int64, fn func(ctx context.Context, missing []int64) (map[int64]int64, error)) (map[int64]int64, error)
}

// ourBatchMissing says why the cache cannot run the batch workload, or ""
// when it can.
func ourBatchMissing() string {
	if _, ok := any(&cache.Cache[int64, int64]{}).(batchLoader); !ok {
		return "cache.Cache has no LoadOrTryComputeAll(ctx, keys, fn) yet (issue 19 §4)"
	}
	return ""
}

// newOurBatch is the cache's LoadOrTryComputeAll, unbounded and without
// expiry like the peers in this workload.
func newOurBatch(load func(context.Context, []int64) map[int64]int64) (batchGet, func()) {
	c, err := cache.New(cache.Options[int64, int64]{MaxEntries: batchMaxSize})
	if err != nil {
		panic(err)
	}
	bl := any(c).(batchLoader)
	fn := func(ctx context.Context, missing []int64) (map[int64]int64, error) { return load(ctx, missing), nil }
	return func(ctx context.Context, keys []int64, _ []string) (int, error) {
		m, err := bl.LoadOrTryComputeAll(ctx, keys, fn)
		return len(m), err
	}, c.Close
}
