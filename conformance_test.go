package safemap_test

// The conformance suite: every test here runs once per strategy and variant
// (see impls in impls_test.go) and checks the contract of
// safemap.ConcurrentMap. This file holds the suite's helpers, the stress
// tests and the Range, Len, Clear and CompareAndSwap checks; the model
// oracle, which checks every operation against a model of the contract, is
// in oracle_test.go; conformance_compute_test.go covers LoadOrCompute,
// LoadOrTryCompute and Compute, and conformance_keys_test.go the key
// semantics (signed zeros, NaN, uncomparable keys).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// errConfLoad is the error the suite's failing loaders return.
var errConfLoad = errors.New("conformance: load failed")

// collect returns the entries Range visits, failing the test if a key is
// visited twice.
func collect[K comparable, V any](t testing.TB, m safemap.ConcurrentMap[K, V]) map[K]V {
	t.Helper()
	got := make(map[K]V)
	m.Range(func(k K, v V) bool {
		if _, dup := got[k]; dup {
			t.Errorf("Range visited key %v twice", k)
		}
		got[k] = v
		return true
	})
	return got
}

// collectAll is collect for All.
func collectAll[K comparable, V any](t testing.TB, m safemap.ConcurrentMap[K, V]) map[K]V {
	t.Helper()
	got := make(map[K]V)
	for k, v := range m.All() {
		if _, dup := got[k]; dup {
			t.Errorf("All yielded key %v twice", k)
		}
		got[k] = v
	}
	return got
}

// checkContents fails the test unless Len, Range, All and Load all agree
// with want. The map must be quiescent.
func checkContents[K comparable](t testing.TB, m safemap.ConcurrentMap[K, int], want map[K]int) {
	t.Helper()
	if got := m.Len(); got != len(want) {
		t.Errorf("Len(): got %d; want %d", got, len(want))
	}
	if got := collect(t, m); !maps.Equal(got, want) {
		t.Errorf("Range: got %v; want %v", got, want)
	}
	if got := collectAll(t, m); !maps.Equal(got, want) {
		t.Errorf("All: got %v; want %v", got, want)
	}
	for k, v := range want {
		if got, ok := m.Load(k); !ok || got != v {
			t.Errorf("Load(%v): got %v, %v; want %v, true", k, got, ok, v)
		}
	}
}

