package safemap

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// eagerOf reports whether m's current table reads buckets eagerly.
func eagerOf[K comparable, V any](m *Map[K, V]) (eager, ok bool) {
	t := m.table.Load()
	return t.eager.Load(), t.eagerOK
}

// TestMap_EagerFollowsTheHitRate checks the switch behind Load's early
// bucket read: on in a large table of plain keys once Loads mostly hit,
// off again once they mostly miss, kept across a resize, and never on for
// a small table or for keys that hold pointers other than strings.
func TestMap_EagerFollowsTheHitRate(t *testing.T) {
	const n = 200_000
	m := New[int64, int64](WithCapacity(1 << 18))
	for i := range int64(n) {
		m.Store(i, 2*i)
	}
	if eager, ok := eagerOf(m); !ok || eager {
		t.Fatalf("a fresh table of %d chains: eager=%v eagerOK=%v; want false, true", MapBuckets(m), eager, ok)
	}
	loads := func(from int64) {
		for i := range int64(100_000) {
			m.Load(from + i)
		}
	}
	loads(0) // hits
	if eager, _ := eagerOf(m); !eager {
		t.Fatal("100k hits did not turn eager on")
	}
	loads(n) // misses
	if eager, _ := eagerOf(m); eager {
		t.Fatal("100k misses did not turn eager off")
	}
	loads(0)
	before := MapBuckets(m)
	for i := int64(n); i < 3*n; i++ {
		m.Store(i, 2*i)
	}
	if MapBuckets(m) <= before {
		t.Fatalf("setup: the table did not grow (%d buckets)", before)
	}
	if eager, _ := eagerOf(m); !eager {
		t.Error("eager was not carried into the grown table")
	}

	type boxed struct{ s string } // a key holding a pointer, not a string
	small := New[int64, int64]()
	smallStrs := New[string, int64]()
	strs := New[string, int64](WithCapacity(eagerMinChains * slotsPerBucket / 2))
	ptrs := New[boxed, int64](WithCapacity(1 << 18))
	key := func(i int64) string { return string(rune('a'+i%26)) + string(rune(i)) }
	for i := range int64(1000) {
		small.Store(i, i)
		smallStrs.Store(key(i), i)
		ptrs.Store(boxed{key(i)}, i)
	}
	for range 100 {
		for i := range int64(1000) {
			small.Load(i)
			smallStrs.Load(key(i))
			ptrs.Load(boxed{key(i)})
		}
	}
	// Loads are sampled by hash bits (1 in sampleMask+1 keys, by the map's
	// seed), so the table that must turn eager gets enough keys that some
	// are sampled whatever the seed. With 1000 keys no key is sampled for
	// about 2 % of seeds ((255/256)^1000), eager stays off, and the test
	// failed so in a CI run; with 20,000 the odds are e^-78.
	const strKeys = 20_000
	for i := range int64(strKeys) {
		strs.Store(key(i), i)
	}
	for range 10 {
		for i := range int64(strKeys) {
			strs.Load(key(i))
		}
	}
	if eager, ok := eagerOf(small); eager || ok {
		t.Errorf("a small table: eager=%v eagerOK=%v; want both false", eager, ok)
	}
	if eager, ok := eagerOf(smallStrs); eager || ok {
		t.Errorf("a small table of string keys: eager=%v eagerOK=%v; want both false", eager, ok)
	}
	if eager, ok := eagerOf(strs); !eager || !ok {
		t.Errorf("string keys in %d chains, all hits: eager=%v eagerOK=%v; want both true", MapBuckets(strs), eager, ok)
	}
	if eager, ok := eagerOf(ptrs); eager || ok {
		t.Errorf("keys holding a pointer: eager=%v eagerOK=%v; want both false", eager, ok)
	}
}

// TestMap_EagerLoadsStayCorrectUnderWrites runs readers on an eager table
// while writers overwrite, delete and re-insert keys, some through
// LoadOrStore and LoadOrCompute, whose lookups read ahead too: every hit,
// and every value those writers return, must be a value some writer
// stored for that key. The early reads of a slot race with the writers of
// that slot: their values must never matter.
func TestMap_EagerLoadsStayCorrectUnderWrites(t *testing.T) {
	t.Run("int64", func(t *testing.T) {
		testEagerLoadsUnderWrites(t, func(i int64) int64 { return i })
	})
	t.Run("string", func(t *testing.T) {
		keys := make([]string, 150_000)
		for i := range keys {
			keys[i] = fmt.Sprintf("user:%d:profile", i)
		}
		testEagerLoadsUnderWrites(t, func(i int64) string { return keys[i] })
	})
}

