package safemap

import (
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
// a small table or for keys that hold pointers.
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

	small := New[int64, int64]()
	strs := New[string, int64](WithCapacity(1 << 18))
	for i := range int64(1000) {
		small.Store(i, i)
		strs.Store(string(rune('a'+i%26))+string(rune(i)), i)
	}
	for range 100 {
		for i := range int64(1000) {
			small.Load(i)
			strs.Load(string(rune('a'+i%26)) + string(rune(i)))
		}
	}
	if eager, ok := eagerOf(small); eager || ok {
		t.Errorf("a small table: eager=%v eagerOK=%v; want both false", eager, ok)
	}
	if eager, ok := eagerOf(strs); eager || ok {
		t.Errorf("string keys: eager=%v eagerOK=%v; want both false", eager, ok)
	}
}

// TestMap_EagerLoadsStayCorrectUnderWrites runs readers on an eager table
// while writers overwrite, delete and re-insert keys: every hit must
// return a value some writer stored for that key.
func TestMap_EagerLoadsStayCorrectUnderWrites(t *testing.T) {
	const n = 150_000
	m := New[int64, int64](WithCapacity(1 << 18))
	for i := range int64(n) {
		m.Store(i, i<<20)
	}
	for i := range int64(100_000) {
		m.Load(i)
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
					if gen%3 == 0 {
						m.Delete(i)
					} else {
						m.Store(i, i<<20|gen&(1<<20-1))
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
					if v, ok := m.Load(i); ok && v>>20 != i {
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
