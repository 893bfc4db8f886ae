package safemap_test

// Conformance tests for the missing-key path: LoadOrCompute,
// LoadOrTryCompute and Compute. See conformance_test.go for the helpers.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// computeResult is what one LoadOrCompute or LoadOrTryCompute call returned.
type computeResult struct {
	value  int
	loaded bool
	err    error
}

func (r computeResult) String() string {
	return fmt.Sprintf("(%d, %v, %v)", r.value, r.loaded, r.err)
}

// computeForm calls LoadOrCompute or LoadOrTryCompute (with a live context)
// with a function that cannot fail, so tests of the compute-once protocol
// can run against both.
type computeForm struct {
	name  string
	frame string // how the method appears in a goroutine dump
	call  func(m safemap.ConcurrentMap[int, int], key int, fn func() int) computeResult
}

var computeForms = []computeForm{
	{
		name:  "LoadOrCompute",
		frame: ").LoadOrCompute(",
		call: func(m safemap.ConcurrentMap[int, int], key int, fn func() int) computeResult {
			v, loaded := m.LoadOrCompute(key, fn)
			return computeResult{v, loaded, nil}
		},
	},
	{
		name:  "LoadOrTryCompute",
		frame: ").LoadOrTryCompute(",
		call: func(m safemap.ConcurrentMap[int, int], key int, fn func() int) computeResult {
			v, loaded, err := m.LoadOrTryCompute(context.Background(), key, func(context.Context) (int, error) {
				return fn(), nil
			})
			return computeResult{v, loaded, err}
		},
	},
}

// forEachForm runs f as a subtest for every computeForm and, inside it,
// every impl.
func forEachForm(t *testing.T, f func(t *testing.T, form computeForm, im impl)) {
	t.Helper()
	for _, form := range computeForms {
		t.Run(form.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im impl) { f(t, form, im) })
		})
	}
}

// blockedCompute is a value function that signals when it starts and then
// blocks until the test releases it, so the test can act while a
// computation is in progress.
type blockedCompute struct {
	started chan struct{} // closed when fn starts
	release func()        // lets fn return; idempotent
	wait    chan struct{}
}

func newBlockedCompute(t *testing.T) *blockedCompute {
	b := &blockedCompute{started: make(chan struct{}), wait: make(chan struct{})}
	b.release = sync.OnceFunc(func() { close(b.wait) })
	t.Cleanup(b.release) // never leave the computing goroutine blocked
	return b
}

// fn returns a value function that blocks and then returns v.
func (b *blockedCompute) fn(v int) func() int {
	return func() int {
		close(b.started)
		<-b.wait
		return v
	}
}

// startComputing calls form on key with a function that blocks until
// b.release, on a new goroutine, and returns once the function has started.
// The call's result arrives on the returned channel.
func startComputing(t *testing.T, m safemap.ConcurrentMap[int, int], form computeForm, key int, b *blockedCompute, v int) <-chan computeResult {
	t.Helper()
	done := make(chan computeResult, 1)
	go func() { done <- form.call(m, key, b.fn(v)) }()
	select {
	case <-b.started:
	case r := <-done:
		t.Fatalf("%s(%d) returned %v without calling fn", form.name, key, r)
	}
	return done
}

// startWaiter starts a call of form on key of m while another computation
// of key (startComputing's) runs, and waits until both are parked; the
// waiter's own fn must not run. Its result arrives on the channel.
func startWaiter(t *testing.T, m safemap.ConcurrentMap[int, int], form computeForm, key int) <-chan computeResult {
	t.Helper()
	waiter := make(chan computeResult, 1)
	go func() {
		waiter <- form.call(m, key, func() int {
			t.Errorf("%s(%d) of a waiter called its fn while another computation was in progress", form.name, key)
			return -1
		})
	}()
	testkit.WaitUntilParked(t, form.frame, 2)
	return waiter
}

// TestLoadOrCompute_CalledOncePerKey releases many goroutines at once onto
// the same missing keys and checks that fn runs exactly once per key, that
// every caller gets that call's value, and that exactly one caller per key
// reports loaded=false.
func TestLoadOrCompute_CalledOncePerKey(t *testing.T) {
	testCalledOncePerKey(t, computeForms[0])
}

// TestLoadOrTryCompute_CalledOncePerKey is TestLoadOrCompute_CalledOncePerKey
// for LoadOrTryCompute.
func TestLoadOrTryCompute_CalledOncePerKey(t *testing.T) {
	testCalledOncePerKey(t, computeForms[1])
}

