package safemap_test

// Conformance tests for keys: they must behave as built-in map keys do.
// See conformance_test.go for the helpers.

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// TestKeys_PositiveAndNegativeZeroAreTheSameKey proves +0.0 and -0.0 are one
// key, as in a built-in map, for floats, complex numbers, and structs,
// arrays and interfaces holding them.
func TestKeys_PositiveAndNegativeZeroAreTheSameKey(t *testing.T) {
	negZero := math.Copysign(0, -1)
	type point struct{ X, Y float64 }
	forEachImpl(t, func(t *testing.T, im impl) {
		t.Run("float64", func(t *testing.T) { checkSignedZeros(t, im, 0.0, negZero) })
		t.Run("float32", func(t *testing.T) { checkSignedZeros(t, im, float32(0), float32(negZero)) })
		t.Run("complex128", func(t *testing.T) { checkSignedZeros(t, im, complex(0, 0), complex(negZero, negZero)) })
		t.Run("struct", func(t *testing.T) { checkSignedZeros(t, im, point{0, 1}, point{negZero, 1}) })
		t.Run("array", func(t *testing.T) { checkSignedZeros(t, im, [2]float64{1, 0}, [2]float64{1, negZero}) })
		t.Run("interface", func(t *testing.T) { checkSignedZeros[any](t, im, 0.0, negZero) })
	})
}

// checkSignedZeros runs every method with pos and neg, which must be the
// same key, and checks that the map holds one entry for them.
func checkSignedZeros[K comparable](t *testing.T, im impl, pos, neg K) {
	t.Helper()
	m := newMap[K, int](t, im)
	noCall := func() int { t.Error("LoadOrCompute(-0) called fn with +0 present"); return -1 }
	m.Store(pos, 1)
	if v, ok := m.Load(neg); !ok || v != 1 {
		t.Errorf("Load(-0) after Store(+0, 1): got %v, %v; want 1, true", v, ok)
	}
	if v, loaded := m.LoadOrStore(neg, 2); !loaded || v != 1 {
		t.Errorf("LoadOrStore(-0, 2) with +0 present: got %v, %v; want 1, true", v, loaded)
	}
	m.Store(neg, 3)
	if v, ok := m.Load(pos); !ok || v != 3 {
		t.Errorf("Load(+0) after Store(-0, 3): got %v, %v; want 3, true", v, ok)
	}
	if v, ok := m.Compute(neg, func(old int, loaded bool) (int, safemap.ComputeOp) {
		if !loaded || old != 3 {
			t.Errorf("Compute(-0) called fn(%v, %v); want fn(3, true)", old, loaded)
		}
		return old + 1, safemap.UpdateOp
	}); !ok || v != 4 {
		t.Errorf("Compute(-0, +1): got %v, %v; want 4, true", v, ok)
	}
	if prev, loaded := m.Swap(pos, 5); !loaded || prev != 4 {
		t.Errorf("Swap(+0, 5): got %v, %v; want 4, true", prev, loaded)
	}
	if !m.CompareAndSwap(neg, 5, 6) {
		t.Error("CompareAndSwap(-0, 5, 6) with +0 holding 5: got false; want true")
	}
	if v, loaded := m.LoadOrCompute(neg, noCall); !loaded || v != 6 {
		t.Errorf("LoadOrCompute(-0) with +0 present: got %v, %v; want 6, true", v, loaded)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len() after writing +0 and -0: got %d; want 1", n)
	}
	if got := collect(t, m); len(got) != 1 {
		t.Errorf("Range after writing +0 and -0: got %v; want one entry", got)
	}
	if !m.CompareAndDelete(pos, 6) {
		t.Error("CompareAndDelete(+0, 6) with -0 holding 6: got false; want true")
	}
	if v, ok := m.Load(neg); ok {
		t.Errorf("Load(-0) after CompareAndDelete(+0): got %v, true; want absent", v)
	}
	if v, loaded := m.LoadOrCompute(neg, func() int { return 7 }); loaded || v != 7 {
		t.Errorf("LoadOrCompute(-0, ->7) of an absent key: got %v, %v; want 7, false", v, loaded)
	}
	if v, loaded, err := m.LoadOrTryCompute(context.Background(), pos, func(context.Context) (int, error) {
		t.Error("LoadOrTryCompute(+0) called fn with -0 present")
		return -1, nil
	}); !loaded || v != 7 || err != nil {
		t.Errorf("LoadOrTryCompute(+0) with -0 present: got %v, %v, %v; want 7, true, <nil>", v, loaded, err)
	}
	if v, loaded := m.LoadAndDelete(pos); !loaded || v != 7 {
		t.Errorf("LoadAndDelete(+0) with -0 holding 7: got %v, %v; want 7, true", v, loaded)
	}
	m.Store(neg, 8)
	m.Delete(pos)
	if n := m.Len(); n != 0 {
		t.Errorf("Len() after Delete(+0) of -0: got %d; want 0", n)
	}
}

