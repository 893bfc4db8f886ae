package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/safemap-go/safemap"
)

// This file holds the loaders beyond "once" (issue 19): refresh before
// expiry, negative caching, error caching.

// ErrNotFound is the error a loader returns (or wraps) to say that the key
// does not exist in the source. With Options.NegativeTTL, the cache then
// remembers the key as absent for that long. It is [safemap.ErrNotFound]
// itself, so that one errors.Is test serves a Map's batch and a Cache.
var ErrNotFound = safemap.ErrNotFound

// CachedError is the error LoadOrTryCompute returns, with Options.ErrorTTL,
// for a loader error remembered from an earlier call: it wraps that error,
// so errors.Is and errors.As see through it.
type CachedError struct {
	Err error
}

func (e *CachedError) Error() string { return "cache: remembered loader error: " + e.Err.Error() }

// Unwrap returns the remembered error.
func (e *CachedError) Unwrap() error { return e.Err }

// extNode is a node with the fields only some caches need: the time it was
// written (for RefreshAfter) and, for a hidden error entry, the error. A
// node whose Word has extBit is the first field of an extNode.
type extNode[K comparable, V any] struct {
	node[K, V] // first: extOf converts back
	born       int64
	err        error
}

// extOf returns the extNode around n, whose Word has extBit.
//
// Safety: only nodes allocated as the first field of an extNode carry
// extBit, so n and the extNode share an address.
func extOf[K comparable, V any](n *node[K, V]) *extNode[K, V] {
	return (*extNode[K, V])(unsafe.Pointer(n))
}

// loaders19 is a cache's state for refresh, negative and error caching.
type loaders19[K comparable, V any] struct {
	refreshAfter   int64 // ms; 0: off
	refreshTimeout time.Duration
	negativeTTL    time.Duration
	errorTTL       time.Duration
	maxBatch       int

	// hidden counts the negative and error entries that the current
	// generation holds, for Len; changed under maint.
	hidden atomic.Int64

	refreshing safemap.Map[K, *refreshState[V]] // keys with a reload running or backing off
	wg         sync.WaitGroup                   // reloads running
	closing    context.Context                  // ends on Close
	closeNow   context.CancelFunc
}

// refreshState is one key's reload: running, or backing off after failures.
type refreshState[V any] struct {
	mu       sync.Mutex
	running  bool
	failures int
	retryAt  int64                   // ms; no automatic reload before
	waiters  []chan RefreshResult[V] // Refresh calls waiting for the running reload
}

// RefreshResult is what a reload started or joined by [Cache.Refresh]
// delivers.
type RefreshResult[V any] struct {
	// Value is the reloaded value, if Err is nil.
	Value V
	// Stored reports whether the cache took Value: false if a write or an
	// invalidation of the key won while the reload ran.
	Stored bool
	// Err is the loader's error, or a *PanicError if it panicked.
	Err error
}

// PanicError reports a panic in a background reload, which the cache
// recovered.
type PanicError struct {
	Value any
}

func (e *PanicError) Error() string { return "cache: reload panicked" }

func (l *loaders19[K, V]) init(o Options[K, V]) {
	if o.RefreshAfter > 0 {
		l.refreshAfter = max(int64(o.RefreshAfter/time.Millisecond), 1)
	}
	l.refreshTimeout = o.RefreshTimeout
	if l.refreshTimeout == 0 {
		l.refreshTimeout = DefaultRefreshTimeout
	}
	l.negativeTTL, l.errorTTL, l.maxBatch = o.NegativeTTL, o.ErrorTTL, o.MaxBatch
	l.closing, l.closeNow = context.WithCancel(context.Background())
}

// close cancels the running reloads and waits for them.
func (l *loaders19[K, V]) close() {
	l.closeNow()
	l.wg.Wait()
}

// hiddenFor returns the hidden entry that remembers err, the error fn
// returned for key under ctx, or nil if err is not to be remembered.
func (c *Cache[K, V]) hiddenFor(ctx context.Context, key K, err error) *node[K, V] {
	if !findable(key) || ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil // a NaN is never found again; a context's end is the caller's, not the key's
	}
	ttl := c.l19.errorTTL
	if errors.Is(err, ErrNotFound) {
		ttl = c.l19.negativeTTL
	}
	if ttl <= 0 {
		return nil
	}
	e := &extNode[K, V]{born: c.clock(), err: err}
	e.key = key
	if c.bounded {
		e.Init(0, 1)
	}
	e.Word.Store(hiddenBit | extBit | uint64(c.deadline(ttl))<<deadlineShift)
	return &e.node
}

// hiddenErr returns the error a lookup that finds hidden entry n returns:
// the not-found error itself (it matches ErrNotFound), or a *CachedError.
func (c *Cache[K, V]) hiddenErr(n *node[K, V]) error {
	err := extOf(n).err
	if errors.Is(err, ErrNotFound) {
		return err
	}
	return &CachedError{Err: err}
}

// replaceHidden is LoadOrCompute meeting hidden entry n of key: its fn
// cannot fail, so it computes a value and replaces n with it, if n is
// still there.
func (c *Cache[K, V]) replaceHidden(key K, n *node[K, V], fn func() V) (V, bool) {
	c.stats.loads.Add(1)
	v := fn()
	nn := c.newNode(key, v)
	if c.m.CompareAndSwap(key, n, nn) {
		c.settle(nn, n)
		return v, true
	}
	var zero V
	return zero, false
}