// checkUsable runs every method of the map once on key (absent or not) and
// checks each result, proving that nothing earlier left a lock held or the
// map corrupted. It ends with Clear, so the map is empty afterwards. It
// reports with t.Error, so it may run inside within.
func checkUsable[K comparable](t testing.TB, m safemap.ConcurrentMap[K, int], key K) {
	t.Helper()
	ctx := context.Background()
	noCall := func() int { t.Errorf("LoadOrCompute(%v) called fn for a present key", key); return -1 }
	noTry := func(context.Context) (int, error) {
		t.Errorf("LoadOrTryCompute(%v) called fn for a present key", key)
		return -1, nil
	}
	m.Delete(key)
	if v, ok := m.Load(key); ok {
		t.Errorf("Load(%v) after Delete: got %v, true; want absent", key, v)
	}
	m.Store(key, 1)
	if v, ok := m.Load(key); !ok || v != 1 {
		t.Errorf("Load(%v): got %v, %v; want 1, true", key, v, ok)
	}
	if v, loaded := m.LoadOrStore(key, 2); !loaded || v != 1 {
		t.Errorf("LoadOrStore(%v, 2): got %v, %v; want 1, true", key, v, loaded)
	}
	if v, loaded := m.LoadOrCompute(key, noCall); !loaded || v != 1 {
		t.Errorf("LoadOrCompute(%v): got %v, %v; want 1, true", key, v, loaded)
	}
	if v, loaded, err := m.LoadOrTryCompute(ctx, key, noTry); !loaded || v != 1 || err != nil {
		t.Errorf("LoadOrTryCompute(%v): got %v, %v, %v; want 1, true, <nil>", key, v, loaded, err)
	}
	if v, ok := m.Compute(key, func(old int, loaded bool) (int, safemap.ComputeOp) {
		return old + 1, safemap.UpdateOp
	}); !ok || v != 2 {
		t.Errorf("Compute(%v, +1): got %v, %v; want 2, true", key, v, ok)
	}
	if prev, loaded := m.Swap(key, 5); !loaded || prev != 2 {
		t.Errorf("Swap(%v, 5): got %v, %v; want 2, true", key, prev, loaded)
	}
	if m.CompareAndSwap(key, 4, 7) {
		t.Errorf("CompareAndSwap(%v, 4, 7) with value 5: got true; want false", key)
	}
	if !m.CompareAndSwap(key, 5, 6) {
		t.Errorf("CompareAndSwap(%v, 5, 6) with value 5: got false; want true", key)
	}
	if m.CompareAndDelete(key, 5) {
		t.Errorf("CompareAndDelete(%v, 5) with value 6: got true; want false", key)
	}
	if !m.CompareAndDelete(key, 6) {
		t.Errorf("CompareAndDelete(%v, 6) with value 6: got false; want true", key)
	}
	if v, loaded := m.LoadOrCompute(key, func() int { return 8 }); loaded || v != 8 {
		t.Errorf("LoadOrCompute(%v) of an absent key: got %v, %v; want 8, false", key, v, loaded)
	}
	if v, loaded := m.LoadAndDelete(key); !loaded || v != 8 {
		t.Errorf("LoadAndDelete(%v): got %v, %v; want 8, true", key, v, loaded)
	}
	if v, loaded, err := m.LoadOrTryCompute(ctx, key, func(context.Context) (int, error) {
		return 9, nil
	}); loaded || v != 9 || err != nil {
		t.Errorf("LoadOrTryCompute(%v) of an absent key: got %v, %v, %v; want 9, false, <nil>", key, v, loaded, err)
	}
	seen := 0
	m.Range(func(k K, v int) bool {
		if k == key {
			seen++
			if v != 9 {
				t.Errorf("Range visited %v with %v; want 9", key, v)
			}
		}
		return true
	})
	for k, v := range m.All() {
		if k == key {
			seen++
			if v != 9 {
				t.Errorf("All yielded %v with %v; want 9", key, v)
			}
		}
	}
	if seen != 2 {
		t.Errorf("Range and All visited %v %d times in all; want 2", key, seen)
	}
	if n := m.Len(); n < 1 {
		t.Errorf("Len() with %v present: got %d; want >= 1", key, n)
	}
	m.Clear()
	if n := m.Len(); n != 0 {
		t.Errorf("Len() after Clear: got %d; want 0", n)
	}
	if v, ok := m.Load(key); ok {
		t.Errorf("Load(%v) after Clear: got %v, true; want absent", key, v)
	}
}

