package safemap

import "context"

// This file holds the compute-once machinery that every strategy shares:
// the flight record that goroutines missing the same key wait on, and the
// protocol that runs a value function at most once per absence without
// holding any lock while it runs.
//
// A strategy plugs in by implementing flightTable over its own storage. The
// protocol relies on two atomicity properties of that table:
//
//  1. claim looks up the key and the flight registered for it in one atomic
//     step: a caller that sees a flight saw the key absent at that instant.
//  2. land unregisters the flight and inserts the computed value in one
//     atomic step (with respect to claim and every write to the key).
//
// Together they make LoadOrCompute linearizable: the computing caller takes
// effect at land (the key is absent there, or an operation that stored it
// while fn ran wins and its value is returned with loaded=true), and every
// waiter, having claimed before land, takes effect just after it.

// flight is one LoadOrCompute in progress for one key.
type flight[V any] struct {
	// done is closed when the outcome below is final. The first waiter
	// creates it under the table's lock (see waitChan); land unregisters the
	// flight under the same lock, so after land no waiter can arrive, and
	// land returns the flight if one did (done != nil). A flight nobody
	// waits for never allocates a channel.
	done chan struct{}

	// Written by the owner before close(done), read by waiters after it.
	outcome outcome
	value   V     // outcome == landed: the key's value after land
	err     error // outcome == failed: the loader's error, shared with waiters
}

type outcome uint8

const (
	inFlight outcome = iota
	landed           // value is in the map (or was, at land); waiters return it
	failed           // the loader returned err; waiters return it too
	retry            // fn panicked or exited, or its caller's ctx ended: waiters try again
)

// waitChan returns the channel a waiter blocks on. It must be called with
// the lock that guards the flight's registration in its table held.
func (f *flight[V]) waitChan() <-chan struct{} {
	if f.done == nil {
		f.done = make(chan struct{})
	}
	return f.done
}

// finish publishes the outcome to the waiters. It is called after land,
// on the flight land returned: the one waiters wait on.
func (f *flight[V]) finish(o outcome, value V, err error) {
	f.outcome, f.value, f.err = o, value, err
	if f.done != nil {
		close(f.done) // publishes outcome, value and err to the waiters
	}
}

// flightTable is what a strategy exposes to the compute-once protocol.
//
// h is whatever the strategy's LoadOrCompute passed to loadOrCompute (Map
// passes the key's hash, so that neither step hashes the key again); the
// protocol only hands it back.
type flightTable[K comparable, V any] interface {
	// claim returns the key's value if it is present. Otherwise it
	// returns the flight in progress for key with the channel to wait on,
	// or makes the caller the owner of a new flight (a nil wait channel: the
	// caller must run it). An owner's flight may be nil: a table that
	// records the claim elsewhere (Map reserves a slot for the key) creates
	// the flight record only when a first waiter arrives, under the same
	// lock as the claim.
	claim(key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{})

	// land unregisters the owner's claim (f is what claim returned to it)
	// and, if store is set, stores value unless the key is present. It
	// returns the key's value afterwards and whether it was already
	// present, as LoadOrStore does, and the flight that waiters wait on, or
	// nil if no waiter claimed the key: the owner finishes that flight.
	land(key K, h uint64, f *flight[V], value V, store bool) (actual V, loaded bool, waiters *flight[V])
}

// loadOrCompute runs the compute-once protocol for key after the caller's
// own fast-path lookup missed. ctx is nil for LoadOrCompute, whose waiters
// neither give up nor share errors; fn then never returns an error.
func loadOrCompute[K comparable, V any](t flightTable[K, V], ctx context.Context, key K, h uint64, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	for {
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return actual, false, err
			}
		}
		value, ok, f, wait := t.claim(key, h)
		if ok {
			return value, true, nil
		}
		if wait == nil {
			return runFlight(t, ctx, key, h, f, fn)
		}
		if ctx != nil {
			select {
			case <-wait:
			default:
				select {
				case <-wait:
				case <-ctx.Done():
					return actual, false, ctx.Err()
				}
			}
		} else {
			<-wait
		}
		switch f.outcome {
		case landed:
			return f.value, true, nil
		case failed:
			if ctx != nil {
				return actual, false, f.err
			}
			// LoadOrCompute cannot report an error: run its own fn.
		}
	}
}

// runFlight runs fn as the owner of the claim that returned f (which may be
// nil, see flightTable) and publishes the outcome to the waiters, if any.
func runFlight[K comparable, V any](t flightTable[K, V], ctx context.Context, key K, h uint64, f *flight[V], fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	var zero V
	normalReturn := false
	defer func() {
		if !normalReturn {
			// fn panicked or called runtime.Goexit: store nothing, let the
			// waiters retry, and let the panic continue to our caller.
			if _, _, w := t.land(key, h, f, zero, false); w != nil {
				w.finish(retry, zero, nil)
			}
		}
	}()
	value, err := fn(ctx)
	normalReturn = true
	if err != nil {
		if _, _, w := t.land(key, h, f, zero, false); w != nil {
			if ctx != nil && ctx.Err() != nil {
				// The caller gave up; its waiters have not, so they retry
				// rather than inherit an error that is not theirs.
				w.finish(retry, zero, nil)
			} else {
				w.finish(failed, zero, err)
			}
		}
		return zero, false, err
	}
	actual, loaded, w := t.land(key, h, f, value, true)
	if w != nil {
		w.finish(landed, actual, nil)
	}
	return actual, loaded, nil
}

// noError adapts a LoadOrCompute function to the loader form.
func noError[V any](fn func() V) func(context.Context) (V, error) {
	return func(context.Context) (V, error) { return fn(), nil }
}

// claimFlight returns the flight registered for key in *flights with the
// channel to wait on, or registers a new flight and returns it with a nil
// channel: the caller owns it. The caller holds the lock guarding *flights.
func claimFlight[K comparable, V any](flights *map[K]*flight[V], key K) (f *flight[V], wait <-chan struct{}) {
	if f = (*flights)[key]; f != nil {
		return f, f.waitChan()
	}
	f = new(flight[V])
	if !findable(key) {
		// A key not equal to itself (NaN) is never found again: nobody
		// could wait for its flight, and land could not unregister it.
		return f, nil
	}
	if *flights == nil {
		*flights = make(map[K]*flight[V])
	}
	(*flights)[key] = f
	return f, nil
}

// waitersOf is what land returns for a flight registered by claimFlight:
// the flight itself if a waiter claimed it (it has a channel), else nil.
func waitersOf[V any](f *flight[V]) *flight[V] {
	if f.done != nil {
		return f
	}
	return nil
}