// maybeRefresh starts a background reload of n's key with fn if n is older
// than RefreshAfter and no reload of the key runs or backs off.
func (c *Cache[K, V]) maybeRefresh(n *node[K, V], fn func(context.Context) (V, error)) {
	if n.Word.Load()&extBit == 0 || c.clock()-extOf(n).born < c.l19.refreshAfter {
		return
	}
	c.startRefresh(context.Background(), n.key, n, fn, nil, false)
}

// Refresh reloads key with fn in the background, now, and returns a channel
// that receives the outcome once (buffered: nobody needs to read it). If a
// reload of key is already running, no other starts: the channel receives
// that reload's outcome. A backoff after failed automatic refreshes does
// not delay an explicit Refresh. The reload runs with no lock held, on a
// context detached from ctx's cancellation (context.WithoutCancel, so its
// values are kept), bounded by Options.RefreshTimeout, and cancelled by
// Close. A success stores the value (restarting its TTL) unless a write, a
// Delete or a Clear of the key happened after Refresh was called; then the
// value is dropped and Stored is false.
func (c *Cache[K, V]) Refresh(ctx context.Context, key K, fn func(context.Context) (V, error)) <-chan RefreshResult[V] {
	mustLoader("Refresh", ctx, fn == nil)
	ch := make(chan RefreshResult[V], 1)
	cur, _ := c.m.Load(key)
	c.startRefresh(ctx, key, cur, fn, ch, true)
	return ch
}

// startRefresh claims key's reload and runs it in a new goroutine, or joins
// the running one (only explicit calls, with ch, join; an automatic one
// that finds a reload running or backing off does nothing).
func (c *Cache[K, V]) startRefresh(ctx context.Context, key K, cur *node[K, V], fn func(context.Context) (V, error), ch chan RefreshResult[V], explicit bool) {
	closed := c.l19.closing.Err() != nil
	if closed && !explicit {
		return // no background work after Close
	}
	st, _ := c.l19.refreshing.LoadOrCompute(key, func() *refreshState[V] { return new(refreshState[V]) })
	st.mu.Lock()
	if st.running || (!explicit && c.clock() < st.retryAt) {
		if st.running && ch != nil {
			st.waiters = append(st.waiters, ch)
		}
		st.mu.Unlock()
		return
	}
	st.running = true
	if ch != nil {
		st.waiters = append(st.waiters, ch)
	}
	st.mu.Unlock()
	if closed {
		c.reload(ctx, key, cur, fn, st, false) // after Close, Refresh reloads in the caller's goroutine
		return
	}
	c.l19.wg.Add(1)
	go c.reload(ctx, key, cur, fn, st, true)
}

// reload is a background reload of key, whose node was cur (nil: absent)
// when it started.
// background says whether it runs in a goroutine of its own, which Close
// cancels and waits for.
func (c *Cache[K, V]) reload(parent context.Context, key K, cur *node[K, V], fn func(context.Context) (V, error), st *refreshState[V], background bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), c.l19.refreshTimeout)
	defer cancel()
	if background {
		defer c.l19.wg.Done()
		stop := context.AfterFunc(c.l19.closing, cancel)
		defer stop()
	}

	var res RefreshResult[V]
	func() {
		defer func() {
			if r := recover(); r != nil {
				res.Err = &PanicError{Value: r}
			}
		}()
		res.Value, res.Err = fn(ctx)
	}()
	if res.Err == nil {
		n := c.newNodeSafely(key, res.Value, &res)
		if n != nil {
			// Counted before the value is visible, so that a caller who
			// sees the reloaded value also sees it counted.
			c.stats.refreshes.Add(1)
			if cur != nil {
				res.Stored = c.m.CompareAndSwap(key, cur, n)
			} else {
				_, loaded := c.m.LoadOrStore(key, n)
				res.Stored = !loaded
			}
			if res.Stored {
				func() {
					defer func() { recover() }() // an OnEvict panic has nobody to reach here
					c.settle(n, cur)
				}()
			}
		}
	}
	if res.Err != nil {
		c.stats.refreshFailures.Add(1)
	}
	st.mu.Lock()
	st.running = false
	if res.Err != nil {
		st.failures++
		st.retryAt = c.clock() + backoff(st.failures)
	} else {
		st.failures, st.retryAt = 0, 0
	}
	waiters := st.waiters
	st.waiters = nil
	forget := res.Err == nil
	st.mu.Unlock()
	if forget {
		c.l19.refreshing.CompareAndDelete(key, st)
	}
	for _, w := range waiters {
		w <- res
	}
}

// newNodeSafely is newNode for a reload: a panic in Weigher or TTLFunc
// becomes res.Err.
func (c *Cache[K, V]) newNodeSafely(key K, v V, res *RefreshResult[V]) (n *node[K, V]) {
	defer func() {
		if r := recover(); r != nil {
			res.Err, n = &PanicError{Value: r}, nil
		}
	}()
	return c.newNode(key, v)
}

// backoff returns the wait in ms before an automatic reload is tried again
// after the given number of consecutive failures: 100 ms doubling up to
// 30 s, with ±25 % jitter so that many keys failing together do not retry
// together.
func backoff(failures int) int64 {
	d := int64(100) << min(failures-1, 9)
	d = min(d, 30_000)
	return d - d/4 + rand.Int64N(d/2+1)
}
