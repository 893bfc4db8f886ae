package redismap

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Batch loads. LoadOrTryComputeAll runs the protocol of LoadOrTryCompute
// for many keys at once, one round trip per step for all of them:
//
//  1. In process, it claims the flight of every key (flights.go). Keys whose
//     flights other callers own are waited for; the others are this call's.
//  2. acquire.lua, once per slot group (one call on a single server), reads
//     every key of this call: the values present are returned, keys whose
//     leases other processes hold are waited for, and the lease of every
//     other key is taken, with a token per key.
//  3. fn runs once with the keys whose leases this call took (in calls of
//     at most MaxBatch keys), under one renewer for all of them, and
//     commit.lua stores each key's value fenced by its own token. Keys fn
//     leaves out are committed as not found.
//  4. Keys other processes held are read again, with one acquire call,
//     once their notifications (or lease timers) have come: their values,
//     or their leases if a holder died.
//
// So a batch costs a process one round trip if every key is present, and
// three if it loads some keys and waits for others: acquire, commit,
// acquire again.

// LoadOrTryComputeAll returns the values of keys, loading the missing ones
// with one call of fn across every process sharing the Map's Prefix: it is
// LoadOrTryCompute for many keys, with the same guarantees per key.
//
//   - Keys present (in the near cache or in Redis) are returned without
//     fn. All the keys that are not in the near cache are read in one round
//     trip (one script call per slot group, pipelined, on a Cluster).
//   - Keys that another caller, in this process or another, is already
//     loading are waited for (woken by their commits' notifications), not
//     loaded again: across processes, a key is loaded at most once per
//     lease epoch, as with LoadOrTryCompute.
//   - fn runs with the rest: the keys whose leases this call took, in one
//     call, or in calls of at most Options.MaxBatch keys. Its ctx carries
//     no fencing token (FencingToken reports none); each key's commit is
//     fenced by its own. It runs with no lock held, with the leases renewed
//     every Lease/3, and its ctx ends at Options.MaxLoad.
//   - Keys that fn leaves out of its map are not found: they are absent
//     from the result, and cached as not found for Options.NegativeTTL if
//     it is set (otherwise, like a loader's ErrNotFound, for ErrorTTL), so
//     that the callers waiting on them get the same answer. Keys fn returns
//     that it was not asked for are ignored.
//   - An error from fn is stored for the keys of that call like a loader
//     error of LoadOrTryCompute, and shared with every caller waiting on
//     those keys, in every process.
//   - If fn panics, every lease it held is released at once, nothing is
//     stored for those keys, the callers waiting on them retry, and the
//     panic goes on to this caller.
//
// The result holds every key that has a value. The error joins, once each,
// the errors that kept keys out of it: loader errors (this call's, or
// another's that it shared), errors reaching Redis, ErrClosed, and ctx's
// error if it ended first (a key not found is not an error). A key whose
// commit was fenced (ErrFenced, ErrLeaseLost) is in the result with the
// value fn returned, and the error says so, as LoadOrTryCompute does. Keys
// that do not encode (ErrInvalidKey) are left out, and their errors joined.
// Keys that appear more than once are read once. A LoadOrTryComputeAll hit
// on a value due for a refresh (Options.RefreshAfter) starts its refresh
// with fn, asked for that one key.
//
// ctx and fn must not be nil.
func (m *Map[K, V]) LoadOrTryComputeAll(ctx context.Context, keys []K, fn func(ctx context.Context, missing []K) (map[K]V, error)) (map[K]V, error) {
	if ctx == nil {
		panic("redismap: LoadOrTryComputeAll with a nil context")
	}
	if fn == nil {
		panic("redismap: LoadOrTryComputeAll with a nil function")
	}
	b := &batch[K, V]{m: m, fn: fn, keyOf: make(map[string]K, len(keys)), result: make(map[K]V, len(keys))}
	var names []string
	for _, k := range keys {
		name, err := m.name(k)
		if err != nil {
			b.fail(err)
			continue
		}
		if _, dup := b.keyOf[name]; dup {
			continue
		}
		b.keyOf[name] = k
		if m.near != nil {
			if v, due, ok := m.near.get(name); ok {
				m.stats.nearHits.add(1)
				b.result[k] = v
				if due {
					m.refreshSoon(name, b.one(k))
				}
				continue
			}
		}
		names = append(names, name)
	}
	for len(names) > 0 {
		if m.closed.Load() {
			b.fail(ErrClosed)
			break
		}
		var err error
		if names, err = b.round(ctx, names); err != nil {
			b.fail(err)
			break
		}
	}
	return b.result, errors.Join(b.errs...)
}

