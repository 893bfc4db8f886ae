package safemap

import (
	"hash/maphash"
	"math/bits"
	"reflect"
	"unsafe"
)

// This file holds every hash function of Map: keyHasher, which picks one
// by the key's kind, the in-line integer and string hashes, and the
// unsafe views of a key they read. Every hash is seeded per map.

// keyHasher hashes keys, seeded per map so that nobody who does not know
// the seed can choose keys that collide.
type keyHasher[K comparable] struct {
	intKey   bool    // K is an integer kind: hash it with mixInt
	strKey   bool    // K is a string kind: hash it with hashString
	intSeed  uint64  // seed of mixInt, drawn from seed
	strSeed  strSeed // seed of hashString, drawn from seed
	hashMask uint64  // all ones, or fewer bits to degrade the hash in tests (then intKey and strKey are false)
	seed     maphash.Seed
}

// hash returns key's hash.
func (kh *keyHasher[K]) hash(key K) uint64 {
	if kh.intKey {
		return kh.intHash(intBits(key))
	}
	return kh.hashAny(key)
}

// hashAny hashes keys of every other type (outlined so that hash can be
// inlined for integer keys).
func (kh *keyHasher[K]) hashAny(key K) uint64 {
	if kh.strKey {
		return kh.strHash(stringOf(key))
	}
	return maphash.Comparable(kh.seed, key) & kh.hashMask
}

// intHash is hash for a K of integer kind (intKey), given the key's bits
// (intBits). It is small enough for the compiler to inline into the
// loops that cannot afford a call per key (Load's lookup, a growing
// resize), which hash, a call from there, is not; so every integer key is
// hashed by these lines alone. (It takes the bits rather than the key
// because a call to the generic intBits from here would cost each caller
// a load of its dictionary, inlined or not.)
func (kh *keyHasher[K]) intHash(bits uint64) uint64 {
	return mixInt(kh.intSeed, bits)
}

// strHash is hash for a K of string kind (strKey), given the key as a
// string (stringOf): one call, to hashString, where hash makes three.
func (kh *keyHasher[K]) strHash(s string) uint64 {
	return hashString(kh.strSeed, kh.seed, s)
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

// hashString hashes s with seed. Strings of up to 32 bytes, the common map
// keys, are hashed in line in the manner of wyhash (as the runtime's own
// fallback hash does): strings of 8 to 16 bytes are read as two words (the
// first and last 8 bytes), multiplied into 128 bits against the seed, and
// folded with the length by a second multiplication; strings of 17 to 32
// bytes as four (the first and last 16 bytes), two products folded by a
// third (mixLong). That is a few instructions in line, where
// maphash.Comparable makes two calls (BENCHMARKS.md counts both). Shorter
// strings are read as smaller words (hashShort); longer ones go to maphash,
// whose AES-based hash beats two multiplications per 16 bytes.
//
// Map.Load repeats these lines by hand: the compiler will not inline
// hashString into it, and calling it costs a string Load about 50
// instructions of 180. TestLookup_HashesEveryKeyAsTheWritersDo fails if
// the two disagree on any key.
func hashString(seed strSeed, ms maphash.Seed, s string) uint64 {
	switch n := len(s); {
	case uint(n-8) <= 16-8: // one comparison for 8 <= n <= 16
		a, b := stringWords(s)
		return mixString(seed, a, b, n)
	case uint(n-17) <= 32-17:
		a, b, c, d := stringWords32(s)
		return mixLong(seed, a, b, c, d, n)
	case n > 32:
		return maphash.Comparable(ms, s)
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

// stringWords32 returns the first and last 16 bytes of s, which must be 17
// to 32 bytes long, as four words.
func stringWords32(s string) (a, b, c, d uint64) {
	p := unsafe.Pointer(unsafe.StringData(s))
	q := unsafe.Add(p, len(s)-16)
	// Safety: 16 < len(s) <= 32, so the words at 0, 8, len(s)-16 and
	// len(s)-8 lie within s (see stringWords).
	return *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8)), *(*uint64)(q), *(*uint64)(unsafe.Add(q, 8))
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

// strSeed is hashString's secret: one word for each of the (up to four)
// words read from a string. All must be secret: a word mixed with a
// constant could be chosen to equal it, zeroing the product for every
// seed.
type strSeed [4]uint64

// newStrSeed draws a strSeed from a maphash seed.
func newStrSeed(ms maphash.Seed) strSeed {
	var s strSeed
	for i := range s {
		s[i] = maphash.Comparable(ms, uint64(i+1))
	}
	return s
}

// mixString mixes the words a and b read from a string of n bytes with
// seed: one 128-bit product of the words, each masked by its secret,
// folded with the length by a second product (wyhash's mixing step).
func mixString(seed strSeed, a, b uint64, n int) uint64 {
	hi, lo := bits.Mul64(a^seed[0], b^seed[1])
	hi, lo = bits.Mul64(lo^strMul0^uint64(n), hi^strMul1)
	return hi ^ lo
}

// mixLong mixes the words a, b (the first 16 bytes) and c, d (the last 16)
// of a string of n bytes, 17 to 32, with seed: a 128-bit product of each
// pair, every word masked by its own secret, folded, and the two folded
// together with the length by a third product. Every input word reaches
// the output through a product with a secret-masked partner, so no choice
// of words zeroes a product for every seed.
func mixLong(seed strSeed, a, b, c, d uint64, n int) uint64 {
	hi0, lo0 := bits.Mul64(a^seed[0], b^seed[1])
	hi1, lo1 := bits.Mul64(c^seed[2], d^seed[3])
	hi, lo := bits.Mul64(hi0^lo0^strMul0^uint64(n), hi1^lo1^strMul1)
	return hi ^ lo
}

// mixInt hashes the integer v with seed: v^seed multiplied into 128 bits
// by an odd constant and the halves folded, then the fold multiplied and
// folded again (wyhash's mixing step, as mixString's, and the way xsync
// hashes integers). The products carry every input bit to every output
// bit (TestMixIntAvalanche), and v is masked by the secret seed before
// any product, so which keys collide depends on the seed. It is not a
// bijection: two keys not chosen knowing the seed share a full hash with
// probability about 2^-64. It replaced MurmurHash3's finaliser, which
// costs six more instructions a hash (docs/design.md, "Hashing").
func mixInt(seed, v uint64) uint64 {
	hi, lo := bits.Mul64(v^seed, strMul0)
	hi, lo = bits.Mul64(hi^lo, strMul1)
	return hi ^ lo
}