// TestKeys_NaNIsNeverFound proves a NaN key behaves as in a built-in map:
// it is never found again, so every store adds an entry that only Range,
// All, Len and Clear see.
func TestKeys_NaNIsNeverFound(t *testing.T) {
	nan := math.NaN()
	type point struct{ X, Y float64 }
	forEachImpl(t, func(t *testing.T, im impl) {
		t.Run("float64", func(t *testing.T) { checkNaN(t, im, nan) })
		t.Run("float32", func(t *testing.T) { checkNaN(t, im, float32(nan)) })
		t.Run("struct", func(t *testing.T) { checkNaN(t, im, point{1, nan}) })
		t.Run("interface", func(t *testing.T) { checkNaN[any](t, im, nan) })
	})
}

func checkNaN[K comparable](t *testing.T, im impl, nan K) {
	t.Helper()
	m := newMap[K, int](t, im)
	var zero K
	m.Store(zero, 100) // an ordinary key next to the NaN entries
	m.Store(nan, 1)
	if v, ok := m.Load(nan); ok {
		t.Errorf("Load(NaN) after Store(NaN, 1): got %v, true; want absent", v)
	}
	if v, loaded := m.LoadOrStore(nan, 2); loaded || v != 2 {
		t.Errorf("LoadOrStore(NaN, 2): got %v, %v; want 2, false", v, loaded)
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len() after Store(0), Store(NaN) and LoadOrStore(NaN): got %d; want 3 (each NaN is a new key)", n)
	}
	nanValues := func() map[int]int {
		got := make(map[int]int) // value -> how many NaN entries hold it
		m.Range(func(k K, v int) bool {
			if k != k {
				got[v]++
			} else if k != zero || v != 100 {
				t.Errorf("Range visited %v: %v; want only NaN keys and %v: 100", k, v, zero)
			}
			return true
		})
		return got
	}
	if got := nanValues(); len(got) != 2 || got[1] != 1 || got[2] != 1 {
		t.Errorf("values of the NaN entries Range visits: got %v; want map[1:1 2:1]", got)
	}

	m.Delete(nan)
	if v, loaded := m.LoadAndDelete(nan); loaded {
		t.Errorf("LoadAndDelete(NaN): got %v, true; want absent", v)
	}
	if m.CompareAndSwap(nan, 1, 3) {
		t.Error("CompareAndSwap(NaN, 1, 3): got true; want false")
	}
	if m.CompareAndDelete(nan, 1) {
		t.Error("CompareAndDelete(NaN, 1): got true; want false")
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len() after deleting NaN: got %d; want 3 (a NaN key cannot be deleted)", n)
	}

	for i := range 2 {
		calls := 0
		if v, loaded := m.LoadOrCompute(nan, func() int { calls++; return 4 }); loaded || v != 4 || calls != 1 {
			t.Errorf("LoadOrCompute(NaN, ->4), call %d: got %v, %v with %d calls of fn; want 4, false with 1", i, v, loaded, calls)
		}
		calls = 0
		if v, loaded, err := m.LoadOrTryCompute(context.Background(), nan, func(context.Context) (int, error) {
			calls++
			return 5, nil
		}); loaded || v != 5 || err != nil || calls != 1 {
			t.Errorf("LoadOrTryCompute(NaN, ->5), call %d: got %v, %v, %v with %d calls of fn; want 5, false, <nil> with 1", i, v, loaded, err, calls)
		}
		m.Compute(nan, func(old int, loaded bool) (int, safemap.ComputeOp) {
			if loaded {
				t.Errorf("Compute(NaN) called fn(%v, true); want fn(0, false)", old)
			}
			return 0, safemap.CancelOp
		})
		if prev, loaded := m.Swap(nan, 6); loaded {
			t.Errorf("Swap(NaN, 6): got %v, true; want 0, false", prev)
		}
	}

	// Concurrent misses of NaN are misses of distinct keys: nobody waits.
	var wg sync.WaitGroup
	testkit.Within(t, "concurrent LoadOrCompute(NaN)", func() {
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, loaded := m.LoadOrCompute(nan, func() int { return 10 + i }); loaded || v != 10+i {
					t.Errorf("concurrent LoadOrCompute(NaN, ->%d): got %v, %v; want %d, false", 10+i, v, loaded, 10+i)
				}
			}()
		}
		wg.Wait()
	})

	got := collect(t, m)
	entries := 0
	m.Range(func(K, int) bool { entries++; return true })
	if n := m.Len(); n != entries {
		t.Errorf("Len() with NaN entries: got %d; want %d, the number of entries Range visits", n, entries)
	}
	allEntries := 0
	for range m.All() {
		allEntries++
	}
	if allEntries != entries {
		t.Errorf("All with NaN entries: got %d entries; want %d, as Range", allEntries, entries)
	}
	if v, ok := got[zero]; !ok || v != 100 {
		t.Errorf("Range: got %v for %v; want 100", v, zero)
	}
	if v, ok := m.Load(zero); !ok || v != 100 {
		t.Errorf("Load(%v) next to NaN entries: got %v, %v; want 100, true", zero, v, ok)
	}

	m.Clear()
	if n := m.Len(); n != 0 {
		t.Errorf("Len() after Clear of NaN entries: got %d; want 0", n)
	}
	m.Range(func(k K, v int) bool {
		t.Errorf("Range after Clear visited %v: %v", k, v)
		return true
	})
}

