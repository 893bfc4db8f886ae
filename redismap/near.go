package redismap

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap"
)

// The near cache: a bounded safemap.Map from entry name to the value last
// read from Redis, in front of Redis.
//
// A read that misses reserves the name with a placeholder before it sends
// its request, and fills the placeholder (compare-and-swap) when the answer
// comes. A notification for the name deletes whatever is there, placeholder
// or value. Since the subscription is up when the placeholder is made (a
// placeholder records the notifier's generation, and is made only while
// connected), a write that the server runs after the read sends its
// message after the read's answer: the message either deletes the
// placeholder before the fill (which then fails) or deletes the value
// after it. A change of generation (the subscription dropped or came back)
// flushes the cache; a fill checks the generation after its swap, and a hit
// checks it too, so nothing read in one generation is served in the next.

// clockTick is the resolution of the near cache's clock.
const clockTick = time.Millisecond

// nearGuard is how close to its expiry an entry is checked against the
// exact clock instead of the coarse one, which can lag behind by more than
// a tick when the refreshing goroutine is scheduled late.
const nearGuard = 50 * time.Millisecond

// clock is a process-wide coarse clock for near-cache expiry: reading the
// system clock costs more than a near-cache hit should. One goroutine
// refreshes it every clockTick while some Map with a near cache is open.
var clock struct {
	now   atomic.Int64 // nanoseconds since clockStart
	mu    sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
}

var clockStart = time.Now()

// monotime returns the exact time, in nanoseconds since clockStart.
func monotime() int64 { return int64(time.Since(clockStart)) }

func acquireClock() {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	clock.users++
	if clock.users > 1 {
		return
	}
	clock.now.Store(monotime())
	clock.stop, clock.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		t := time.NewTicker(clockTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				clock.now.Store(monotime())
			case <-stop:
				return
			}
		}
	}(clock.stop, clock.done)
}

func releaseClock() {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	clock.users--
	if clock.users > 0 {
		return
	}
	close(clock.stop)
	<-clock.done
}

// nearEntry is a near-cache value, or a placeholder for one being read.
type nearEntry[V any] struct {
	value     V
	expires   int64  // clock time from which it is no longer served
	refreshAt int64  // clock time from which a hit is due for a refresh (0: never)
	state     uint64 // the notifier's state when the read was sent
	writes    uint64 // nearCache.writes when the read was sent
	filled    bool
}

// nearCache is a Map's near cache. A nil *nearCache is a near cache that is
// off: reserve returns no placeholder, and fill and abandon ignore none.
type nearCache[V any] struct {
	entries safemap.Map[string, *nearEntry[V]]
	size    int
	ttl     time.Duration
	state   *atomic.Uint64 // the notifier's
	stats   *counters

	// writes counts this process's Stores and Deletes, each twice: before
	// its request and after its answer. A fill whose read overlapped a
	// local write is dropped, so that after a Store or Delete returns, no
	// value read before it is served here (the write's own notification,
	// which would drop it too, may still be on its way).
	writes atomic.Uint64
}

// newNearCache returns a near cache of at most size entries, each served
// for at most ttl, whose fills and hits are gated by n's state. Its owner
// drops entries on n's messages (invalidate) and flushes it on n's state
// changes (flush). It holds the process-wide clock until close.
func newNearCache[V any](size int, ttl time.Duration, n *notifier, stats *counters) *nearCache[V] {
	c := &nearCache[V]{size: size, ttl: ttl, state: &n.state, stats: stats}
	acquireClock()
	return c
}

// close empties the cache and lets the clock go. The Map calls it once,
// after its notifier has stopped (so that no fill can follow).
func (c *nearCache[V]) close() {
	c.entries.Clear()
	releaseClock()
}

// get returns the cached value for name, if it is fresh, and whether it is
// due for a refresh (by the coarse clock).
func (c *nearCache[V]) get(name string) (value V, refreshDue, ok bool) {
	e, ok := c.entries.Load(name)
	if !ok || !e.filled || e.state != c.state.Load() {
		return value, false, false
	}
	now := clock.now.Load()
	if now >= e.expires-int64(nearGuard) && monotime() >= e.expires {
		c.entries.CompareAndDelete(name, e)
		return value, false, false
	}
	return e.value, e.refreshAt != 0 && now >= e.refreshAt, true
}

// reserve puts a placeholder for name before a read is sent, or returns
// nil if the subscription is down (nothing may be cached then) or the near
// cache is off (c is nil).
func (c *nearCache[V]) reserve(name string) *nearEntry[V] {
	if c == nil {
		return nil
	}
	st := c.state.Load()
	if st&1 == 0 {
		return nil
	}
	p := &nearEntry[V]{state: st, writes: c.writes.Load()}
	if _, loaded := c.entries.Swap(name, p); !loaded && c.entries.Len() > c.size {
		c.evict()
	}
	return p
}

// evict drops about an eighth of the entries.
func (c *nearCache[V]) evict() {
	n := max(c.size/8, 1)
	for name := range c.entries.All() {
		c.entries.Delete(name)
		c.stats.nearEvictions.Add(1)
		if n--; n == 0 {
			break
		}
	}
}

// fill replaces placeholder p with value, read by a request sent at sent
// (monotime) that found pttl milliseconds left on the value in Redis (-1:
// no expiry; -2: the key was gone when its TTL was read, so the value is
// not kept). The entry expires at the earlier of the near cache's TTL and
// the value's own expiry, as the server's clock may run (up to
// 1/maxDriftDivisor faster than this process's), less two clock ticks;
// from sent + refreshIn on (if refreshIn >= 0), hits are due for a
// refresh.
func (c *nearCache[V]) fill(name string, p *nearEntry[V], value V, sent, pttl int64, refreshIn time.Duration) {
	if p == nil {
		return
	}
	life := c.ttl
	if pttl < -1 {
		life = 0
	} else if pttl >= 0 {
		life = min(life, time.Duration(pttl-pttl/maxDriftDivisor)*time.Millisecond)
	}
	life -= 2 * clockTick
	if life <= 0 {
		c.entries.CompareAndDelete(name, p)
		return
	}
	e := &nearEntry[V]{value: value, expires: sent + int64(life), state: p.state, writes: p.writes, filled: true}
	if refreshIn >= 0 {
		e.refreshAt = max(sent+int64(refreshIn), 1)
	}
	// Swap first, check after: a change of generation or a local write
	// that the checks miss comes after the swap, and its flush or
	// invalidation deletes e.
	if c.entries.CompareAndSwap(name, p, e) && (c.state.Load() != p.state || c.writes.Load() != p.writes) {
		c.entries.CompareAndDelete(name, e)
	}
}

// abandon removes placeholder p after a read that did not produce a value.
func (c *nearCache[V]) abandon(name string, p *nearEntry[V]) {
	if p != nil {
		c.entries.CompareAndDelete(name, p)
	}
}

func (c *nearCache[V]) invalidate(name string) { c.entries.Delete(name) }

// localWrite brackets a Store or Delete of name by this process: call it
// before sending the request and after its answer.
func (c *nearCache[V]) localWrite(name string) {
	c.writes.Add(1)
	c.entries.Delete(name)
}

func (c *nearCache[V]) flush() {
	c.stats.nearFlushes.Add(1)
	c.entries.Clear()
}