func testCalledOncePerKey(t *testing.T, form computeForm) {
	const keys = 16
	forEachImpl(t, func(t *testing.T, im impl) {
		g := testkit.Goroutines()
		for round := range testkit.ShortOr(3, 30) {
			m := newMap[int, int](t, im)
			var calls [keys]atomic.Int32
			results := make([][keys]computeResult, g)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for id := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for _, k := range rand.Perm(keys) {
						results[id][k] = form.call(m, k, func() int {
							calls[k].Add(1)
							runtime.Gosched() // widen the window in which others miss k
							return id*keys + k
						})
					}
				}()
			}
			close(start)
			testkit.WithinBulk(t, "goroutines calling "+form.name, wg.Wait)
			for k := range keys {
				if n := calls[k].Load(); n != 1 {
					t.Errorf("round %d: fn for key %d: got %d calls; want 1", round, k, n)
				}
				first := results[0][k]
				computed := 0
				for id := range g {
					r := results[id][k]
					if r.value != first.value || r.err != nil || r.value%keys != k {
						t.Errorf("round %d: goroutine %d got %v for key %d; want (%d, _, <nil>) like goroutine 0, a value computed for key %d",
							round, id, r, k, first.value, k)
					}
					if !r.loaded {
						computed++
					}
				}
				if computed != 1 {
					t.Errorf("round %d: key %d: got %d callers with loaded=false; want 1", round, k, computed)
				}
				if v, ok := m.Load(k); !ok || v != first.value {
					t.Errorf("round %d: Load(%d): got %v, %v; want %v, true", round, k, v, ok, first.value)
				}
			}
			if n := m.Len(); n != keys {
				t.Errorf("round %d: Len(): got %d; want %d", round, n, keys)
			}
		}
	})
}

// exerciseOtherKeys runs every method on keys [base, base+n), which no other
// goroutine uses, and checks every result, while the key pending is being
// computed: Load must report pending absent, and Range and All must not
// visit it. It leaves keys stored, to make the map grow. It reports with
// t.Error, so it may run on any goroutine.
func exerciseOtherKeys(t *testing.T, m safemap.ConcurrentMap[int, int], base, n, pending int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		k := base + i
		m.Store(k, 1)
		if v, ok := m.Load(k); !ok || v != 1 {
			t.Errorf("Load(%d): got %v, %v; want 1, true", k, v, ok)
		}
		if v, loaded := m.LoadOrStore(k, 2); !loaded || v != 1 {
			t.Errorf("LoadOrStore(%d, 2): got %v, %v; want 1, true", k, v, loaded)
		}
		if v, ok := m.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) { return old + 1, safemap.UpdateOp }); !ok || v != 2 {
			t.Errorf("Compute(%d, +1): got %v, %v; want 2, true", k, v, ok)
		}
		if prev, loaded := m.Swap(k, 3); !loaded || prev != 2 {
			t.Errorf("Swap(%d, 3): got %v, %v; want 2, true", k, prev, loaded)
		}
		if !m.CompareAndSwap(k, 3, 4) {
			t.Errorf("CompareAndSwap(%d, 3, 4): got false; want true", k)
		}
		if !m.CompareAndDelete(k, 4) {
			t.Errorf("CompareAndDelete(%d, 4): got false; want true", k)
		}
		if v, loaded := m.LoadOrCompute(k, func() int { return 5 }); loaded || v != 5 {
			t.Errorf("LoadOrCompute(%d, ->5): got %v, %v; want 5, false", k, v, loaded)
		}
		if v, loaded := m.LoadAndDelete(k); !loaded || v != 5 {
			t.Errorf("LoadAndDelete(%d): got %v, %v; want 5, true", k, v, loaded)
		}
		if v, loaded, err := m.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) { return 6, nil }); loaded || v != 6 || err != nil {
			t.Errorf("LoadOrTryCompute(%d, ->6): got %v, %v, %v; want 6, false, <nil>", k, v, loaded, err)
		}
		m.Delete(k)
		m.Store(k, 7)
		if v, ok := m.Load(pending); ok {
			t.Errorf("Load(%d) while it is being computed: got %v, true; want absent", pending, v)
		}
	}
	m.Range(func(k, v int) bool {
		if k == pending {
			t.Errorf("Range visited %d, which is still being computed, with %d", k, v)
		}
		return true
	})
	for k, v := range m.All() {
		if k == pending {
			t.Errorf("All yielded %d, which is still being computed, with %d", k, v)
		}
	}
	m.Len()
}

