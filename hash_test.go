package safemap

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// newStringHasher returns the hasher a Map[string, V] uses.
func newStringHasher() keyHasher[string] {
	return newMapShared[string, int](options{}).keyHasher
}

// TestHashStringReadsEveryByte flips every bit of every byte of strings of
// 0 to 40 bytes and checks that the hash changes: a byte hashString did not
// read (an off-by-one in the overlapping word reads) would leave it alone.
func TestHashStringReadsEveryByte(t *testing.T) {
	kh := newStringHasher()
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		base := kh.hash(string(buf))
		for i := range buf {
			for bit := range 8 {
				buf[i] ^= 1 << bit
				if kh.hash(string(buf)) == base {
					t.Errorf("len %d: flipping bit %d of byte %d leaves the hash unchanged", n, bit, i)
				}
				buf[i] ^= 1 << bit
			}
		}
	}
	// The length is hashed too: runs of zero bytes must not collide.
	seen := map[uint64]int{}
	for n := 0; n <= 40; n++ {
		h := kh.hash(strings.Repeat("\x00", n))
		if m, ok := seen[h]; ok {
			t.Errorf("%d and %d zero bytes hash alike", m, n)
		}
		seen[h] = n
	}
}

// TestHashStringAvalanche checks that flipping one input bit flips each
// output bit with probability close to 1/2, for every length hashed in
// line (0 to 32 bytes). A weak mix shows as output bits that rarely or
// always flip.
func TestHashStringAvalanche(t *testing.T) {
	kh := newStringHasher()
	rng := rand.New(rand.NewPCG(3, 4))
	const trials = 400
	for n := 1; n <= 32; n++ {
		var flips [64]int
		total := 0
		buf := make([]byte, n)
		for range trials {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			base := kh.hash(string(buf))
			i, bit := rng.IntN(n), rng.IntN(8)
			buf[i] ^= 1 << bit
			d := kh.hash(string(buf)) ^ base
			for o := range 64 {
				flips[o] += int(d >> o & 1)
			}
			total++
		}
		for o, f := range flips {
			// 400 trials: a fair bit flips 200 ± 10 (one sigma) times.
			if p := float64(f) / float64(total); p < 0.35 || p > 0.65 {
				t.Errorf("len %d: output bit %d flips with probability %.2f", n, o, p)
			}
		}
	}
}

// TestHashStringSpread hashes keys shaped like real ones (a prefix and a
// counter) and checks what Map uses of the hash: the table index in the
// low bits must fill buckets like a random function would, and the 7-bit
// tag from the top bits must be uniform.
func TestHashStringSpread(t *testing.T) {
	kh := newStringHasher()
	for _, format := range []string{"user:%08d", "%d", "k%d", "user:%d:profile", "user:%07d:profile", "session-%032d"} {
		checkHashSpread(t, format, func(i int) uint64 { return kh.hash(fmt.Sprintf(format, i)) })
	}
}

