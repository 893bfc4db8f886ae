package bench_test

import (
	"context"
	"time"

	"github.com/Yiling-J/theine-go"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
)

// The cache benchmarks (cache_speed_test.go, cache_memory_test.go,
// cache_refresh_test.go, cache_batch_test.go) run safemap's cache and the
// bounded, expiring Go caches through one harness: an adapter per cache
// behind benchCache. Names follow Benchmark<Workload>/impl=<name>/… so that
//
//	go test -run '^$' -bench 'Cache' -count 6 ./bench | tee cache.txt
//	benchstat -col /impl cache.txt
//
// gives each peer ÷ ours; bench/interleave-cache.sh runs the speed rows in
// interleaved rounds. sturdyc (github.com/viccon/sturdyc) takes string keys
// only: it runs the refresh and batch workloads, where keys are few or
// formatted once before the timed loop, and not the speed and memory rows,
// where formatting an int64 key per operation would be most of what is
// measured.

// cacheOptions is what a benchmark asks of a cache; every adapter maps it
// onto its own configuration.
type cacheOptions struct {
	maxEntries int           // the bound on the number of entries; > 0
	ttl        time.Duration // time to live after a write; 0: no expiry
}

// benchCache is the part of a cache the speed and memory benchmarks drive.
// Keys and values are int64.
type benchCache interface {
	// Load returns the value of a present, unexpired key without loading.
	Load(key int64) (int64, bool)
	// Store sets key's value.
	Store(key, value int64)
	// LoadOrCompute returns key's value, computing and storing it on a miss
	// with the cache's own loading call where it has one (the idiom its
	// users write where it has none: Get, then Set). The value function
	// captures nothing and returns 1, so that no adapter allocates a
	// closure per call.
	LoadOrCompute(key int64) int64
	// Close stops the cache's background goroutines, if any.
	Close()
}

// cacheImpl is one cache the benchmarks run.
type cacheImpl struct {
	name string
	new  func(o cacheOptions) benchCache
	// settle, when set, waits until the cache's buffered writes and
	// evictions are applied (otter, ristretto and theine apply them
	// asynchronously).
	settle func(c benchCache)
}

// cacheImpls lists the caches the speed and memory benchmarks run, ours
// first (cache_ours_test.go adds it).
var cacheImpls = []cacheImpl{
	{name: "otter", new: newOtterCache, settle: func(c benchCache) { c.(otterCache).c.CleanUp() }},
	{name: "ristretto", new: newRistrettoCache, settle: func(c benchCache) { c.(*ristrettoCache).c.Wait() }},
	{name: "theine", new: newTheineCache, settle: func(c benchCache) { c.(*theineCache).c.Wait() }},
	{name: "golang-lru", new: newLRUCache},
}

// otterCache adapts otter v2: MaximumSize, ExpiryWriting, Get with a
// loader for LoadOrCompute.
type otterCache struct{ c *otter.Cache[int64, int64] }

func newOtterCache(o cacheOptions) benchCache {
	opts := &otter.Options[int64, int64]{MaximumSize: o.maxEntries}
	if o.ttl > 0 {
		opts.ExpiryCalculator = otter.ExpiryWriting[int64, int64](o.ttl)
	}
	return otterCache{otter.Must(opts)}
}

// otterLoadOne is otter's loader for LoadOrCompute: one value for a key,
// as computeOne is for the maps.
var otterLoadOne = otter.LoaderFunc[int64, int64](func(context.Context, int64) (int64, error) { return 1, nil })

func (c otterCache) Load(key int64) (int64, bool) { return c.c.GetIfPresent(key) }
func (c otterCache) Store(key, value int64)       { c.c.Set(key, value) }
func (c otterCache) LoadOrCompute(key int64) int64 {
	v, _ := c.c.Get(context.Background(), key, otterLoadOne)
	return v
}
func (c otterCache) Close() { c.c.StopAllGoroutines() }

// ristrettoCache adapts ristretto v2, which has no loader: LoadOrCompute
// is Get, then Set on a miss. Every entry costs 1 (IgnoreInternalCost), so
// that MaxCost is the number of entries; NumCounters is 10× that, as its
// README advises.
type ristrettoCache struct {
	c   *ristretto.Cache[int64, int64]
	ttl time.Duration
}

func newRistrettoCache(o cacheOptions) benchCache {
	c, err := ristretto.NewCache(&ristretto.Config[int64, int64]{
		NumCounters:        10 * int64(o.maxEntries),
		MaxCost:            int64(o.maxEntries),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	return &ristrettoCache{c: c, ttl: o.ttl}
}

func (c *ristrettoCache) Load(key int64) (int64, bool) { return c.c.Get(key) }

// Store retries a Set that ristretto dropped because its buffer was full
// (a fast fill drops many), so that the rows measure a filled cache.
func (c *ristrettoCache) Store(key, value int64) {
	for !c.c.SetWithTTL(key, value, 1, c.ttl) {
		c.c.Wait()
	}
}

func (c *ristrettoCache) LoadOrCompute(key int64) int64 {
	if v, ok := c.c.Get(key); ok {
		return v
	}
	c.c.SetWithTTL(key, 1, 1, c.ttl)
	return 1
}
func (c *ristrettoCache) Close() { c.c.Close() }

// theineCache adapts theine's LoadingCache: its loader is fixed when the
// cache is built (it returns 1, cost 1), Get loads on a miss, and the Load
// rows read only present keys, where Get is a plain hit.
type theineCache struct {
	c   *theine.LoadingCache[int64, int64]
	ttl time.Duration
}

func newTheineCache(o cacheOptions) benchCache {
	c, err := theine.NewBuilder[int64, int64](int64(o.maxEntries)).BuildWithLoader(
		func(context.Context, int64) (theine.Loaded[int64], error) {
			return theine.Loaded[int64]{Value: 1, Cost: 1, TTL: o.ttl}, nil
		})
	if err != nil {
		panic(err)
	}
	return &theineCache{c: c, ttl: o.ttl}
}

func (c *theineCache) Load(key int64) (int64, bool) {
	v, err := c.c.Get(context.Background(), key)
	return v, err == nil
}
func (c *theineCache) Store(key, value int64) { c.c.SetWithTTL(key, value, 1, c.ttl) }
func (c *theineCache) LoadOrCompute(key int64) int64 {
	v, _ := c.c.Get(context.Background(), key)
	return v
}
func (c *theineCache) Close() { c.c.Close() }

// lruCache adapts golang-lru v2's expirable LRU (one mutex; no loader:
// LoadOrCompute is Get, then Add on a miss).
type lruCache struct{ c *expirable.LRU[int64, int64] }

func newLRUCache(o cacheOptions) benchCache {
	return lruCache{expirable.NewLRU[int64, int64](o.maxEntries, nil, o.ttl)}
}

func (c lruCache) Load(key int64) (int64, bool) { return c.c.Get(key) }
func (c lruCache) Store(key, value int64)       { c.c.Add(key, value) }
func (c lruCache) LoadOrCompute(key int64) int64 {
	if v, ok := c.c.Get(key); ok {
		return v
	}
	c.c.Add(key, 1)
	return 1
}

// Close does nothing: the expirable LRU's cleanup goroutine has no stop
// in v2.0.7's API.
func (c lruCache) Close() {}

// Len is the number of entries held, for the memory rows.
func (c otterCache) Len() int   { return c.c.EstimatedSize() }
func (c *theineCache) Len() int { return c.c.Len() }
func (c lruCache) Len() int     { return c.c.Len() }
