package cache

import (
	"context"
	"reflect"

	"github.com/safemap-go/safemap"
)

// This file holds the argument checks the cache makes itself; the checks of
// keys are the map's. Each panics with the message safemap's maps give, so
// that a Cache keeps the ConcurrentMap contract to the letter.

// equalValues reports whether a == old, for CompareAndSwap and
// CompareAndDelete (named by op). It panics if V is not comparable, or V is
// an interface type and old holds an uncomparable value.
func equalValues[V any](op string, a, old V) bool {
	if t := reflect.TypeFor[V](); !t.Comparable() {
		panic("safemap: " + op + " on a map whose value type " + t.String() + " is not comparable")
	}
	if any(*new(V)) == nil { // V is an interface type
		if v := reflect.ValueOf(any(old)); v.IsValid() && !v.Type().Comparable() {
			panic("safemap: " + op + " with an old value of type " + v.Type().String() + ", which is not comparable")
		}
		defer func() {
			if r := recover(); r != nil { // an uncomparable value nested in old
				panic("safemap: " + op + " with an old value that is not comparable")
			}
		}()
	}
	return any(a) == any(old)
}

// mustKnownOp panics, as safemap's maps do, if a Compute function returned
// an unknown operation.
func mustKnownOp(op safemap.ComputeOp) {
	if uint(op) > uint(safemap.DeleteOp) {
		panic("safemap: Compute function returned unknown " + op.String())
	}
}

func panicNilFunc(op string) {
	panic("safemap: " + op + " called with a nil function")
}

// mustLoader checks the arguments of a method that takes a context and a
// loader; nilFn says whether the loader is nil.
func mustLoader(method string, ctx context.Context, nilFn bool) {
	if ctx == nil {
		panic("safemap: " + method + " called with a nil Context")
	}
	if nilFn {
		panicNilFunc(method)
	}
}
