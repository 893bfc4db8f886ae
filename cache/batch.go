package cache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// LoadOrTryComputeAll returns the values of keys, loading the missing ones
// with fn in batches.
//
//   - Keys present in the cache are returned without fn (a duplicate key in
//     keys is resolved once).
//   - Each missing key goes through [Cache.LoadOrTryCompute], so the
//     at-most-once-per-absence guarantee, shared errors, negative and error
//     caching are exactly that method's. A key another goroutine (or another
//     batch) is already loading is waited for, not loaded again.
//   - The keys this call ends up loading are passed to fn together, in calls
//     of at most Options.MaxBatch keys (0: no limit). Usually that is one
//     call; a key whose load this call only claims after fn has started (it
//     was waiting for another goroutine's load, which then failed) goes into
//     a later call. No call ever waits for another batch while it holds keys,
//     so overlapping batches cannot deadlock.
//   - A key fn leaves out of its map is not found: with NegativeTTL > 0 it is
//     remembered as absent, and it is absent from the result either way.
//   - The result holds every key that has a value. err joins fn's errors and
//     the ctx errors that kept keys out (nil if only not-found keys are
//     missing). fn's error is shared with every caller waiting on those keys.
//   - A panic in fn releases every key the call held (nothing is stored for
//     them) and is re-raised in the caller once every key is released.
//
// fn runs with no lock held, with ctx, on the calling goroutine; it must not
// be nil. The call starts one short-lived goroutine per missing key.
func (c *Cache[K, V]) LoadOrTryComputeAll(ctx context.Context, keys []K, fn func(ctx context.Context, missing []K) (map[K]V, error)) (map[K]V, error) {
	if fn == nil {
		panicNilFunc("LoadOrTryComputeAll")
	}
	out := make(map[K]V, len(keys))
	var missing []K
	seen := make(map[K]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		if v, ok := c.Load(k); ok {
			out[k] = v
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) == 0 {
		return out, nil
	}
	b := &batch[K, V]{
		owned:   make(chan *batchKey[K, V], len(missing)),
		settled: make(chan batchResult[K, V], len(missing)),
	}
	var started sync.WaitGroup
	started.Add(len(missing))
	for _, k := range missing {
		go b.resolve(ctx, c, k, &started)
	}
	started.Wait()
	var errs []error
	var panicked any
	owned := make(map[K]bool, len(missing))
	undecided := len(missing) // neither claimed by this call nor settled
	settle := func(r batchResult[K, V]) {
		if !owned[r.key] {
			undecided--
		}
		errs = b.record(out, r, errs, &panicked)
	}
	for left := len(missing); left > 0; {
		var group []*batchKey[K, V]
		select {
		case bk := <-b.owned:
			owned[bk.key] = true
			undecided--
			group = append(group, bk)
		case r := <-b.settled:
			left--
			settle(r)
			continue
		}
		// Gather the keys the other goroutines claim: all of them, unless
		// some wait on another goroutine's load (then a short grace).
		grace := time.NewTimer(batchGrace)
	gather:
		for undecided > 0 {
			select {
			case bk := <-b.owned:
				owned[bk.key] = true
				undecided--
				group = append(group, bk)
				grace.Reset(batchGrace)
			case r := <-b.settled:
				left--
				settle(r)
				grace.Reset(batchGrace)
			case <-grace.C:
				break gather
			}
		}
		grace.Stop()
		for len(group) > 0 {
			n := len(group)
			if c.l19.maxBatch > 0 && n > c.l19.maxBatch {
				n = c.l19.maxBatch
			}
			b.load(ctx, group[:n], fn)
			group = group[n:]
		}
	}
	if panicked != nil {
		panic(panicked)
	}
	return out, errors.Join(errs...)
}

// batchGrace is how long a batch waits for its keys to be claimed when some
// of them wait on other goroutines' loads: those are loaded by a later call
// of fn if their load fails, rather than holding up the keys already
// claimed.
const batchGrace = 5 * time.Millisecond

// batch is one LoadOrTryComputeAll call: the keys whose loads it claimed
// arrive on owned, the outcome of every missing key on settled.
type batch[K comparable, V any] struct {
	owned   chan *batchKey[K, V]
	settled chan batchResult[K, V]
}

// batchKey is a key whose load the batch claimed: its LoadOrTryCompute's
// function waits on done for the value or error fn gave it.
type batchKey[K comparable, V any] struct {
	key      K
	done     chan struct{}
	value    V
	err      error
	panicked any
}

// batchResult is how one missing key ended.
type batchResult[K comparable, V any] struct {
	key      K
	value    V
	ok       bool
	err      error
	panicked any
}

// batchPanic is what the function of a key whose batch loader panicked
// panics with: LoadOrTryCompute then stores nothing for the key and
// remembers no error, and resolve recovers it.
type batchPanic struct{ v any }

// resolve loads one missing key through LoadOrTryCompute: if this call wins
// the key's load, its function hands the key to the batch and waits.
func (b *batch[K, V]) resolve(ctx context.Context, c *Cache[K, V], k K, started *sync.WaitGroup) {
	started.Done()
	r := batchResult[K, V]{key: k}
	defer func() {
		if p := recover(); p != nil {
			bp, ours := p.(batchPanic)
			if !ours {
				bp.v = p // a panic of the cache's own (Weigher, TTLFunc)
			}
			r = batchResult[K, V]{key: k, panicked: bp.v}
		}
		b.settled <- r
	}()
	r.value, _, r.err = c.LoadOrTryCompute(ctx, k, func(context.Context) (V, error) {
		bk := &batchKey[K, V]{key: k, done: make(chan struct{})}
		b.owned <- bk
		<-bk.done
		if bk.panicked != nil {
			panic(batchPanic{bk.panicked})
		}
		return bk.value, bk.err
	})
	r.ok = r.err == nil
}

// load runs fn on group's keys and releases each with its outcome.
func (b *batch[K, V]) load(ctx context.Context, group []*batchKey[K, V], fn func(context.Context, []K) (map[K]V, error)) {
	keys := make([]K, len(group))
	for i, bk := range group {
		keys[i] = bk.key
	}
	var (
		vals     map[K]V
		err      error
		panicked any
	)
	func() {
		// recover is not nil for any panic: panic(nil) panics with a
		// *runtime.PanicNilError.
		defer func() { panicked = recover() }()
		vals, err = fn(ctx, keys)
	}()
	for _, bk := range group {
		switch v, found := vals[bk.key]; {
		case panicked != nil:
			bk.panicked = panicked
		case found:
			bk.value = v
		case err != nil:
			bk.err = err
		default:
			bk.err = ErrNotFound
		}
		close(bk.done)
	}
}

// record adds r to the result, collecting errors and the first panic.
func (b *batch[K, V]) record(out map[K]V, r batchResult[K, V], errs []error, panicked *any) []error {
	switch {
	case r.panicked != nil:
		if *panicked == nil {
			*panicked = r.panicked
		}
	case r.ok:
		out[r.key] = r.value
	case errors.Is(r.err, ErrNotFound):
	default:
		for _, e := range errs {
			if e == r.err {
				return errs
			}
		}
		errs = append(errs, r.err)
	}
	return errs
}
