package redismap

import (
	"context"
)

// In-process deduplication. The goroutines of one process that miss a key
// together share one run of the cross-process protocol: the first to claim
// the key's flight owns it and runs the protocol; the others wait for its
// outcome. A flight is a record in Map.flights from its claim until its
// owner lands it; landing removes it and then closes done, so a caller that
// arrives after the landing claims a flight of its own.
//
// Batches (LoadOrTryComputeAll) claim the flights of many keys at once, by
// the same rule, so a single call and a batch that miss one key share one
// load. This is the one place that would move onto safemap.Map's own
// LoadOrTryComputeAll once it exists: claimFlight/runFlight/awaitFlight
// are its claim, run and wait.
//
// The rules are those of safemap's LoadOrTryCompute, which this replaced
// when batches needed to claim many keys: an error is shared with the
// waiters unless the owner's ctx had ended (then they retry, as they do
// after a panic, which goes on to the owner's caller); a waiter whose ctx
// ends returns ctx.Err() at once, and the flight goes on.

// flight is the outcome of one run of the protocol, shared with the
// goroutines of this process that waited on it: a value, or an error that
// the server agreed to (a loader error whose marker was committed, or a
// marker, negative entry or undecodable value that was read).
type flight[V any] struct {
	done chan struct{} // closed by land, once the fields below are set

	value  V
	loaded bool  // value was read from Redis, not computed here
	err    error // the outcome is this error (value is then the zero value)
	sent   int64 // monotime when the request that read or stored the outcome was sent
	// retry is set when the outcome was not stored (err says why:
	// ErrFenced, ErrLeaseLost, a failed commit; or the loader's error when
	// its marker was not stored), or when the owner's ctx ended or it
	// panicked. Only the caller that ran fn returns it, with fn's value;
	// the others fetch again.
	retry bool
	// ownValue is set with retry when value is fn's, not stored: the caller
	// that ran fn returns it, with err saying why it was not stored.
	ownValue bool
	// refreshDue is set when the value read is due for a refresh
	// (Options.RefreshAfter).
	refreshDue bool
}

// claimFlight returns name's flight in this process: a new one that the
// caller owns (and must land), or the one another caller owns.
func (m *Map[K, V]) claimFlight(name string) (f *flight[V], owner bool) {
	f, loaded := m.flights.LoadOrStore(name, &flight[V]{done: make(chan struct{})})
	return f, !loaded
}

// land publishes f's outcome: it takes f out of the table (later callers
// claim their own) and wakes its waiters.
func (m *Map[K, V]) land(name string, f *flight[V]) {
	m.flights.CompareAndDelete(name, f)
	close(f.done)
}

// runFlight runs fetch as the owner of name's flight f and lands its
// outcome. A fetch error is the outcome too, shared with the waiters
// unless ctx had ended (they retry). If fetch panics, the waiters retry
// and the panic goes on.
func (m *Map[K, V]) runFlight(ctx context.Context, name string, f *flight[V], fetch func() (*flight[V], error)) {
	landed := false
	defer func() {
		if !landed {
			f.retry = true
			m.land(name, f)
		}
	}()
	if err := ctx.Err(); err != nil {
		f.err, f.retry = err, true
	} else if out, err := fetch(); err != nil {
		f.err, f.sent, f.retry = err, monotime(), ctx.Err() != nil
	} else {
		f.setOutcome(out)
	}
	landed = true
	m.land(name, f)
}

// setOutcome copies out's outcome into f. It leaves f.done alone: waiters
// read it while the owner runs.
func (f *flight[V]) setOutcome(out *flight[V]) {
	f.value, f.loaded, f.err, f.sent = out.value, out.loaded, out.err, out.sent
	f.retry, f.ownValue, f.refreshDue = out.retry, out.ownValue, out.refreshDue
}

// awaitFlight waits until f lands or ctx ends.
func awaitFlight[V any](ctx context.Context, f *flight[V]) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usableBy reports whether a waiter that began at start (monotime) may
// return f's outcome: only if it was stored, and the request that read or
// stored it was sent after the waiter began, so that it was current at
// some instant of the waiter's call (which keeps the call linearizable).
// Otherwise the waiter goes back to Redis.
func (f *flight[V]) usableBy(start int64) bool {
	return !f.retry && f.sent >= start
}