// TestZeroAndNilValues_ArePresent proves that a stored zero value or nil is
// present, not absent, for every method.
func TestZeroAndNilValues_ArePresent(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		t.Run("pointer", func(t *testing.T) {
			m := newMap[string, *int](t, im)
			x := new(int)
			noCall := func() *int { t.Error("LoadOrCompute called fn for a key holding nil"); return x }
			m.Store("", nil)
			if v, ok := m.Load(""); !ok || v != nil {
				t.Errorf("Load(\"\") after Store(\"\", nil): got %v, %v; want <nil>, true", v, ok)
			}
			if n := m.Len(); n != 1 {
				t.Errorf("Len(): got %d; want 1", n)
			}
			if v, loaded := m.LoadOrStore("", x); !loaded || v != nil {
				t.Errorf("LoadOrStore(\"\", x): got %v, %v; want <nil>, true", v, loaded)
			}
			if v, loaded := m.LoadOrCompute("", noCall); !loaded || v != nil {
				t.Errorf("LoadOrCompute(\"\"): got %v, %v; want <nil>, true", v, loaded)
			}
			if got := collect(t, m); len(got) != 1 || got[""] != nil {
				t.Errorf("Range: got %v; want map[:<nil>]", got)
			}
			if !m.CompareAndSwap("", nil, x) {
				t.Error("CompareAndSwap(\"\", nil, x) on a key holding nil: got false; want true")
			}
			if v, ok := m.Load(""); !ok || v != x {
				t.Errorf("Load(\"\") after CompareAndSwap: got %v, %v; want %v, true", v, ok, x)
			}
			m.Store("", nil)
			if !m.CompareAndDelete("", nil) {
				t.Error("CompareAndDelete(\"\", nil) on a key holding nil: got false; want true")
			}
			if v, ok := m.Load(""); ok {
				t.Errorf("Load(\"\") after CompareAndDelete: got %v, true; want absent", v)
			}
			if v, loaded := m.LoadOrCompute("a", func() *int { return nil }); loaded || v != nil {
				t.Errorf("LoadOrCompute(a, ->nil): got %v, %v; want <nil>, false", v, loaded)
			}
			if v, loaded := m.LoadOrCompute("a", noCall); !loaded || v != nil {
				t.Errorf("LoadOrCompute(a) after computing nil: got %v, %v; want <nil>, true", v, loaded)
			}
			if v, loaded, err := m.LoadOrTryCompute(context.Background(), "b", func(context.Context) (*int, error) {
				return nil, nil
			}); loaded || v != nil || err != nil {
				t.Errorf("LoadOrTryCompute(b, ->nil): got %v, %v, %v; want <nil>, false, <nil>", v, loaded, err)
			}
			if v, ok := m.Compute("c", func(*int, bool) (*int, safemap.ComputeOp) { return nil, safemap.UpdateOp }); !ok || v != nil {
				t.Errorf("Compute(c, ->nil, UpdateOp): got %v, %v; want <nil>, true", v, ok)
			}
			m.Compute("c", func(old *int, loaded bool) (*int, safemap.ComputeOp) {
				if !loaded || old != nil {
					t.Errorf("Compute(c) on a key holding nil called fn(%v, %v); want fn(<nil>, true)", old, loaded)
				}
				return nil, safemap.CancelOp
			})
			if prev, loaded := m.Swap("c", x); !loaded || prev != nil {
				t.Errorf("Swap(c, x): got %v, %v; want <nil>, true", prev, loaded)
			}
			m.Store("d", nil)
			if v, loaded := m.LoadAndDelete("d"); !loaded || v != nil {
				t.Errorf("LoadAndDelete(d): got %v, %v; want <nil>, true", v, loaded)
			}
			if n := m.Len(); n != 3 { // a, b, c
				t.Errorf("Len(): got %d; want 3", n)
			}
		})
		t.Run("interface", func(t *testing.T) {
			m := newMap[int, any](t, im)
			m.Store(0, nil)
			if v, ok := m.Load(0); !ok || v != nil {
				t.Errorf("Load(0) after Store(0, nil): got %v, %v; want <nil>, true", v, ok)
			}
			if v, loaded := m.LoadOrStore(0, 1); !loaded || v != nil {
				t.Errorf("LoadOrStore(0, 1): got %v, %v; want <nil>, true", v, loaded)
			}
			if !m.CompareAndSwap(0, nil, 1) {
				t.Error("CompareAndSwap(0, nil, 1) on a key holding nil: got false; want true")
			}
			if n := m.Len(); n != 1 {
				t.Errorf("Len(): got %d; want 1", n)
			}
		})
		t.Run("int", func(t *testing.T) {
			m := newMap[int, int](t, im)
			m.Store(0, 0)
			if v, ok := m.Load(0); !ok || v != 0 {
				t.Errorf("Load(0) after Store(0, 0): got %v, %v; want 0, true", v, ok)
			}
			if v, loaded := m.LoadOrStore(0, 1); !loaded || v != 0 {
				t.Errorf("LoadOrStore(0, 1): got %v, %v; want 0, true", v, loaded)
			}
			if got := collect(t, m); !maps.Equal(got, map[int]int{0: 0}) {
				t.Errorf("Range: got %v; want map[0:0]", got)
			}
		})
	})
}

// TestClear_EmptiesMap proves Clear removes every entry and leaves the map
// ready for reuse.
func TestClear_EmptiesMap(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		m.Clear() // on an empty, possibly zero-value, map
		checkContents(t, m, map[int]int{})
		for k := range 100 {
			m.Store(k, k)
		}
		m.Clear()
		checkContents(t, m, map[int]int{})
		for k := range 100 {
			if v, ok := m.Load(k); ok {
				t.Fatalf("Load(%d) after Clear: got %v, true; want absent", k, v)
			}
		}
		want := make(map[int]int)
		for k := range 10 {
			if v, loaded := m.LoadOrStore(k, k+1); loaded {
				t.Fatalf("LoadOrStore(%d) after Clear: got %v, true; want %d, false", k, v, k+1)
			}
			want[k] = k + 1
		}
		checkContents(t, m, want)
		m.Clear()
		m.Clear()
		checkContents(t, m, map[int]int{})
	})
}