// TestLoadOrCompute_DoesNotBlockOtherKeys proves fn runs holding no lock
// that blocks other keys: while it blocks, many goroutines run every method
// on other keys (enough of them to make the map grow), and Range, All, Len
// and Clear, and all of them finish.
func TestLoadOrCompute_DoesNotBlockOtherKeys(t *testing.T) {
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		m := newMap[int, int](t, im)
		for k := range 100 {
			m.Store(k, k)
		}
		const pending = -1
		b := newBlockedCompute(t)
		done := startComputing(t, m, form, pending, b, 77)
		testkit.Within(t, "operations on other keys while fn blocks", func() {
			var wg sync.WaitGroup
			n := testkit.ShortOr(30, 120)
			for g := range testkit.Goroutines() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					exerciseOtherKeys(t, m, 1000*(g+1), n, pending)
				}()
			}
			wg.Wait()
			if v, ok := m.Load(pending); ok {
				t.Errorf("Load(%d) while it is being computed: got %v, true; want absent", pending, v)
			}
			if got, want := m.Len(), 100+testkit.Goroutines()*n; got != want {
				t.Errorf("Len() while %d is being computed: got %d; want %d", pending, got, want)
			}
			m.Clear()
			if n := m.Len(); n != 0 {
				t.Errorf("Len() after Clear while %d is being computed: got %d; want 0", pending, n)
			}
			exerciseOtherKeys(t, m, 100_000, 10, pending)
		})
		b.release()
		r := testkit.Receive(t, form.name+" after fn was released", done)
		if want := (computeResult{77, false, nil}); r != want {
			t.Errorf("%s(%d) with fn ->77: got %v; want %v", form.name, pending, r, want)
		}
		if v, ok := m.Load(pending); ok && v != 77 {
			t.Errorf("Load(%d) after the computation: got %v, true; want 77 (or absent, if Clear took effect after it)", pending, v)
		}
	})
}

// TestLoadOrCompute_KeyBeingComputedIsAbsent proves that while fn runs, the
// key is absent to every reader, and that reading it does not wait for fn.
func TestLoadOrCompute_KeyBeingComputedIsAbsent(t *testing.T) {
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		m := newMap[int, int](t, im)
		m.Store(2, 2)
		b := newBlockedCompute(t)
		done := startComputing(t, m, form, 1, b, 11)
		testkit.Within(t, "reads of the key being computed", func() {
			if v, ok := m.Load(1); ok {
				t.Errorf("Load(1) while it is being computed: got %v, true; want absent", v)
			}
			if m.CompareAndSwap(1, 0, 5) {
				t.Error("CompareAndSwap(1, 0, 5) while 1 is being computed: got true; want false")
			}
			if m.CompareAndDelete(1, 0) {
				t.Error("CompareAndDelete(1, 0) while 1 is being computed: got true; want false")
			}
			// (LoadAndDelete and Delete would find it absent too, but
			// they discard the computation: see the Invalidation tests.)
			if got := collect(t, m); len(got) != 1 || got[2] != 2 {
				t.Errorf("Range while 1 is being computed: got %v; want map[2:2]", got)
			}
			if got := collectAll(t, m); len(got) != 1 || got[2] != 2 {
				t.Errorf("All while 1 is being computed: got %v; want map[2:2]", got)
			}
			m.Compute(1, func(old int, loaded bool) (int, safemap.ComputeOp) {
				if loaded {
					t.Errorf("Compute(1) while it is being computed called fn(%v, true); want fn(0, false)", old)
				}
				return 0, safemap.CancelOp
			})
		})
		b.release()
		if r, want := testkit.Receive(t, form.name+" after fn was released", done), (computeResult{11, false, nil}); r != want {
			t.Errorf("%s(1) with fn ->11: got %v; want %v", form.name, r, want)
		}
		if v, ok := m.Load(1); !ok || v != 11 {
			t.Errorf("Load(1) after the computation: got %v, %v; want 11, true", v, ok)
		}
	})
}

