package safemap_test

// Tests of safemap.Profile: that it counts exactly what a workload did, on
// every strategy (the conformance suite, through the "Profile" entry of
// impls, proves it keeps the contract), and of ProfileStats' JSON form.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// newProfile wraps a new map of strategy im in a Profile.
func newProfile(t testing.TB, im impl) *safemap.Profile[int, int] {
	t.Helper()
	return safemap.NewProfile(newMap[int, int](t, im))
}

// countsOf returns s without the fields that measure time, which a test
// cannot predict, after checking that they are plausible.
func countsOf(t testing.TB, s safemap.ProfileStats) safemap.ProfileStats {
	t.Helper()
	if s.Duration <= 0 {
		t.Errorf("Duration: got %v; want > 0", s.Duration)
	}
	if s.ComputeTime < 0 {
		t.Errorf("ComputeTime: got %v; want >= 0", s.ComputeTime)
	}
	s.Duration, s.ComputeTime = 0, 0
	return s
}

// wantStats completes the counts of an expected ProfileStats: its version,
// Reads, and a non-nil Calls.
func wantStats(s safemap.ProfileStats) safemap.ProfileStats {
	s.Version = safemap.ProfileStatsVersion
	s.Reads = s.Hits + s.Misses
	if s.Calls == nil {
		s.Calls = map[string]int64{}
	}
	return s
}

// checkStats fails the test unless p's counts are want's (see wantStats).
func checkStats(t testing.TB, what string, p *safemap.Profile[int, int], want safemap.ProfileStats) {
	t.Helper()
	want = wantStats(want)
	if got := countsOf(t, p.Stats()); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Stats():\ngot  %+v\nwant %+v", what, got, want)
	}
}

// addCounts adds the counts of d to s (not Len and MaxLen, which are not
// sums).
func addCounts(s *safemap.ProfileStats, d safemap.ProfileStats) {
	s.Hits += d.Hits
	s.Misses += d.Misses
	s.Inserts += d.Inserts
	s.Updates += d.Updates
	s.Deletes += d.Deletes
	s.Clears += d.Clears
	s.Computes += d.Computes
	s.ComputeErrors += d.ComputeErrors
	s.ComputePanics += d.ComputePanics
	s.Waiters += d.Waiters
	s.Ranges += d.Ranges
}

var errProfileLoad = errors.New("profile test: load failed")

// profileStep is one call of TestProfile_CountsExactScript: what it returns
// and what it adds to the counts.
type profileStep struct {
	call   string // method name, the key of Stats().Calls
	what   string
	do     func(t *testing.T, p *safemap.Profile[int, int]) string // returns the call's results
	result string
	delta  safemap.ProfileStats // counts the call adds
	len    int                  // the map's length afterwards
}