// batch is one LoadOrTryComputeAll call.
type batch[K comparable, V any] struct {
	m      *Map[K, V]
	fn     func(ctx context.Context, missing []K) (map[K]V, error)
	keyOf  map[string]K // name → key, for every key of the call
	result map[K]V
	errs   []error
}

// fail records err once among the errors the call returns.
func (b *batch[K, V]) fail(err error) {
	for _, e := range b.errs {
		if t := reflect.TypeOf(e); t == reflect.TypeOf(err) && t.Comparable() && e == err {
			return
		}
	}
	b.errs = append(b.errs, err)
}

// one returns fn asked for key alone, as a LoadOrTryCompute loader (for a
// refresh).
func (b *batch[K, V]) one(key K) func(context.Context) (V, error) {
	fn := b.fn
	return func(ctx context.Context) (V, error) {
		vals, err := fn(ctx, []K{key})
		v, ok := vals[key]
		if err == nil && !ok {
			err = ErrNotFound
		}
		return v, err
	}
}

// round claims the flights of names, runs the protocol for those this
// call owns, waits for the others, and takes every outcome it may use. It
// returns the names to try again (their outcomes were not stored, or
// landed before this round began), or ctx's error if it ended while
// waiting.
func (b *batch[K, V]) round(ctx context.Context, names []string) (again []string, err error) {
	m := b.m
	start := monotime()
	flights := make([]*flight[V], len(names))
	owned := make([]bool, len(names))
	var mine []int
	for i, name := range names {
		if flights[i], owned[i] = m.claimFlight(name); owned[i] {
			mine = append(mine, i)
		}
	}
	if len(mine) > 0 {
		b.own(ctx, names, flights, mine)
	}
	for i, name := range names {
		f := flights[i]
		if !owned[i] {
			if err := awaitFlight(ctx, f); err != nil {
				return nil, err
			}
			if !f.usableBy(start) {
				again = append(again, name)
				continue
			}
		}
		b.take(name, f, owned[i])
	}
	return again, nil
}

// take adds the outcome of name's flight to the result or the errors.
func (b *batch[K, V]) take(name string, f *flight[V], owned bool) {
	k := b.keyOf[name]
	switch {
	case f.err == nil:
		b.result[k] = f.value
	case errors.Is(f.err, ErrNotFound):
		// Not found: absent, and not an error.
	case owned && f.ownValue:
		b.result[k] = f.value // fn's value, not stored: the error says why
		b.fail(f.err)
	default:
		b.fail(f.err)
	}
	if f.refreshDue {
		b.m.refreshSoon(name, b.one(k))
	}
}

// own runs the cross-process protocol for the names at indices mine, whose
// flights this call owns, and lands every one of them: with its outcome,
// or, if fn panicked, for a retry (the panic goes on).
func (b *batch[K, V]) own(ctx context.Context, names []string, flights []*flight[V], mine []int) {
	out := make(map[string]*flight[V], len(mine))
	defer func() {
		for _, i := range mine {
			f := flights[i]
			if o, ok := out[names[i]]; ok {
				f.setOutcome(o)
			} else {
				f.retry = true // fn panicked: the waiters try again
			}
			b.m.land(names[i], f)
		}
	}()
	mineNames := make([]string, len(mine))
	for j, i := range mine {
		mineNames[j] = names[i]
	}
	if err := ctx.Err(); err != nil {
		for _, name := range mineNames {
			out[name] = &flight[V]{err: err, retry: true}
		}
		return
	}
	b.fetch(ctx, mineNames, out)
}