// TestLoadOrCompute_StoreDuringComputeWins proves that a value stored while
// fn runs wins: the computing caller, and a caller waiting on it, return the
// stored value with loaded=true, and the map keeps it.
func TestLoadOrCompute_StoreDuringComputeWins(t *testing.T) {
	stores := []struct {
		name  string
		store func(m safemap.ConcurrentMap[int, int], k, v int) (gotOK bool)
	}{
		{"Store", func(m safemap.ConcurrentMap[int, int], k, v int) bool { m.Store(k, v); return true }},
		{"LoadOrStore", func(m safemap.ConcurrentMap[int, int], k, v int) bool {
			_, loaded := m.LoadOrStore(k, v)
			return !loaded
		}},
		{"Swap", func(m safemap.ConcurrentMap[int, int], k, v int) bool {
			_, loaded := m.Swap(k, v)
			return !loaded
		}},
		{"Compute", func(m safemap.ConcurrentMap[int, int], k, v int) bool {
			_, ok := m.Compute(k, func(_ int, loaded bool) (int, safemap.ComputeOp) {
				if loaded {
					return 0, safemap.CancelOp
				}
				return v, safemap.UpdateOp
			})
			return ok
		}},
	}
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		for _, s := range stores {
			t.Run(s.name, func(t *testing.T) {
				m := newMap[int, int](t, im)
				b := newBlockedCompute(t)
				done := startComputing(t, m, form, 1, b, 100)
				waiter := startWaiter(t, m, form, 1)
				testkit.Within(t, s.name+" while fn runs", func() {
					if !s.store(m, 1, 200) {
						t.Errorf("%s(1, 200) while 1 is being computed found it present; want absent", s.name)
					}
				})
				b.release()
				want := computeResult{200, true, nil}
				if r := testkit.Receive(t, "the computing caller", done); r != want {
					t.Errorf("%s(1) with fn ->100 after %s(1, 200): got %v; want %v", form.name, s.name, r, want)
				}
				if r := testkit.Receive(t, "the waiting caller", waiter); r != want {
					t.Errorf("waiting %s(1) after %s(1, 200): got %v; want %v", form.name, s.name, r, want)
				}
				if v, ok := m.Load(1); !ok || v != 200 {
					t.Errorf("Load(1): got %v, %v; want 200, true", v, ok)
				}
				if n := m.Len(); n != 1 {
					t.Errorf("Len(): got %d; want 1", n)
				}
			})
		}
	})
}

// TestLoadOrCompute_PanicReachesCallerAndStoresNothing proves a panic in fn
// reaches the caller with its value, stores nothing, and leaves the map
// usable.
func TestLoadOrCompute_PanicReachesCallerAndStoresNothing(t *testing.T) {
	type sentinel struct{ s string }
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		m.Store(2, 2)
		r, panicked := testkit.CatchPanic(func() {
			m.LoadOrCompute(1, func() int { panic(sentinel{"LoadOrCompute"}) })
		})
		if !panicked || r != (sentinel{"LoadOrCompute"}) {
			t.Errorf("LoadOrCompute whose fn panics: got panic %v (panicked=%v); want %v", r, panicked, sentinel{"LoadOrCompute"})
		}
		r, panicked = testkit.CatchPanic(func() {
			m.LoadOrTryCompute(context.Background(), 1, func(context.Context) (int, error) { panic(sentinel{"LoadOrTryCompute"}) })
		})
		if !panicked || r != (sentinel{"LoadOrTryCompute"}) {
			t.Errorf("LoadOrTryCompute whose fn panics: got panic %v (panicked=%v); want %v", r, panicked, sentinel{"LoadOrTryCompute"})
		}
		testkit.Within(t, "methods after a panic in fn", func() {
			checkContents(t, m, map[int]int{2: 2})
			if v, loaded := m.LoadOrCompute(1, func() int { return 5 }); loaded || v != 5 {
				t.Errorf("LoadOrCompute(1, ->5) after a panic: got %v, %v; want 5, false", v, loaded)
			}
			checkUsable(t, m, 1)
			checkUsable(t, m, 2)
		})
	})
}

// TestLoadOrCompute_PanicReleasesWaitersToRetry proves that when the
// computing caller's fn panics, the goroutines waiting on it are released
// and retry: exactly one of them runs its own fn, and all get its value.
func TestLoadOrCompute_PanicReleasesWaitersToRetry(t *testing.T) {
	testWaitersRetry(t, "panic", func() { panic("fn gives up") })
}

// TestLoadOrCompute_GoexitReleasesWaitersToRetry is
// TestLoadOrCompute_PanicReleasesWaitersToRetry for a fn that calls
// runtime.Goexit.
func TestLoadOrCompute_GoexitReleasesWaitersToRetry(t *testing.T) {
	testWaitersRetry(t, "Goexit", runtime.Goexit)
}

