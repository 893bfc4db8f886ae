package safemap

import (
	"context"
	"iter"
	"math/rand/v2"
	"reflect"
	"sync/atomic"
	"time"
)

// Profile wraps a ConcurrentMap and counts what the workload does to it:
// reads split into hits and misses, inserts, updates and deletes, value
// function calls with their errors, panics and running time, the calls
// that waited for another's computation, and the calls made to each
// method. [Profile.Stats] returns the counts as a [ProfileStats], which
// `mapbench advise -from FILE` turns into a recommendation of the map to
// use (install the tool with
// `go install github.com/safemap-go/safemap/cmd/mapbench@latest`). Wrap the map a program already uses, run a representative
// workload, and write the stats out:
//
//	p := safemap.NewProfile[string, *User](safemap.New[string, *User]())
//	// ... run the workload against p ...
//	p.Stats().WriteJSON(f)
//
// Every method calls the same method of the wrapped map and has exactly its
// guarantees: the same concurrency safety and per-key linearizability, the
// same locking while a callback runs, the same results. Profile adds no
// lock. Each call adds one to a single striped counter (a get-or-create
// miss, to a few), after the wrapped call has returned: one atomic add on
// a cache line drawn at random among one per P, so that goroutines on
// different cores seldom write the same line at once. The counts are
// therefore eventually consistent: a Stats taken while operations run may
// count an operation in one field and not yet in another; once operations
// have returned, a Stats counts them all, exactly.
//
// The counts are exact, not sampled: whether a write inserted or updated,
// whether a get-or-create call found the key, computed it or waited for
// another goroutine's computation, is derived from what the wrapped map
// returned. To tell these apart Profile calls the wrapped map differently
// from its caller in three places: Store calls Swap and Delete calls
// LoadAndDelete, which report what they replaced or removed, and
// LoadOrCompute and LoadOrTryCompute first call Load (for a [SnapshotMap],
// its lookup without the fallback, which LoadOrCompute never consults), so
// every get-or-create miss costs one extra Load. MaxLen alone is
// approximate; see [Profile.Stats].
//
// Overhead: every call adds one atomic add on a striped counter, whose
// stripe is drawn at random, and allocates nothing; next to a cached Load
// that add is not small. A miss of LoadOrCompute or LoadOrTryCompute also
// allocates the wrapper of its value function and reads the clock twice,
// and Compute allocates the wrapper of its function. A Profile holds 35
// striped counters of one cache line per P (GOMAXPROCS rounded up to a
// power of two), and Reset allocates a fresh set. BenchmarkProfileOverhead,
// in the repository's bench module, measures the cost; BENCHMARKS.md has
// the figures.
//
// A value that LoadOrCompute or LoadOrTryCompute computed but did not
// store, because a Delete, LoadAndDelete or Clear of its key came while fn
// ran (invalidation wins), counts as a compute and not as an insert, for
// this package's maps (and a Profile of one); a map of another package,
// cache.Cache included, cannot say so, and its discarded values count as
// inserts.
//
// Entries that a SnapshotMap's fallback adds on a Load miss count as hits
// of that Load, not as inserts; operations made on the wrapped map directly
// (see [Profile.Unwrap]) are not counted at all.
//
// The zero Profile wraps no map and is not ready for use: each of its
// methods panics with "safemap: Profile must be created with NewProfile".
// Create one with [NewProfile]. A Profile must not be copied after first
// use (go vet reports a copy).
type Profile[K comparable, V any] struct {
	m ConcurrentMap[K, V]
	// lookup looks a key up without side effects, for LoadOrCompute and
	// LoadOrTryCompute to tell a hit from a miss: m.Load, except where
	// Load does more than look up (see probeOf).
	lookup func(key K) (V, bool)
	// counts holds every count since creation or the last Reset. Reset
	// swaps in a fresh set, so an operation that runs across a Reset counts
	// wholly in the old set or wholly in the new one, never in both.
	counts atomic.Pointer[profileCounts] // also makes go vet report copies
}

// *Profile implements the whole contract.
var _ ConcurrentMap[int, int] = (*Profile[int, int])(nil)

