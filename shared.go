package safemap

import (
	"context"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// This file holds the small pieces of machinery several strategies share:
// key and value checks, and a striped counter.

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

// cacheLine is the assumed size of a cache line. Counters that different
// cores update are padded to it so they never share one (false sharing).
const cacheLine = 64

// counter is a striped counter: adds from different goroutines usually hit
// different cache lines, and the total costs O(stripes) to read. It is exact
// when no add runs concurrently with sum.
type counter struct {
	stripes []counterStripe
	mask    uint32
}

type counterStripe struct {
	n atomic.Int64
	_ [cacheLine - 8]byte // pad to a full line: see cacheLine
}

func newCounter() *counter {
	n := ceilPow2(runtime.GOMAXPROCS(0))
	return &counter{stripes: make([]counterStripe, n), mask: uint32(n - 1)}
}

// add adds delta to a stripe chosen at random: a per-thread random number
// is cheaper than any goroutine identity Go offers, and spreads the adds.
func (c *counter) add(delta int64) {
	c.stripes[rand.Uint32()&c.mask].n.Add(delta)
}

// addAt adds delta to the stripe picked by hint. Callers that count entries
// pass a hint derived from the key, so that an entry's +1 and -1 land on
// the same stripe and each stripe stays a true count of its own entries:
// a sum taken during writes is then off by at most the writes in flight,
// where random stripes drift apart without bound.
func (c *counter) addAt(hint uint64, delta int64) {
	c.stripes[uint32(hint)&c.mask].n.Add(delta)
}

// sum returns the total over all stripes, never less than zero: stripes are
// read one after another, so writes in flight can make a sum taken during
// them come out low.
func (c *counter) sum() int64 {
	var total int64
	for i := range c.stripes {
		total += c.stripes[i].n.Load()
	}
	return max(total, 0)
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

// entry is one key-value pair, copied out of a locked map for iteration.
type entry[K comparable, V any] struct {
	key   K
	value V
}

// entriesOf copies the entries of m, which the caller has locked.
func entriesOf[K comparable, V any](m map[K]V) []entry[K, V] {
	dst := make([]entry[K, V], 0, len(m))
	for k, v := range m {
		dst = append(dst, entry[K, V]{k, v})
	}
	return dst
}

// applyCompute carries out the op that a Compute function returned on m,
// which the caller has locked, and returns Compute's results.
func applyCompute[K comparable, V any](m map[K]V, key K, old V, loaded bool, newValue V, op ComputeOp) (actual V, ok bool) {
	switch op {
	case UpdateOp:
		m[key] = newValue
		return newValue, true
	case DeleteOp:
		delete(m, key)
		var zero V
		return zero, false
	case CancelOp:
		return old, loaded
	}
	panic("safemap: Compute function returned unknown " + op.String())
}

// hasPointers reports whether values of type t hold any pointer the
// garbage collector must trace.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice,
		reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// isIntegerKind reports whether k is a signed or unsigned integer kind:
// keys whose == is bit equality, so that intBits and mixInt may hash them.
func isIntegerKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uintptr
}

// intBits returns the bits of key, which must be of an integer kind (see
// isIntegerKind); for any other K it is never called and returns 0. The
// size switch folds away in each instantiation, leaving one load.
func intBits[K comparable](key K) uint64 {
	p := unsafe.Pointer(&key)
	// Safety: K is an integer type of the size tested, so p points at
	// exactly that many bytes of plain (pointer-free) integer data.
	switch unsafe.Sizeof(key) {
	case 8:
		return *(*uint64)(p)
	case 4:
		return uint64(*(*uint32)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 1:
		return uint64(*(*uint8)(p))
	}
	return 0
}

// stringOf returns key as a string; K must be of string kind. For any
// other K it is never called and returns "" (the size test folds away).
func stringOf[K comparable](key K) string {
	if unsafe.Sizeof(key) != unsafe.Sizeof("") {
		return ""
	}
	// Safety: K's kind is string, so key has a string's layout: a data
	// pointer (which stays visible to the collector) and a length.
	return *(*string)(unsafe.Pointer(&key))
}

// Multipliers of hashString: odd 64-bit constants with evenly mixed bits
// (the ones wyhash uses).
const (
	strMul0 = 0xa0761d6478bd642f
	strMul1 = 0xe7037ed1a0b428db
)

// hashString hashes s with seed. Strings of 8 to 16 bytes, the common map
// key, are hashed in line in the manner of wyhash (as the runtime's own
// fallback hash does): the first and last 8 bytes are read as two words,
// multiplied into 128 bits against the seed, and folded with the length by
// a second multiplication. That is about 20 instructions and no call,
// against about 50 and two calls for maphash.Comparable, which Map.Load of
// a short string spent a third of its instructions in. Shorter strings are
// read as smaller words (hashShort); longer ones go to maphash, whose
// AES-based hash beats two multiplications per 16 bytes.
//
// Map.Load repeats these lines by hand: the compiler will not inline
// hashString into it.
func hashString(seed strSeed, ms maphash.Seed, s string) uint64 {
	switch n := len(s); {
	case n > 16:
		return maphash.Comparable(ms, s)
	case n >= 8:
		a, b := stringWords(s)
		return mixString(seed, a, b, n)
	}
	return hashShort(seed, s)
}

// stringWords returns the first and last 8 bytes of s, which must be 8 to
// 16 bytes long, as two words.
func stringWords(s string) (a, b uint64) {
	p := unsafe.Pointer(unsafe.StringData(s))
	// Safety: 8 <= len(s) <= 16, so the words at 0 and len(s)-8 lie within
	// s. Unaligned reads of pointer-free words are fine on the
	// architectures Go supports; endianness only changes which hash a
	// string gets.
	return *(*uint64)(p), *(*uint64)(unsafe.Add(p, len(s)-8))
}

// hashShort is hashString for strings shorter than 8 bytes, read as two
// 4-byte words or three single bytes.
func hashShort(seed strSeed, s string) uint64 {
	n := len(s)
	var a, b uint64
	if n > 0 {
		p := unsafe.Pointer(unsafe.StringData(s))
		// Safety: each read lies within s's n bytes: for n in [4, 8) the
		// words at 0 and n-4; below 4, bytes 0, n/2 and n-1.
		if n >= 4 {
			a = uint64(*(*uint32)(p))
			b = uint64(*(*uint32)(unsafe.Add(p, n-4)))
		} else {
			a = uint64(*(*byte)(p))<<16 | uint64(*(*byte)(unsafe.Add(p, n>>1)))<<8 | uint64(*(*byte)(unsafe.Add(p, n-1)))
		}
	}
	return mixString(seed, a, b, n)
}

// strSeed is hashString's secret: one word for each of the two words read
// from a string. Both must be secret: a word mixed with a constant could be
// chosen to equal it, zeroing the product for every seed.
type strSeed [2]uint64

// newStrSeed draws a strSeed from a maphash seed.
func newStrSeed(ms maphash.Seed) strSeed {
	return strSeed{maphash.Comparable(ms, uint64(1)), maphash.Comparable(ms, uint64(2))}
}

// mixString mixes the words a and b read from a string of n bytes with
// seed: one 128-bit product of the words, each masked by its secret,
// folded with the length by a second product (wyhash's mixing step).
func mixString(seed strSeed, a, b uint64, n int) uint64 {
	hi, lo := bits.Mul64(a^seed[0], b^seed[1])
	hi, lo = bits.Mul64(lo^strMul0^uint64(n), hi^strMul1)
	return hi ^ lo
}

// mixInt hashes the integer v with seed: the 64-bit finaliser of
// MurmurHash3 applied to v^seed. The finaliser is a bijection that spreads
// every input bit over every output bit, so keys that collide on a table
// index do so only for the seed they were chosen against.
func mixInt(seed, v uint64) uint64 {
	x := v ^ seed
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