func testWaitersRetry(t *testing.T, how string, giveUp func()) {
	forEachForm(t, func(t *testing.T, form computeForm, im impl) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		owner := make(chan any, 1)
		go func() {
			returned := false
			defer func() {
				if !returned {
					owner <- recover()
				}
			}()
			form.call(m, 1, func() int {
				close(b.started)
				<-b.wait
				giveUp()
				return -1
			})
			returned = true
			owner <- "returned normally"
		}()
		<-b.started

		waiters := testkit.ShortOr(4, testkit.Goroutines())
		var calls atomic.Int32
		results := make(chan computeResult, waiters)
		for range waiters {
			go func() {
				results <- form.call(m, 1, func() int { calls.Add(1); return 9 })
			}()
		}
		testkit.WaitUntilParked(t, form.frame, waiters+1)
		b.release()

		got := testkit.Receive(t, "the goroutine whose fn called "+how, owner)
		wantOwner := any("fn gives up")
		if how == "Goexit" {
			wantOwner = nil
		}
		if got != wantOwner {
			t.Errorf("the goroutine whose fn called %s: got %v; want %v", how, got, wantOwner)
		}
		computed := 0
		for i := range waiters {
			r := testkit.Receive(t, fmt.Sprintf("waiter %d after fn called %s", i, how), results)
			if r.value != 9 || r.err != nil {
				t.Errorf("waiter after fn called %s: got %v; want (9, _, <nil>)", how, r)
			}
			if !r.loaded {
				computed++
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("waiters' fn after fn called %s: got %d calls; want 1", how, n)
		}
		if computed != 1 {
			t.Errorf("waiters with loaded=false: got %d; want 1", computed)
		}
		if v, ok := m.Load(1); !ok || v != 9 {
			t.Errorf("Load(1): got %v, %v; want 9, true", v, ok)
		}
	})
}

// TestLoadOrTryCompute_ErrorStoresNothingAndNextCallRetries proves an error
// from fn is returned to its caller, nothing is stored, and the next call
// runs fn again (after a Delete, in a map that remembers errors).
func TestLoadOrTryCompute_ErrorStoresNothingAndNextCallRetries(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		ctx := context.Background()
		calls := 0
		for range 3 {
			v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) {
				calls++
				return 0, errConfLoad
			})
			if v != 0 || loaded || !errors.Is(err, errConfLoad) {
				t.Errorf("LoadOrTryCompute(1) whose fn fails: got %v, %v, %v; want 0, false, %v", v, loaded, err, errConfLoad)
			}
			if got, ok := m.Load(1); ok {
				t.Errorf("Load(1) after fn failed: got %v, true; want absent", got)
			}
		}
		wantCalls := 3
		if im.rules.remembersErrors {
			// The first error is remembered: the other two calls get it
			// without fn, until a Delete forgets it.
			wantCalls = 1
			m.Delete(1)
		}
		if calls != wantCalls {
			t.Errorf("fn of three calls that all fail: got %d calls; want %d", calls, wantCalls)
		}
		if v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { return 4, nil }); v != 4 || loaded || err != nil {
			t.Errorf("LoadOrTryCompute(1, ->4) after failures: got %v, %v, %v; want 4, false, <nil>", v, loaded, err)
		}
		checkContents(t, m, map[int]int{1: 4})
	})
}

// TestLoadOrTryCompute_ErrorIsSharedWithWaiters proves an error from fn is
// returned to every caller waiting on that computation, none of which runs
// its own fn.
func TestLoadOrTryCompute_ErrorIsSharedWithWaiters(t *testing.T) {
	const frame = ").LoadOrTryCompute("
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		ctx := context.Background()
		owner := make(chan computeResult, 1)
		go func() {
			v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) {
				close(b.started)
				<-b.wait
				return 0, errConfLoad
			})
			owner <- computeResult{v, loaded, err}
		}()
		<-b.started
		waiters := testkit.ShortOr(4, testkit.Goroutines())
		var calls atomic.Int32
		results := make(chan computeResult, waiters)
		for range waiters {
			go func() {
				v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) {
					calls.Add(1)
					return 9, nil
				})
				results <- computeResult{v, loaded, err}
			}()
		}
		testkit.WaitUntilParked(t, frame, waiters+1)
		b.release()
		if r := testkit.Receive(t, "the computing caller", owner); r.value != 0 || r.loaded || !errors.Is(r.err, errConfLoad) {
			t.Errorf("LoadOrTryCompute(1) whose fn fails: got %v; want (0, false, %v)", r, errConfLoad)
		}
		for i := range waiters {
			if r := testkit.Receive(t, fmt.Sprintf("waiter %d", i), results); r.value != 0 || r.loaded || !errors.Is(r.err, errConfLoad) {
				t.Errorf("waiter of a failing computation: got %v; want (0, false, %v)", r, errConfLoad)
			}
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("waiters' fn: got %d calls; want 0 (the error is shared)", n)
		}
		if v, ok := m.Load(1); ok {
			t.Errorf("Load(1) after the computation failed: got %v, true; want absent", v)
		}
		if im.rules.remembersErrors {
			if _, _, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { return 3, nil }); !errors.Is(err, errConfLoad) {
				t.Errorf("LoadOrTryCompute(1, ->3) after the failure, which is remembered: got error %v; want one matching %v", err, errConfLoad)
			}
			m.Delete(1) // forgets it
		}
		if v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) { return 3, nil }); v != 3 || loaded || err != nil {
			t.Errorf("LoadOrTryCompute(1, ->3) after the failure: got %v, %v, %v; want 3, false, <nil>", v, loaded, err)
		}
	})
}