// heldEntry is a key whose lease another caller holds, waited for.
type heldEntry struct {
	name     string
	wake     <-chan struct{}
	stop     func()
	deadline int64 // monotime when the holder's lease runs out
}

// leasedEntry is a key whose lease this call took.
type leasedEntry struct {
	name  string
	keys  entryKeys
	token string
}

// fetch runs steps 2 to 4 for names, setting each one's outcome in out.
func (b *batch[K, V]) fetch(ctx context.Context, names []string, out map[string]*flight[V]) {
	m := b.m
	waited := map[string]bool{}
	for len(names) > 0 {
		if m.closed.Load() {
			for _, name := range names {
				out[name] = &flight[V]{err: ErrClosed, retry: true}
			}
			return
		}
		ks := make([]entryKeys, len(names))
		wakes := make([]<-chan struct{}, len(names))
		stops := make([]func(), len(names))
		ps := make([]*nearEntry[V], len(names))
		for i, name := range names {
			ks[i] = m.keys(name)
			// Watch before asking, as fetch does.
			wakes[i], stops[i] = m.notify.watch(name)
			ps[i] = m.near.reserve(name)
		}
		sent := monotime()
		replies, errs := acquireEntries(ctx, m.client, ks, ms(m.cfg.lease), ms(m.fenceTTL))
		var held []heldEntry
		var leased []leasedEntry
		for i, name := range names {
			if errs[i] != nil {
				stops[i]()
				m.near.abandon(name, ps[i])
				out[name] = &flight[V]{err: m.fetchError(ctx, name, errs[i]), sent: monotime(), retry: ctx.Err() != nil}
				continue
			}
			switch r := replies[i]; r.outcome {
			case acquiredEntry:
				stops[i]()
				out[name] = m.found(name, ps[i], r.entry, r.pttl, sent)
			case acquiredHeld:
				m.near.abandon(name, ps[i])
				held = append(held, heldEntry{name, wakes[i], stops[i], sent + r.pttl*int64(time.Millisecond)})
			default: // acquiredLease
				stops[i]()
				m.near.abandon(name, ps[i])
				if waited[name] {
					m.stats.takeovers.Add(1)
				}
				leased = append(leased, leasedEntry{name, ks[i], r.token})
			}
		}
		if len(leased) > 0 {
			b.hold(ctx, leased, out)
		}
		names = names[:0:0]
		for _, h := range held {
			m.stats.waits.Add(1)
			if hook := m.testWaiting.Load(); hook != nil {
				(*hook)(h.name)
			}
			err := m.waitUntil(ctx, h.wake, h.deadline)
			h.stop()
			if err != nil {
				out[h.name] = &flight[V]{err: err, retry: true}
				continue
			}
			waited[h.name] = true
			names = append(names, h.name)
		}
	}
}

// hold calls fn for the leased keys, in calls of at most MaxBatch keys,
// and commits each call's outcome. If fn panics, every lease not yet
// committed is released before the panic goes on.
func (b *batch[K, V]) hold(ctx context.Context, leased []leasedEntry, out map[string]*flight[V]) {
	m := b.m
	ks := make([]entryKeys, len(leased))
	tokens := make([]string, len(leased))
	for i, l := range leased {
		ks[i], tokens[i] = l.keys, l.token
	}
	stopRenewal := m.renew(ks, tokens)
	done := 0 // leased[:done] are committed or released
	defer func() {
		stopRenewal()
		if done < len(leased) {
			// fn panicked (or called runtime.Goexit): give the rest up now,
			// so that their waiters take over.
			b.release(ctx, leased[done:])
		}
	}()
	size := len(leased)
	if m.cfg.maxBatch > 0 {
		size = m.cfg.maxBatch
	}
	for done < len(leased) {
		chunk := leased[done:min(done+size, len(leased))]
		b.load(ctx, chunk, out)
		done += len(chunk)
	}
}

