package main

import (
	"time"

	"github.com/safemap-go/safemap/cache"
)

// safemap's cache, first among the cache workloads' rows.
func init() {
	cacheImpls = append([]*cacheImpl{{
		name:  "safemap.Cache",
		about: "safemap's cache.New: W-TinyLFU over the default map; LoadOrCompute runs fn once per absence, with no lock held",
		new:   newOurCacheTarget,
	}}, cacheImpls...)
}

// ourCacheTarget adapts cache.Cache.
type ourCacheTarget struct{ c *cache.Cache[int, int] }

func newOurCacheTarget(maxEntries int, ttl time.Duration) cacheTarget {
	c, err := cache.New(cache.Options[int, int]{MaxEntries: maxEntries, TTL: ttl})
	if err != nil {
		panic(err)
	}
	return ourCacheTarget{c}
}

func (t ourCacheTarget) Load(key int) (int, bool) { return t.c.Load(key) }
func (t ourCacheTarget) Store(key, value int)     { t.c.Store(key, value) }
func (t ourCacheTarget) LoadOrCompute(key int) int {
	v, _ := t.c.LoadOrCompute(key, computeOne)
	return v
}
func (t ourCacheTarget) Len() int { return t.c.Len() }
func (t ourCacheTarget) Close()   { t.c.Close() }

// computeOne is the cache workloads' value function: it captures nothing.
func computeOne() int { return 1 }