// TestLoadOrTryCompute_WaiterWhoseContextEndsReturnsPromptly proves a waiter
// whose own context is cancelled, or passes its deadline, returns ctx.Err()
// while the computation is still running, and that the computation goes on
// and stores its value.
func TestLoadOrTryCompute_WaiterWhoseContextEndsReturnsPromptly(t *testing.T) {
	const frame = ").LoadOrTryCompute("
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		b := newBlockedCompute(t)
		owner := make(chan computeResult, 1)
		go func() {
			v, loaded, err := m.LoadOrTryCompute(context.Background(), 1, func(context.Context) (int, error) {
				return b.fn(5)(), nil
			})
			owner <- computeResult{v, loaded, err}
		}()
		<-b.started

		noCall := func(context.Context) (int, error) {
			t.Error("a waiter ran its fn while another computation was in progress")
			return -1, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cancelled := make(chan computeResult, 1)
		go func() {
			v, loaded, err := m.LoadOrTryCompute(ctx, 1, noCall)
			cancelled <- computeResult{v, loaded, err}
		}()
		testkit.WaitUntilParked(t, frame, 2)
		cancel()
		if r, want := testkit.Receive(t, "the waiter whose context was cancelled", cancelled), (computeResult{0, false, context.Canceled}); r != want {
			t.Errorf("waiter whose context was cancelled: got %v; want %v", r, want)
		}

		// A deadline that passes while waiting: no sleep is needed, the
		// computation stays blocked until the waiter has returned.
		dctx, dcancel := context.WithTimeout(context.Background(), 1)
		defer dcancel()
		if r, want := testkit.Receive(t, "the waiter whose deadline passed", func() <-chan computeResult {
			c := make(chan computeResult, 1)
			go func() {
				v, loaded, err := m.LoadOrTryCompute(dctx, 1, noCall)
				c <- computeResult{v, loaded, err}
			}()
			return c
		}()), (computeResult{0, false, context.DeadlineExceeded}); r != want {
			t.Errorf("waiter whose deadline passed: got %v; want %v", r, want)
		}

		select {
		case r := <-owner:
			t.Fatalf("the computation returned %v before its fn was released", r)
		default:
		}
		b.release()
		if r, want := testkit.Receive(t, "the computing caller", owner), (computeResult{5, false, nil}); r != want {
			t.Errorf("the computing caller after its waiters gave up: got %v; want %v", r, want)
		}
		if v, ok := m.Load(1); !ok || v != 5 {
			t.Errorf("Load(1) after the computation: got %v, %v; want 5, true", v, ok)
		}
	})
}

// TestLoadOrTryCompute_WaitersRetryWhenComputingCallerIsCancelled proves
// that when the computing caller's context ends and its fn fails, waiters
// whose contexts are alive do not get that error: they retry, and exactly
// one of them runs its own fn.
func TestLoadOrTryCompute_WaitersRetryWhenComputingCallerIsCancelled(t *testing.T) {
	const frame = ").LoadOrTryCompute("
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started := make(chan struct{})
		owner := make(chan computeResult, 1)
		go func() {
			v, loaded, err := m.LoadOrTryCompute(ctx, 1, func(context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				return 0, ctx.Err()
			})
			owner <- computeResult{v, loaded, err}
		}()
		<-started
		waiters := testkit.ShortOr(4, testkit.Goroutines())
		var calls atomic.Int32
		results := make(chan computeResult, waiters)
		for range waiters {
			go func() {
				v, loaded, err := m.LoadOrTryCompute(context.Background(), 1, func(context.Context) (int, error) {
					calls.Add(1)
					return 9, nil
				})
				results <- computeResult{v, loaded, err}
			}()
		}
		testkit.WaitUntilParked(t, frame, waiters+1)
		cancel()
		if r := testkit.Receive(t, "the cancelled computing caller", owner); r.value != 0 || r.loaded || !errors.Is(r.err, context.Canceled) {
			t.Errorf("the cancelled computing caller: got %v; want (0, false, %v)", r, context.Canceled)
		}
		computed := 0
		for i := range waiters {
			r := testkit.Receive(t, fmt.Sprintf("waiter %d", i), results)
			if r.value != 9 || r.err != nil {
				t.Errorf("waiter with a live context after the computing caller was cancelled: got %v; want (9, _, <nil>)", r)
			}
			if !r.loaded {
				computed++
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("waiters' fn: got %d calls; want 1", n)
		}
		if computed != 1 {
			t.Errorf("waiters with loaded=false: got %d; want 1", computed)
		}
		if v, ok := m.Load(1); !ok || v != 9 {
			t.Errorf("Load(1): got %v, %v; want 9, true", v, ok)
		}
	})
}