// TestProfile_CountsExactScript runs a script of every method, each outcome
// of each, on a Profile over every strategy, and checks after each call
// that Stats is exactly what the script did so far.
func TestProfile_CountsExactScript(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	noCall := func(t *testing.T) func() int {
		return func() int { t.Error("fn called for a present key"); return -1 }
	}
	noTry := func(t *testing.T) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { t.Error("fn called"); return -1, nil }
	}
	set := func(v int, op safemap.ComputeOp) func(int, bool) (int, safemap.ComputeOp) {
		return func(int, bool) (int, safemap.ComputeOp) { return v, op }
	}
	type P = *safemap.Profile[int, int]
	type S = safemap.ProfileStats
	steps := []profileStep{
		{"Load", "absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Load(1)) }, "0 false", S{Misses: 1}, 0},
		{"Store", "absent key", func(_ *testing.T, p P) string { p.Store(1, 10); return "" }, "", S{Inserts: 1}, 1},
		{"Store", "present key", func(_ *testing.T, p P) string { p.Store(1, 11); return "" }, "", S{Updates: 1}, 1},
		{"Load", "present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Load(1)) }, "11 true", S{Hits: 1}, 1},
		{"LoadOrStore", "absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.LoadOrStore(2, 20)) }, "20 false", S{Misses: 1, Inserts: 1}, 2},
		{"LoadOrStore", "present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.LoadOrStore(2, 21)) }, "20 true", S{Hits: 1}, 2},
		{"LoadOrCompute", "absent key", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrCompute(3, func() int { return 30 }))
		}, "30 false", S{Misses: 1, Computes: 1, Inserts: 1}, 3},
		{"LoadOrCompute", "present key", func(t *testing.T, p P) string { return fmt.Sprint(p.LoadOrCompute(3, noCall(t))) }, "30 true", S{Hits: 1}, 3},
		{"LoadOrTryCompute", "absent key, fn fails", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrTryCompute(ctx, 4, func(context.Context) (int, error) { return -1, errProfileLoad }))
		}, "0 false " + errProfileLoad.Error(), S{Misses: 1, Computes: 1, ComputeErrors: 1}, 3},
		{"LoadOrTryCompute", "absent key", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrTryCompute(ctx, 4, func(context.Context) (int, error) { return 40, nil }))
		}, "40 false <nil>", S{Misses: 1, Computes: 1, Inserts: 1}, 4},
		{"LoadOrTryCompute", "present key", func(t *testing.T, p P) string { return fmt.Sprint(p.LoadOrTryCompute(ctx, 4, noTry(t))) }, "40 true <nil>", S{Hits: 1}, 4},
		{"LoadOrTryCompute", "absent key, ended ctx", func(t *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrTryCompute(cancelled, 5, noTry(t)))
		}, "0 false context canceled", S{Misses: 1}, 4},
		{"LoadOrTryCompute", "present key, ended ctx", func(t *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrTryCompute(cancelled, 4, noTry(t)))
		}, "40 true <nil>", S{Hits: 1}, 4},
		{"Compute", "UpdateOp, absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Compute(5, set(50, safemap.UpdateOp))) }, "50 true", S{Inserts: 1}, 5},
		{"Compute", "UpdateOp, present key", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.Compute(5, func(old int, _ bool) (int, safemap.ComputeOp) { return old + 1, safemap.UpdateOp }))
		}, "51 true", S{Updates: 1}, 5},
		{"Compute", "CancelOp, present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Compute(5, set(0, safemap.CancelOp))) }, "51 true", S{}, 5},
		{"Compute", "DeleteOp, present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Compute(5, set(0, safemap.DeleteOp))) }, "0 false", S{Deletes: 1}, 4},
		{"Compute", "DeleteOp, absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Compute(5, set(0, safemap.DeleteOp))) }, "0 false", S{}, 4},
		{"Compute", "CancelOp, absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Compute(5, set(0, safemap.CancelOp))) }, "0 false", S{}, 4},
		{"Swap", "absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Swap(6, 60)) }, "0 false", S{Inserts: 1}, 5},
		{"Swap", "present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.Swap(6, 61)) }, "60 true", S{Updates: 1}, 5},
		{"CompareAndSwap", "matching value", func(_ *testing.T, p P) string { return fmt.Sprint(p.CompareAndSwap(6, 61, 62)) }, "true", S{Updates: 1}, 5},
		{"CompareAndSwap", "other value", func(_ *testing.T, p P) string { return fmt.Sprint(p.CompareAndSwap(6, 61, 63)) }, "false", S{}, 5},
		{"CompareAndSwap", "absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.CompareAndSwap(7, 0, 1)) }, "false", S{}, 5},
		{"CompareAndDelete", "other value", func(_ *testing.T, p P) string { return fmt.Sprint(p.CompareAndDelete(6, 61)) }, "false", S{}, 5},
		{"CompareAndDelete", "matching value", func(_ *testing.T, p P) string { return fmt.Sprint(p.CompareAndDelete(6, 62)) }, "true", S{Deletes: 1}, 4},
		{"LoadAndDelete", "absent key", func(_ *testing.T, p P) string { return fmt.Sprint(p.LoadAndDelete(6)) }, "0 false", S{}, 4},
		{"LoadAndDelete", "present key", func(_ *testing.T, p P) string { return fmt.Sprint(p.LoadAndDelete(4)) }, "40 true", S{Deletes: 1}, 3},
		{"Delete", "absent key", func(_ *testing.T, p P) string { p.Delete(4); return "" }, "", S{}, 3},
		{"Delete", "present key", func(_ *testing.T, p P) string { p.Delete(3); return "" }, "", S{Deletes: 1}, 2},
		{"Range", "to the end", func(_ *testing.T, p P) string {
			n := 0
			p.Range(func(int, int) bool { n++; return true })
			return fmt.Sprint(n)
		}, "2", S{Ranges: 1}, 2},
		{"Range", "stopped early", func(_ *testing.T, p P) string {
			n := 0
			p.Range(func(int, int) bool { n++; return false })
			return fmt.Sprint(n)
		}, "1", S{Ranges: 1}, 2},
		{"All", "iterated", func(_ *testing.T, p P) string {
			n := 0
			for range p.All() {
				n++
			}
			return fmt.Sprint(n)
		}, "2", S{Ranges: 1}, 2},
		{"All", "never iterated", func(_ *testing.T, p P) string { p.All(); return "" }, "", S{}, 2},
		{"Len", "", func(_ *testing.T, p P) string { return fmt.Sprint(p.Len()) }, "2", S{}, 2},
		{"Clear", "", func(_ *testing.T, p P) string { p.Clear(); return "" }, "", S{Clears: 1}, 0},
		{"Store", "absent key after Clear", func(_ *testing.T, p P) string { p.Store(7, 70); return "" }, "", S{Inserts: 1}, 1},
		// A write that stores the key while fn runs wins: the call neither
		// inserts nor waits. (The write bypasses the Profile, uncounted.)
		{"LoadOrCompute", "absent key, stored while fn runs", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrCompute(8, func() int { p.Unwrap().Store(8, 80); return 81 }))
		}, "80 true", S{Misses: 1, Computes: 1}, 2},
		{"LoadOrTryCompute", "absent key, stored while fn runs", func(_ *testing.T, p P) string {
			return fmt.Sprint(p.LoadOrTryCompute(ctx, 9, func(context.Context) (int, error) { p.Unwrap().Store(9, 90); return 91, nil }))
		}, "90 true <nil>", S{Misses: 1, Computes: 1}, 3},
	}
	forEachImpl(t, func(t *testing.T, im impl) {
		if im.rules.remembersErrors {
			t.Skip("the script retries a failed key, which a map that remembers errors answers from memory; conformance_compute_test.go states that")
		}
		p := newProfile(t, im)
		checkStats(t, "new Profile", p, safemap.ProfileStats{})
		var want safemap.ProfileStats
		want.Calls = map[string]int64{}
		for _, step := range steps {
			what := step.call
			if step.what != "" {
				what += ", " + step.what
			}
			if got := step.do(t, p); got != step.result {
				t.Fatalf("%s: got %q; want %q", what, got, step.result)
			}
			addCounts(&want, step.delta)
			want.Calls[step.call]++
			want.Len = step.len
			want.MaxLen = max(want.MaxLen, step.len)
			checkStats(t, what, p, want)
		}

		before := time.Now()
		p.Reset()
		s := p.Stats()
		if limit := time.Since(before); s.Duration > limit {
			t.Errorf("Duration after Reset: got %v; want <= %v, the time since just before Reset", s.Duration, limit)
		}
		checkStats(t, "after Reset", p, safemap.ProfileStats{Len: 3, MaxLen: 3})
		if m := p.Unwrap(); m.Len() != 3 {
			t.Errorf("Unwrap().Len(): got %d; want 3", m.Len())
		}
		checkStats(t, "after a call of the unwrapped map", p, safemap.ProfileStats{Len: 3, MaxLen: 3})
	})
}

// TestProfile_StartsFromTheWrappedMapsContents proves NewProfile counts
// nothing for entries already present, and starts MaxLen at their number.
func TestProfile_StartsFromTheWrappedMapsContents(t *testing.T) {
	m := safemap.New[int, int]()
	for i := range 3 {
		m.Store(i, i)
	}
	before := time.Now()
	p := safemap.NewProfile(m)
	s := p.Stats()
	if limit := time.Since(before); s.Duration > limit {
		t.Errorf("Duration of a new Profile: got %v; want <= %v, the time since just before NewProfile", s.Duration, limit)
	}
	checkStats(t, "Profile of a map holding 3 entries", p, safemap.ProfileStats{Len: 3, MaxLen: 3})
	p.Delete(0)
	checkStats(t, "after Delete", p, safemap.ProfileStats{Deletes: 1, Len: 2, MaxLen: 3, Calls: map[string]int64{"Delete": 1}})
	if p.Unwrap() != safemap.ConcurrentMap[int, int](m) {
		t.Errorf("Unwrap(): got %v; want the wrapped map %v", p.Unwrap(), m)
	}
}

// TestProfile_MaxLenIsExactForSmallMaps checks MaxLen on a map that grows,
// shrinks and grows less again, below the length where sampling starts.
func TestProfile_MaxLenIsExactForSmallMaps(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		p := newProfile(t, im)
		for i := range 40 {
			p.Store(i, i)
		}
		for i := range 30 {
			p.Delete(i)
		}
		for i := range 5 {
			p.LoadOrStore(100+i, i)
		}
		if s := p.Stats(); s.Len != 15 || s.MaxLen != 40 {
			t.Errorf("Stats(): got Len %d, MaxLen %d; want 15, 40", s.Len, s.MaxLen)
		}
	})
}

// TestProfile_KeepsSnapshotMapFallbackSemantics proves that the lookup
// with which Profile tells a get-or-create hit from a miss does not consult
// a SnapshotMap's fallback (which LoadOrCompute never does), while Load
// still does, and counts what the fallback found as a hit.
func TestProfile_KeepsSnapshotMapFallbackSemantics(t *testing.T) {
	var asked atomic.Int32
	inner := safemap.NewSnapshotMapWithFallback(func(k int) (int, bool) {
		asked.Add(1)
		return k * 100, true
	})
	p := safemap.NewProfile[int, int](inner)
	if v, loaded := p.LoadOrCompute(1, func() int { return 10 }); v != 10 || loaded {
		t.Errorf("LoadOrCompute(1, ->10): got %v, %v; want 10, false", v, loaded)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("fallback calls after LoadOrCompute: got %d; want 0", n)
	}
	if v, ok := p.Load(2); v != 200 || !ok {
		t.Errorf("Load(2): got %v, %v; want 200, true (from the fallback)", v, ok)
	}
	checkStats(t, "after LoadOrCompute and a Load the fallback answered", p, safemap.ProfileStats{
		Hits: 1, Misses: 1, Computes: 1, Inserts: 1, Len: 2, MaxLen: 2,
		Calls: map[string]int64{"LoadOrCompute": 1, "Load": 1},
	})
}

// TestProfile_ZeroValuePanicsWithAClearMessage calls every method of a
// zero Profile, which wraps no map: each must say how to make one instead
// of dereferencing nil.
func TestProfile_ZeroValuePanicsWithAClearMessage(t *testing.T) {
	const want = "safemap: Profile must be created with NewProfile"
	var p safemap.Profile[int, int]
	compute := func() int { return 1 }
	calls := map[string]func(){
		"Load":          func() { p.Load(1) },
		"Store":         func() { p.Store(1, 1) },
		"LoadOrStore":   func() { p.LoadOrStore(1, 1) },
		"LoadOrCompute": func() { p.LoadOrCompute(1, compute) },
		"LoadOrTryCompute": func() {
			p.LoadOrTryCompute(context.Background(), 1, func(context.Context) (int, error) { return 1, nil })
		},
		"Compute":          func() { p.Compute(1, func(int, bool) (int, safemap.ComputeOp) { return 1, safemap.UpdateOp }) },
		"Swap":             func() { p.Swap(1, 1) },
		"CompareAndSwap":   func() { p.CompareAndSwap(1, 1, 2) },
		"CompareAndDelete": func() { p.CompareAndDelete(1, 1) },
		"LoadAndDelete":    func() { p.LoadAndDelete(1) },
		"Delete":           func() { p.Delete(1) },
		"Range":            func() { p.Range(func(int, int) bool { return true }) },
		"All": func() {
			for range p.All() {
			}
		},
		"Len":    func() { p.Len() },
		"Clear":  func() { p.Clear() },
		"Stats":  func() { p.Stats() },
		"Reset":  func() { p.Reset() },
		"Unwrap": func() { p.Unwrap() },
	}
	for name, call := range calls {
		testkit.MustPanicWith(t, "zero Profile's "+name, call, "safemap: ", want)
	}
}

// TestProfile_NewProfileOfNilMapPanics checks the message for a nil
// interface and for a nil pointer.
func TestProfile_NewProfileOfNilMapPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		m    safemap.ConcurrentMap[int, int]
	}{
		{"nil interface", nil},
		{"nil *Map", (*safemap.Map[int, int])(nil)},
	} {
		testkit.MustPanicWith(t, "NewProfile("+c.name+")", func() { safemap.NewProfile(c.m) }, "safemap: ", "safemap: NewProfile of a nil map")
	}
}

