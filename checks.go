package safemap

import (
	"context"
	"reflect"
	"sync/atomic"
)

// This file holds the argument checks every strategy shares: keys that
// cannot be hashed, values that cannot be compared, nil functions and
// contexts. Each panics with a message starting "safemap: ".

// keyCheck makes an unhashable key panic with a clear message before any
// lock is taken or any state changes. Only keys whose type can hold an
// interface (an interface type, or a struct or array with one inside) can
// be unhashable at run time; the check learns on first use whether K is such
// a type, so for every other K it costs one atomic load. The zero keyCheck is
// ready for use.
type keyCheck struct {
	mode atomic.Uint32
}

const (
	keyModeUnknown uint32 = iota // K not yet examined
	keyModeSafe                  // K holds no interface: the compiler proved it hashable
	keyModeWalk                  // K may hold an interface: examine each key
)

// checkKey panics with a message starting "safemap: " if key cannot be
// hashed (outlined slow path so that the check inlines).
func checkKey[K comparable](c *keyCheck, key K) {
	if c.mode.Load() != keyModeSafe {
		checkKeySlow(c, key)
	}
}

func checkKeySlow[K comparable](c *keyCheck, key K) {
	mode := c.mode.Load()
	if mode == keyModeUnknown {
		mode = keyModeSafe
		if mayHoldInterface(reflect.TypeFor[K]()) {
			mode = keyModeWalk
		}
		c.mode.Store(mode)
	}
	if mode == keyModeWalk {
		if bad := unhashable(reflect.ValueOf(&key).Elem()); bad != nil {
			panic("safemap: key of type " + reflect.TypeFor[K]().String() + " holds a value of type " + bad.String() + ", which is not comparable")
		}
	}
}

// mayHoldInterface reports whether a value of type t can contain an
// interface value, whose dynamic type may not be comparable.
func mayHoldInterface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return mayHoldInterface(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if mayHoldInterface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// unhashable returns the type of the first value inside v that cannot be
// compared with ==, or nil if v can be. It looks through interfaces, structs
// and arrays, the only comparable types that can hold an uncomparable value.
func unhashable(v reflect.Value) reflect.Type {
	if !v.IsValid() {
		return nil // a nil interface
	}
	t := v.Type()
	if !t.Comparable() {
		return t
	}
	switch t.Kind() {
	case reflect.Interface:
		return unhashable(v.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if bad := unhashable(v.Field(i)); bad != nil {
				return bad
			}
		}
	case reflect.Array:
		for i := range t.Len() {
			if bad := unhashable(v.Index(i)); bad != nil {
				return bad
			}
		}
	}
	return nil
}

// findable reports whether key, once stored, can be found again: false for
// a key that is not equal to itself (a NaN, or a struct, array or interface
// holding one), which a built-in map never finds either. Such a key is
// never reserved, registered or looked up by a strategy; each stored one
// is an entry of its own, seen only by Range, Len and Clear.
func findable[K comparable](key K) bool {
	return key == key
}

// equalValues reports whether a == b, for CompareAndSwap and
// CompareAndDelete (named by op). Like sync.Map, it panics if V is not
// comparable; it also panics, with the same kind of message, when V is an
// interface type and old holds an uncomparable value.
func equalValues[V any](op string, a, old V) bool {
	if t := reflect.TypeFor[V](); !t.Comparable() {
		panic("safemap: " + op + " on a map whose value type " + t.String() + " is not comparable")
	}
	if any(*new(V)) == nil { // V is an interface type
		if t := unhashable(reflect.ValueOf(any(old))); t != nil {
			panic("safemap: " + op + " with an old value of type " + t.String() + ", which is not comparable")
		}
	}
	return any(a) == any(old)
}

// mustComparableValue is equalValues' check alone, for the paths of
// CompareAndSwap and CompareAndDelete that find no value to compare.
func mustComparableValue[V any](op string, old V) {
	equalValues(op, old, old)
}

// panicNilFunc reports a nil callback passed to method op.
func panicNilFunc(op string) {
	panic("safemap: " + op + " called with a nil function")
}

// mustLoader checks the arguments of LoadOrTryCompute.
func mustLoader[V any](ctx context.Context, fn func(context.Context) (V, error)) {
	if ctx == nil {
		panic("safemap: LoadOrTryCompute called with a nil Context")
	}
	if fn == nil {
		panicNilFunc("LoadOrTryCompute")
	}
}