// load calls fn once for chunk and commits its outcome.
func (b *batch[K, V]) load(ctx context.Context, chunk []leasedEntry, out map[string]*flight[V]) {
	m := b.m
	missing := make([]K, len(chunk))
	for i, l := range chunk {
		missing[i] = b.keyOf[l.name]
	}
	m.stats.loads.Add(1)
	fnCtx, cancel := ctx, context.CancelFunc(func() {})
	if m.cfg.maxLoad > 0 {
		fnCtx, cancel = context.WithTimeout(ctx, m.cfg.maxLoad)
	}
	start := time.Now()
	vals, err := b.fn(fnCtx, missing)
	load := time.Since(start)
	cancel()
	if err != nil && ctx.Err() != nil {
		// This caller's ctx ended: the failure is not the waiters'.
		b.release(ctx, chunk)
		for _, l := range chunk {
			out[l.name] = &flight[V]{err: err, retry: true}
		}
		return
	}
	if err != nil {
		m.stats.loaderErrors.Add(1)
	}
	// Each key's stored entry and the outcome its commit decides between.
	items := make([]commitItem, len(chunk))
	outcomes := make([]*flight[V], len(chunk))
	ttl := m.jittered(m.cfg.ttl)
	for i, l := range chunk {
		var entry string
		var keyTTL time.Duration
		o := &flight[V]{}
		switch v, ok := vals[missing[i]]; {
		case err != nil:
			entry, keyTTL = m.errorEntry(err)
			o.err = err
		case !ok:
			entry, keyTTL = m.errorEntry(ErrNotFound)
			o.err = fmt.Errorf("redismap: key %q: not in the batch loader's result: %w", l.name, ErrNotFound)
		default:
			var eerr error
			if entry, eerr = m.encodeValue(l.name, v, ttl, load); eerr != nil {
				// Every process would compute the same: shared like a
				// loader error.
				m.stats.loaderErrors.Add(1)
				entry, keyTTL = encodeErrorMarker(m.cfg.sharedErrors, eerr), m.cfg.errorTTL
				o.err = eerr
			} else {
				o.value, keyTTL = v, ttl
			}
		}
		items[i] = commitItem{keys: l.keys, token: l.token, entry: entry, ttl: ms(keyTTL), name: l.name}
		outcomes[i] = o
	}
	commitCtx, cancelCommit := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.lease)
	defer cancelCommit()
	sent := monotime()
	codes, errs := commitEntries(commitCtx, m.client, items, m.channel)
	for i, l := range chunk {
		o := outcomes[i]
		o.sent = sent
		m.countCommit(codes[i], errs[i])
		if errs[i] != nil || codes[i] != commitStored {
			o.retry = true
			if o.err == nil {
				o.ownValue = true
				o.err = m.commitFailure(l.name, l.token, codes[i], errs[i])
			}
		}
		out[l.name] = o
	}
}

// release gives up the leases of entries, detached from ctx and bounded by
// one lease.
func (b *batch[K, V]) release(ctx context.Context, entries []leasedEntry) {
	m := b.m
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.lease)
	defer cancel()
	ks := make([]entryKeys, len(entries))
	tokens := make([]string, len(entries))
	names := make([]string, len(entries))
	for i, e := range entries {
		ks[i], tokens[i], names[i] = e.keys, e.token, e.name
	}
	released, errs := releaseEntries(ctx, m.client, ks, tokens, names, m.channel)
	for i := range released {
		if errs[i] == nil && released[i] {
			m.stats.releases.Add(1)
		}
	}
}