// TestLoadOrTryCompute_EndedContextOnMissSkipsFn proves a caller whose
// context has already ended gets ctx.Err() without fn being called when it
// misses the key (absent, or being computed), and the value when the key is
// present.
func TestLoadOrTryCompute_EndedContextOnMissSkipsFn(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
		defer cancel2()
		noCall := func(context.Context) (int, error) {
			t.Error("LoadOrTryCompute with an ended context called fn")
			return -1, nil
		}
		for _, c := range []struct {
			name string
			ctx  context.Context
			err  error
		}{{"cancelled", cancelled, context.Canceled}, {"expired", expired, context.DeadlineExceeded}} {
			if r, want := (func() computeResult {
				v, loaded, err := m.LoadOrTryCompute(c.ctx, 1, noCall)
				return computeResult{v, loaded, err}
			}()), (computeResult{0, false, c.err}); r != want {
				t.Errorf("LoadOrTryCompute(%s ctx, absent key): got %v; want %v", c.name, r, want)
			}
			if v, ok := m.Load(1); ok {
				t.Errorf("Load(1) after LoadOrTryCompute(%s ctx): got %v, true; want absent", c.name, v)
			}
		}

		b := newBlockedCompute(t)
		done := startComputing(t, m, computeForms[1], 2, b, 20)
		testkit.Within(t, "LoadOrTryCompute with an ended context on a key being computed", func() {
			if v, loaded, err := m.LoadOrTryCompute(cancelled, 2, noCall); v != 0 || loaded || err != context.Canceled {
				t.Errorf("LoadOrTryCompute(cancelled ctx, key being computed): got %v, %v, %v; want 0, false, %v", v, loaded, err, context.Canceled)
			}
		})
		b.release()
		testkit.Receive(t, "the computing caller", done)

		m.Store(3, 0)
		for _, c := range []struct {
			name string
			ctx  context.Context
		}{{"cancelled", cancelled}, {"expired", expired}} {
			for _, k := range []int{2, 3} {
				v, loaded, err := m.LoadOrTryCompute(c.ctx, k, noCall)
				want := map[int]int{2: 20, 3: 0}[k]
				if v != want || !loaded || err != nil {
					t.Errorf("LoadOrTryCompute(%s ctx, present key %d): got %v, %v, %v; want %v, true, <nil>", c.name, k, v, loaded, err, want)
				}
			}
		}
	})
}

// TestCompute_ResultDescribesKeyAfterCall checks fn's arguments and
// Compute's results for each op on a present and an absent key.
func TestCompute_ResultDescribesKeyAfterCall(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, present := range []bool{false, true} {
			for _, op := range []safemap.ComputeOp{safemap.CancelOp, safemap.UpdateOp, safemap.DeleteOp} {
				m := newMap[int, int](t, im)
				m.Store(2, 2)
				if present {
					m.Store(1, 0) // a zero value is present
				}
				calls := 0
				v, ok := m.Compute(1, func(old int, loaded bool) (int, safemap.ComputeOp) {
					calls++
					if old != 0 || loaded != present {
						t.Errorf("Compute(1) with present=%v called fn(%v, %v); want fn(0, %v)", present, old, loaded, present)
					}
					return 5, op
				})
				want := map[int]int{2: 2}
				wantV, wantOK := 0, present
				switch op {
				case safemap.UpdateOp:
					wantV, wantOK = 5, true
				case safemap.DeleteOp:
					wantV, wantOK = 0, false
				}
				if wantOK {
					want[1] = wantV
				}
				if v != wantV || ok != wantOK || calls != 1 {
					t.Errorf("Compute(1, ->5, %v) with present=%v: got %v, %v with %d calls of fn; want %v, %v with 1",
						op, present, v, ok, calls, wantV, wantOK)
				}
				checkContents(t, m, want)
			}
		}
	})
}