// checkHashSpread hashes keys 0 to 99,999 of one shape (hash(i) is key i's
// hash) and checks what Map uses of a hash: the table index in the low
// bits must fill 2^15 buckets like a random function would, and the 7-bit
// tag from the top bits must be uniform.
func checkHashSpread(t *testing.T, shape string, hash func(i int) uint64) {
	t.Helper()
	const n, buckets = 100_000, 1 << 15
	var load [buckets]int
	var tags [128]int
	for i := range n {
		h := hash(i)
		load[h%buckets]++
		tags[h>>57]++
	}
	// Empty buckets: a random function leaves buckets*e^(-n/buckets) of
	// them, with a standard deviation below sqrt of that.
	want := buckets * math.Exp(-float64(n)/buckets)
	empty := 0
	for _, c := range load {
		if c == 0 {
			empty++
		}
	}
	if math.Abs(float64(empty)-want) > 6*math.Sqrt(want) {
		t.Errorf("%s: %d empty buckets of %d; a random hash leaves %.0f", shape, empty, buckets, want)
	}
	// Tags: chi-square over 127 degrees of freedom; 230 is far in the
	// tail (p < 1e-7, so the test does not flake with the random seed),
	// and a hash that ignores a byte scores over 1000.
	exp := float64(n) / 128
	chi := 0.0
	for _, c := range tags {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	if chi > 230 {
		t.Errorf("%s: tag chi-square %.0f over 127 degrees of freedom", shape, chi)
	}
}

// TestHashStringSeeded checks that the hash depends on the map's seed: two
// maps do not share collisions.
func TestHashStringSeeded(t *testing.T) {
	a, b := newStringHasher(), newStringHasher()
	same := 0
	for i := range 1000 {
		for _, s := range []string{fmt.Sprint(i), fmt.Sprintf("user:%08d", i), strings.Repeat("x", i%40)} {
			if a.hash(s) == b.hash(s) {
				same++
			}
		}
	}
	if same > 0 {
		t.Errorf("%d of 3000 strings hash alike under two seeds", same)
	}
}

// TestMapStringKeysEveryLength stores keys of every length around the
// in-line hash's boundaries and reads them back: Load hashes by hand what
// the writers hash through keyHasher, and the two must agree.
func TestMapStringKeysEveryLength(t *testing.T) {
	m := New[string, int]()
	type named string
	mn := New[named, int]()
	var keys []string
	for n := 0; n <= 40; n++ {
		keys = append(keys, strings.Repeat("k", n))
		if n > 0 {
			keys = append(keys, strings.Repeat("\x00", n))
		}
	}
	for i, k := range keys {
		m.Store(k, i)
		mn.Store(named(k), i)
	}
	for i, k := range keys {
		if v, ok := m.Load(k); !ok || v != i {
			t.Errorf("Load(%q) = %d, %v; want %d, true", k, v, ok, i)
		}
		if v, ok := mn.Load(named(k)); !ok || v != i {
			t.Errorf("named Load(%q) = %d, %v; want %d, true", k, v, ok, i)
		}
		if _, ok := m.Load(k + "?"); ok && !containsString(keys, k+"?") {
			t.Errorf("Load(%q) found a key never stored", k+"?")
		}
	}
	if m.Len() != len(keys) {
		t.Errorf("Len = %d; want %d", m.Len(), len(keys))
	}
}

// TestLookup_HashesEveryKeyAsTheWritersDo compares the hash that Load's
// lookup computes by hand (it returns it for a key it does not find) with
// keyHasher.hash, which every writer uses, for keys of every kind lookup
// dispatches on: integers of each size, strings of every length from 0 to
// 40 bytes across the in-line hash's boundaries (and a string-kinded named
// type), and keys hashed by maphash, with the full hash and the one-bit
// hash of WithBadHash (which must leave one bit for every kind).
// TestMapStringKeysEveryLength checks the same through Load results; this
// compares the hashes themselves.
func TestLookup_HashesEveryKeyAsTheWritersDo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for _, opts := range [][]Option{nil, {WithBadHash()}} {
		checkLookupHash(t, New[int64, int](opts...), r.Int64)
		checkLookupHash(t, New[int8, int](opts...), func() int8 { return int8(r.Uint32()) })
		checkLookupHash(t, New[uint32, int](opts...), r.Uint32)
		checkLookupHash(t, New[float64, int](opts...), r.Float64)
		checkLookupHash(t, New[[2]int, int](opts...), func() [2]int { return [2]int{r.Int(), r.Int()} })
		n := 0
		randomString := func() string {
			b := make([]byte, n%41)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			n++
			return string(b)
		}
		checkLookupHash(t, New[string, int](opts...), randomString)
		type named string
		checkLookupHash(t, New[named, int](opts...), func() named { return named(randomString()) })
	}
}

func checkLookupHash[K comparable](t *testing.T, m *Map[K, int], key func() K) {
	t.Helper()
	for i := range 41 * 20 {
		k := key()
		lookupOf := (*lookupAs[forLoad, K, int])(m).lookup // Load's, then a writer's
		if i%2 == 1 {
			lookupOf = m.writerLookup
		}
		_, ok, h := lookupOf(k)
		if ok {
			t.Fatalf("lookup(%#v) on an empty %T found it", k, m)
		}
		if want := m.table.Load().hash(k); h != want {
			t.Fatalf("lookup(%#v) on a %T hashed it to %#x; keyHasher.hash gives %#x", k, m, h, want)
		}
		if m.table.Load().hashMask == 1 && h > 1 {
			t.Fatalf("lookup(%#v) on a %T built WithBadHash hashed it to %#x; want one bit", k, m, h)
		}
	}
}

// TestGrow_PlacesEveryKeyAsTheWritersHashIt grows maps of every key kind
// that growChain hashes its own way (integers of each size, strings of
// every length from 0 to 40 bytes and a string-kinded named type, keys
// hashed by maphash), with the full hash and WithBadHash's one bit, and
// checks that every key lands in the chain and under the tag that
// keyHasher.hash, which every writer and reader uses, gives it, and that
// Load finds it.
func TestGrow_PlacesEveryKeyAsTheWritersHashIt(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 11))
	for _, opts := range [][]Option{nil, {WithBadHash()}} {
		checkGrowHash(t, New[int64, int](opts...), r.Int64)
		checkGrowHash(t, New[int8, int](opts...), func() int8 { return int8(r.Uint32()) })
		checkGrowHash(t, New[uint32, int](opts...), r.Uint32)
		checkGrowHash(t, New[float64, int](opts...), r.Float64)
		checkGrowHash(t, New[[2]int, int](opts...), func() [2]int { return [2]int{r.Int(), r.Int()} })
		n := 0
		randomString := func() string {
			b := make([]byte, n%41)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			n++
			return string(b)
		}
		checkGrowHash(t, New[string, int](opts...), randomString)
		type named string
		checkGrowHash(t, New[named, int](opts...), func() named { return named(randomString()) })
	}
}

