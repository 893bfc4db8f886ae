// Command staleset reproduces the sixth pitfall of the missing-key path:
// the stale set. A cache-aside lookup that misses reads the value from the
// database and stores it:
//
//	c.mu.Lock()
//	v, ok := c.m[key]
//	c.mu.Unlock()
//	if ok {
//		return v
//	}
//	v = load(key) // reads v1 from the database...
//	c.mu.Lock()
//	c.m[key] = v // ...and stores it, even if the key was invalidated meanwhile
//	c.mu.Unlock()
//	return v
//
// and a writer updates the database, then invalidates the cached key:
//
//	db.set(key, v2)
//	c.Delete(key)
//
// If the writer runs while the load is in flight, its Delete finds nothing
// to delete, the load then stores v1, and every later lookup is a hit on
// v1: the cache serves the old value until something else deletes the key
// or it expires, forever if nothing does. This is the "stale set" that
// memcache's leases prevent at Facebook (Nishtala et al., "Scaling Memcache
// at Facebook", NSDI 2013, section 3.2.1). The code is race-free, and
// sync.Map's Load followed by Store has the same window. The fix is
// safemap's LoadOrCompute: a Delete, LoadAndDelete or Clear of the key
// while its function runs means the function's value is not stored (the
// caller that ran it still gets it), so the next lookup loads v2.
// cache.Cache inherits the rule, since its LoadOrCompute is the Map's.
//
// Choose what to run with -variant:
//
//	broken  cache-aside over a map and a sync.Mutex, and over a sync.Map
//	        (Load, then Store)
//	fixed   LoadOrCompute on a safemap.Map and on a cache.Cache
//
// Channels force the interleaving for every key: the load reads v1, then
// the writer stores v2 and deletes the key, then the load returns. So the
// outcome is the same on every run. For example:
//
//	go run ./examples/pitfalls/staleset -variant broken
//	go run ./examples/pitfalls/staleset -variant fixed -keys 1000
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
)

func main() {
	variant := flag.String("variant", "broken", "what to run: broken or fixed")
	keys := flag.Int("keys", 100, "keys loaded while a writer updates them")
	lookups := flag.Int("lookups", 3, "lookups of each key once the writers are done")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "staleset: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if *keys < 1 || *lookups < 1 {
		fmt.Fprintln(os.Stderr, "staleset: -keys and -lookups must be at least 1")
		os.Exit(2)
	}

	var caches []namedCache
	switch *variant {
	case "broken":
		fmt.Println("broken: cache-aside; the writer's Delete finds nothing while the load is in flight")
		caches = brokenCaches()
	case "fixed":
		fmt.Println("fixed: LoadOrCompute; a Delete while the load is in flight means its value is not stored")
		caches = fixedCaches()
	default:
		fmt.Fprintf(os.Stderr, "staleset: unknown -variant %q: want broken or fixed\n", *variant)
		os.Exit(2)
	}

	fmt.Printf("  %d keys; for each, the load reads v1, a writer stores v2 and deletes the key, the load returns\n", *keys)
	fmt.Printf("  %-26s  %15s  %19s  %12s  %14s\n", "", "keys serving v1", "later lookups of v1", "loader calls", "callers got v1")
	for _, nc := range caches {
		o := staleSet(nc.c, *keys, *lookups)
		fmt.Printf("  %-26s  %15s  %19s  %12d  %14d\n", nc.code,
			fmt.Sprintf("%d of %d", o.staleKeys, *keys),
			fmt.Sprintf("%d of %d", o.staleLookups, *keys**lookups),
			o.loads, o.loadsReturnedOld)
		nc.c.Close()
	}
}

// A cacheAside returns the value for key, calling load to read it from the
// database and store it if the key is missing; Delete invalidates key.
type cacheAside interface {
	Get(key int, load func(key int) string) string
	Delete(key int)
	Close()
}

// namedCache is a cache and the lookup it makes, for the report.
type namedCache struct {
	code string
	c    cacheAside
}

func brokenCaches() []namedCache {
	return []namedCache{
		{"map + sync.Mutex", &mutexCache{m: make(map[int]string)}},
		{"sync.Map: Load, then Store", &syncMapCache{}},
	}
}

func fixedCaches() []namedCache {
	c, err := cache.New(cache.Options[int, string]{MaxEntries: 1 << 20, TTL: time.Hour})
	if err != nil {
		panic(err) // the options are constants
	}
	return []namedCache{
		{"safemap.Map.LoadOrCompute", safemapCache{safemap.New[int, string]()}},
		{"cache.Cache.LoadOrCompute", cacheCache{c}},
	}
}

