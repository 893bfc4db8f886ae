package redismap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The cross-process protocol of LoadOrTryCompute. All of one entry's keys
// share a hash tag, so each step is one script on one node:
//
//  0. A plain GET reads the entry: a hit costs what a GET costs, and only a
//     miss goes on to the scripts.
//  1. acquire reads the entry again (it may have been stored since the
//     GET); if there is none and nobody holds the lease,
//     it takes the lease (SET PX) with a new fencing token (INCR of the
//     fence key). One round trip answers "here is the value", "wait for
//     token t, whose lease has d ms left" or "you hold it, with token t".
//  2. A waiter waits for the entry's notification (published by the
//     commit or release that ends the lease) or for d to pass, whichever
//     comes first, then goes back to 1: it finds the value, or takes the
//     lease over from a holder that died or stalled.
//  3. The holder calls fn, renewing the lease every Lease/3, then commits:
//     the commit script stores the entry only if the fence key still holds
//     the holder's token, so a holder that lost its lease (or was overtaken
//     by a Store or Delete) cannot overwrite a newer value.
//
// Inside one process, the goroutines that miss a key together share one run
// of this protocol through the Map's flights (flights.go): one Redis round
// trip per step, not one per goroutine.

// tokenKey is the context key of the fencing token.
type tokenKey struct{}

// FencingToken returns the fencing token of the lease under which a loader
// runs, from the ctx that LoadOrTryCompute passes to the loader. Tokens of
// one key increase with every lease, Store and Delete, even across the
// expiry of the fence key and server restarts, as long as the server clock
// does not go back. A loader can pass it to the systems it writes to, so
// that they reject writes from a loader that has been superseded.
func FencingToken(ctx context.Context) (token uint64, ok bool) {
	token, ok = ctx.Value(tokenKey{}).(uint64)
	return token, ok
}

// takeoverKey is the context key that marks a lease taken over.
type takeoverKey struct{}

// LeaseTakenOver reports whether the loader that LoadOrTryCompute called
// with ctx runs under a lease this process took over: it waited for
// another holder's lease, which ended (the holder crashed, stalled, or
// gave up) with nothing stored. Stats counts these leases as Takeovers.
// It is false for every other ctx, including the loaders of
// LoadOrTryComputeAll, whose calls mix keys.
func LeaseTakenOver(ctx context.Context) bool {
	v, _ := ctx.Value(takeoverKey{}).(bool)
	return v
}