// checkGrowHash stores keys drawn from key in m, doubles m's table and
// checks where each key landed.
func checkGrowHash[K comparable](t *testing.T, m *Map[K, int], key func() K) {
	t.Helper()
	want := map[K]int{}
	for i := range 41 * 20 {
		k := key()
		m.Store(k, i)
		want[k] = i
	}
	m.resizeMu.Lock()
	old := m.table.Load()
	m.moveTable(old, 2*len(old.buckets), false) // a growth, whatever the load
	m.resizeMu.Unlock()
	nt := m.table.Load()
	if len(nt.buckets) != 2*len(old.buckets) {
		t.Fatalf("%T: the table has %d chains after doubling %d", m, len(nt.buckets), len(old.buckets))
	}
	found := 0
	for i := range nt.buckets {
		b, hd := &nt.buckets[i], &nt.heads[i]
		for c := b; c != nil; c = nt.ovf.next(c) {
			meta := b.tags(hd, c).Load()
			for used := matchUsed(meta); used != 0; used &= used - 1 {
				j := slotIndex(used)
				k := c.slots[j].key
				h := nt.hash(k)
				if h&nt.mask != uint64(i) || slotByte(meta, j) != h2(h) {
					t.Fatalf("%T: key %#v is in chain %d under tag %#x; its hash %#x puts it in chain %d under tag %#x",
						m, k, i, slotByte(meta, j), h, h&nt.mask, h2(h))
				}
				found++
			}
		}
	}
	if found != len(want) {
		t.Fatalf("%T: the grown table holds %d keys; %d were stored", m, found, len(want))
	}
	for k, v := range want {
		if got, ok := m.Load(k); !ok || got != v {
			t.Fatalf("%T: Load(%#v) after the growth = %d, %v; want %d, true", m, k, got, ok, v)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkHashString compares hashString with maphash, which Map used for
// strings before.
func BenchmarkHashString(b *testing.B) {
	kh := newStringHasher()
	seed := maphash.MakeSeed()
	for _, n := range []int{4, 13, 16, 20, 32, 40} {
		s := strings.Repeat("a", n)
		b.Run(fmt.Sprintf("hash=hashString/len=%d", n), func(b *testing.B) {
			var x uint64
			for range b.N {
				x += hashString(kh.strSeed, kh.seed, s)
			}
			sinkHash = x
		})
		b.Run(fmt.Sprintf("hash=maphash.Comparable/len=%d", n), func(b *testing.B) {
			var x uint64
			for range b.N {
				x += maphash.Comparable(seed, s)
			}
			sinkHash = x
		})
	}
}

var sinkHash uint64

// TestHashStringNoSeedIndependentCollisions feeds hashString words chosen
// against its constants: if a word were mixed with a constant rather than
// a secret, a first word equal to that constant would zero the product and
// make every string that starts with it collide, whatever the seed (a
// hash-flooding attack needs no more).
func TestHashStringNoSeedIndependentCollisions(t *testing.T) {
	kh := newStringHasher()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []uint64{strMul0, strMul1, 0} {
		seen := map[uint64]bool{}
		for range 1000 {
			var buf [16]byte
			binary.LittleEndian.PutUint64(buf[:8], c)
			binary.LittleEndian.PutUint64(buf[8:], rng.Uint64())
			for _, s := range []string{string(buf[:]), string(buf[8:]) + string(buf[:8])} {
				seen[kh.hash(s)] = true
			}
		}
		if len(seen) < 1990 {
			t.Errorf("words %#x: 2000 strings give %d hashes", c, len(seen))
		}
	}
}

// TestHashStringNoSeedIndependentCollisionsLong is the same attack on the
// strings of 17 to 32 bytes that mixLong hashes from four words, two pairs:
// one word is set to a constant of the hash (or zero), its partner in the
// pair varies and every other byte stays put, at every length. If that word
// were mixed with the constant rather than a secret, the pair's product
// would be zero whatever the partner, and the strings would collide for
// every seed.
func TestHashStringNoSeedIndependentCollisionsLong(t *testing.T) {
	kh := newStringHasher()
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 17; n <= 32; n++ {
		offs := []int{0, 8, n - 16, n - 8} // the words read: a, b, c, d
		partner := []int{1, 0, 3, 2}
		base := make([]byte, n)
		for i := range base {
			base[i] = byte(rng.Uint32())
		}
		for w, off := range offs {
			for _, c := range []uint64{strMul0, strMul1, 0, ^uint64(0)} {
				seen := map[uint64]bool{}
				const strings = 1000
				buf := make([]byte, n)
				for range strings {
					copy(buf, base)
					binary.LittleEndian.PutUint64(buf[offs[partner[w]]:], rng.Uint64())
					binary.LittleEndian.PutUint64(buf[off:], c)
					seen[kh.hash(string(buf))] = true
				}
				if len(seen) < strings-2 {
					t.Errorf("len %d, word %d = %#x: %d strings give %d hashes", n, w, c, strings, len(seen))
				}
			}
		}
	}
}

// chainLoad returns the number of entries in the longest chain of m's
// current table.
func chainLoad[K comparable, V any](m *Map[K, V]) int {
	t := m.table.Load()
	longest := 0
	for i := range t.buckets {
		b, hd, n := &t.buckets[i], &t.heads[i], 0
		for c := b; c != nil; c = t.ovf.next(c) {
			n += bits.OnesCount64(b.tags(hd, c).Load() & metaMSB & metaSlots)
		}
		longest = max(longest, n)
	}
	return longest
}

// TestMap_CraftedKeysDoNotPileUpInOneChain is the hash-flooding attack: keys
// chosen so that they all land in one chain, against a hash the attacker
// knows. Map's hashes are seeded per map, so the attacker's best is to learn
// one map's seed and craft keys against it; in any other map they must
// spread like any keys. (An unseeded hash puts all of them in one chain:
// a peer took 425 ms to insert 20,000 such keys.) Keys of every kind Map
// hashes its own way are tried: integers, strings of 8-16 and 17-32 bytes,
// and longer strings.
func TestMap_CraftedKeysDoNotPileUpInOneChain(t *testing.T) {
	const keys, chainBits = 2000, 9 // all in one of 512 chains, against the leaked seed
	craft := func(hash func(int) uint64) []int {
		var found []int
		for i := 0; len(found) < keys; i++ {
			if hash(i)&(1<<chainBits-1) == 0 {
				found = append(found, i)
			}
		}
		return found
	}
	t.Run("int64", func(t *testing.T) {
		leaked := newMapShared[int64, int](options{}).keyHasher
		m := New[int64, int]()
		for _, i := range craft(func(i int) uint64 { return leaked.hash(int64(i)) }) {
			m.Store(int64(i), i)
		}
		if got := chainLoad(m); got > 24 {
			t.Errorf("longest chain holds %d of %d crafted keys; want it short", got, keys)
		}
	})
	for _, format := range []string{"user:%07d", "user:%07d:profile", "session:%032d"} {
		t.Run(format, func(t *testing.T) {
			leaked := newStringHasher()
			m := New[string, int]()
			for _, i := range craft(func(i int) uint64 { return leaked.hash(fmt.Sprintf(format, i)) }) {
				m.Store(fmt.Sprintf(format, i), i)
			}
			if got := chainLoad(m); got > 24 {
				t.Errorf("longest chain holds %d of %d crafted keys; want it short", got, keys)
			}
		})
	}
}

// TestMixIntAvalanche checks that flipping one bit of an integer key flips
// each output bit of mixInt with probability close to 1/2, for every input
// bit position (TestHashStringAvalanche's check, for integer keys).
func TestMixIntAvalanche(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seed := rng.Uint64()
	const trials = 400
	for in := range 64 {
		var flips [64]int
		for range trials {
			v := rng.Uint64()
			d := mixInt(seed, v) ^ mixInt(seed, v^1<<in)
			for o := range 64 {
				flips[o] += int(d >> o & 1)
			}
		}
		for o, f := range flips {
			if p := float64(f) / trials; p < 0.35 || p > 0.65 {
				t.Errorf("input bit %d: output bit %d flips with probability %.2f", in, o, p)
			}
		}
	}
}

// TestMixIntSpread hashes integer keys shaped like real ones (a counter, a
// counter with a stride, ids in the high bits, negative ids) and checks
// what Map uses of the hash: the table index in the low bits must fill
// buckets like a random function would, and the tag from the top bits
// must be uniform (TestHashStringSpread's bounds).
func TestMixIntSpread(t *testing.T) {
	seed := rand.Uint64()
	for _, c := range []struct {
		name string
		key  func(i int) uint64
	}{
		{"i", func(i int) uint64 { return uint64(i) }},
		{"i<<12 (a stride of 4096)", func(i int) uint64 { return uint64(i) << 12 }},
		{"i<<44 (the high bits only)", func(i int) uint64 { return uint64(i) << 44 }},
		{"-i", func(i int) uint64 { return uint64(-i) }},
		{"a timestamp in ns, a millisecond apart", func(i int) uint64 { return 1_700_000_000_000_000_000 + uint64(i)*1_000_000 }},
	} {
		checkHashSpread(t, c.name, func(i int) uint64 { return mixInt(seed, c.key(i)) })
	}
}