// mutexCache is the broken cache-aside over a map: check under the lock,
// load with no lock held, store under the lock. A Delete that runs while
// the load is in flight finds nothing, and the store that follows it
// brings back the value the Delete meant to remove.
type mutexCache struct {
	mu sync.Mutex
	m  map[int]string
}

func (c *mutexCache) Get(key int, load func(key int) string) string {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = load(key) // reads v1 from the database...
	c.mu.Lock()
	c.m[key] = v // ...and stores it, even if the key was invalidated meanwhile
	c.mu.Unlock()
	return v
}

func (c *mutexCache) Delete(key int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func (c *mutexCache) Close() {}

// syncMapCache is the same cache-aside over a sync.Map: Load, then Store.
type syncMapCache struct {
	m sync.Map
}

func (c *syncMapCache) Get(key int, load func(key int) string) string {
	if v, ok := c.m.Load(key); ok {
		return v.(string)
	}
	v := load(key)
	c.m.Store(key, v) // a Delete since the Load is undone here
	return v
}

func (c *syncMapCache) Delete(key int) { c.m.Delete(key) }
func (c *syncMapCache) Close()         {}

// safemapCache is the fixed cache: a Delete of the key while
// LoadOrCompute's function runs means its value is not stored.
type safemapCache struct {
	m *safemap.Map[int, string]
}

func (c safemapCache) Get(key int, load func(key int) string) string {
	v, _ := c.m.LoadOrCompute(key, func() string { return load(key) })
	return v
}

func (c safemapCache) Delete(key int) { c.m.Delete(key) }
func (c safemapCache) Close()         {}

// cacheCache is the fixed cache with eviction and expiry: cache.Cache's
// LoadOrCompute is the Map's, and keeps its rule.
type cacheCache struct {
	c *cache.Cache[int, string]
}

func (c cacheCache) Get(key int, load func(key int) string) string {
	v, _ := c.c.LoadOrCompute(key, func() string { return load(key) })
	return v
}

func (c cacheCache) Delete(key int) { c.c.Delete(key) }
func (c cacheCache) Close()         { c.c.Close() }

// database stands for the source of truth the cache is in front of.
type database struct {
	mu   sync.Mutex
	rows map[int]string
}

func (db *database) get(key int) string {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.rows[key]
}

func (db *database) set(key int, v string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.rows[key] = v
}

type outcome struct {
	loads            int64 // calls of the loader, over all keys
	loadsReturnedOld int   // first lookups that returned v1 to their caller
	staleKeys        int   // keys whose lookups returned v1 after the writer was done
	staleLookups     int   // such lookups, over all keys
}

// staleSet looks up keys 0 to keys-1 in c, each in its own goroutine,
// while a writer per key updates the database and deletes the key from c.
// Channels order every key's events: the load reads v1, then the writer
// stores v2 and deletes the key, then the load returns. Once every
// lookup and writer is done, it looks each key up lookups more times and
// counts the lookups that returned v1 instead of the database's v2.
func staleSet(c cacheAside, keys, lookups int) outcome {
	db := &database{rows: make(map[int]string, keys)}
	for key := range keys {
		db.set(key, fmt.Sprintf("key %d v1", key))
	}
	var loads atomic.Int64
	load := func(key int) string {
		loads.Add(1)
		return db.get(key)
	}

	readOld := make([]chan struct{}, keys)
	written := make([]chan struct{}, keys)
	for key := range keys {
		readOld[key], written[key] = make(chan struct{}), make(chan struct{})
	}
	slowLoad := func(key int) string {
		v := load(key) // reads v1
		close(readOld[key])
		<-written[key] // the writer runs now, while the load is in flight
		return v
	}

	got := make([]string, keys)
	var wg sync.WaitGroup
	for key := range keys {
		wg.Add(2)
		go func() {
			defer wg.Done()
			got[key] = c.Get(key, slowLoad)
		}()
		go func() {
			defer wg.Done()
			<-readOld[key]
			db.set(key, fmt.Sprintf("key %d v2", key)) // the writer updates the database,
			c.Delete(key)                              // then invalidates the cache
			close(written[key])
		}()
	}
	wg.Wait()

	var o outcome
	for key := range keys {
		if got[key] == fmt.Sprintf("key %d v1", key) {
			o.loadsReturnedOld++
		}
		stale := false
		for range lookups {
			if c.Get(key, load) != db.get(key) {
				stale = true
				o.staleLookups++
			}
		}
		if stale {
			o.staleKeys++
		}
	}
	o.loads = loads.Load()
	return o
}
