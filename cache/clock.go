package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the coarse clock that lookups read instead of time.Now,
// and the background cleanup it drives.
//
// One goroutine per process (not per cache) ticks every clockTick and stores
// the time in coarse.now; a lookup of an entry that can expire reads that
// word, one atomic load. The goroutine runs only while some cache that can
// expire entries is registered: the first such New starts it, and it stops
// (within a cleanup period) once every such cache is closed or garbage
// collected. Every cleanupEvery ticks it also advances each registered
// cache's timing wheel, so that expired entries are reclaimed, and Len stops
// counting them, even when nothing writes.

const (
	clockTick    = time.Millisecond
	cleanupEvery = 16 // ticks between two cleanups of every cache
)

// origin is the instant millisecond 0 of the coarse clock stands for.
var origin = time.Now()

// sinceOrigin returns the current time in coarse clock units: milliseconds
// since origin, plus 1, so that 0 is never a valid time (a deadline of 0
// means "never").
func sinceOrigin() int64 { return int64(time.Since(origin)/time.Millisecond) + 1 }

// coarse is the process-wide clock and the registry of caches it cleans.
var coarse struct {
	now atomic.Int64 // sinceOrigin(), as of the last tick

	mu      sync.Mutex
	caches  map[*registration]struct{}
	running bool // the ticker goroutine runs (or is about to)
}

// registration is a cache's entry in the coarse clock's registry. cleanup
// holds only a weak pointer to the cache (see newRegistration), so that an
// unreachable cache that was never closed is still collected; it returns
// false once the cache is gone, and the registry then drops it.
type registration struct {
	cleanup func() bool
}

// advanceClock moves the coarse clock forward to t, never back. The ticker
// and register (and New) each read the system clock and then store it; a
// writer preempted between the two would otherwise store an older time over
// a newer one, and an entry already seen expired would be live again.
func advanceClock(t int64) {
	for {
		cur := coarse.now.Load()
		if t <= cur || coarse.now.CompareAndSwap(cur, t) {
			return
		}
	}
}

// register adds r to the registry and makes sure the ticker runs. The clock
// is brought up to date at once, so a cache created after a pause of the
// ticker never sees a stale time.
func register(r *registration) {
	coarse.mu.Lock()
	defer coarse.mu.Unlock()
	advanceClock(sinceOrigin())
	if coarse.caches == nil {
		coarse.caches = make(map[*registration]struct{})
	}
	coarse.caches[r] = struct{}{}
	if !coarse.running {
		coarse.running = true
		go runClock()
	}
}

// unregister removes r; the ticker stops at its next cleanup if r was the
// last registration.
func unregister(r *registration) {
	coarse.mu.Lock()
	delete(coarse.caches, r)
	coarse.mu.Unlock()
}

// runClock is the ticker goroutine.
func runClock() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	var regs []*registration
	for tick := 1; ; tick++ {
		<-t.C
		advanceClock(sinceOrigin())
		if tick%cleanupEvery != 0 {
			continue
		}
		coarse.mu.Lock()
		regs = regs[:0]
		for r := range coarse.caches {
			regs = append(regs, r)
		}
		coarse.mu.Unlock()
		// Cleanups run without coarse.mu: an OnEvict callback they call may
		// create or close a cache.
		for _, r := range regs {
			if !r.cleanup() {
				unregister(r)
			}
		}
		clear(regs)
		coarse.mu.Lock()
		if len(coarse.caches) == 0 {
			coarse.running = false
			coarse.mu.Unlock()
			return
		}
		coarse.mu.Unlock()
	}
}