// TestRange_StopsEarly proves Range stops when fn returns false and All
// stops when the loop breaks (a yield after break would make the runtime
// panic).
func TestRange_StopsEarly(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		for k := range 20 {
			m.Store(k, k)
		}
		calls := 0
		m.Range(func(k, v int) bool { calls++; return false })
		if calls != 1 {
			t.Errorf("Range with fn returning false: got %d calls; want 1", calls)
		}
		calls = 0
		m.Range(func(k, v int) bool { calls++; return calls < 5 })
		if calls != 5 {
			t.Errorf("Range with fn returning false on the 5th call: got %d calls; want 5", calls)
		}
		calls = 0
		for range m.All() {
			calls++
			if calls == 3 {
				break
			}
		}
		if calls != 3 {
			t.Errorf("All with break on the 3rd entry: got %d iterations; want 3", calls)
		}
		empty := newMap[int, int](t, im)
		empty.Range(func(k, v int) bool { t.Errorf("Range on an empty map visited %d", k); return true })
		for k := range empty.All() {
			t.Errorf("All on an empty map yielded %d", k)
		}
	})
}

// TestRange_CallbackMayCallEveryMethod proves Range and All hold no lock
// while their callback runs: the callback calls every method of the same
// map, including writes to the key being visited and Clear, without
// deadlocking, and each key is still visited at most once.
func TestRange_CallbackMayCallEveryMethod(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		for k := range 10 {
			m.Store(k, k)
		}
		ctx := context.Background()
		visitOne := func(k, v int) {
			if k >= 100 {
				return // a key stored by this callback: a weakly consistent Range may visit it
			}
			m.Load(k)
			m.Store(k, v+1000)
			m.LoadOrStore(k+100, k)
			m.LoadOrCompute(k+200, func() int { return k })
			m.LoadOrTryCompute(ctx, k+300, func(context.Context) (int, error) { return k, nil })
			m.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) { return old + 1, safemap.UpdateOp })
			m.Swap(k+400, k)
			m.CompareAndSwap(k+400, k, k+1)
			m.CompareAndDelete(k+400, k+1)
			m.LoadAndDelete(k + 100)
			m.Delete(k + 200)
			m.Len()
			m.Range(func(int, int) bool { return true })
			for range m.All() {
			}
		}
		testkit.Within(t, "Range whose callback calls every method", func() {
			seen := make(map[int]bool)
			m.Range(func(k, v int) bool {
				if seen[k] {
					t.Errorf("Range visited %d twice", k)
				}
				seen[k] = true
				visitOne(k, v)
				return true
			})
			for k := range 10 {
				if !seen[k] {
					t.Errorf("Range did not visit %d, present before it started and never deleted", k)
				}
			}
		})
		testkit.Within(t, "All whose loop body calls every method", func() {
			seen := make(map[int]bool)
			for k, v := range m.All() {
				if seen[k] {
					t.Errorf("All yielded %d twice", k)
				}
				seen[k] = true
				visitOne(k, v)
			}
		})
		for k := range 10 {
			// Each visit added 1000 and then 1, twice (Range, then All).
			if v, ok := m.Load(k); !ok || v != k+2002 {
				t.Errorf("Load(%d) after Range and All: got %v, %v; want %d, true", k, v, ok, k+2002)
			}
		}
		testkit.Within(t, "Range whose callback calls Clear", func() {
			calls := 0
			m.Range(func(k, v int) bool {
				calls++
				m.Clear()
				return true
			})
			if calls == 0 {
				t.Error("Range over a non-empty map made no calls")
			}
		})
		checkContents(t, m, map[int]int{})
		testkit.Within(t, "checkUsable after Range", func() { checkUsable(t, m, 1) })
	})
}