// LoadOrTryCompute returns the value stored for key if there is one
// (loaded is true). Otherwise one caller, across every process sharing the
// Map's Prefix, calls fn under a lease and stores its value; the others wait
// for it and return that value with loaded true. In one process, the
// goroutines that miss the key together make one round of Redis calls
// between them. A hit costs one GET (with a near cache, a near-cache hit
// costs none); a miss costs three round trips per process.
//
// The guarantee is time-based (see the package documentation): fn runs at
// most once per key per lease epoch on one Redis primary. If the holder of
// the lease dies or stalls past its lease, a waiter takes over and runs its
// own fn; the stalled holder's commit is then fenced: it returns its own
// value with an error wrapping ErrFenced, and nothing is stored.
//
// fn runs with no lock held and with the lease renewed every Lease/3; its
// ctx carries the lease's fencing token ([FencingToken]) and ends at
// Options.MaxLoad. fn must not be nil, and ctx must not be nil.
//
//   - An error from fn stores nothing as a value. It is returned to the
//     caller that ran fn and to the goroutines of its process waiting on
//     it, and stored as an error marker for Options.ErrorTTL: waiters in
//     other processes, and callers until the marker expires, get a
//     *SharedError carrying its message (and its sentinel, see
//     Options.SharedErrors). With Options.NegativeTTL, an error matching
//     ErrNotFound is cached for that long instead.
//   - A value that does not encode, or is larger than Options.MaxValueSize,
//     fails the computation the same way (ErrEncode, ErrValueTooLarge).
//   - If fn panics, the lease is released at once (so that a waiter takes
//     over), nothing is stored, and the panic propagates to this caller.
//   - A waiter whose ctx ends returns ctx.Err() at once; the computation
//     goes on. If the ctx of the caller running fn ends and fn fails, that
//     failure is not shared: the lease is released and a waiter (in this
//     process or another) takes over with its own fn. If fn returns a
//     value anyway, it is committed.
//   - A commit rejected by the server (ErrFenced, ErrLeaseLost) or that
//     fails in transit returns fn's value to this caller with that error;
//     the waiters fetch again and get whatever is current.
//
// Redis being unreachable is an error naming the operation and the key,
// wrapping the client's error.
func (m *Map[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	if ctx == nil {
		panic("redismap: LoadOrTryCompute with a nil context")
	}
	if fn == nil {
		panic("redismap: LoadOrTryCompute with a nil function")
	}
	name, err := m.name(key)
	if err != nil {
		return actual, false, err
	}
	// Close empties the near cache: a closed Map misses here.
	if m.near != nil {
		if v, due, ok := m.near.get(name); ok {
			m.stats.nearHits.add(1)
			if due {
				m.refreshSoon(name, fn)
			}
			return v, true, nil
		}
	}
	if m.closed.Load() {
		return actual, false, ErrClosed
	}
	return m.loadOrComputeSlow(ctx, name, fn)
}

// loadOrComputeSlow runs the protocol for name, sharing it with the other
// goroutines of this process that miss name at the same time.
func (m *Map[K, V]) loadOrComputeSlow(ctx context.Context, name string, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	for {
		start := monotime()
		f, owner := m.claimFlight(name)
		if owner {
			m.runFlight(ctx, name, f, func() (*flight[V], error) { return m.fetch(ctx, name, fn) })
			if f.refreshDue {
				m.refreshSoon(name, fn)
			}
			return f.value, f.loaded, f.err
		}
		if err := awaitFlight(ctx, f); err != nil {
			return actual, false, err
		}
		if f.usableBy(start) {
			return f.value, f.err == nil, f.err
		}
		if m.closed.Load() {
			return actual, false, ErrClosed
		}
	}
}

// fetch runs the cross-process protocol for name: read, or wait, or take
// the lease and call fn. It reads with a GET first, so that a hit costs
// what a GET costs; only a miss runs the acquire script, whose outcomes
// each have their method: found (an entry after all), waitForHolder
// (another caller's lease), hold (ours). A miss thus costs its holder three
// round trips (GET, acquire, commit) and a waiting process three (GET,
// acquire, and acquire again once woken).
func (m *Map[K, V]) fetch(ctx context.Context, name string, fn func(context.Context) (V, error)) (*flight[V], error) {
	keys := m.keys(name)
	if f, err := m.fetchByGet(ctx, name, keys); f != nil || err != nil {
		return f, err
	}
	waited := false
	for {
		if m.closed.Load() {
			return nil, ErrClosed
		}
		// Watch before asking, so that the message of a commit that the
		// server runs after our request cannot be missed.
		wake, stopWatch := m.notify.watch(name)
		p := m.near.reserve(name)
		sent := monotime()
		r, err := runAcquire(ctx, m.client, keys, ms(m.cfg.lease), ms(m.fenceTTL))
		if err != nil {
			stopWatch()
			m.near.abandon(name, p)
			return nil, m.fetchError(ctx, name, err)
		}
		switch r.outcome {
		case acquiredEntry:
			stopWatch()
			return m.found(name, p, r.entry, r.pttl, sent), nil
		case acquiredHeld:
			m.near.abandon(name, p)
			waited = true
			err = m.waitForHolder(ctx, name, wake, r.pttl)
			stopWatch()
			if err != nil {
				return nil, err
			}
		default: // acquiredLease
			stopWatch()
			m.near.abandon(name, p)
			if waited {
				m.stats.takeovers.Add(1)
				ctx = context.WithValue(ctx, takeoverKey{}, true)
			}
			return m.hold(ctx, name, keys, r.token, fn)
		}
	}
}

// fetchByGet is fetch's first read: the entry's outcome if there is one,
// or no flight and no error if the entry is absent. The near cache and
// refresh need the value's remaining TTL, which read takes from the
// value's stored expiry (a plain GET still) or, on a cluster, from a PTTL.
func (m *Map[K, V]) fetchByGet(ctx context.Context, name string, keys entryKeys) (*flight[V], error) {
	p := m.near.reserve(name)
	sent := monotime()
	entry, pttl, err := m.read(ctx, keys, p != nil || m.cfg.refreshAfter > 0)
	switch {
	case err == redis.Nil:
		m.near.abandon(name, p)
		return nil, nil
	case err != nil:
		m.near.abandon(name, p)
		return nil, m.fetchError(ctx, name, err)
	}
	return m.found(name, p, entry, pttl, sent), nil
}

// fetchError is the error of a failed request for name: the caller's
// ctx.Err() if its ctx has ended, else the request's error naming the key.
func (m *Map[K, V]) fetchError(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return opError("load", name, err)
}

// found is the outcome of a read that found entry, with pttl ms left, in
// answer to a request sent at sent (monotime): a value, which fills the
// near cache's placeholder p, or a shared error or cached ErrNotFound.
func (m *Map[K, V]) found(name string, p *nearEntry[V], entry string, pttl, sent int64) *flight[V] {
	v, meta, kind, err := m.decodeEntry(name, entry)
	if err != nil || kind != kindValue {
		m.near.abandon(name, p)
		var shared *SharedError
		switch {
		case errors.As(err, &shared):
			m.stats.sharedErrors.Add(1)
		case kind == kindNegative:
			m.stats.negativeHits.Add(1)
			err = fmt.Errorf("redismap: key %q: cached answer: %w", name, ErrNotFound)
		}
		return &flight[V]{err: err, sent: sent}
	}
	refreshIn := m.refreshIn(meta, pttl)
	m.near.fill(name, p, v, sent, pttl, refreshIn)
	m.stats.remoteHits.add(1)
	return &flight[V]{value: v, loaded: true, sent: sent, refreshDue: refreshIn == 0}
}

// waitForHolder waits for the holder of name's lease, which has pttl ms
// left, to commit or release it (wake), or for the lease to run out.
func (m *Map[K, V]) waitForHolder(ctx context.Context, name string, wake <-chan struct{}, pttl int64) error {
	m.stats.waits.Add(1)
	if hook := m.testWaiting.Load(); hook != nil {
		(*hook)(name)
	}
	return m.wait(ctx, wake, pttl)
}

// wait blocks until the entry's notification, the end of the lease (pttl
// ms from now), the end of ctx, or Close.
func (m *Map[K, V]) wait(ctx context.Context, wake <-chan struct{}, pttl int64) error {
	// The server expires the lease pttl ms after it ran the script, which
	// is before now: once the timer fires, the lease has expired.
	return m.waitUntil(ctx, wake, monotime()+max(pttl, 0)*int64(time.Millisecond))
}

// waitUntil blocks until the entry's notification, the end of the lease
// (at monotime deadline, or just after), the end of ctx, or Close.
func (m *Map[K, V]) waitUntil(ctx context.Context, wake <-chan struct{}, deadline int64) error {
	d := time.Duration(max(deadline-monotime(), 0)) + time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		m.stats.wakeUps.Add(1)
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.ctx.Done():
		return ErrClosed
	}
}

