package redismap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Refresh before expiry (Options.RefreshAfter). A LoadOrTryCompute hit on
// a value older than RefreshAfter returns the value and calls refreshSoon,
// which starts at most one background refresh of the key per process:
//
//  1. refresh.lua checks on the server that the value is still due (not
//     refreshed since it was read), that no lease is held (a load or
//     another process's refresh) and that no backoff runs, and if so takes
//     the entry's lease with a new fencing token. The lease, not chance,
//     picks the one process that reloads; the others go on serving the
//     value, and a caller that misses the key meanwhile (the value
//     expired) waits for the refresh as it would for a load.
//  2. The holder calls fn with the lease renewed, as a miss's holder does,
//     and commits with commit.lua: fenced, so a Store or Delete made
//     meanwhile wins. The commit publishes, which drops the key from every
//     near cache.
//  3. A reload that fails (an error or a panic) keeps the value:
//     refresh_fail.lua gives the lease up and records the failure with a
//     backoff, doubling per failure, during which refresh.lua refuses.
//
// In process, refreshing holds one state per key being refreshed or told
// "not now": refreshRunning while this process's attempt runs, or the
// monotime before which no attempt starts. Notifications for the key and
// changes of the subscription's state drop it (the value changed, or may
// have), so that only keys with a pending "not now" keep one.

// refreshRunning is the in-process state of a key whose refresh attempt
// runs in this process.
const refreshRunning int64 = 0

// maxRefreshStates bounds the in-process refresh states: past it they are
// all dropped, which costs at most one more refresh.lua call per key.
const maxRefreshStates = 1 << 16

// minRefreshBackoff is the backoff after a refresh's first failure.
const minRefreshBackoff = 100 * time.Millisecond

// refreshIn returns how long after its read a value with meta, read with
// pttl ms left, is due for a refresh (0: now), or -1 if it never is
// (refresh off, or a value with no expiry).
func (m *Map[K, V]) refreshIn(meta valueMeta, pttl int64) time.Duration {
	if m.cfg.refreshAfter <= 0 || pttl < 0 {
		return -1
	}
	ttl := meta.ttl
	if !meta.timed {
		ttl = m.cfg.ttl // a value of the older form: assume the longest TTL, so refresh early rather than late
	}
	age := ttl - time.Duration(pttl)*time.Millisecond
	if due := m.testRefreshDue.Load(); due != nil {
		if (*due)(age, ttl, meta.load) {
			return 0
		}
		return -1
	}
	return max(m.cfg.refreshAfter-age, 0)
}

// refreshSoon starts a background refresh of name with fn, unless one runs
// in this process or the server said "not now" and that time has not
// passed.
func (m *Map[K, V]) refreshSoon(name string, fn func(context.Context) (V, error)) {
	st, loaded := m.refreshing.LoadOrStore(name, refreshRunning)
	if loaded {
		if st == refreshRunning || monotime() < st || !m.refreshing.CompareAndSwap(name, st, refreshRunning) {
			return
		}
	} else if m.refreshing.Len() > maxRefreshStates {
		m.refreshing.Clear()
	}
	if !m.goBackground(func() { m.refresh(name, fn) }) {
		m.refreshing.CompareAndDelete(name, refreshRunning)
	}
}

// refreshDone ends this process's attempt for name: no state is kept
// (after == 0), or none is started before monotime after.
func (m *Map[K, V]) refreshDone(name string, after int64) {
	if after == 0 {
		m.refreshing.CompareAndDelete(name, refreshRunning)
		return
	}
	m.refreshing.CompareAndSwap(name, refreshRunning, max(after, 1))
}

// forgetRefresh drops name's in-process refresh state: its value changed.
func (m *Map[K, V]) forgetRefresh(name string) {
	if m.cfg.refreshAfter > 0 {
		m.refreshing.Delete(name)
	}
}

// refresh is one background attempt to refresh name with fn. Its context
// is the Map's (it ends at Close), bounded by MaxLoad, or by TTL when
// MaxLoad is off.
func (m *Map[K, V]) refresh(name string, fn func(context.Context) (V, error)) {
	limit := m.cfg.maxLoad
	if limit <= 0 {
		limit = m.cfg.ttl
	}
	ctx, cancel := context.WithTimeout(m.ctx, limit)
	defer cancel()
	keys := m.keys(name)
	r, err := runRefresh(ctx, m.client, keys, ms(m.cfg.refreshAfter), ms(m.cfg.lease), ms(m.fenceTTL))
	switch {
	case err != nil:
		m.refreshDone(name, monotime()+int64(minRefreshBackoff))
	case r.outcome == refreshNothing:
		m.refreshDone(name, 0)
	case r.outcome == refreshNotNow:
		m.refreshDone(name, monotime()+r.wait*int64(time.Millisecond))
	default:
		m.refreshHolding(ctx, name, keys, r.token, r.failures, fn)
	}
}

// refreshHolding reloads name with fn as the holder of its lease (token),
// and commits the value, or records the failure and its backoff.
func (m *Map[K, V]) refreshHolding(ctx context.Context, name string, keys entryKeys, token string, failures int64, fn func(context.Context) (V, error)) {
	m.stats.refreshes.Add(1)
	start := time.Now()
	value, err := m.refreshCall(ctx, keys, token, fn)
	load := time.Since(start)
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.lease)
	defer cancel()
	var entry string
	ttl := m.jittered(m.cfg.ttl)
	if err == nil {
		entry, err = m.encodeValue(name, value, ttl, load)
	}
	if err != nil {
		m.stats.refreshErrors.Add(1)
		backoff := m.refreshBackoff(failures + 1)
		_, _ = runRefreshFail(commitCtx, m.client, keys, token, failures+1, ms(backoff), m.channel, name)
		m.refreshDone(name, monotime()+int64(backoff))
		return
	}
	// Counted like any commit; fenced or lost, the refresh is over: the
	// entry changed (a Store, a Delete) or the server lost it.
	_, _ = m.commit(commitCtx, name, keys, token, entry, ttl)
	m.refreshDone(name, 0)
}

// refreshCall calls fn under the lease, recovering a panic into an error:
// a refresh runs in the background, so its panic has no caller to reach.
func (m *Map[K, V]) refreshCall(ctx context.Context, keys entryKeys, token string, fn func(context.Context) (V, error)) (value V, err error) {
	defer func() {
		if r := recover(); r != nil {
			m.stats.refreshPanics.Add(1)
			err = fmt.Errorf("redismap: refresh loader panicked: %v", r)
		}
	}()
	return m.callUnderLease(ctx, keys, token, fn)
}

// refreshBackoff returns the backoff after the n-th failed refresh of a
// value: minRefreshBackoff doubled per failure, capped at TTL −
// RefreshAfter (past which the value has expired and a miss loads it),
// less up to half at random so that processes do not retry in step.
func (m *Map[K, V]) refreshBackoff(n int64) time.Duration {
	d := minRefreshBackoff << min(max(n-1, 0), 20)
	d = min(d, max(m.cfg.ttl-m.cfg.refreshAfter, minRefreshBackoff))
	return d - time.Duration(rand.Int64N(int64(d/2)+1))
}
