package safemap

import (
	"context"
	"iter"
	"strconv"
)

// ComputeOp tells [ConcurrentMap.Compute] what to do with the entry once its
// function has returned.
type ComputeOp int

const (
	CancelOp ComputeOp = iota // leave the entry as it was
	UpdateOp                  // store the returned value
	DeleteOp                  // delete the entry
)

// String returns the name of the operation, such as "UpdateOp".
func (op ComputeOp) String() string {
	switch op {
	case CancelOp:
		return "CancelOp"
	case UpdateOp:
		return "UpdateOp"
	case DeleteOp:
		return "DeleteOp"
	}
	return "ComputeOp(" + strconv.Itoa(int(op)) + ")"
}

// mustBeKnown panics, with the message every strategy's Compute gives, if op
// is not one of the three operations. Each Compute calls it on what its
// function returned, before acting on it, so that its switch on op has no
// default case to keep in step with the others.
func (op ComputeOp) mustBeKnown() {
	if uint(op) > uint(DeleteOp) {
		panicUnknownOp(op)
	}
}

// panicUnknownOp is mustBeKnown's panic (outlined so that the check inlines).
func panicUnknownOp(op ComputeOp) {
	panic("safemap: Compute function returned unknown " + op.String())
}

// ConcurrentMap is the contract every map in this package satisfies. All
// methods are safe for concurrent use and linearizable per key. A stored zero
// value (or nil) is a present value, distinct from absence.
type ConcurrentMap[K comparable, V any] interface {
	// Load returns the value stored for key, or the zero value and false if
	// the key is absent. A key whose value is still being computed by
	// LoadOrCompute or LoadOrTryCompute is absent: Load does not wait for it.
	Load(key K) (value V, ok bool)

	// Store sets the value for key.
	Store(key K, value V)

	// LoadOrStore returns the existing value for key if present (loaded is
	// true). Otherwise it stores value and returns it (loaded is false).
	LoadOrStore(key K, value V) (actual V, loaded bool)

	// LoadOrCompute returns the existing value for key if present (loaded is
	// true) without calling fn. Otherwise exactly one of the goroutines that
	// miss the key together calls fn, without holding any lock that blocks
	// other keys, and stores its result; the others wait and return that
	// value with loaded true. If another operation stores the key while fn
	// runs, the stored value wins and is returned with loaded true. If fn
	// panics, nothing is stored, the panic propagates to the goroutine that
	// called fn, and the waiters retry. fn must not be nil.
	//
	// Invalidation wins: if Delete, LoadAndDelete or Clear deletes the key
	// while fn runs, fn's value is not stored. The caller that ran fn gets
	// it with loaded false, and the goroutines already waiting get it with
	// loaded true (they take effect before the invalidation); the next call
	// computes again. A caller that arrives after the invalidation does not
	// wait for that fn: it starts a computation of its own, for the new
	// absence, so two functions of one key may run at once across an
	// invalidation, never within one absence. If a value is stored after
	// the invalidation, while the old fn runs, that value wins at its end
	// and is returned with loaded true.
	LoadOrCompute(key K, fn func() V) (actual V, loaded bool)

	// LoadOrTryCompute is LoadOrCompute for loaders that can fail. An error
	// from fn stores nothing and is returned to the caller that ran fn and to
	// every caller waiting on that same computation; the next call tries
	// again. Invalidations win as for LoadOrCompute. A waiter whose ctx
	// ends returns ctx.Err() without waiting for the computation, which
	// goes on. If the computing caller's ctx has ended
	// when fn fails, the waiters retry instead of sharing that error. A
	// caller whose ctx has already ended when it misses the key returns
	// ctx.Err() without calling fn. ctx and fn must not be nil.
	LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error)

	// Compute atomically reads, modifies and writes the entry for key. fn
	// receives the current value and whether it was present, and returns
	// the new value and what to do with it. actual and ok describe the key
	// after the call: the new value and true for UpdateOp, the zero value
	// and false for DeleteOp, the old value and whether it was present for
	// CancelOp. Each implementation documents what is locked while fn runs;
	// a panic in fn changes nothing and leaves no lock held. fn must not be
	// nil.
	Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool)

	// Swap stores value for key and returns the previous value, if any.
	Swap(key K, value V) (previous V, loaded bool)

	// CompareAndSwap stores new for key if its current value == old. It
	// panics if V is not comparable (or old holds a value whose dynamic type
	// is not comparable).
	CompareAndSwap(key K, old, new V) (swapped bool)

	// CompareAndDelete deletes key if its current value == old. It panics if
	// V is not comparable (or old holds a value whose dynamic type is not
	// comparable).
	CompareAndDelete(key K, old V) (deleted bool)

	// LoadAndDelete deletes key and returns the value it had, if any. It
	// invalidates a LoadOrCompute or LoadOrTryCompute of key in progress:
	// that computation stores nothing (see LoadOrCompute).
	LoadAndDelete(key K) (value V, loaded bool)

	// Delete deletes key. It invalidates a LoadOrCompute or
	// LoadOrTryCompute of key in progress: that computation stores nothing
	// (see LoadOrCompute).
	Delete(key K)

	// Range calls fn for each entry until fn returns false. It visits each
	// key at most once and holds no lock while fn runs, so fn may call any
	// method of the map. Each implementation documents what a Range that
	// runs concurrently with writes may observe.
	Range(fn func(key K, value V) bool)

	// All returns an iterator over the entries, with the guarantees of Range.
	All() iter.Seq2[K, V]

	// Len returns the number of entries. It is exact when no write runs
	// concurrently, and costs O(shards), not O(entries).
	Len() int

	// Clear deletes every entry, and invalidates every LoadOrCompute and
	// LoadOrTryCompute in progress: none of them stores its value (see
	// LoadOrCompute).
	Clear()
}