// hold calls fn as the holder of name's lease (token) and commits its
// result.
func (m *Map[K, V]) hold(ctx context.Context, name string, keys entryKeys, token string, fn func(context.Context) (V, error)) (*flight[V], error) {
	returned := false
	defer func() {
		if !returned {
			// fn panicked (or called runtime.Goexit): give the lease up now
			// so that a waiter takes over; the panic goes on to the caller.
			m.release(ctx, name, keys, token)
		}
	}()
	start := time.Now()
	value, err := m.callUnderLease(ctx, keys, token, fn)
	load := time.Since(start)
	returned = true

	// The caller may have given up; the commit is for the waiters too, so
	// it runs detached from the caller's ctx, bounded by one lease.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.lease)
	defer cancel()
	if err != nil {
		if ctx.Err() != nil {
			// The caller's ctx ended: this failure is not the waiters'.
			// Release the lease so that one of them takes over (those of
			// this process retry: safemap sees the caller's ctx ended).
			m.release(ctx, name, keys, token)
			return nil, err
		}
		m.stats.loaderErrors.Add(1)
		entry, ttl := m.errorEntry(err)
		return m.commitError(commitCtx, name, keys, token, entry, ttl, err), nil
	}
	ttl := m.jittered(m.cfg.ttl)
	entry, err := m.encodeValue(name, value, ttl, load)
	if err != nil {
		// The value cannot be stored: every process would compute the same,
		// so the failure is shared like a loader error.
		m.stats.loaderErrors.Add(1)
		return m.commitError(commitCtx, name, keys, token, encodeErrorMarker(m.cfg.sharedErrors, err), m.cfg.errorTTL, err), nil
	}
	sent := monotime()
	code, err := m.commit(commitCtx, name, keys, token, entry, ttl)
	if err != nil || code != commitStored {
		return &flight[V]{value: value, retry: true, ownValue: true, err: m.commitFailure(name, token, code, err)}, nil
	}
	return &flight[V]{value: value, sent: sent}, nil
}

// errorEntry returns the entry, and its TTL, that a loader's err leaves:
// a negative entry for ErrNotFound with NegativeTTL, else an error marker
// for ErrorTTL.
func (m *Map[K, V]) errorEntry(err error) (entry string, ttl time.Duration) {
	if m.cfg.negativeTTL > 0 && errors.Is(err, ErrNotFound) {
		return string(kindNegative), m.jittered(m.cfg.negativeTTL)
	}
	return encodeErrorMarker(m.cfg.sharedErrors, err), m.cfg.errorTTL
}