// TestKeys_UncomparableInterfaceKeyPanicsAndLeavesMapUsable proves every
// method that takes a key panics, with a "safemap: " message naming the
// dynamic type, when an interface key holds an uncomparable value; that no
// value function runs; and that the map is unchanged and usable afterwards.
func TestKeys_UncomparableInterfaceKeyPanicsAndLeavesMapUsable(t *testing.T) {
	type wrapper struct{ Inner any }
	bad := []struct {
		key     any
		mention string
	}{
		{[]int{1}, "[]int"},
		{map[string]int{}, "map[string]int"},
		{func() {}, "func()"},
		{wrapper{[]byte("x")}, "[]uint8"}, // comparable type, uncomparable content
		{[1]any{[]int{}}, "[]int"},
	}
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, populated := range []bool{false, true} {
			m := newMap[any, int](t, im)
			want := map[any]int{}
			if populated {
				for i := range 20 {
					m.Store(i, i)
					want[i] = i
				}
				m.Store("s", -1)
				want["s"] = -1
			}
			for _, b := range bad {
				checkKeyPanics(t, m, b.key, fmt.Sprintf("key %T on a map with %d entries", b.key, len(want)), b.mention)
			}
			testkit.Within(t, "methods after the panics", func() {
				checkContents(t, m, want)
				checkUsable[any](t, m, "good")
				checkUsable[any](t, m, 1.5)
			})
		}
	})
}

// TestKeys_StructWithUncomparableFieldPanicsAndLeavesMapUsable is
// TestKeys_UncomparableInterfaceKeyPanicsAndLeavesMapUsable for a struct key
// type whose interface field holds a slice.
func TestKeys_StructWithUncomparableFieldPanicsAndLeavesMapUsable(t *testing.T) {
	type structKey struct {
		Name  string
		Extra any
	}
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, populated := range []bool{false, true} {
			m := newMap[structKey, int](t, im)
			want := map[structKey]int{}
			if populated {
				for i := range 20 {
					k := structKey{fmt.Sprint(i), i}
					m.Store(k, i)
					want[k] = i
				}
			}
			checkKeyPanics(t, m, structKey{"bad", []int{1}}, fmt.Sprintf("struct key on a map with %d entries", len(want)), "[]int")
			testkit.Within(t, "methods after the panics", func() {
				checkContents(t, m, want)
				checkUsable(t, m, structKey{"good", nil})
				checkUsable(t, m, structKey{"good", "also"})
			})
		}
	})
}

// checkKeyPanics calls every method that takes a key with key, which is
// uncomparable, and checks that each panics with a "safemap: " message
// mentioning mention and calls no function it was given.
func checkKeyPanics[K comparable](t *testing.T, m safemap.ConcurrentMap[K, int], key K, what, mention string) {
	t.Helper()
	noCall := func() int { t.Errorf("%s: LoadOrCompute called fn", what); return 0 }
	noTry := func(context.Context) (int, error) { t.Errorf("%s: LoadOrTryCompute called fn", what); return 0, nil }
	noCompute := func(int, bool) (int, safemap.ComputeOp) {
		t.Errorf("%s: Compute called fn", what)
		return 0, safemap.UpdateOp
	}
	calls := []struct {
		name string
		f    func()
	}{
		{"Load", func() { m.Load(key) }},
		{"Store", func() { m.Store(key, 1) }},
		{"LoadOrStore", func() { m.LoadOrStore(key, 1) }},
		{"LoadOrCompute", func() { m.LoadOrCompute(key, noCall) }},
		{"LoadOrTryCompute", func() { m.LoadOrTryCompute(context.Background(), key, noTry) }},
		{"Compute", func() { m.Compute(key, noCompute) }},
		{"Swap", func() { m.Swap(key, 1) }},
		{"CompareAndSwap", func() { m.CompareAndSwap(key, 0, 1) }},
		{"CompareAndDelete", func() { m.CompareAndDelete(key, 0) }},
		{"LoadAndDelete", func() { m.LoadAndDelete(key) }},
		{"Delete", func() { m.Delete(key) }},
	}
	for _, c := range calls {
		testkit.MustPanicWith(t, c.name+" with "+what, c.f, "safemap: ", mention)
	}
}