// TestProfile_ComputeCountsTheCallWhoseResultWasApplied makes SyncMap's
// optimistic Compute call fn twice, by changing the key from inside fn's
// first call, and checks that Profile counts the outcome of the second.
func TestProfile_ComputeCountsTheCallWhoseResultWasApplied(t *testing.T) {
	type S = safemap.ProfileStats
	for _, c := range []struct {
		name    string
		present bool                                    // key 1 holds 10 before Compute
		change  func(m safemap.ConcurrentMap[int, int]) // what happens during fn's first call
		op      safemap.ComputeOp
		want    S
	}{
		{"insert lost to a store: an update", false, func(m safemap.ConcurrentMap[int, int]) { m.Store(1, 20) }, safemap.UpdateOp, S{Updates: 1}},
		{"update lost to a delete: an insert", true, func(m safemap.ConcurrentMap[int, int]) { m.Delete(1) }, safemap.UpdateOp, S{Inserts: 1}},
		{"delete lost to a store: a delete", true, func(m safemap.ConcurrentMap[int, int]) { m.Store(1, 20) }, safemap.DeleteOp, S{Deletes: 1}},
		{"delete lost to a delete: nothing", true, func(m safemap.ConcurrentMap[int, int]) { m.Delete(1) }, safemap.DeleteOp, S{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inner := safemap.NewSyncMap[int, int]()
			if c.present {
				inner.Store(1, 10)
			}
			p := safemap.NewProfile[int, int](inner)
			calls := 0
			p.Compute(1, func(old int, loaded bool) (int, safemap.ComputeOp) {
				calls++
				if calls == 1 {
					c.change(inner) // no lock is held while SyncMap's fn runs
				}
				return 5, c.op
			})
			if calls != 2 {
				t.Fatalf("fn calls: got %d; want 2 (SyncMap retries when the key changed)", calls)
			}
			c.want.Calls = map[string]int64{"Compute": 1}
			c.want.Len = inner.Len()
			c.want.MaxLen = c.want.Len
			if c.present {
				c.want.MaxLen = 1 // the length at NewProfile
			}
			checkStats(t, "Compute", p, c.want)
		})
	}
}