func testEagerLoadsUnderWrites[K comparable](t *testing.T, key func(int64) K) {
	const n = 150_000
	m := New[K, int64](WithCapacity(1 << 18))
	for i := range int64(n) {
		m.Store(key(i), i<<20)
	}
	for i := range int64(100_000) {
		m.Load(key(i))
	}
	if eager, _ := eagerOf(m); !eager {
		t.Fatal("setup: eager is off")
	}
	var stop atomic.Bool
	var writers, readers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for gen := int64(1); !stop.Load(); gen++ {
				for i := int64(w); i < n; i += 97 {
					v := i<<20 | gen&(1<<20-1)
					switch gen % 4 {
					case 0:
						m.Delete(key(i))
					case 1:
						m.Store(key(i), v)
					case 2: // the writers whose lookup reads ahead (readRoot)
						if got, _ := m.LoadOrStore(key(i), v); got>>20 != i {
							t.Errorf("LoadOrStore(%d) = %#x: a value stored for key %d", i, got, got>>20)
						}
					default:
						if got, _ := m.LoadOrCompute(key(i), func() int64 { return v }); got>>20 != i {
							t.Errorf("LoadOrCompute(%d) = %#x: a value stored for key %d", i, got, got>>20)
						}
					}
				}
			}
		}()
	}
	var bad atomic.Int64
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for round := range rounds {
				for i := int64(r + round); i < n; i++ {
					if v, ok := m.Load(key(i)); ok && v>>20 != i {
						if bad.Add(1) < 5 {
							t.Errorf("Load(%d) = %#x: a value stored for key %d", i, v, v>>20)
						}
					}
				}
			}
		}()
	}
	readers.Wait()
	stop.Store(true)
	writers.Wait()
}

// TestMap_EagerIsAllowedOnceInt64BucketsOutgrowL2 pins where early reads
// start for plain keys: BenchmarkMixed's table (90k int64 keys, grown by
// inserts to 2^15 chains, 4 MB of buckets) allows them, which moved that
// row (BENCHMARKS.md, "Issue 22: early reads for the mixed row's table");
// a table of 40k keys (2^13 chains, 1 MB of buckets) does not.
func TestMap_EagerIsAllowedOnceInt64BucketsOutgrowL2(t *testing.T) {
	grown := func(n int64) *Map[int64, int64] {
		m := New[int64, int64]()
		for i := range n {
			m.Store(i, i)
		}
		return m
	}
	large, small := grown(90_000), grown(40_000)
	if _, ok := eagerOf(large); !ok {
		t.Errorf("90k int64 keys in %d chains: eagerOK=false; want true", MapBuckets(large))
	}
	if _, ok := eagerOf(small); ok {
		t.Errorf("40k int64 keys in %d chains: eagerOK=true; want false", MapBuckets(small))
	}
}

// TestMap_WritersReadAheadOnceBucketsOutgrowL2 pins where a writer's
// lookup starts fetching the root bucket together with the head (ahead,
// readRoot): in every table of eagerMinChains chains or more, for any key
// type (a writer reads or writes a slot of that bucket whatever comparing
// keys reads), and in no smaller table, on each table a map grows through.
func TestMap_WritersReadAheadOnceBucketsOutgrowL2(t *testing.T) {
	m := New[int64, int64]()
	checked := map[int]bool{}
	for i := range int64(eagerMinChains * slotsPerBucket) {
		m.Store(i, i)
		tb := m.table.Load()
		if n := len(tb.buckets); !checked[n] {
			checked[n] = true
			if want := n >= eagerMinChains; tb.ahead != want {
				t.Errorf("a table of %d chains: ahead=%v; want %v", n, tb.ahead, want)
			}
		}
	}
	if MapBuckets(m) < eagerMinChains {
		t.Fatalf("setup: %d keys grew the map to %d chains only", eagerMinChains*slotsPerBucket, MapBuckets(m))
	}
	// Pointer keys: never eager (comparing them is not all a hit reads), but ahead.
	ptrs := New[*int64, int64](WithCapacity(eagerMinChains * slotsPerBucket / 2))
	if tb := ptrs.table.Load(); !tb.ahead || tb.eagerOK {
		t.Errorf("keys holding a pointer in %d chains: ahead=%v eagerOK=%v; want true, false", len(tb.buckets), tb.ahead, tb.eagerOK)
	}
}