// TestRange_CallbackPanicLeavesMapUsable proves a panic in the callback of
// Range or in the loop body over All reaches the caller and leaves the map
// usable.
func TestRange_CallbackPanicLeavesMapUsable(t *testing.T) {
	type sentinel struct{ n int }
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		for k := range 10 {
			m.Store(k, k)
		}
		r, panicked := testkit.CatchPanic(func() {
			calls := 0
			m.Range(func(k, v int) bool {
				if calls++; calls == 3 {
					panic(sentinel{1})
				}
				return true
			})
		})
		if !panicked || r != (sentinel{1}) {
			t.Fatalf("Range whose callback panics: got panic %v (panicked=%v); want %v", r, panicked, sentinel{1})
		}
		r, panicked = testkit.CatchPanic(func() {
			for range m.All() {
				panic(sentinel{2})
			}
		})
		if !panicked || r != (sentinel{2}) {
			t.Fatalf("All whose loop body panics: got panic %v (panicked=%v); want %v", r, panicked, sentinel{2})
		}
		want := make(map[int]int)
		for k := range 10 {
			want[k] = k
		}
		testkit.Within(t, "methods after a panic in Range", func() {
			checkContents(t, m, want)
			checkUsable(t, m, 3)
			checkUsable(t, m, 42)
		})
	})
}

// TestRange_ConcurrentWithWritesYieldsEachKeyOnce ranges over the map, with
// Range and All, while other goroutines store and delete its keys, and
// checks that no key is visited twice and every visited value is one stored
// for that key.
func TestRange_ConcurrentWithWritesYieldsEachKeyOnce(t *testing.T) {
	const keys = 64
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		writers := testkit.Goroutines() / 2
		readers := testkit.Goroutines() - writers
		ops := testkit.ShortOr(300, 1500)
		for k := range keys / 2 {
			m.Store(k, k)
		}
		stop := make(chan struct{})
		var rangers, writing sync.WaitGroup
		for g := range readers {
			rangers.Add(1)
			go func() {
				defer rangers.Done()
				name := "Range"
				if g%2 == 1 {
					name = "All"
				}
				check := func(seen map[int]bool, k, v int) {
					if seen[k] {
						t.Errorf("concurrent %s visited key %d twice", name, k)
					}
					seen[k] = true
					if v%keys != k {
						t.Errorf("concurrent %s visited %d with %d, which was never stored for it", name, k, v)
					}
				}
				for {
					seen := make(map[int]bool)
					if g%2 == 0 {
						m.Range(func(k, v int) bool { check(seen, k, v); return true })
					} else {
						for k, v := range m.All() {
							check(seen, k, v)
						}
					}
					select {
					case <-stop:
						return
					default:
						runtime.Gosched() // leave the writers room on few CPUs
					}
				}
			}()
		}
		for g := range writers {
			writing.Add(1)
			go func() {
				defer writing.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for i := range ops {
					k := r.IntN(keys)
					v := (g*ops+i)*keys + k
					switch r.IntN(4) {
					case 0, 1:
						m.Store(k, v)
					case 2:
						m.Delete(k)
					default:
						m.LoadOrCompute(k, func() int { return v })
					}
				}
			}()
		}
		testkit.WithinBulk(t, "goroutines calling Store and Delete", writing.Wait)
		close(stop)
		testkit.WithinBulk(t, "goroutines calling Range and All", rangers.Wait)
	})
}