// TestProfile_CountsWaitersOfOneComputation sends n goroutines to compute
// the same missing key and holds the value function until all of them have
// missed it; then exactly one computes and inserts, and the others (waiting
// on it, or arriving after it stored the key) are waiters.
func TestProfile_CountsWaitersOfOneComputation(t *testing.T) {
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		p := newProfile(t, im)
		n := testkit.ShortOr(4, testkit.Goroutines())
		var calls atomic.Int32
		fn := func() int {
			calls.Add(1)
			deadline := time.Now().Add(testkit.Timeout)
			for p.Stats().Misses < int64(n) {
				if time.Now().After(deadline) {
					t.Errorf("Misses did not reach %d within %v", n, testkit.Timeout)
					break
				}
				runtime.Gosched()
			}
			return 7
		}
		results := make(chan computeResult, n)
		for range n {
			go func() { results <- form.call(p, 1, fn) }()
		}
		stored := 0
		for i := range n {
			r := testkit.Receive(t, fmt.Sprintf("caller %d", i), results)
			if r.value != 7 || r.err != nil {
				t.Errorf("%s(1): got %v; want (7, _, <nil>)", form.name, r)
			}
			if !r.loaded {
				stored++
			}
		}
		if got := calls.Load(); got != 1 || stored != 1 {
			t.Errorf("fn calls and callers with loaded=false: got %d, %d; want 1, 1", got, stored)
		}
		checkStats(t, "after the computation", p, safemap.ProfileStats{
			Misses: int64(n), Computes: 1, Inserts: 1, Waiters: int64(n - 1),
			Len: 1, MaxLen: 1, Calls: map[string]int64{form.name: int64(n)},
		})
	})
}