// commitFailure is the error of a commit of name with token that did not
// store its value: it failed in transit (err), or the server fenced it or
// had lost the fence (code).
func (m *Map[K, V]) commitFailure(name, token string, code commitOutcome, err error) error {
	switch {
	case err != nil:
		return opError("commit", name, err)
	case code == commitFenced:
		return fmt.Errorf("redismap: commit %q with token %s: value not stored: %w", name, token, ErrFenced)
	}
	return fmt.Errorf("redismap: commit %q with token %s: value not stored: %w", name, token, ErrLeaseLost)
}

// callUnderLease calls fn as the holder of a lease (token): with the token
// in fn's ctx, under MaxLoad, and with the lease renewed every Lease/3
// until fn returns or panics (a panic goes on to the caller, with the
// renewal stopped).
func (m *Map[K, V]) callUnderLease(ctx context.Context, keys entryKeys, token string, fn func(context.Context) (V, error)) (V, error) {
	m.stats.loads.Add(1)
	fnCtx := ctx
	if tok, err := strconv.ParseUint(token, 10, 64); err == nil {
		fnCtx = context.WithValue(ctx, tokenKey{}, tok)
	}
	if m.cfg.maxLoad > 0 {
		var cancel context.CancelFunc
		fnCtx, cancel = context.WithTimeout(fnCtx, m.cfg.maxLoad)
		defer cancel()
	}
	stopRenewal := m.renew([]entryKeys{keys}, []string{token})
	defer stopRenewal()
	return fn(fnCtx)
}

// commitError commits the marker entry for a failed computation (err).
// The caller that ran fn gets err whatever the commit's outcome; the
// waiters of this process share it only if the marker was stored (else
// a Store or Delete overtook the computation, and they fetch again).
func (m *Map[K, V]) commitError(ctx context.Context, name string, keys entryKeys, token, entry string, ttl time.Duration, err error) *flight[V] {
	sent := monotime()
	code, cerr := m.commit(ctx, name, keys, token, entry, ttl)
	return &flight[V]{err: err, sent: sent, retry: cerr != nil || code != commitStored}
}

// commit runs the commit script and counts its outcome.
func (m *Map[K, V]) commit(ctx context.Context, name string, keys entryKeys, token, entry string, ttl time.Duration) (commitOutcome, error) {
	code, err := runCommit(ctx, m.client, keys, token, entry, ms(ttl), m.channel, name)
	m.countCommit(code, err)
	return code, err
}

// countCommit counts a commit's outcome.
func (m *Map[K, V]) countCommit(code commitOutcome, err error) {
	switch {
	case err != nil:
		m.stats.commitErrors.Add(1)
	case code == commitStored:
		m.stats.commits.Add(1)
	case code == commitFenced:
		m.stats.fencedCommits.Add(1)
	case code == commitLost:
		m.stats.lostCommits.Add(1)
	}
}

// release gives the lease up with nothing stored, detached from the
// caller's ctx and bounded by one lease.
func (m *Map[K, V]) release(ctx context.Context, name string, keys entryKeys, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.lease)
	defer cancel()
	if released, err := runRelease(ctx, m.client, keys, token, m.channel, name); err == nil && released {
		m.stats.releases.Add(1)
	}
}

// renew starts renewing the leases of entries keys, held with tokens,
// every Lease/3 (one round trip for all of them), until the returned
// function is called (it waits for the renewer to stop), Close, MaxLoad,
// or every lease turns out to be lost. A lease found lost (taken over, or
// lost by the server) is no longer renewed: its commit will say.
func (m *Map[K, V]) renew(keys []entryKeys, tokens []string) (stop func()) {
	keys, tokens = slices.Clone(keys), slices.Clone(tokens)
	stopCh := make(chan struct{})
	done := make(chan struct{})
	every := m.cfg.lease / 3
	started := m.goBackground(func() {
		defer close(done)
		var deadline <-chan time.Time
		if m.cfg.maxLoad > 0 {
			dt := time.NewTimer(m.cfg.maxLoad)
			defer dt.Stop()
			deadline = dt.C
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-stopCh:
				return
			case <-deadline:
				return
			case <-m.ctx.Done():
				return
			}
			ctx, cancel := context.WithTimeout(m.ctx, every)
			renewed, errs := renewEntries(ctx, m.client, keys, tokens, ms(m.cfg.lease), ms(m.fenceTTL))
			cancel()
			m.stats.renewals.Add(1)
			n := 0
			for i := range keys {
				if errs[i] != nil || renewed[i] {
					keys[n], tokens[n] = keys[i], tokens[i]
					n++
				}
			}
			if keys, tokens = keys[:n], tokens[:n]; n == 0 {
				return
			}
		}
	})
	if !started {
		close(done)
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(stopCh) })
		<-done
	}
}