// TestLen_ExactAfterConcurrentWrites runs phases of concurrent writes from
// many goroutines and checks after each that Len equals the number of
// entries Range and All visit, and equals what a model says.
func TestLen_ExactAfterConcurrentWrites(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		g := testkit.Goroutines()
		const shared = 64
		run := func(f func(g int, r *rand.Rand)) {
			t.Helper()
			var wg sync.WaitGroup
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f(i, rand.New(rand.NewPCG(uint64(i), 11)))
				}()
			}
			testkit.WithinBulk(t, "goroutines writing concurrently", wg.Wait)
		}

		// Every goroutine inserts every shared key, each with a different
		// method: afterwards all shared keys are present.
		run(func(g int, r *rand.Rand) {
			for i, k := range r.Perm(shared) {
				switch (g + i) % 6 {
				case 0:
					m.Store(k, k)
				case 1:
					m.LoadOrStore(k, k)
				case 2:
					m.Compute(k, func(int, bool) (int, safemap.ComputeOp) { return k, safemap.UpdateOp })
				case 3:
					m.Swap(k, k)
				case 4:
					m.LoadOrCompute(k, func() int { return k })
				default:
					m.LoadOrTryCompute(context.Background(), k, func(context.Context) (int, error) { return k, nil })
				}
			}
		})
		want := make(map[int]int)
		for k := range shared {
			want[k] = k
		}
		checkContents(t, m, want)

		// Every goroutine deletes every shared key: afterwards none is left.
		run(func(g int, r *rand.Rand) {
			for i, k := range r.Perm(shared) {
				switch (g + i) % 4 {
				case 0:
					m.Delete(k)
				case 1:
					m.LoadAndDelete(k)
				case 2:
					m.Compute(k, func(int, bool) (int, safemap.ComputeOp) { return 0, safemap.DeleteOp })
				default:
					m.CompareAndDelete(k, k)
				}
			}
		})
		checkContents(t, m, map[int]int{})

		// Each goroutine owns a range of keys and keeps its own model of
		// them, while the others write theirs.
		models := make([]map[int]int, g)
		ops := testkit.ShortOr(200, 2000)
		run(func(g int, r *rand.Rand) {
			model := make(map[int]int)
			for range ops {
				k := 1000*(g+1) + r.IntN(16)
				v := r.IntN(4)
				switch r.IntN(8) {
				case 0:
					m.Store(k, v)
					model[k] = v
				case 1:
					if _, loaded := m.LoadOrStore(k, v); !loaded {
						model[k] = v
					}
				case 2:
					if _, loaded := m.LoadOrCompute(k, func() int { return v }); !loaded {
						model[k] = v
					}
				case 3:
					op := safemap.ComputeOp(r.IntN(3))
					m.Compute(k, func(int, bool) (int, safemap.ComputeOp) { return v, op })
					switch op {
					case safemap.UpdateOp:
						model[k] = v
					case safemap.DeleteOp:
						delete(model, k)
					}
				case 4:
					m.LoadAndDelete(k)
					delete(model, k)
				case 5:
					m.Delete(k)
					delete(model, k)
				case 6:
					if m.CompareAndDelete(k, v) {
						delete(model, k)
					}
				default:
					if m.CompareAndSwap(k, v, v+1) {
						model[k] = v + 1
					}
				}
			}
			models[g] = model
		})
		want = make(map[int]int)
		for _, model := range models {
			maps.Copy(want, model)
		}
		checkContents(t, m, want)

		// Clear races with inserts: whatever survives, Len must match
		// Range, and a final Clear empties the map.
		run(func(g int, r *rand.Rand) {
			for i := range ops {
				k := r.IntN(shared)
				switch {
				case g%4 == 0 && i%16 == 0:
					m.Clear()
				case i%3 == 0:
					m.Delete(k)
				default:
					m.Store(k, k)
				}
			}
		})
		got := collect(t, m)
		if n := m.Len(); n != len(got) {
			t.Errorf("Len() after concurrent Clear and Store: got %d; want %d, the number of entries Range visits", n, len(got))
		}
		for k, v := range got {
			if k != v {
				t.Errorf("Range after concurrent Clear and Store visited %d with %d; want %d", k, v, k)
			}
		}
		m.Clear()
		checkContents(t, m, map[int]int{})
	})
}