// TestProfile_CountsWaitersThatShareAnError parks n-1 goroutines on a
// LoadOrTryCompute whose value function then fails: they all return its
// error without running their own, so they count as waiters.
func TestProfile_CountsWaitersThatShareAnError(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		if im.rules.remembersErrors {
			t.Skip("later callers get a remembered error, not the shared one; conformance_compute_test.go states that")
		}
		p := newProfile(t, im)
		ctx := context.Background()
		n := testkit.ShortOr(4, testkit.Goroutines())
		b := newBlockedCompute(t)
		results := make(chan computeResult, n)
		call := func(fn func(context.Context) (int, error)) {
			v, loaded, err := p.LoadOrTryCompute(ctx, 1, fn)
			results <- computeResult{v, loaded, err}
		}
		go call(func(context.Context) (int, error) {
			close(b.started)
			<-b.wait
			return -1, errProfileLoad
		})
		<-b.started
		for range n - 1 {
			go call(func(context.Context) (int, error) {
				t.Error("a waiter ran its own fn")
				return -1, nil
			})
		}
		testkit.WaitUntilParked(t, ").LoadOrTryCompute(", n)
		b.release()
		for i := range n {
			if r := testkit.Receive(t, fmt.Sprintf("caller %d", i), results); r != (computeResult{0, false, errProfileLoad}) {
				t.Errorf("LoadOrTryCompute(1): got %v; want (0, false, %v)", r, errProfileLoad)
			}
		}
		checkStats(t, "after the failed computation", p, safemap.ProfileStats{
			Misses: int64(n), Computes: 1, ComputeErrors: 1, Waiters: int64(n - 1),
			Calls: map[string]int64{"LoadOrTryCompute": int64(n)},
		})
	})
}

// callOutcome is how a call ended: "returned", "panicked" or "exited"
// (runtime.Goexit).
type callOutcome struct {
	how   string
	value any // the panic value
}

// runToEnd calls f on a new goroutine and reports how it ended.
func runToEnd(t *testing.T, f func()) callOutcome {
	t.Helper()
	done := make(chan callOutcome, 1)
	go func() {
		returned := false
		defer func() {
			if returned {
				done <- callOutcome{how: "returned"}
			} else if r := recover(); r != nil {
				done <- callOutcome{how: "panicked", value: r}
			} else {
				done <- callOutcome{how: "exited"}
			}
		}()
		f()
		returned = true
	}()
	return testkit.Receive(t, "the call", done)
}

// TestProfile_CountsPanicsAndErrorsOfValueFunctions checks that a panic in
// a value function is counted and reaches the caller unchanged, that
// runtime.Goexit goes on and is not counted as a panic, that an error is
// counted, and that none of them stores anything.
func TestProfile_CountsPanicsAndErrorsOfValueFunctions(t *testing.T) {
	type sentinel struct{ s string }
	ctx := context.Background()
	type P = *safemap.Profile[int, int]
	for _, c := range []struct {
		name  string
		call  func(p P)
		want  callOutcome
		delta safemap.ProfileStats
	}{
		{"LoadOrCompute/panic", func(p P) { p.LoadOrCompute(1, func() int { panic(sentinel{"a"}) }) },
			callOutcome{"panicked", sentinel{"a"}}, safemap.ProfileStats{ComputePanics: 1}},
		{"LoadOrTryCompute/panic", func(p P) {
			p.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { panic(sentinel{"b"}) })
		}, callOutcome{"panicked", sentinel{"b"}}, safemap.ProfileStats{ComputePanics: 1}},
		{"LoadOrCompute/Goexit", func(p P) { p.LoadOrCompute(1, func() int { runtime.Goexit(); return 0 }) },
			callOutcome{how: "exited"}, safemap.ProfileStats{}},
		{"LoadOrTryCompute/Goexit", func(p P) {
			p.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
		}, callOutcome{how: "exited"}, safemap.ProfileStats{}},
		{"LoadOrTryCompute/error", func(p P) {
			if _, _, err := p.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { return 0, errProfileLoad }); err != errProfileLoad {
				panic(fmt.Sprintf("got error %v; want %v", err, errProfileLoad))
			}
		}, callOutcome{how: "returned"}, safemap.ProfileStats{ComputeErrors: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im impl) {
				p := newProfile(t, im)
				if got := runToEnd(t, func() { c.call(p) }); got != c.want {
					t.Errorf("call: got %+v; want %+v", got, c.want)
				}
				if v, ok := p.Unwrap().Load(1); ok {
					t.Errorf("Load(1) after the call: got %v, true; want absent", v)
				}
				method, _, _ := strings.Cut(c.name, "/")
				want := c.delta
				want.Misses, want.Computes = 1, 1
				want.Calls = map[string]int64{method: 1}
				checkStats(t, "after the call", p, want)
			})
		})
	}
}

