package safemap

import (
	"context"
	"sync/atomic"
)

// This file holds the compute-once machinery that every strategy shares:
// the flight record that goroutines missing the same key wait on, and the
// protocol that runs a value function at most once per absence without
// holding any lock while it runs.
//
// A strategy plugs in by implementing flightTable over its own storage. The
// protocol relies on three atomicity properties of that table:
//
//  1. claim looks up the key and the live flight registered for it in one
//     atomic step: a caller that sees a flight saw the key absent at that
//     instant, and no invalidation of the key came between the flight's
//     claim and its own.
//  2. land unregisters the flight and inserts the computed value in one
//     atomic step (with respect to claim and every write to the key).
//  3. An invalidation (Delete, LoadAndDelete or Clear) of the key marks the
//     live flight invalid and unregisters it in one atomic step with its
//     own effect on the key (with respect to claim and land).
//
// Together they make LoadOrCompute linearizable. A computing caller whose
// flight is still valid takes effect at land: the key is absent there, or
// an operation that stored it while fn ran wins and its value is returned
// with loaded=true. A computing caller whose flight was invalidated, and
// which finds the key still absent at land, stores nothing and returns its
// value with loaded=false: it takes effect at its claim, as though it had
// stored the value there and the first invalidation had deleted it (no
// reader can tell: the value was never visible). Every waiter, having
// claimed before land and before any invalidation, takes effect just after
// the computing caller. A caller that arrives after an invalidation finds
// no live flight and claims a new one: a new absence, whose function may
// run while the invalidated one still does. docs/design.md
// ("Compute-once") has the whole argument.

// flight is one LoadOrCompute in progress for one key.
type flight[V any] struct {
	// done is closed when the outcome below is final. The first waiter
	// creates it under the table's lock (see waitChan); land unregisters the
	// flight under the same lock, so after land no waiter can arrive, and
	// land returns the flight if one did (done != nil). A flight nobody
	// waits for never allocates a channel.
	done chan struct{}

	// invalid is set, under the table's lock, by an invalidation of the
	// key while the flight runs (flightSet.invalidate): land then stores
	// nothing. Map does not use it: it marks the key's reserved slot.
	invalid bool

	// Written by the owner before close(done), read by waiters after it.
	outcome outcome
	value   V     // outcome == landed: the key's value after land
	err     error // outcome == failed: the loader's error, shared with waiters
}

type outcome uint8

const (
	inFlight outcome = iota
	landed           // value is in the map (or was, at land, or was discarded by an invalidation); waiters return it
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
	// returns the live flight of key with the channel to wait on, or makes
	// the caller the owner of a new flight (a nil wait channel: the caller
	// must run it), with the generation that identifies the flight to land
	// (Map's; the other tables return 0). An owner's flight may be nil: a
	// table that records the claim elsewhere (Map reserves a slot for the
	// key) creates the flight record only when a first waiter arrives,
	// under the same lock as the claim. A channel with a nil flight means:
	// wait on it, then claim again (Map, when every generation of the key
	// is held by an invalidated flight).
	claim(key K, h uint64) (value V, ok bool, f *flight[V], wait <-chan struct{}, gen uint8)

	// land unregisters the owner's claim (f and gen are what claim
	// returned to it) and, if store is set, stores value unless the key is
	// present or the flight was invalidated. It returns the key's value
	// afterwards, or value itself if an invalidation discarded it
	// (discarded is then set, and loaded is false), whether it was already
	// present, as LoadOrStore does, and the flight that waiters wait on, or
	// nil if no waiter claimed the key: the owner finishes that flight.
	land(key K, h uint64, f *flight[V], gen uint8, value V, store bool) (actual V, loaded bool, waiters *flight[V], discarded bool)
}

// asLoadOrCompute is the nil Context that the internal compute paths
// (loadOrCompute, loadOrComputeReporting) read as "this call is
// LoadOrCompute": its waiters neither give up nor share errors. It is never
// assigned; a name says what a literal nil would not, and a caller that
// passed context.Background() instead would get LoadOrTryCompute's rules.
var asLoadOrCompute context.Context

// loadOrCompute runs the compute-once protocol for key after the caller's
// own fast-path lookup missed. ctx is nil for LoadOrCompute, whose waiters
// neither give up nor share errors; fn then never returns an error.
// discarded reports that this caller ran fn and an invalidation discarded
// its value (which it returns, with loaded false).
func loadOrCompute[K comparable, V any](t flightTable[K, V], ctx context.Context, key K, h uint64, fn func(context.Context) (V, error)) (actual V, loaded bool, discarded bool, err error) {
	for {
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return actual, false, false, err
			}
		}
		value, ok, f, wait, gen := t.claim(key, h)
		if ok {
			return value, true, false, nil
		}
		if wait == nil {
			return runFlight(t, ctx, key, h, f, gen, fn)
		}
		if ctx != nil {
			select {
			case <-wait:
			default:
				select {
				case <-wait:
				case <-ctx.Done():
					return actual, false, false, ctx.Err()
				}
			}
		} else {
			<-wait
		}
		if f == nil {
			continue // not a flight to join: claim again
		}
		switch f.outcome {
		case landed:
			return f.value, true, false, nil
		case failed:
			if ctx != nil {
				return actual, false, false, f.err
			}
			// LoadOrCompute cannot report an error: run its own fn.
		}
	}
}

