// Package cache is a concurrent cache on top of [safemap.Map]: the map's
// contract (lock-free hits, a loader that runs at most once per missing key
// with no lock held, errors shared with the waiters) plus a
// size bound, expiry, refresh before expiry, and negative and error
// caching.
//
// A [Cache] implements [safemap.ConcurrentMap]; an entry that leaves it by
// eviction or expiry does so exactly as if another goroutine had deleted
// it. The zero [Options] make a cache that behaves exactly like
// [safemap.Map]. Victims are chosen by W-TinyLFU (Einziger, Friedman and
// Manes, ACM TOS 2017; see internal/tinylfu); expired entries are found by
// a hierarchical timing wheel and checked against a coarse clock of 1 ms
// precision, so that a hit never calls time.Now.
//
// docs/cache.md says when to use a Map, a Cache or redismap, and what each
// guarantee costs.
package cache