// TestProfile_NilPanicUnderGODEBUGPanicnilIsNotSwallowed runs itself again
// with GODEBUG=panicnil=1, where panic(nil) recovers as nil just like
// runtime.Goexit: Profile must still pass the panic on rather than mistake
// it for a Goexit and return normally.
func TestProfile_NilPanicUnderGODEBUGPanicnilIsNotSwallowed(t *testing.T) {
	if os.Getenv("SAFEMAP_TEST_PANICNIL") == "1" {
		p := safemap.NewProfile[int, int](safemap.New[int, int]())
		got := runToEnd(t, func() { p.LoadOrCompute(1, func() int { panic(nil) }) })
		// Under panicnil=1 runToEnd's recover returns nil, so a nil panic
		// that reaches it looks like a Goexit; a swallowed one returns.
		if got.how != "exited" {
			t.Errorf("LoadOrCompute whose fn calls panic(nil): got %+v; want the panic to reach the caller", got)
		}
		if v, ok := p.Unwrap().Load(1); ok {
			t.Errorf("Load(1) after the panic: got %v, true; want absent", v)
		}
		if s := p.Stats(); s.ComputePanics != 1 {
			t.Errorf("ComputePanics: got %d; want 1", s.ComputePanics)
		}
		return
	}
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProfile_NilPanicUnderGODEBUGPanicnilIsNotSwallowed$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SAFEMAP_TEST_PANICNIL=1", "GODEBUG=panicnil=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v with GODEBUG=panicnil=1: %v\n%s", cmd, err, out)
	}
}

// TestProfile_StatsRoundTripThroughJSON writes the stats of a workload that
// touches every field and reads them back.
func TestProfile_StatsRoundTripThroughJSON(t *testing.T) {
	p := safemap.NewProfile[int, int](safemap.New[int, int]())
	empty := p.Stats()
	ctx := context.Background()
	p.Store(1, 1)
	p.Store(1, 2)
	p.Load(2)
	p.LoadOrStore(1, 3)
	p.LoadOrTryCompute(ctx, 2, func(context.Context) (int, error) { return 0, errProfileLoad })
	p.LoadOrCompute(2, func() int { return 2 })
	testkit.CatchPanic(func() { p.LoadOrCompute(3, func() int { panic("give up") }) })
	p.Delete(1)
	p.Range(func(int, int) bool { return true })
	p.Clear()
	for _, s := range []safemap.ProfileStats{empty, p.Stats()} {
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		got, err := safemap.ReadProfileStats(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("ReadProfileStats of\n%s: %v", buf.Bytes(), err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("ReadProfileStats(WriteJSON(s)):\ngot  %+v\nwant %+v", got, s)
		}
	}
}

// TestReadProfileStats_RejectsBadInput edits a valid document into each
// kind of bad one and checks the error names the problem.
func TestReadProfileStats_RejectsBadInput(t *testing.T) {
	valid := wantStats(safemap.ProfileStats{
		Duration: time.Second, Hits: 3, Misses: 2, Inserts: 2, Computes: 2,
		ComputeErrors: 1, ComputeTime: time.Millisecond, Len: 1, MaxLen: 2,
		Calls: map[string]int64{"Load": 3, "LoadOrCompute": 2},
	})
	var buf bytes.Buffer
	if err := valid.WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if _, err := safemap.ReadProfileStats(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("ReadProfileStats of the valid document: %v", err)
	}
	edit := func(change func(doc map[string]any)) string {
		var doc map[string]any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("json.Unmarshal: %v", err)
		}
		change(doc)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return string(out)
	}
	for _, c := range []struct {
		name string
		doc  string
		want string // the error contains this
	}{
		{"unknown field", edit(func(d map[string]any) { d["lookups"] = 1 }), `unknown field "lookups"`},
		{"newer version", edit(func(d map[string]any) { d["version"] = 2 }), "profile version 2, want 1"},
		{"no version", edit(func(d map[string]any) { delete(d, "version") }), "profile version 0, want 1"},
		{"negative count", edit(func(d map[string]any) { d["inserts"] = -1 }), "inserts is negative (-1)"},
		{"negative duration", edit(func(d map[string]any) { d["duration_ns"] = -1 }), "duration_ns is negative (-1)"},
		{"negative length", edit(func(d map[string]any) { d["max_len"] = -2 }), "max_len is negative (-2)"},
		{"negative calls", edit(func(d map[string]any) { d["calls"] = map[string]any{"Load": -3} }), "calls of Load is negative (-3)"},
		{"hits + misses != reads", edit(func(d map[string]any) { d["reads"] = 6 }), "hits (3) + misses (2) != reads (6)"},
		{"more failures than computes", edit(func(d map[string]any) { d["compute_panics"] = 2 }), "compute_errors (1) + compute_panics (2) exceed computes (2)"},
		{"failures that overflow", edit(func(d map[string]any) {
			d["compute_errors"], d["compute_panics"] = int64(math.MaxInt64), int64(math.MaxInt64)
		}), "exceed computes"},
		{"wrong type", edit(func(d map[string]any) { d["hits"] = "three" }), "reading profile"},
		{"not JSON", "version: 1", "reading profile"},
		{"empty", "", "reading profile: EOF"},
		{"two documents", buf.String() + buf.String(), "after the profile"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := safemap.ReadProfileStats(strings.NewReader(c.doc))
			if err == nil {
				t.Fatalf("ReadProfileStats(%s): got %+v, <nil>; want an error containing %q", c.doc, s, c.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "safemap: ") || !strings.Contains(msg, c.want) {
				t.Errorf("ReadProfileStats(%s): got error %q; want a \"safemap: \" error containing %q", c.doc, msg, c.want)
			}
			if !reflect.DeepEqual(s, safemap.ProfileStats{}) {
				t.Errorf("ReadProfileStats(%s): got stats %+v with the error; want zero stats", c.doc, s)
			}
		})
	}
}