// profileCounts is one period's counts. Every field but start is updated
// concurrently, each counter on its own striped cache lines.
//
// A call that returns normally adds to one counter only, a cell that
// records both its method and its outcome ("a Store that inserted"), so
// that the counts of one method always add up and profiling costs one
// atomic add per call; Stats sums the cells into fields and Calls. Only the
// get-or-create misses, whose outcome is not known until their value
// function has run, count more.
type profileCounts struct {
	start time.Time // when the period began (monotonic clock)
	cells [numProfileCells]counter

	// What get-or-create misses (cellLoadOrComputeMiss and
	// cellLoadOrTryComputeMiss) led to, and their value functions.
	computedInserts, waiters               counter
	computes, computeErrors, computePanics counter
	computeTime                            counter // nanoseconds

	iterations counter // iterations of All's iterators

	maxLen atomic.Int64 // largest length seen; see Profile.noteLen
}

// profileCell is one method with one of its outcomes.
type profileCell uint8

const (
	cellLoadHit profileCell = iota
	cellLoadMiss
	cellStoreInsert
	cellStoreUpdate
	cellLoadOrStoreHit
	cellLoadOrStoreInsert
	cellLoadOrComputeHit
	cellLoadOrComputeMiss // see computedInserts and waiters
	cellLoadOrTryComputeHit
	cellLoadOrTryComputeMiss // see computedInserts and waiters
	cellComputeCancel        // CancelOp, or DeleteOp on an absent key
	cellComputeInsert
	cellComputeUpdate
	cellComputeDelete
	cellSwapInsert
	cellSwapUpdate
	cellCompareAndSwapSwapped
	cellCompareAndSwapNot
	cellCompareAndDeleteDeleted
	cellCompareAndDeleteNot
	cellLoadAndDeleteDeleted
	cellLoadAndDeleteAbsent
	cellDeleteDeleted
	cellDeleteAbsent
	cellRange
	cellAll // calls; iterations count in profileCounts.iterations
	cellLen
	cellClear
	numProfileCells
)

// profileField is a set of ProfileStats fields that a cell adds to.
type profileField uint8

const (
	fieldHits profileField = 1 << iota
	fieldMisses
	fieldInserts
	fieldUpdates
	fieldDeletes
	fieldClears
	fieldRanges
)

// profileCells says, for each cell, which method's calls it counts (the
// key of ProfileStats.Calls) and which other fields.
var profileCells = [numProfileCells]struct {
	method string
	fields profileField
}{
	cellLoadHit:                 {"Load", fieldHits},
	cellLoadMiss:                {"Load", fieldMisses},
	cellStoreInsert:             {"Store", fieldInserts},
	cellStoreUpdate:             {"Store", fieldUpdates},
	cellLoadOrStoreHit:          {"LoadOrStore", fieldHits},
	cellLoadOrStoreInsert:       {"LoadOrStore", fieldMisses | fieldInserts},
	cellLoadOrComputeHit:        {"LoadOrCompute", fieldHits},
	cellLoadOrComputeMiss:       {"LoadOrCompute", fieldMisses},
	cellLoadOrTryComputeHit:     {"LoadOrTryCompute", fieldHits},
	cellLoadOrTryComputeMiss:    {"LoadOrTryCompute", fieldMisses},
	cellComputeCancel:           {"Compute", 0},
	cellComputeInsert:           {"Compute", fieldInserts},
	cellComputeUpdate:           {"Compute", fieldUpdates},
	cellComputeDelete:           {"Compute", fieldDeletes},
	cellSwapInsert:              {"Swap", fieldInserts},
	cellSwapUpdate:              {"Swap", fieldUpdates},
	cellCompareAndSwapSwapped:   {"CompareAndSwap", fieldUpdates},
	cellCompareAndSwapNot:       {"CompareAndSwap", 0},
	cellCompareAndDeleteDeleted: {"CompareAndDelete", fieldDeletes},
	cellCompareAndDeleteNot:     {"CompareAndDelete", 0},
	cellLoadAndDeleteDeleted:    {"LoadAndDelete", fieldDeletes},
	cellLoadAndDeleteAbsent:     {"LoadAndDelete", 0},
	cellDeleteDeleted:           {"Delete", fieldDeletes},
	cellDeleteAbsent:            {"Delete", 0},
	cellRange:                   {"Range", fieldRanges},
	cellAll:                     {"All", 0},
	cellLen:                     {"Len", 0},
	cellClear:                   {"Clear", fieldClears},
}