// TestConcurrentMap_StressKeepsInvariants runs four goroutines per P doing
// random operations of every kind on a small key space, checking what it
// can while they run (no key visited twice, every value belongs to its
// key), and afterwards, with the map quiescent, that Len equals the number
// of entries Range visits and every value present is one some goroutine
// stored for that key.
func TestConcurrentMap_StressKeepsInvariants(t *testing.T) {
	const keys = 16
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		g := testkit.Goroutines()
		ops := testkit.ShortOr(500, 8000)
		stored := make([]map[int]bool, g)
		var wg sync.WaitGroup
		for id := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(id), 13))
				mine := make(map[int]bool)
				seq := 0
				// fresh returns a value no goroutine stored before, encoding k.
				fresh := func(k int) int {
					seq++
					v := ((id*ops*4+seq)*keys + k)
					mine[v] = true
					return v
				}
				checkValue := func(what string, k, v int, ok bool) {
					if ok && v%keys != k {
						t.Errorf("%s(%d) returned %d, which was never stored for key %d", what, k, v, k)
					}
				}
				ctx := context.Background()
				for i := range ops {
					k := r.IntN(keys)
					switch r.IntN(16) {
					case 0:
						v, ok := m.Load(k)
						checkValue("Load", k, v, ok)
					case 1:
						m.Store(k, fresh(k))
					case 2:
						v, _ := m.LoadOrStore(k, fresh(k))
						checkValue("LoadOrStore", k, v, true)
					case 3:
						v, _ := m.LoadOrCompute(k, func() int { return fresh(k) })
						checkValue("LoadOrCompute", k, v, true)
					case 4:
						fails := i%3 == 0
						v, _, err := m.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
							if fails {
								return 0, errConfLoad
							}
							return fresh(k), nil
						})
						checkValue("LoadOrTryCompute", k, v, err == nil)
						if err != nil && !errors.Is(err, errConfLoad) {
							t.Errorf("LoadOrTryCompute(%d): got error %v; want %v or nil", k, err, errConfLoad)
						}
					case 5:
						op := safemap.ComputeOp(r.IntN(3))
						v, ok := m.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) {
							checkValue("Compute's fn argument", k, old, loaded)
							if op == safemap.UpdateOp {
								return fresh(k), op
							}
							return 0, op
						})
						checkValue("Compute", k, v, ok)
					case 6:
						v, loaded := m.Swap(k, fresh(k))
						checkValue("Swap", k, v, loaded)
					case 7:
						if v, ok := m.Load(k); ok {
							m.CompareAndSwap(k, v, fresh(k))
						}
					case 8:
						if v, ok := m.Load(k); ok {
							m.CompareAndDelete(k, v)
						}
					case 9:
						v, loaded := m.LoadAndDelete(k)
						checkValue("LoadAndDelete", k, v, loaded)
					case 10:
						m.Delete(k)
					case 11:
						seen := make(map[int]bool)
						m.Range(func(k, v int) bool {
							if seen[k] {
								t.Errorf("concurrent Range visited %d twice", k)
							}
							seen[k] = true
							checkValue("Range", k, v, true)
							return r.IntN(8) != 0
						})
					case 12:
						seen := make(map[int]bool)
						for k, v := range m.All() {
							if seen[k] {
								t.Errorf("concurrent All yielded %d twice", k)
							}
							seen[k] = true
							checkValue("All", k, v, true)
						}
					case 13:
						m.Len() // not exact while writes run: checked once quiescent
					case 14:
						if i%64 == 0 {
							m.Clear()
						}
					default:
						m.CompareAndSwap(k, fresh(k), fresh(k)) // never matches
					}
				}
				stored[id] = mine
			}()
		}
		testkit.WithinBulk(t, "goroutines doing random operations", wg.Wait)

		all := make(map[int]bool)
		for _, s := range stored {
			maps.Copy(all, s)
		}
		got := collect(t, m)
		if n := m.Len(); n != len(got) {
			t.Errorf("Len() when quiescent: got %d; want %d, the number of entries Range visits", n, len(got))
		}
		if gotAll := collectAll(t, m); !maps.Equal(gotAll, got) {
			t.Errorf("All when quiescent: got %v; want %v, what Range visits", gotAll, got)
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			v := got[k]
			if !all[v] || v%keys != k {
				t.Errorf("Range when quiescent visited %d with %d, which no goroutine stored for it", k, v)
			}
			if lv, ok := m.Load(k); !ok || lv != v {
				t.Errorf("Load(%d) when quiescent: got %v, %v; want %v, true (what Range visited)", k, lv, ok, v)
			}
		}
		for k := range keys {
			if _, inRange := got[k]; !inRange {
				if v, ok := m.Load(k); ok {
					t.Errorf("Load(%d) when quiescent: got %v, true; want absent, as Range did not visit it", k, v)
				}
			}
		}
	})
}

