package safemap_test

// Conformance tests for "invalidation wins" (ConcurrentMap.LoadOrCompute):
// a Delete, LoadAndDelete or Clear of a key while its value function runs
// discards the value, and a caller that comes after it starts a load of
// its own. See conformance_compute_test.go for the helpers.

import (
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// invalidations are the operations that discard a load of their key.
var invalidations = []struct {
	name string
	do   func(m safemap.ConcurrentMap[int, int], key int)
}{
	{"Delete", func(m safemap.ConcurrentMap[int, int], key int) { m.Delete(key) }},
	{"LoadAndDelete", func(m safemap.ConcurrentMap[int, int], key int) { m.LoadAndDelete(key) }},
	{"Clear", func(m safemap.ConcurrentMap[int, int], _ int) { m.Clear() }},
}

// forEachInvalidation runs f as a subtest for every form, impl and
// invalidation.
func forEachInvalidation(t *testing.T, f func(t *testing.T, form computeForm, im impl, invalidate func(safemap.ConcurrentMap[int, int], int))) {
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		for _, inv := range invalidations {
			t.Run(inv.name, func(t *testing.T) { f(t, form, im, inv.do) })
		}
	})
}

// TestLoadOrCompute_InvalidationWhileFnRunsStoresNothing: a loader reads
// v1, an invalidation runs, the loader returns v1. The caller that ran fn
// and the one that waited on it get v1 (they are linearized before the
// invalidation), the map stays without the key, and the next call loads
// again.
func TestLoadOrCompute_InvalidationWhileFnRunsStoresNothing(t *testing.T) {
	forEachInvalidation(t, func(t *testing.T, form computeForm, im impl, invalidate func(safemap.ConcurrentMap[int, int], int)) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		done := startComputing(t, m, form, 1, b, 100)
		waiter := startWaiter(t, m, form, 1)
		testkit.Within(t, "the invalidation while fn runs", func() { invalidate(m, 1) })
		b.release()
		if r, want := testkit.Receive(t, "the computing caller", done), (computeResult{100, false, nil}); r != want {
			t.Errorf("%s(1) with fn ->100, invalidated while fn ran: got %v; want %v", form.name, r, want)
		}
		if r, want := testkit.Receive(t, "the waiting caller", waiter), (computeResult{100, true, nil}); r != want {
			t.Errorf("waiting %s(1), invalidated while fn ran: got %v; want %v", form.name, r, want)
		}
		if v, ok := m.Load(1); ok {
			t.Errorf("Load(1) after an invalidated load: got %v, true; want absent (invalidation wins)", v)
		}
		if n := m.Len(); n != 0 {
			t.Errorf("Len() after an invalidated load: got %d; want 0", n)
		}
		calls := 0
		r := form.call(m, 1, func() int { calls++; return 400 })
		if want := (computeResult{400, false, nil}); r != want || calls != 1 {
			t.Errorf("%s(1) with fn ->400 after the invalidated load: got %v with %d calls of fn; want %v with 1", form.name, r, calls, want)
		}
		if v, ok := m.Load(1); !ok || v != 400 {
			t.Errorf("Load(1) after the new load: got %v, %v; want 400, true", v, ok)
		}
	})
}

// TestLoadOrCompute_CallerAfterInvalidationRunsItsOwnFn: a caller that
// arrives after the invalidation, while the invalidated loader still runs,
// does not join it (that would return a value from before the invalidation
// to a call made after it): its own fn runs, and it gets a fresh value,
// never v1. The old loader's land then finds that value, which wins.
func TestLoadOrCompute_CallerAfterInvalidationRunsItsOwnFn(t *testing.T) {
	forEachInvalidation(t, func(t *testing.T, form computeForm, im impl, invalidate func(safemap.ConcurrentMap[int, int], int)) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		done := startComputing(t, m, form, 1, b, 100)
		testkit.Within(t, "the invalidation while fn runs", func() { invalidate(m, 1) })
		calls := 0
		var r computeResult
		testkit.Within(t, "a caller after the invalidation (it must not wait for the old loader)", func() {
			r = form.call(m, 1, func() int { calls++; return 300 })
		})
		if want := (computeResult{300, false, nil}); r != want || calls != 1 {
			t.Errorf("%s(1) with fn ->300 after the invalidation, while the old fn runs: got %v with %d calls of fn; want %v with 1", form.name, r, calls, want)
		}
		b.release()
		if r, want := testkit.Receive(t, "the invalidated caller", done), (computeResult{300, true, nil}); r != want {
			t.Errorf("%s(1) with fn ->100, invalidated, after a new load stored 300: got %v; want %v", form.name, r, want)
		}
		if v, ok := m.Load(1); !ok || v != 300 {
			t.Errorf("Load(1): got %v, %v; want 300, true (never the invalidated 100)", v, ok)
		}
		if n := m.Len(); n != 1 {
			t.Errorf("Len(): got %d; want 1", n)
		}
	})
}

// TestLoadOrCompute_StoreAfterInvalidationStillWins: a Store made after
// the invalidation, while the invalidated loader runs, is what the loader
// and the map end with, as a Store during a load always is.
func TestLoadOrCompute_StoreAfterInvalidationStillWins(t *testing.T) {
	forEachInvalidation(t, func(t *testing.T, form computeForm, im impl, invalidate func(safemap.ConcurrentMap[int, int], int)) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		done := startComputing(t, m, form, 1, b, 100)
		testkit.Within(t, "the invalidation and the Store while fn runs", func() {
			invalidate(m, 1)
			m.Store(1, 200)
		})
		b.release()
		if r, want := testkit.Receive(t, "the computing caller", done), (computeResult{200, true, nil}); r != want {
			t.Errorf("%s(1) with fn ->100 after an invalidation and Store(1, 200): got %v; want %v", form.name, r, want)
		}
		if v, ok := m.Load(1); !ok || v != 200 {
			t.Errorf("Load(1): got %v, %v; want 200, true", v, ok)
		}
	})
}