const (
	// exactMaxLen is the length below which every insert samples Len, so
	// that a small map's MaxLen is exact; above it one insert in
	// 1<<maxLenSampleBits samples it.
	exactMaxLen      = 64
	maxLenSampleBits = 6
)

// NewProfile returns a Profile that wraps m and counts from now on. It
// panics if m is nil (or a nil pointer). The entries m already holds are
// not counted as inserts, but MaxLen starts at m's current length.
func NewProfile[K comparable, V any](m ConcurrentMap[K, V]) *Profile[K, V] {
	if m == nil {
		panic("safemap: NewProfile of a nil map")
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		panic("safemap: NewProfile of a nil map")
	}
	p := &Profile[K, V]{m: m, lookup: probeOf(m)}
	p.counts.Store(p.newCounts())
	return p
}

// inner returns the wrapped map. A zero Profile wraps none: every method
// panics with a message that says how to make one.
func (p *Profile[K, V]) inner() ConcurrentMap[K, V] {
	if p.m == nil {
		panicZeroProfile()
	}
	return p.m
}

// current returns the counts of the current period (see inner for a zero
// Profile).
func (p *Profile[K, V]) current() *profileCounts {
	c := p.counts.Load()
	if c == nil {
		panicZeroProfile()
	}
	return c
}

func panicZeroProfile() {
	panic("safemap: Profile must be created with NewProfile")
}

// prober is implemented by the maps whose Load does more than look a key up
// (a SnapshotMap's calls its fallback; a Profile's counts): probe looks key
// up and does nothing else, as the first step of LoadOrCompute does.
type prober[K comparable, V any] interface {
	probe(key K) (value V, ok bool)
}

// probeOf returns the function with which a Profile over m looks a key up
// before a get-or-create call: m's probe if it has one, else its Load.
func probeOf[K comparable, V any](m ConcurrentMap[K, V]) func(key K) (V, bool) {
	if p, ok := m.(prober[K, V]); ok {
		return p.probe
	}
	return m.Load
}

// probe looks key up as the wrapped map's LoadOrCompute would, counting
// nothing: a Profile's Load would count a Load its caller never made.
func (p *Profile[K, V]) probe(key K) (V, bool) {
	return p.lookup(key)
}

// newCounts returns a zeroed set of counts starting now, with MaxLen at
// the wrapped map's current length.
func (p *Profile[K, V]) newCounts() *profileCounts {
	c := &profileCounts{start: time.Now()}
	counters := []*counter{
		&c.computedInserts, &c.waiters, &c.computes, &c.computeErrors,
		&c.computePanics, &c.computeTime, &c.iterations,
	}
	for i := range c.cells {
		counters = append(counters, &c.cells[i])
	}
	for _, ctr := range counters {
		*ctr = *newCounter() // a counter is a slice of stripes: the copy shares them
	}
	c.maxLen.Store(int64(p.inner().Len()))
	return c
}

// count counts a call whose outcome is cell.
func (p *Profile[K, V]) count(cell profileCell) {
	p.current().cells[cell].add(1)
}

// countEither counts one call in cell yes if ok, else in cell no.
func (p *Profile[K, V]) countEither(ok bool, yes, no profileCell) {
	if ok {
		p.count(yes)
	} else {
		p.count(no)
	}
}

// inserted adds an insert to ctr, a counter of c, and samples the map's
// length for MaxLen: after every insert while MaxLen is small, then after
// one in 64, chosen by bits of the stripe's random number that the stripe
// choice does not use.
func (p *Profile[K, V]) inserted(c *profileCounts, ctr *counter) {
	r := rand.Uint32()
	ctr.addAt(uint64(r), 1)
	if c.maxLen.Load() < exactMaxLen || r>>(32-maxLenSampleBits) == 0 {
		p.noteLen(c)
	}
}

// noteLen raises c's MaxLen to the map's current length, which it returns.
func (p *Profile[K, V]) noteLen(c *profileCounts) int {
	n := p.inner().Len()
	for {
		cur := c.maxLen.Load()
		if int64(n) <= cur || c.maxLen.CompareAndSwap(cur, int64(n)) {
			return n
		}
	}
}