// profileOps are the operations the stress tests issue: every method but
// Clear, whose removals are not deletes.
var profileOps = []string{
	"Load", "Store", "LoadOrStore", "LoadOrCompute", "LoadOrTryCompute",
	"Compute", "Swap", "CompareAndSwap", "CompareAndDelete", "LoadAndDelete",
	"Delete", "Range", "All", "Len",
}

// profileWorkload is what the goroutines of a stress test did, counted by
// the goroutines themselves.
type profileWorkload struct {
	calls    map[string]int64
	computes atomic.Int64 // value-function calls
	failures atomic.Int64 // value-function errors
}

// runProfileOps issues n random operations on p from one goroutine (id),
// on keys [0, keys), and adds its calls to w.calls under mu.
func runProfileOps(p *safemap.Profile[int, int], id, n, keys int, w *profileWorkload, mu *sync.Mutex) {
	rng := rand.New(rand.NewPCG(uint64(id), 42))
	ctx := context.Background()
	calls := make(map[string]int64)
	for range n {
		op := profileOps[rng.IntN(len(profileOps))]
		k, v := rng.IntN(keys), rng.IntN(4)
		calls[op]++
		switch op {
		case "Load":
			p.Load(k)
		case "Store":
			p.Store(k, v)
		case "LoadOrStore":
			p.LoadOrStore(k, v)
		case "LoadOrCompute":
			p.LoadOrCompute(k, func() int { w.computes.Add(1); return v })
		case "LoadOrTryCompute":
			p.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
				w.computes.Add(1)
				if v == 0 {
					w.failures.Add(1)
					return 0, errProfileLoad
				}
				return v, nil
			})
		case "Compute":
			p.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) {
				return old + 1, safemap.ComputeOp(v % 3)
			})
		case "Swap":
			p.Swap(k, v)
		case "CompareAndSwap":
			p.CompareAndSwap(k, v, v+1)
		case "CompareAndDelete":
			p.CompareAndDelete(k, v)
		case "LoadAndDelete":
			p.LoadAndDelete(k)
		case "Delete":
			p.Delete(k)
		case "Range":
			p.Range(func(int, int) bool { return rng.IntN(8) != 0 })
		case "All":
			for range p.All() {
			}
		case "Len":
			p.Len()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for op, c := range calls {
		w.calls[op] += c
	}
}

// checkSnapshot fails unless s passes ReadProfileStats' checks and no
// count fell since prev.
func checkSnapshot(t *testing.T, s, prev safemap.ProfileStats) {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Errorf("WriteJSON: %v", err)
		return
	}
	if _, err := safemap.ReadProfileStats(&buf); err != nil {
		t.Errorf("ReadProfileStats of a snapshot taken during the workload: %v\n%+v", err, s)
	}
	if s.Waiters > s.Misses {
		t.Errorf("snapshot: Waiters %d > Misses %d", s.Waiters, s.Misses)
	}
	for _, f := range []struct {
		name      string
		got, prev int64
	}{
		{"Hits", s.Hits, prev.Hits}, {"Misses", s.Misses, prev.Misses}, {"Inserts", s.Inserts, prev.Inserts},
		{"Updates", s.Updates, prev.Updates}, {"Deletes", s.Deletes, prev.Deletes}, {"Computes", s.Computes, prev.Computes},
		{"Waiters", s.Waiters, prev.Waiters}, {"Ranges", s.Ranges, prev.Ranges}, {"MaxLen", int64(s.MaxLen), int64(prev.MaxLen)},
	} {
		if f.got < f.prev {
			t.Errorf("snapshot: %s fell from %d to %d", f.name, f.prev, f.got)
		}
	}
}