// runFlight runs fn as the owner of the claim that returned f and gen (f
// may be nil, see flightTable) and publishes the outcome to the waiters, if
// any.
func runFlight[K comparable, V any](t flightTable[K, V], ctx context.Context, key K, h uint64, f *flight[V], gen uint8, fn func(context.Context) (V, error)) (actual V, loaded bool, discarded bool, err error) {
	var zero V
	normalReturn := false
	defer func() {
		if !normalReturn {
			// fn panicked or called runtime.Goexit: store nothing, let the
			// waiters retry, and let the panic continue to our caller.
			if _, _, w, _ := t.land(key, h, f, gen, zero, false); w != nil {
				w.finish(retry, zero, nil)
			}
		}
	}()
	value, err := fn(ctx)
	normalReturn = true
	if err != nil {
		if _, _, w, _ := t.land(key, h, f, gen, zero, false); w != nil {
			if ctx != nil && ctx.Err() != nil {
				// The caller gave up; its waiters have not, so they retry
				// rather than inherit an error that is not theirs.
				w.finish(retry, zero, nil)
			} else {
				w.finish(failed, zero, err)
			}
		}
		return zero, false, false, err
	}
	actual, loaded, w, discarded := t.land(key, h, f, gen, value, true)
	if w != nil {
		// Waiters joined before any invalidation: they get the value even
		// when it was discarded, linearized just after this caller.
		w.finish(landed, actual, nil)
	}
	return actual, loaded, discarded, nil
}

// noError adapts a LoadOrCompute function to the loader form.
func noError[V any](fn func() V) func(context.Context) (V, error) {
	return func(context.Context) (V, error) { return fn(), nil }
}

// flightSet is the flight table of the strategies that guard a whole map
// (RWMap, SnapshotMap) or its flights (SyncMap) with one lock: the live
// flight of each key being computed. Every method but pending must be
// called with that lock held. The zero flightSet is empty.
type flightSet[K comparable, V any] struct {
	live map[K]*flight[V] // nil until the first flight
	// n is len(live), kept so that an invalidation whose table may hold no
	// flight can tell so without the lock (pending).
	n atomic.Int32
}

// claim returns the live flight of key with the channel to wait on, or
// registers a new flight and returns it with a nil channel: the caller
// owns it.
func (s *flightSet[K, V]) claim(key K) (f *flight[V], wait <-chan struct{}) {
	if f = s.live[key]; f != nil {
		return f, f.waitChan()
	}
	f = new(flight[V])
	if !findable(key) {
		// A key not equal to itself (NaN) is never found again: nobody
		// could wait for its flight, invalidate it, or unregister it.
		return f, nil
	}
	if s.live == nil {
		s.live = make(map[K]*flight[V])
	}
	s.live[key] = f
	s.n.Add(1)
	return f, nil
}

// land unregisters f, the owner's flight of key, unless an invalidation
// did, and returns it if a waiter claimed it (it has a channel: no waiter
// can claim it any more), and whether it was invalidated.
func (s *flightSet[K, V]) land(key K, f *flight[V]) (waiters *flight[V], invalid bool) {
	if !f.invalid && s.live[key] == f {
		delete(s.live, key)
		s.n.Add(-1)
	}
	if f.done != nil {
		waiters = f
	}
	return waiters, f.invalid
}

// pending reports whether a flight may be live. It needs no lock: a flight
// registered before the call is seen, so an invalidation that finds none
// may skip the lock (a flight registered meanwhile began after the
// invalidation was called, and need not be discarded).
func (s *flightSet[K, V]) pending() bool {
	return s.n.Load() != 0
}

// invalidate discards the live flight of key, if any: land will store
// nothing, and a caller that claims key from now on starts a new flight.
func (s *flightSet[K, V]) invalidate(key K) {
	if f := s.live[key]; f != nil {
		f.invalid = true
		delete(s.live, key)
		s.n.Add(-1)
	}
}

// invalidateAll discards every live flight, for Clear.
func (s *flightSet[K, V]) invalidateAll() {
	for _, f := range s.live {
		f.invalid = true
	}
	clear(s.live)
	s.n.Store(0)
}