// TestCompareAndSwap_PanicsForUncomparableValueType proves CompareAndSwap
// and CompareAndDelete panic with a "safemap: " message when V is not
// comparable, whether or not the key is present, and that the map stays
// usable.
func TestCompareAndSwap_PanicsForUncomparableValueType(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, []int](t, im)
		m.Store(1, []int{1})
		for _, k := range []int{1, 2} {
			testkit.MustPanicWith(t, fmt.Sprintf("CompareAndSwap(%d) with V=[]int", k), func() { m.CompareAndSwap(k, []int{1}, []int{2}) }, "safemap: ")
			testkit.MustPanicWith(t, fmt.Sprintf("CompareAndSwap(%d, nil) with V=[]int", k), func() { m.CompareAndSwap(k, nil, []int{2}) }, "safemap: ")
			testkit.MustPanicWith(t, fmt.Sprintf("CompareAndDelete(%d) with V=[]int", k), func() { m.CompareAndDelete(k, []int{1}) }, "safemap: ")
		}
		testkit.Within(t, "methods after CompareAndSwap panicked", func() {
			if v, ok := m.Load(1); !ok || !slices.Equal(v, []int{1}) {
				t.Errorf("Load(1) after the panics: got %v, %v; want [1], true", v, ok)
			}
			if _, ok := m.Load(2); ok {
				t.Error("Load(2) after the panics: got present; want absent")
			}
			m.Store(2, []int{2})
			if prev, loaded := m.Swap(1, []int{3}); !loaded || !slices.Equal(prev, []int{1}) {
				t.Errorf("Swap(1): got %v, %v; want [1], true", prev, loaded)
			}
			if v, ok := m.Compute(2, func(old []int, loaded bool) ([]int, safemap.ComputeOp) {
				return append(slices.Clone(old), 4), safemap.UpdateOp
			}); !ok || !slices.Equal(v, []int{2, 4}) {
				t.Errorf("Compute(2, append 4): got %v, %v; want [2 4], true", v, ok)
			}
			if n := m.Len(); n != 2 {
				t.Errorf("Len(): got %d; want 2", n)
			}
			m.Clear()
			if n := m.Len(); n != 0 {
				t.Errorf("Len() after Clear: got %d; want 0", n)
			}
		})
	})
}

// TestCompareAndSwap_PanicsComparingUncomparableDynamicValues proves that
// with V = any, comparing two values of one uncomparable dynamic type
// panics (as == does), changes nothing, and leaves the map usable, while
// comparable dynamic values compare with ==.
func TestCompareAndSwap_PanicsComparingUncomparableDynamicValues(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, any](t, im)
		m.Store(1, []int{1})
		if _, panicked := testkit.CatchPanic(func() { m.CompareAndSwap(1, []int{1}, 2) }); !panicked {
			t.Error("CompareAndSwap(1, []int{1}, 2) on a key holding []int{1}: got no panic; want a panic")
		}
		if _, panicked := testkit.CatchPanic(func() { m.CompareAndDelete(1, []int{1}) }); !panicked {
			t.Error("CompareAndDelete(1, []int{1}) on a key holding []int{1}: got no panic; want a panic")
		}
		if _, panicked := testkit.CatchPanic(func() { m.CompareAndSwap(1, map[int]int{}, 2) }); !panicked {
			t.Error("CompareAndSwap(1, map[int]int{}, 2): got no panic; want a panic")
		}
		testkit.Within(t, "methods after the comparison panicked", func() {
			if v, ok := m.Load(1); !ok || !slices.Equal(v.([]int), []int{1}) {
				t.Errorf("Load(1) after the panics: got %v, %v; want [1], true", v, ok)
			}
			m.Store(1, "a")
			if m.CompareAndSwap(1, "b", "c") {
				t.Error(`CompareAndSwap(1, "b", "c") on a key holding "a": got true; want false`)
			}
			if m.CompareAndSwap(1, 'a', "c") {
				t.Error(`CompareAndSwap(1, 'a', "c") on a key holding "a": got true; want false`)
			}
			if !m.CompareAndSwap(1, "a", int64(1)) {
				t.Error(`CompareAndSwap(1, "a", int64(1)) on a key holding "a": got false; want true`)
			}
			if m.CompareAndDelete(1, 1) {
				t.Error("CompareAndDelete(1, int(1)) on a key holding int64(1): got true; want false")
			}
			if !m.CompareAndDelete(1, int64(1)) {
				t.Error("CompareAndDelete(1, int64(1)) on a key holding int64(1): got false; want true")
			}
			if n := m.Len(); n != 0 {
				t.Errorf("Len(): got %d; want 0", n)
			}
		})
	})
}