// TestProfile_CountsAddUpUnderConcurrency runs a random mix of every method
// from many goroutines while another takes snapshots, then checks that the
// counts add up to what the goroutines did: every call counted under its
// method, every value-function call and error counted, and inserts minus
// deletes equal to the length.
func TestProfile_CountsAddUpUnderConcurrency(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		p := newProfile(t, im)
		g, n, keys := testkit.Goroutines(), testkit.ShortOr(300, 3000), 64
		w := &profileWorkload{calls: make(map[string]int64)}
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		observed := make(chan int)
		go func() {
			snapshots := 0
			var prev safemap.ProfileStats
			for {
				s := p.Stats()
				checkSnapshot(t, s, prev)
				prev = s
				snapshots++
				select {
				case <-stop:
					observed <- snapshots
					return
				default:
				}
			}
		}()
		testkit.WithinBulk(t, "the workload", func() {
			for id := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runProfileOps(p, id, n, keys, w, &mu)
				}()
			}
			wg.Wait()
		})
		close(stop)
		testkit.Receive(t, "the snapshots", observed)

		s := countsOf(t, p.Stats())
		var total int64
		for _, c := range s.Calls {
			total += c
		}
		if want := int64(g * n); total != want {
			t.Errorf("sum of Calls: got %d; want %d, the operations issued", total, want)
		}
		for _, op := range profileOps {
			if s.Calls[op] != w.calls[op] {
				t.Errorf("Calls[%q]: got %d; want %d", op, s.Calls[op], w.calls[op])
			}
		}
		if want := w.calls["Load"] + w.calls["LoadOrStore"] + w.calls["LoadOrCompute"] + w.calls["LoadOrTryCompute"]; s.Reads != want {
			t.Errorf("Reads: got %d; want %d", s.Reads, want)
		}
		if s.Computes != w.computes.Load() || s.ComputeErrors != w.failures.Load() || s.ComputePanics != 0 {
			t.Errorf("Computes, ComputeErrors, ComputePanics: got %d, %d, %d; want %d, %d, 0",
				s.Computes, s.ComputeErrors, s.ComputePanics, w.computes.Load(), w.failures.Load())
		}
		if want := w.calls["Range"] + w.calls["All"]; s.Ranges != want {
			t.Errorf("Ranges: got %d; want %d", s.Ranges, want)
		}
		switch {
		case im.name == "Cache":
			// Another package's map: a value an invalidation discarded
			// counts as an insert (see Profile).
			if s.Inserts-s.Deletes < int64(s.Len) {
				t.Errorf("Inserts - Deletes: got %d - %d = %d; want at least Len = %d", s.Inserts, s.Deletes, s.Inserts-s.Deletes, s.Len)
			}
		case s.Inserts-s.Deletes != int64(s.Len):
			t.Errorf("Inserts - Deletes: got %d - %d = %d; want Len = %d", s.Inserts, s.Deletes, s.Inserts-s.Deletes, s.Len)
		}
		if s.Len > keys || s.MaxLen < s.Len || s.MaxLen > keys {
			t.Errorf("Len, MaxLen: got %d, %d; want Len <= MaxLen <= %d", s.Len, s.MaxLen, keys)
		}
		if s.Clears != 0 || s.Waiters > s.Misses {
			t.Errorf("Clears, Waiters, Misses: got %d, %d, %d; want 0, at most Misses", s.Clears, s.Waiters, s.Misses)
		}
	})
}

// TestProfile_ResetDuringOperationsKeepsSnapshotsValid resets the Profile
// over and over while goroutines run the workload: every snapshot must
// still pass ReadProfileStats' checks.
func TestProfile_ResetDuringOperationsKeepsSnapshotsValid(t *testing.T) {
	p := safemap.NewProfile[int, int](safemap.New[int, int]())
	w := &profileWorkload{calls: make(map[string]int64)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := range testkit.Goroutines() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runProfileOps(p, id, testkit.ShortOr(300, 3000), 64, w, &mu)
			}()
		}
		wg.Wait()
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		p.Reset()
		checkSnapshot(t, p.Stats(), safemap.ProfileStats{})
	}
	testkit.Receive(t, "the workload", done)
	checkStats(t, "after the last Reset", p, func() safemap.ProfileStats {
		p.Reset()
		n := p.Unwrap().Len() // uncounted
		return safemap.ProfileStats{Len: n, MaxLen: n, Calls: map[string]int64{}}
	}())
}
