package safemap

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotFound is what a loader returns, or wraps, to say that a key does
// not exist in the source it loads from. LoadOrTryComputeAll shares it with
// the callers waiting on a key its fn left out; those callers, and this
// package's batch loads, treat a key whose load failed with ErrNotFound as
// absent rather than as an error. It is a plain sentinel: compare with
// errors.Is.
var ErrNotFound = errors.New("safemap: not found")

// LoadOrTryComputeAll returns the values of keys, loading the missing ones
// with one call of fn. It is LoadOrTryCompute for many keys at once, with
// the same guarantees per key:
//
//   - Keys that are present are returned without calling fn.
//   - Keys that another goroutine is loading (a LoadOrCompute,
//     LoadOrTryCompute or LoadOrTryComputeAll) are waited for, not loaded
//     again; the wait ends when ctx does, and ctx.Err() then joins the
//     error.
//   - fn runs at most once per call, with no lock held, with the keys this
//     call reserved (each missing key at most once, in no particular order);
//     it is not called if there are none. Every key is loaded at most once
//     per absence, however the batches of concurrent calls overlap.
//   - Each value fn returns is stored, even when fn also returns an error
//     (partial results), unless a Store won or an invalidation (Delete,
//     LoadAndDelete, Clear) discarded it while fn ran; the result holds it
//     either way. A key fn leaves out of its map is not found: it is absent
//     from the result, and a goroutine that waited for it gets fn's error,
//     or ErrNotFound if fn returned none.
//   - fn's error is shared with every goroutine waiting on the keys it kept
//     out, and joins the returned error; a waited-for key whose load failed
//     adds that error (ErrNotFound excepted: the key is only absent).
//   - A panic in fn releases every key this call reserved (their waiters
//     retry) and reaches the caller.
//
// The result holds every key of keys that has a value; the error joins the
// loader and context errors that kept keys out. No deadlock is possible
// between overlapping batches: a call waits for other goroutines' keys only
// after it has released all of its own reservations (it lands them, or
// releases them when fn panics), so no cycle of waits can form. ctx and fn
// must not be nil.
func (m *Map[K, V]) LoadOrTryComputeAll(ctx context.Context, keys []K, fn func(ctx context.Context, missing []K) (map[K]V, error)) (map[K]V, error) {
	if ctx == nil || fn == nil {
		panic("safemap: LoadOrTryComputeAll called with a nil context or function")
	}
	if m.table.Load() == nil {
		m.initSlow()
	}
	result := make(map[K]V, len(keys))
	type owned struct {
		key K
		h   uint64
		gen uint8
	}
	type waited struct {
		key  K
		h    uint64
		f    *flight[V]
		wait <-chan struct{}
	}
	var mine []owned
	var others []waited
	var errs []error
	seen := make(map[K]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup && findable(k) {
			continue
		}
		seen[k] = struct{}{}
		v, ok, h := m.writerLookup(k)
		if ok {
			result[k] = v
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err) // kept out: no claim with an ended ctx
			continue
		}
		v, ok, f, wait, gen := m.claim(k, h)
		switch {
		case ok:
			result[k] = v
		case wait == nil:
			mine = append(mine, owned{k, h, gen})
		default:
			others = append(others, waited{k, h, f, wait})
		}
	}
	if len(mine) > 0 {
		missing := make([]K, len(mine))
		for i, o := range mine {
			missing[i] = o.key
		}
		var zero V
		normalReturn := false
		defer func() {
			if !normalReturn {
				// fn panicked or exited: release every key, waiters retry.
				for _, o := range mine {
					if _, _, w, _ := m.land(o.key, o.h, nil, o.gen, zero, false); w != nil {
						w.finish(retry, zero, nil)
					}
				}
			}
		}()
		values, ferr := fn(ctx, missing)
		normalReturn = true
		shared := ferr
		if shared == nil {
			shared = ErrNotFound
		} else if ctx.Err() != nil {
			shared = nil // our ctx ended: the waiters retry rather than inherit it
		}
		for _, o := range mine {
			v, ok := values[o.key]
			actual, _, w, _ := m.land(o.key, o.h, nil, o.gen, v, ok)
			if ok {
				result[o.key] = actual
				if w != nil {
					w.finish(landed, actual, nil)
				}
				continue
			}
			if w != nil {
				if shared == nil {
					w.finish(retry, zero, nil)
				} else {
					w.finish(failed, zero, shared)
				}
			}
		}
		if ferr != nil {
			errs = append(errs, fmt.Errorf("safemap: LoadOrTryComputeAll: %w", ferr))
		}
	}
	// Every reservation of ours is released: only now wait for the others.
	for _, w := range others {
		if w.f != nil {
			select {
			case <-w.wait:
			case <-ctx.Done():
				errs = append(errs, ctx.Err())
				continue
			}
			switch w.f.outcome {
			case landed:
				result[w.key] = w.f.value
				continue
			case failed:
				if !errors.Is(w.f.err, ErrNotFound) {
					errs = append(errs, w.f.err)
				}
				continue
			}
		}
		// The owner gave up (or claim asked us to wait and claim again):
		// load the key alone, with the same fn.
		v, _, err := m.LoadOrTryCompute(ctx, w.key, func(ctx context.Context) (V, error) {
			var zero V
			vals, err := fn(ctx, []K{w.key})
			if v, ok := vals[w.key]; ok {
				return v, nil
			}
			if err == nil {
				err = ErrNotFound
			}
			return zero, err
		})
		switch {
		case err == nil:
			result[w.key] = v
		case !errors.Is(err, ErrNotFound):
			errs = append(errs, err)
		}
	}
	return result, errors.Join(errs...)
}