// Load returns the value stored for key, or the zero value and false if the
// key is absent, as the wrapped map's Load does, and counts a hit or a
// miss.
func (p *Profile[K, V]) Load(key K) (value V, ok bool) {
	value, ok = p.inner().Load(key)
	p.countEither(ok, cellLoadHit, cellLoadMiss)
	return value, ok
}

// Store sets the value for key and counts an insert or an update. It calls
// the wrapped map's Swap, which reports which one it was.
func (p *Profile[K, V]) Store(key K, value V) {
	if _, loaded := p.inner().Swap(key, value); loaded {
		p.count(cellStoreUpdate)
	} else {
		c := p.current()
		p.inserted(c, &c.cells[cellStoreInsert])
	}
}

// LoadOrStore returns the existing value for key if present (loaded is
// true), counting a hit; otherwise it stores value and returns it, counting
// a miss and an insert.
func (p *Profile[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	actual, loaded = p.inner().LoadOrStore(key, value)
	if loaded {
		p.count(cellLoadOrStoreHit)
	} else {
		c := p.current()
		p.inserted(c, &c.cells[cellLoadOrStoreInsert])
	}
	return actual, loaded
}

// LoadOrCompute returns the existing value for key if present, and
// otherwise calls the wrapped map's LoadOrCompute, with its guarantees:
// fn runs at most once however many goroutines miss the key together, with
// whatever the wrapped map holds locked while it runs (for every map of
// this package, no lock). It first looks the key up and counts a hit if
// present. Otherwise it counts a miss and then, from the outcome, an insert
// (fn ran and its value was stored) or a waiter (fn did not run: the call
// returned the value another call computed or stored); a call of fn counts
// as a compute, with its time, and a panic in fn counts as a compute panic
// before it propagates. A runtime.Goexit in fn is not counted as a panic.
func (p *Profile[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	c := p.current()
	if actual, loaded = p.lookup(key); loaded {
		c.cells[cellLoadOrComputeHit].add(1)
		return actual, true
	}
	c.cells[cellLoadOrComputeMiss].add(1)
	actual, loaded, _ = p.loadOrComputeSlow(c, key, fn)
	return actual, loaded
}

// loadOrComputeSlow is LoadOrCompute after a miss (outlined so that the hit
// path allocates nothing: the wrapper of fn escapes to the wrapped map).
func (p *Profile[K, V]) loadOrComputeSlow(c *profileCounts, key K, fn func() V) (actual V, loaded, discarded bool) {
	ran := false // fn runs on this goroutine, inside the call below
	wrapped := func() V {
		ran = true
		v, _ := runLoader(c, func() (V, error) { return fn(), nil })
		return v
	}
	if r, ok := p.inner().(discardReporter[K, V]); ok {
		actual, loaded, discarded, _ = r.loadOrComputeReporting(asLoadOrCompute, key, noError(wrapped))
	} else {
		actual, loaded = p.inner().LoadOrCompute(key, wrapped)
	}
	switch {
	case !ran && loaded:
		c.waiters.add(1)
	case ran && !loaded && !discarded:
		p.inserted(c, &c.computedInserts)
	}
	// ran && discarded: an invalidation discarded the value; nothing was
	// inserted.
	// ran && loaded: a write stored the key while fn ran, and won.
	return actual, loaded, discarded
}

// LoadOrTryCompute is LoadOrCompute for loaders that can fail, and counts
// as LoadOrCompute does. In addition an error from fn counts as a compute
// error, and a call that did not run fn but returned the error of the call
// that did (a waiter that shared its error) counts as a waiter. A call that
// returns ctx.Err() without running fn (its ctx ended before or while it
// waited) is only a miss.
func (p *Profile[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader(ctx, fn)
	c := p.current()
	if actual, loaded = p.lookup(key); loaded {
		c.cells[cellLoadOrTryComputeHit].add(1)
		return actual, true, nil
	}
	c.cells[cellLoadOrTryComputeMiss].add(1)
	actual, loaded, _, err = p.loadOrTryComputeSlow(c, ctx, key, fn)
	return actual, loaded, err
}

// loadOrComputeReporting makes a Profile a discardReporter itself, so that
// a Profile wrapping a Profile of this package's maps counts inserts
// exactly: it is LoadOrTryCompute (LoadOrCompute for a nil ctx), counted
// as that method counts, that also reports a value an invalidation
// discarded, as the wrapped map reports it (never, if the wrapped map does
// not report).
func (p *Profile[K, V]) loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	c := p.current()
	if ctx == nil {
		if actual, loaded = p.lookup(key); loaded {
			c.cells[cellLoadOrComputeHit].add(1)
			return actual, true, false, nil
		}
		c.cells[cellLoadOrComputeMiss].add(1)
		actual, loaded, discarded = p.loadOrComputeSlow(c, key, func() V {
			v, _ := fn(nil) // noError's: it cannot fail
			return v
		})
		return actual, loaded, discarded, nil
	}
	if actual, loaded = p.lookup(key); loaded {
		c.cells[cellLoadOrTryComputeHit].add(1)
		return actual, true, false, nil
	}
	c.cells[cellLoadOrTryComputeMiss].add(1)
	return p.loadOrTryComputeSlow(c, ctx, key, fn)
}

// discardReporter is implemented by this package's maps, so that Profile
// can tell an insert from a computed value that an invalidation discarded
// (both return loaded false): loadOrComputeReporting is LoadOrTryCompute,
// or LoadOrCompute when ctx is nil, and also reports that this call ran fn
// and its value was discarded. For another map, Profile counts a value
// returned unloaded by the call that computed it as an insert.
type discardReporter[K comparable, V any] interface {
	loadOrComputeReporting(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error)
}

var (
	_ discardReporter[int, int] = (*Map[int, int])(nil)
	_ discardReporter[int, int] = (*RWMap[int, int])(nil)
	_ discardReporter[int, int] = (*ShardedMap[int, int])(nil)
	_ discardReporter[int, int] = (*SyncMap[int, int])(nil)
	_ discardReporter[int, int] = (*SnapshotMap[int, int])(nil)
	_ discardReporter[int, int] = (*Profile[int, int])(nil)
)

// loadOrTryComputeSlow is LoadOrTryCompute after a miss (outlined like
// loadOrComputeSlow).
func (p *Profile[K, V]) loadOrTryComputeSlow(c *profileCounts, ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded, discarded bool, err error) {
	ran := false // fn runs on this goroutine, inside the call below
	wrapped := func(ctx context.Context) (V, error) {
		ran = true
		return runLoader(c, func() (V, error) { return fn(ctx) })
	}
	if r, ok := p.inner().(discardReporter[K, V]); ok {
		actual, loaded, discarded, err = r.loadOrComputeReporting(ctx, key, wrapped)
	} else {
		actual, loaded, err = p.inner().LoadOrTryCompute(ctx, key, wrapped)
	}
	switch {
	case ran:
		if err == nil && !loaded && !discarded {
			p.inserted(c, &c.computedInserts)
		}
		// An error was counted by runLoader; loaded means a write stored
		// the key while fn ran, and won.
	case err == nil: // loaded: another call's value
		c.waiters.add(1)
	case err != ctx.Err():
		// The error of the call that ran fn, shared with its waiters. (A
		// loader that fails with exactly the error of this call's ended
		// ctx is counted as this call giving up.)
		c.waiters.add(1)
	}
	return actual, loaded, discarded, err
}

// runLoader calls a value function of LoadOrCompute or LoadOrTryCompute,
// counting the call, its running time, an error and a panic. A panic goes
// on to the wrapped map (which stores nothing) and the caller; so does a
// runtime.Goexit, which is not counted as a panic.
func runLoader[V any](c *profileCounts, fn func() (V, error)) (V, error) {
	// Computes is counted before fn runs and errors and panics after it, so
	// that Stats, which reads them in the other order, never sees more
	// failures than computes.
	c.computes.add(1)
	value, nilPanic, err := timeLoader(c, fn)
	if nilPanic {
		// fn called panic(nil) under GODEBUG=panicnil=1, which the recover
		// in timeLoader stopped (see there): start it again.
		c.computePanics.add(1)
		panic(nil)
	}
	return value, err
}

// timeLoader runs fn for runLoader, timing it. A panic in fn is counted and
// raised again from the deferred call, still above fn's frames, so the
// crash report of an unrecovered panic shows where it began.
//
// recover tells a panic from runtime.Goexit: it returns a panic's value
// (never nil since Go 1.21, where panic(nil) raises a *runtime.PanicNilError)
// and nil during Goexit, which it does not stop and which goes on once the
// deferred call returns. The one ambiguity is panic(nil) under
// GODEBUG=panicnil=1: recover returns nil and does stop it, so timeLoader
// returns normally with nilPanic set, which no Goexit can do.
func timeLoader[V any](c *profileCounts, fn func() (V, error)) (value V, nilPanic bool, err error) {
	start := time.Now()
	normalReturn := false
	defer func() {
		c.computeTime.add(int64(time.Since(start)))
		if normalReturn {
			return
		}
		if r := recover(); r != nil {
			c.computePanics.add(1)
			panic(r)
		}
		nilPanic = true // seen by the caller only if this was no Goexit
	}()
	value, err = fn()
	normalReturn = true
	if err != nil {
		c.computeErrors.add(1)
	}
	return value, false, err
}

// Compute atomically reads, modifies and writes the entry for key through
// the wrapped map's Compute, with its locking (see the wrapped type's
// documentation for what fn may do), and counts what the call did: an
// insert or an update for UpdateOp on an absent or a present key, a delete
// for DeleteOp on a present key, only the call otherwise. Where the wrapped
// map may call fn more than once (SyncMap retries when the key changes
// under it), the outcome is that of the last call, the one whose result
// was applied. A call whose fn panics changes nothing and is not counted.
func (p *Profile[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	var lastLoaded bool // what the last call of fn saw and chose
	lastOp := CancelOp
	actual, ok = p.inner().Compute(key, func(old V, loaded bool) (V, ComputeOp) {
		newValue, op := fn(old, loaded)
		lastLoaded, lastOp = loaded, op
		return newValue, op
	})
	switch {
	case lastOp == UpdateOp && lastLoaded:
		p.count(cellComputeUpdate)
	case lastOp == UpdateOp:
		c := p.current()
		p.inserted(c, &c.cells[cellComputeInsert])
	case lastOp == DeleteOp && lastLoaded:
		p.count(cellComputeDelete)
	default:
		p.count(cellComputeCancel)
	}
	return actual, ok
}

// Swap stores value for key and returns the previous value, if any,
// counting an update if there was one and an insert otherwise.
func (p *Profile[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	previous, loaded = p.inner().Swap(key, value)
	if loaded {
		p.count(cellSwapUpdate)
	} else {
		c := p.current()
		p.inserted(c, &c.cells[cellSwapInsert])
	}
	return previous, loaded
}

// CompareAndSwap stores new for key if its current value == old, counting
// an update if it did. Like the wrapped map's, it panics if V is not
// comparable.
func (p *Profile[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	swapped = p.inner().CompareAndSwap(key, old, new)
	p.countEither(swapped, cellCompareAndSwapSwapped, cellCompareAndSwapNot)
	return swapped
}

// CompareAndDelete deletes key if its current value == old, counting a
// delete if it did. Like the wrapped map's, it panics if V is not
// comparable.
func (p *Profile[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	deleted = p.inner().CompareAndDelete(key, old)
	p.countEither(deleted, cellCompareAndDeleteDeleted, cellCompareAndDeleteNot)
	return deleted
}

// LoadAndDelete deletes key and returns the value it had, if any, counting
// a delete if there was one.
func (p *Profile[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	value, loaded = p.inner().LoadAndDelete(key)
	p.countEither(loaded, cellLoadAndDeleteDeleted, cellLoadAndDeleteAbsent)
	return value, loaded
}

// Delete deletes key, counting a delete if it was present. It calls the
// wrapped map's LoadAndDelete, which reports that.
func (p *Profile[K, V]) Delete(key K) {
	_, loaded := p.inner().LoadAndDelete(key)
	p.countEither(loaded, cellDeleteDeleted, cellDeleteAbsent)
}

// Range calls fn for each entry until fn returns false, through the wrapped
// map's Range and with its guarantees: fn runs with no lock held and may
// call any method of the Profile. It counts one range, when it starts.
func (p *Profile[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	p.count(cellRange)
	p.inner().Range(fn)
}

// All returns the wrapped map's iterator over the entries, with the
// guarantees of Range. Each iteration of it counts one range, when it
// starts; a call of All whose iterator is never used counts only as a
// call.
func (p *Profile[K, V]) All() iter.Seq2[K, V] {
	p.count(cellAll)
	seq := p.inner().All()
	return func(yield func(K, V) bool) {
		p.current().iterations.add(1)
		seq(yield)
	}
}

// Len returns the wrapped map's number of entries.
func (p *Profile[K, V]) Len() int {
	p.count(cellLen)
	return p.inner().Len()
}

// Clear deletes every entry and counts one clear; the entries it removes
// are not counted as deletes.
func (p *Profile[K, V]) Clear() {
	p.inner().Clear()
	p.count(cellClear)
}

// Stats returns the counts since NewProfile or the last Reset. Duration is
// the time since then, Len the wrapped map's Len now, and Calls has an
// entry for each method called at least once (never nil). A call is counted
// when it returns, except that Range, All and Len, and each iteration of
// All's iterator, count when they start, and a miss of LoadOrCompute or
// LoadOrTryCompute counts before its value function runs. So a call that
// panics (on an unhashable key, say) is not counted, unless the panic
// comes from a Range or iteration callback or a get-or-create value
// function.
//
// MaxLen is the largest length seen: the length at creation or Reset, at
// each Stats, and after inserts, sampled after every insert while it is
// below 64 and after one in 64 (chosen at random) above it. It is exact
// for a map that never holds 64 entries, and otherwise can miss a peak by
// about the 64 inserts before it; sampling more often would cost more, as
// it reads the wrapped map's Len, which costs O(shards).
//
// Stats may be called at any time, concurrently with any method. Each
// counter is read with atomic loads, one after another, so a snapshot
// taken while operations run is not atomic: an operation may be counted in
// one field and not yet in another (a miss, not yet its insert). Stats
// reads the counters in an order that keeps the invariants
// [ReadProfileStats] checks (Reads is Hits + Misses by construction, and
// ComputeErrors + ComputePanics never exceed Computes) and keeps Waiters
// at most Misses. Operations that returned before Stats was called are all
// counted.
func (p *Profile[K, V]) Stats() ProfileStats {
	c := p.current()
	s := ProfileStats{Version: ProfileStatsVersion, Calls: make(map[string]int64)}
	// A value function's failure is counted after its compute (see
	// runLoader), and a waiter after its miss: read the later counts first.
	s.ComputeErrors = c.computeErrors.sum()
	s.ComputePanics = c.computePanics.sum()
	s.ComputeTime = time.Duration(c.computeTime.sum())
	s.Computes = c.computes.sum()
	s.Waiters = c.waiters.sum()
	s.Inserts = c.computedInserts.sum()
	s.Ranges = c.iterations.sum()
	fields := []struct {
		field profileField
		count *int64
	}{
		{fieldHits, &s.Hits}, {fieldMisses, &s.Misses}, {fieldInserts, &s.Inserts},
		{fieldUpdates, &s.Updates}, {fieldDeletes, &s.Deletes}, {fieldClears, &s.Clears},
		{fieldRanges, &s.Ranges},
	}
	for i := range c.cells {
		n := c.cells[i].sum()
		if n == 0 {
			continue
		}
		cell := profileCells[i]
		s.Calls[cell.method] += n
		for _, f := range fields {
			if cell.fields&f.field != 0 {
				*f.count += n
			}
		}
	}
	s.Reads = s.Hits + s.Misses
	s.Len = p.noteLen(c)
	s.MaxLen = int(max(c.maxLen.Load(), int64(s.Len)))
	s.Duration = time.Since(c.start)
	return s
}

// Reset sets every count to zero and restarts the clock; MaxLen restarts
// at the wrapped map's current length. It may be called concurrently with
// any method: an operation that runs across the Reset is counted wholly
// before it (and so discarded) or wholly after it.
func (p *Profile[K, V]) Reset() {
	p.counts.Store(p.newCounts())
}

// Unwrap returns the wrapped map. Operations made on it directly are not
// counted.
func (p *Profile[K, V]) Unwrap() ConcurrentMap[K, V] {
	return p.inner()
}