// TestCompute_PanicChangesNothing proves a panic in fn reaches the caller,
// leaves the entry as it was (present or absent), and leaves the map usable
// for that key and others, also when many goroutines compute the same key
// and some of their functions panic.
func TestCompute_PanicChangesNothing(t *testing.T) {
	type sentinel struct{ k int }
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		m.Store(1, 10)
		for _, k := range []int{1, 2} {
			r, panicked := testkit.CatchPanic(func() {
				m.Compute(k, func(int, bool) (int, safemap.ComputeOp) { panic(sentinel{k}) })
			})
			if !panicked || r != (sentinel{k}) {
				t.Errorf("Compute(%d) whose fn panics: got panic %v (panicked=%v); want %v", k, r, panicked, sentinel{k})
			}
		}
		testkit.Within(t, "methods after a panic in Compute", func() {
			checkContents(t, m, map[int]int{1: 10})
			checkUsable(t, m, 1)
			checkUsable(t, m, 2)
			checkUsable(t, m, 3)
		})

		g := testkit.Goroutines()
		n := testkit.ShortOr(50, 200)
		var panics atomic.Int64
		var wg sync.WaitGroup
		testkit.Within(t, "concurrent Compute calls, some of which panic", func() {
			for id := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range n {
						panicky := (id+i)%5 == 0
						_, panicked := testkit.CatchPanic(func() {
							m.Compute(0, func(old int, _ bool) (int, safemap.ComputeOp) {
								if panicky {
									panic(sentinel{i})
								}
								return old + 1, safemap.UpdateOp
							})
						})
						if panicked != panicky {
							t.Errorf("Compute whose fn panics=%v: got panicked=%v", panicky, panicked)
						}
						if panicked {
							panics.Add(1)
						}
					}
				}()
			}
			wg.Wait()
		})
		want := g*n - int(panics.Load())
		if v, ok := m.Load(0); !ok || v != want {
			t.Errorf("Load(0) after %d increments, %d of which panicked: got %v, %v; want %d, true", g*n, panics.Load(), v, ok, want)
		}
	})
}

// TestCompute_ConcurrentIncrementsAreExact proves Compute is an atomic
// read-modify-write: concurrent increments of one key lose none, and each
// call returns a distinct count.
func TestCompute_ConcurrentIncrementsAreExact(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[string, int](t, im)
		g := testkit.Goroutines()
		n := testkit.ShortOr(100, 500)
		results := make([][]int, g)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for id := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range n {
					v, ok := m.Compute("counter", func(old int, _ bool) (int, safemap.ComputeOp) {
						if old%8 == 0 {
							runtime.Gosched() // let others change the key between read and write
						}
						return old + 1, safemap.UpdateOp
					})
					if !ok {
						t.Errorf("Compute(counter, +1): got ok=false; want true")
					}
					results[id] = append(results[id], v)
				}
			}()
		}
		close(start)
		testkit.WithinBulk(t, "goroutines calling Compute", wg.Wait)
		total := g * n
		if v, ok := m.Load("counter"); !ok || v != total {
			t.Errorf("Load(counter) after %d increments: got %v, %v; want %d, true", total, v, ok, total)
		}
		all := slices.Concat(results...)
		slices.Sort(all)
		for i, v := range all {
			if v != i+1 {
				t.Fatalf("results of Compute(counter, +1), sorted: got %d at index %d; want %d (each call returns a distinct count)", v, i, i+1)
			}
		}
	})
}

// TestNilFunctionOrContext_Panics proves a nil fn passed to LoadOrCompute,
// LoadOrTryCompute, Compute or Range, and a nil ctx passed to
// LoadOrTryCompute, panic with a "safemap: " message, whether or not the
// key is present, and change nothing.
func TestNilFunctionOrContext_Panics(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		var nilCtx context.Context
		ok := func(context.Context) (int, error) { return 1, nil }
		check := func(state string) {
			for _, k := range []int{1, 2} {
				testkit.MustPanicWith(t, fmt.Sprintf("LoadOrCompute(%d, nil) on %s", k, state), func() { m.LoadOrCompute(k, nil) }, "safemap: ")
				testkit.MustPanicWith(t, fmt.Sprintf("LoadOrTryCompute(ctx, %d, nil) on %s", k, state), func() {
					m.LoadOrTryCompute(context.Background(), k, nil)
				}, "safemap: ")
				testkit.MustPanicWith(t, fmt.Sprintf("LoadOrTryCompute(nil, %d, fn) on %s", k, state), func() { m.LoadOrTryCompute(nilCtx, k, ok) }, "safemap: ")
				testkit.MustPanicWith(t, fmt.Sprintf("Compute(%d, nil) on %s", k, state), func() { m.Compute(k, nil) }, "safemap: ")
			}
			testkit.MustPanicWith(t, "Range(nil) on "+state, func() { m.Range(nil) }, "safemap: ")
		}
		check("an empty map")
		checkContents(t, m, map[int]int{})
		m.Store(1, 1)
		check("a map holding key 1")
		checkContents(t, m, map[int]int{1: 1})
		testkit.Within(t, "methods after the panics", func() { checkUsable(t, m, 1) })
	})
}
