package safemap

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap/internal/testkit"
)

// TestFlightStripeModel drives one flight stripe with random waits and
// takes, on hashes with few bits so that probe runs collide and wrap, and
// on a few generations, and checks it against a built-in map: wait finds
// exactly the flight registered for its key and generation (registering
// one if there is none), and take removes exactly that one.
func TestFlightStripeModel(t *testing.T) {
	for _, bits := range []uint{1, 3, 6, 64} {
		r := rand.New(rand.NewPCG(uint64(bits), 7))
		hash := func(k int) uint64 {
			h := mixInt(12345, uint64(k))
			if bits < 64 {
				h &= 1<<bits - 1
			}
			return h
		}
		var st flightStripe[int, int]
		type keyGen struct {
			k   int
			gen uint8
		}
		model := map[keyGen]*flight[int]{}
		for step := range 20000 {
			k, gen := r.IntN(300), uint8(r.IntN(3))
			if r.IntN(2) == 0 {
				got := st.take(k, hash(k), gen)
				k := keyGen{k, gen}
				if want := model[k]; got != want {
					t.Fatalf("bits=%d step %d: take(%d) got %p; want %p", bits, step, k, got, want)
				}
				delete(model, k)
			} else {
				f, wait := st.wait(k, hash(k), gen)
				k := keyGen{k, gen}
				if wait == nil {
					t.Fatalf("bits=%d step %d: wait(%d) returned no channel", bits, step, k)
				}
				if want, ok := model[k]; ok && f != want {
					t.Fatalf("bits=%d step %d: wait(%d) got %p; want the registered %p", bits, step, k, f, want)
				} else if !ok {
					for _, g := range model {
						if g == f {
							t.Fatalf("bits=%d step %d: wait(%d) returned another key's flight", bits, step, k)
						}
					}
					model[k] = f
				}
			}
			if st.n != len(model) {
				t.Fatalf("bits=%d step %d: %d flights registered, want %d", bits, step, st.n, len(model))
			}
		}
		// Take them all: the table is dropped once it is empty and large.
		for k := range model {
			st.take(k.k, hash(k.k), k.gen)
		}
		if st.n != 0 {
			t.Fatalf("bits=%d: %d flights left", bits, st.n)
		}
		for i := range st.slots {
			if st.slots[i].f != nil {
				t.Fatalf("bits=%d: slot %d still holds a flight", bits, i)
			}
		}
	}
}

// The tests below aim at the races of Map's compute-once protocol: a slot
// reserved for a key while its function runs must move with its chain
// (grow, shrink, Clear), be found by the goroutines that claim the key
// meanwhile, wherever the chain now is, and be filled or emptied exactly
// once, by its owner, whatever deletes and resizes do around it.

// reservedByte returns the byte of the valid reservation of key in m's
// newest chain for it (slotReserved, with slotWaited once a waiter came,
// and the generation), or 0 if there is none.
func reservedByte[K comparable, V any](m *Map[K, V], key K) uint8 {
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	defer hd.unlock()
	_, _, rc, ri, _ := b.locateClaim(&t.ovf, hd, key, h2(h))
	if rc == nil {
		return 0
	}
	return slotByte(b.tags(hd, rc).Load(), ri)
}

// reservations counts the reserved slots in m's current table. No other
// goroutine may use m.
func reservations[K comparable, V any](m *Map[K, V]) int {
	t := m.table.Load()
	n := 0
	for i := range t.buckets {
		b, hd := &t.buckets[i], &t.heads[i]
		for c := b; c != nil; c = t.ovf.next(c) {
			n += bits.OnesCount64(matchReserved(b.tags(hd, c).Load()))
		}
	}
	return n
}

// TestMap_LoadOrComputeWaitersFindTheReservationWhereverItMoved starts a
// LoadOrCompute whose function blocks, then grows, shrinks or clears the
// table before and after a second caller of the key arrives. The
// reservation must move with its chain: the second caller waits rather
// than computing, both get the first function's value, the key is absent
// until it lands, and no reservation is left behind. A Clear invalidates
// the flight: a second caller that comes after it computes a value of its
// own, and one that came before it gets the first value, which the map
// does not keep.
func TestMap_LoadOrComputeWaitersFindTheReservationWhereverItMoved(t *testing.T) {
	const key, filler = -1, 2000
	grow := func(t *testing.T, m *Map[int64, int64]) {
		n := len(m.table.Load().buckets)
		for k := int64(filler); len(m.table.Load().buckets) == n; k++ {
			m.Store(k, k)
		}
	}
	shrink := func(t *testing.T, m *Map[int64, int64]) {
		n := len(m.table.Load().buckets)
		if n == minBuckets { // cleared: grow first
			for k := range int64(filler) {
				m.Store(k, k)
			}
			n = len(m.table.Load().buckets)
		}
		for k := range int64(1 << 20) {
			if len(m.table.Load().buckets) < n {
				return
			}
			m.Delete(k) // filler keys, then misses, which do not shrink
			if k >= filler {
				m.Store(k, k)
				m.Delete(k)
			}
		}
		t.Fatalf("the table did not shrink from %d buckets", n)
	}
	steps := map[string]func(*testing.T, *Map[int64, int64]){
		"grow":   grow,
		"shrink": shrink,
		"clear":  func(_ *testing.T, m *Map[int64, int64]) { m.Clear() },
		"none":   func(*testing.T, *Map[int64, int64]) {},
	}
	for _, bad := range []bool{false, true} {
		for _, before := range []string{"none", "grow", "shrink", "clear"} {
			for _, after := range []string{"none", "grow", "shrink", "clear"} {
				name := fmt.Sprintf("badHash=%v/before=%s/after=%s", bad, before, after)
				t.Run(name, func(t *testing.T) {
					var opts []Option
					if bad {
						opts = append(opts, WithBadHash())
					}
					m := New[int64, int64](opts...)
					for k := range int64(filler) {
						m.Store(k, k)
					}
					started, release := make(chan struct{}), make(chan struct{})
					var calls atomic.Int32
					owner := make(chan [2]int64, 1)
					go func() {
						v, loaded := m.LoadOrCompute(key, func() int64 {
							calls.Add(1)
							close(started)
							<-release
							return 42
						})
						owner <- [2]int64{v, b2i(loaded)}
					}()
					<-started
					testkit.Within(t, before, func() { steps[before](t, m) })
					waiter := make(chan [2]int64, 1)
					go func() {
						v, loaded := m.LoadOrCompute(key, func() int64 { calls.Add(1); return -2 })
						waiter <- [2]int64{v, b2i(loaded)}
					}()
					// What the second caller, the calls and the key end with.
					wantWaiter, wantCalls, wantValue, wantOK := [2]int64{42, 1}, int32(1), int64(42), true
					if before == "clear" {
						// The Clear came first: a new absence, the second
						// caller's own, and its value stays.
						wantWaiter, wantCalls, wantValue = [2]int64{-2, 0}, 2, -2
						if got := testkit.Receive(t, "the second caller", waiter); got != wantWaiter {
							t.Fatalf("second caller, after a Clear, got %v; want %v", got, wantWaiter)
						}
					} else {
						testkit.WaitFor(t, "the second caller waits", func() bool { return reservedByte(m, key)&slotWaited != 0 })
					}
					testkit.Within(t, after, func() { steps[after](t, m) })
					if before == "clear" && after != "clear" {
						if v, ok := m.Load(key); !ok || v != -2 {
							t.Fatalf("Load while the invalidated function runs got (%d, %v); want the second caller's (-2, true)", v, ok)
						}
					} else if _, ok := m.Load(key); ok {
						t.Fatalf("Load found the key while its function runs")
					}
					if after == "clear" {
						wantOK = false // the Clear deleted the key or discarded the load
					}
					wantOwner := [2]int64{42, 0}
					if before == "clear" && after != "clear" {
						wantOwner = [2]int64{-2, 1} // its land finds the new value: it wins, as a Store's would
					}
					close(release)
					if got := testkit.Receive(t, "the owner", owner); got != wantOwner {
						t.Fatalf("owner got %v; want %v", got, wantOwner)
					}
					if before != "clear" {
						if got := testkit.Receive(t, "the waiter", waiter); got != wantWaiter {
							t.Fatalf("waiter got %v; want %v", got, wantWaiter)
						}
					}
					if n := calls.Load(); n != wantCalls {
						t.Fatalf("function called %d times; want %d", n, wantCalls)
					}
					if v, ok := m.Load(key); ok != wantOK || ok && v != wantValue {
						t.Fatalf("Load after land got (%d, %v); want (%d, %v)", v, ok, wantValue, wantOK)
					}
					if n := reservations(m); n != 0 {
						t.Fatalf("%d reservations left; want 0", n)
					}
					n := 0
					for range m.All() {
						n++
					}
					if n != m.Len() {
						t.Fatalf("Len got %d; want %d, the entries All yields", m.Len(), n)
					}
				})
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestMap_LoadOrComputeOutcomesAcrossAResize checks the other endings of a
// flight whose reservation a resize moved: a Store while the function
// runs wins, a delete of the key before it lands finds nothing but
// discards the value (the owner and its waiter still get it), and a
// panicking function lets its waiter compute instead.
func TestMap_LoadOrComputeOutcomesAcrossAResize(t *testing.T) {
	const key = -1
	for _, ending := range []string{"store", "delete", "panic"} {
		t.Run(ending, func(t *testing.T) {
			m := New[int64, int64]()
			started, release := make(chan struct{}), make(chan struct{})
			owner := make(chan [2]int64, 1)
			go func() {
				defer func() {
					if r := recover(); r != nil {
						owner <- [2]int64{-3, -3}
					}
				}()
				v, loaded := m.LoadOrCompute(key, func() int64 {
					close(started)
					<-release
					if ending == "panic" {
						panic("fn panics")
					}
					return 42
				})
				owner <- [2]int64{v, b2i(loaded)}
			}()
			<-started
			waiter := make(chan [2]int64, 1)
			go func() {
				v, loaded := m.LoadOrCompute(key, func() int64 { return 7 })
				waiter <- [2]int64{v, b2i(loaded)}
			}()
			testkit.WaitFor(t, "the second caller waits", func() bool { return reservedByte(m, key)&slotWaited != 0 })
			testkit.Within(t, "grow", func() {
				for k := int64(0); len(m.table.Load().buckets) == minBuckets; k++ {
					m.Store(k, k)
				}
			})
			switch ending {
			case "store":
				m.Store(key, 5)
			case "delete":
				if _, loaded := m.LoadAndDelete(key); loaded {
					t.Fatalf("LoadAndDelete found the key while its function runs")
				}
			}
			close(release)
			want := map[string][2][2]int64{
				"store":  {{5, 1}, {5, 1}},
				"delete": {{42, 0}, {42, 1}},
				"panic":  {{-3, -3}, {7, 0}},
			}[ending]
			if got := testkit.Receive(t, "the owner", owner); got != want[0] {
				t.Fatalf("owner got %v; want %v", got, want[0])
			}
			if got := testkit.Receive(t, "the waiter", waiter); got != want[1] {
				t.Fatalf("waiter got %v; want %v", got, want[1])
			}
			if v, ok := m.Load(key); ending == "delete" && ok {
				t.Fatalf("Load after the invalidated flight landed got (%d, true); want absent", v)
			} else if ending != "delete" && (!ok || v != want[1][0]) {
				t.Fatalf("Load got (%d, %v); want (%d, true)", v, ok, want[1][0])
			}
			if n := reservations(m); n != 0 {
				t.Fatalf("%d reservations left; want 0", n)
			}
		})
	}
}

// TestMap_LoadOrComputeRunsOncePerAbsenceUnderDeletesClearsAndResizes
// hammers a few hot keys with LoadOrCompute (some functions panic, some
// fail) and deletes of them, while other goroutines clear the map and force
// the table to grow and shrink. No Store touches a hot key, so while a
// function runs its key must be absent and no other function of the key
// may run, unless an invalidation (a delete or a Clear) came since it was
// called (see absences); every value returned must be one computed for the
// key; and afterwards no reservation is left, and Len agrees with All.
func TestMap_LoadOrComputeRunsOncePerAbsenceUnderDeletesClearsAndResizes(t *testing.T) {
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprintf("badHash=%v", bad), func(t *testing.T) {
			const hot = 8
			m, iters := newStressMap(bad, 20000)
			fails := testkit.NewFailures(t)
			abs := newAbsences(hot, fails)
			var seq, computed, deleted atomic.Int64
			computers := max(4, runtime.GOMAXPROCS(0))
			var wg, others sync.WaitGroup
			stop := make(chan struct{})
			for g := range computers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 13))
					for range iters {
						k := r.Int64N(hot)
						var mine int64
						mark := abs.mark(k)
						fn := func() int64 {
							defer abs.start(k, mark)()
							if _, ok := m.Load(k); ok && !abs.invalidatedSince(k, mark) {
								fails.Errorf("key %d present while its function runs", k)
							}
							mine = k<<32 | seq.Add(1)
							computed.Add(1)
							if r.IntN(4) == 0 {
								runtime.Gosched()
							}
							if _, ok := m.Load(k); ok && !abs.invalidatedSince(k, mark) {
								fails.Errorf("key %d present before its function returns", k)
							}
							return mine
						}
						var v int64
						var loaded bool
						switch r.IntN(20) {
						case 0: // a panicking function
							func() {
								defer func() { _ = recover() }()
								m.LoadOrCompute(k, func() int64 { fn(); panic("fn panics") })
							}()
							continue
						case 1: // a failing loader
							_, _, err := m.LoadOrTryCompute(context.Background(), k, func(context.Context) (int64, error) {
								fn()
								return 0, errFailed
							})
							if err != nil && !errors.Is(err, errFailed) {
								fails.Errorf("LoadOrTryCompute(%d) got error %v", k, err)
							}
							continue
						case 2, 3, 4, 5, 6: // a delete racing other goroutines' lands
							abs.invalidate(k, func() {
								if v, loaded := m.LoadAndDelete(k); loaded {
									deleted.Add(1)
									if v>>32 != k {
										fails.Errorf("LoadAndDelete(%d) got %#x", k, v)
									}
								}
							})
							continue
						default:
							v, loaded = m.LoadOrCompute(k, fn)
						}
						if v>>32 != k {
							fails.Errorf("LoadOrCompute(%d) got %#x, a value computed for key %d", k, v, v>>32)
						}
						if !loaded && v != mine {
							fails.Errorf("LoadOrCompute(%d) computed %#x but returned %#x", k, mine, v)
						}
					}
				}()
			}
			others.Add(2)
			go func() { // deletes hot keys, now and then clears the map
				defer others.Done()
				r := rand.New(rand.NewPCG(99, 13))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := r.Int64N(hot)
					abs.invalidate(k, func() {
						if v, loaded := m.LoadAndDelete(k); loaded {
							deleted.Add(1)
							if v>>32 != k {
								fails.Errorf("LoadAndDelete(%d) got %#x", k, v)
							}
						}
					})
					if i%500 == 499 {
						abs.invalidateAll(m.Clear)
					}
				}
			}()
			go func() { // grows and shrinks the table with keys of its own
				defer others.Done()
				growAndShrink(m, hot, stop)
			}()
			stopOthers := sync.OnceFunc(func() { close(stop) })
			defer stopOthers() // also when the callers are stuck and the test fails
			testkit.WithinBulk(t, "LoadOrCompute callers (a waiter never released?)", wg.Wait)
			stopOthers()
			others.Wait()
			fails.Summarize()
			if t.Failed() {
				return
			}
			t.Logf("%d functions ran, %d deletes found their key", computed.Load(), deleted.Load())
			checkSettled(t, m)
		})
	}
}

var errFailed = errors.New("loader failed")

// TestMap_LoadOrComputeStoresAndCancelledWaitersRaceTheLandSafely aims at
// the races the reservation protocol adds beyond deletes: Stores of a hot
// key while its function runs (the Store must win at land, and land must
// find its reservation next to the stored entry), waiters whose contexts
// expire while they wait (they must leave with ctx.Err() and leave the
// flight usable for the others), and a table that grows, shrinks and is
// cleared all the while. Two functions of one key still never run at once
// but across an invalidation (a Store makes the key present, it does not
// end the reservation; see absences), every value returned belongs to its
// key, an owner that returns loaded=false returns its own value, and no
// reservation is left behind.
func TestMap_LoadOrComputeStoresAndCancelledWaitersRaceTheLandSafely(t *testing.T) {
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprintf("badHash=%v", bad), func(t *testing.T) {
			const hot = 4
			m, iters := newStressMap(bad, 10000)
			fails := testkit.NewFailures(t)
			abs := newAbsences(hot, fails)
			var seq, computed, cancelled atomic.Int64
			var wg, others sync.WaitGroup
			stop := make(chan struct{})
			for g := range max(4, runtime.GOMAXPROCS(0)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 17))
					for range iters {
						k := r.Int64N(hot)
						if r.IntN(3) == 0 { // end an absence's value, for the next function
							abs.invalidate(k, func() { m.Delete(k) })
							continue
						}
						var mine int64
						mark := abs.mark(k)
						fn := func(context.Context) (int64, error) {
							defer abs.start(k, mark)()
							mine = k<<32 | seq.Add(1)
							computed.Add(1)
							for range r.IntN(3) {
								runtime.Gosched()
							}
							return mine, nil
						}
						ctx, cancel := context.Background(), context.CancelFunc(func() {})
						if r.IntN(3) == 0 { // a waiter that may give up
							ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(50))*time.Microsecond)
						}
						v, loaded, err := m.LoadOrTryCompute(ctx, k, fn)
						cancel()
						switch {
						case err != nil && errors.Is(err, ctx.Err()):
							cancelled.Add(1)
							continue
						case err != nil:
							fails.Errorf("LoadOrTryCompute(%d) got error %v", k, err)
							continue
						}
						if v>>32 != k {
							fails.Errorf("LoadOrTryCompute(%d) got %#x, a value for key %d", k, v, v>>32)
						}
						if !loaded && v != mine {
							fails.Errorf("LoadOrTryCompute(%d) computed %#x but returned %#x", k, mine, v)
						}
					}
				}()
			}
			others.Add(2)
			go func() { // stores and deletes hot keys, now and then clears
				defer others.Done()
				r := rand.New(rand.NewPCG(98, 17))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := r.Int64N(hot)
					if i%4 == 0 { // mostly deletes: keep the keys missing
						m.Store(k, k<<32|seq.Add(1))
					} else {
						abs.invalidate(k, func() { m.Delete(k) })
					}
					if i%700 == 699 {
						abs.invalidateAll(m.Clear)
					}
				}
			}()
			go func() { // grows and shrinks the table with keys of its own
				defer others.Done()
				growAndShrink(m, hot, stop)
			}()
			stopOthers := sync.OnceFunc(func() { close(stop) })
			defer stopOthers() // also when the callers are stuck and the test fails
			testkit.WithinBulk(t, "LoadOrCompute callers (a waiter never released?)", wg.Wait)
			stopOthers()
			others.Wait()
			fails.Summarize()
			if t.Failed() {
				return
			}
			t.Logf("%d functions ran, %d waiters gave up", computed.Load(), cancelled.Load())
			checkSettled(t, m)
		})
	}
}

// absences checks "at most once per absence" from outside a map: two
// functions of one key may run at once only if an invalidation of the key
// (Delete, LoadAndDelete, Clear) ended the first one's absence, that is,
// came after the first was called and before the second started. Each
// invalidation is counted as begun before it is called and as ended after
// it returns; a caller notes the ended count before its call (mark). A
// function that starts while another of its key runs, with no invalidation
// begun since that other one's mark, is an error: its absence was not
// over.
type absences struct {
	begun, ended []atomic.Int64
	mu           sync.Mutex
	running      [][]int64 // per key, the marks of the functions running
	fails        *testkit.Failures
}

func newAbsences(keys int, fails *testkit.Failures) *absences {
	return &absences{
		begun: make([]atomic.Int64, keys), ended: make([]atomic.Int64, keys),
		running: make([][]int64, keys), fails: fails,
	}
}

// mark is what a caller notes before calling LoadOrCompute on k.
func (a *absences) mark(k int64) int64 { return a.ended[k].Load() }

// invalidate runs del, an invalidation of k, counting it.
func (a *absences) invalidate(k int64, del func()) {
	a.begun[k].Add(1)
	del()
	a.ended[k].Add(1)
}

// invalidateAll runs clear, an invalidation of every key, counting it.
func (a *absences) invalidateAll(clear func()) {
	for k := range a.begun {
		a.begun[k].Add(1)
	}
	clear()
	for k := range a.ended {
		a.ended[k].Add(1)
	}
}

// invalidatedSince reports whether an invalidation of k may have come
// since mark was taken.
func (a *absences) invalidatedSince(k, mark int64) bool { return a.begun[k].Load() > mark }

// start records that a function of k, called after mark, starts, checks it
// against the functions of k running, and returns what records its end.
func (a *absences) start(k, mark int64) (end func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, other := range a.running[k] {
		// The absence to check is the one of the function called first,
		// which need not be the one that started first: an owner may be
		// slow to start its function after claiming, and a later caller's
		// may start before it.
		if !a.invalidatedSince(k, min(other, mark)) {
			a.fails.Errorf("two functions of key %d ran at once in one absence", k)
		}
	}
	a.running[k] = append(a.running[k], mark)
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		i := slices.Index(a.running[k], mark)
		a.running[k] = slices.Delete(a.running[k], i, i+1)
	}
}

// newStressMap returns the map of a stress test, with the bad hash if bad
// is set, and the iterations each goroutine should run: iters, a tenth of
// it under -short, a quarter of that with the bad hash (every key in one
// chain makes each operation slow).
func newStressMap(bad bool, iters int) (*Map[int64, int64], int) {
	var opts []Option
	if bad {
		opts = append(opts, WithBadHash())
	}
	if testing.Short() {
		iters /= 10
	}
	if bad {
		iters /= 4
	}
	return New[int64, int64](opts...), iters
}

// growAndShrink stores and deletes keys hot..hot+3000 of m (values k<<32)
// until stop is closed, so that the table keeps growing and shrinking.
func growAndShrink(m *Map[int64, int64], hot int64, stop <-chan struct{}) {
	const n = 3000
	for {
		for k := hot; k < hot+n; k++ {
			m.Store(k, k<<32)
		}
		for k := hot; k < hot+n; k++ {
			m.Delete(k)
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

// checkSettled checks a map the stress tests leave behind, whose values
// carry their key in the high 32 bits: no reservation is left, every entry
// holds a value of its key and appears once, and Len agrees with All.
func checkSettled(t *testing.T, m *Map[int64, int64]) {
	t.Helper()
	if n := reservations(m); n != 0 {
		t.Fatalf("%d reservations left; want 0", n)
	}
	n, seen := 0, map[int64]bool{}
	for k, v := range m.All() {
		if v>>32 != k {
			t.Fatalf("key %d holds %#x", k, v)
		}
		if seen[k] { // e.g. a land that filled its slot next to a stored entry
			t.Fatalf("key %d is in the map twice", k)
		}
		seen[k] = true
		n++
	}
	if n != m.Len() {
		t.Fatalf("Len got %d; want %d, the entries All yields", m.Len(), n)
	}
}

// reservationByGen returns the byte of key's reservation of generation gen
// in m, or 0 if there is none.
func reservationByGen[K comparable, V any](m *Map[K, V], key K, gen uint8) uint8 {
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	defer hd.unlock()
	_, _, rc, ri := b.locateGen(&t.ovf, hd, key, h2(h), gen)
	if rc == nil {
		return 0
	}
	return slotByte(b.tags(hd, rc).Load(), ri)
}

// TestMap_LoadOrComputeOutlivesEveryGeneration invalidates one key's load
// numGens times while each load's function still runs, so that every
// generation is held by an invalidated load. The next caller must neither
// join one of them nor run its function at once: it waits for generation
// 0's load to land, then loads in that generation. Every invalidated owner
// gets its own value or, landing after the new load, the new value.
func TestMap_LoadOrComputeOutlivesEveryGeneration(t *testing.T) {
	const key = 5
	m := New[int64, int64]()
	type result struct{ v, loaded int64 }
	var releases []chan struct{}
	var results []chan result
	for i := range int64(numGens) {
		m.Delete(key) // invalidates the load before, if any
		started, release, res := make(chan struct{}), make(chan struct{}), make(chan result, 1)
		releases, results = append(releases, release), append(results, res)
		go func() {
			v, loaded := m.LoadOrCompute(key, func() int64 { close(started); <-release; return i })
			res <- result{v, b2i(loaded)}
		}()
		testkit.Receive(t, fmt.Sprintf("load %d starts its function", i), started)
	}
	m.Delete(key)
	if used := reservedGens(m, key); used != allGens {
		t.Fatalf("generations held after %d invalidated loads: %#x; want all %#x", numGens, used, allGens)
	}
	ran := make(chan struct{})
	late := make(chan result, 1)
	go func() {
		v, loaded := m.LoadOrCompute(key, func() int64 { close(ran); return 100 })
		late <- result{v, b2i(loaded)}
	}()
	testkit.WaitFor(t, "the late caller waits for generation 0", func() bool {
		return reservationByGen(m, int64(key), 0)&slotWaited != 0
	})
	select {
	case <-ran:
		t.Fatalf("the late caller ran its function while every generation was held")
	default:
	}
	close(releases[0])
	if got := testkit.Receive(t, "load 0", results[0]); got != (result{0, 0}) {
		t.Fatalf("load 0, invalidated: got %v; want (0, false)", got)
	}
	if got := testkit.Receive(t, "the late caller", late); got != (result{100, 0}) {
		t.Fatalf("late caller: got %v; want (100, false), its own value", got)
	}
	for i := 1; i < numGens; i++ {
		close(releases[i])
		if got := testkit.Receive(t, fmt.Sprintf("load %d", i), results[i]); got != (result{100, 1}) {
			t.Fatalf("load %d, invalidated, landing after the new load: got %v; want (100, true)", i, got)
		}
	}
	if v, ok := m.Load(key); !ok || v != 100 {
		t.Fatalf("Load got (%d, %v); want (100, true)", v, ok)
	}
	if n := reservations(m); n != 0 {
		t.Fatalf("%d reservations left; want 0", n)
	}
}

// TestMap_LoadOrComputeUnderADeleteStormRunsOncePerAbsence runs loads of
// one hot key whose functions yield many times, while a goroutine deletes
// the key as fast as it can, so that one load sees many invalidations (and
// generations wrap) before it lands, and deletes race claims, lands and
// waiters. Functions of the key overlap only across invalidations, each
// caller that ran fn returns its own value or one stored later, every
// value belongs to the key, and nothing is left behind.
func TestMap_LoadOrComputeUnderADeleteStormRunsOncePerAbsence(t *testing.T) {
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprintf("badHash=%v", bad), func(t *testing.T) {
			const key = 0
			m, iters := newStressMap(bad, 4000)
			fails := testkit.NewFailures(t)
			abs := newAbsences(1, fails)
			var seq, computed, deletes atomic.Int64
			var wg sync.WaitGroup
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // the storm
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					abs.invalidate(key, func() { m.Delete(key) })
					deletes.Add(1)
				}
			}()
			for g := range max(4, runtime.GOMAXPROCS(0)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 23))
					for range iters {
						var mine int64
						mark := abs.mark(key)
						v, loaded := m.LoadOrCompute(key, func() int64 {
							defer abs.start(key, mark)()
							mine = key<<32 | seq.Add(1)
							computed.Add(1)
							for range r.IntN(40) {
								runtime.Gosched()
							}
							return mine
						})
						if v>>32 != key {
							fails.Errorf("LoadOrCompute got %#x, a value for key %d", v, v>>32)
						}
						if !loaded && v != mine {
							fails.Errorf("LoadOrCompute computed %#x but returned %#x", mine, v)
						}
					}
				}()
			}
			testkit.WithinBulk(t, "LoadOrCompute callers (a waiter never released?)", wg.Wait)
			close(stop)
			<-done
			fails.Summarize()
			if t.Failed() {
				return
			}
			t.Logf("%d functions ran against %d deletes", computed.Load(), deletes.Load())
			checkSettled(t, m)
		})
	}
}

// TestMap_LandFastRacesEveryWriterOfItsChain aims at landFast, which fills
// a LoadOrCompute's reservation without the chain lock, with one
// compare-and-swap of the root's tags word. Each round picks keys that
// share one chain and runs, on them at once: LoadOrComputes of two hot
// keys whose functions sometimes Store their own key (that Store must win
// at land) or yield; waiters of the same keys; Deletes of them (which
// discard a land); Stores, Deletes and Computes that hold the chain's lock
// while their function yields, on two other keys of the chain; and a
// checker that locks the chain and fails if any key has two entries. A
// LoadOrCompute that lands reports its own value, and the key stays
// present until an invalidation; one whose function stored the key, with
// no invalidation since, reports the key loaded; and after a Delete, the
// key holds no value that a function computed before the Delete began. Outside race builds (the
// package's tests rerun without -race) the common land takes landFast;
// race builds lock, and check the same outcomes.
func TestMap_LandFastRacesEveryWriterOfItsChain(t *testing.T) {
	rounds, iters := testkit.ShortOr(15, 60), 400
	fails := testkit.NewFailures(t)
	for round := range rounds {
		m := New[int64, int64]()
		keys := keysOfOneChain(m, 4, int64(round)*1000)
		hot, cold := keys[:2], keys[2:]
		abs := newAbsences(len(keys), fails)
		idx := func(k int64) int64 { return int64(slices.Index(keys, k)) }
		var seq atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 3 { // computers, and each other's waiters
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range iters {
					k := hot[r.IntN(len(hot))]
					mark := abs.mark(idx(k))
					var mine int64
					stored := false
					v, loaded := m.LoadOrCompute(k, func() int64 {
						defer abs.start(idx(k), mark)()
						mine = k<<32 | seq.Add(1)
						switch r.IntN(8) {
						case 0: // the key is stored while fn runs: it wins at land
							m.Store(k, k<<32|storedBit|seq.Add(1))
							stored = true
						case 1, 2:
							runtime.Gosched()
						}
						return mine
					})
					switch {
					case v>>32 != k:
						fails.Errorf("LoadOrCompute(%d) got %#x, a value of key %d", k, v, v>>32)
					case !loaded && v != mine:
						fails.Errorf("LoadOrCompute(%d) landed but returned %#x, not its own %#x", k, v, mine)
					case stored && !loaded && !abs.invalidatedSince(idx(k), mark):
						fails.Errorf("LoadOrCompute(%d) landed over the value its function stored", k)
					case !loaded:
						if _, ok := m.Load(k); !ok && !abs.invalidatedSince(idx(k), mark) {
							fails.Errorf("LoadOrCompute(%d) landed, but the key is absent and nothing deleted it", k)
						}
					}
				}
			}()
		}
		writers := []func(r *rand.Rand){
			func(r *rand.Rand) { // invalidates the hot keys
				k := hot[r.IntN(len(hot))]
				before := seq.Load()
				abs.invalidate(idx(k), func() { m.Delete(k) })
				// A function's value numbered before the Delete began was
				// claimed before it: landed, the Delete removed it; not
				// yet, the Delete discarded it. (A Store's value may be
				// numbered before and stored after.)
				if v, ok := m.Load(k); ok && v&storedBit == 0 && v&0x7fffffff <= before {
					fails.Errorf("key %d holds %#x after a Delete that began once its function had run", k, v)
				}
				runtime.Gosched()
			},
			func(r *rand.Rand) { // writes the cold keys, holding the lock through Compute's fn
				k := cold[r.IntN(len(cold))]
				switch r.IntN(4) {
				case 0:
					m.Store(k, k<<32)
				case 1:
					m.Delete(k)
				default:
					m.Compute(k, func(_ int64, loaded bool) (int64, ComputeOp) {
						runtime.Gosched()
						if loaded && r.IntN(2) == 0 {
							return 0, DeleteOp
						}
						return k << 32, UpdateOp
					})
				}
			},
			func(*rand.Rand) { // no key has two entries
				if k, n := duplicateInChain(m, keys); n > 1 {
					fails.Errorf("key %d has %d entries in its chain", k, n)
				}
			},
		}
		var others sync.WaitGroup
		for i, op := range writers {
			others.Add(1)
			go func() {
				defer others.Done()
				r := rand.New(rand.NewPCG(uint64(round), 100+uint64(i)))
				for {
					select {
					case <-stop:
						return
					default:
						op(r)
					}
				}
			}()
		}
		testkit.WithinBulk(t, "LoadOrCompute callers", wg.Wait)
		close(stop)
		others.Wait()
		if fails.Summarize(); t.Failed() {
			return
		}
		checkSettled(t, m)
	}
}

// storedBit marks the values TestMap_LandFastRacesEveryWriterOfItsChain
// stores with Store, as opposed to the ones its functions return.
const storedBit = 1 << 31

// keysOfOneChain returns n keys, from from on, that share one chain of m's
// current table.
func keysOfOneChain(m *Map[int64, int64], n int, from int64) []int64 {
	t := m.tableOrInit()
	chain := t.hash(from) & t.mask
	keys := []int64{from}
	for k := from + 1; len(keys) < n; k++ {
		if t.hash(k)&t.mask == chain {
			keys = append(keys, k)
		}
	}
	return keys
}

// duplicateInChain locks the chain of each of keys in turn and returns a key
// with the most entries in it, and their number (1 in a sound map).
func duplicateInChain(m *Map[int64, int64], keys []int64) (key int64, n int) {
	for _, k := range keys {
		h := m.tableOrInit().hash(k)
		t, b, hd := m.lockChain(h)
		count := 0
		for c := b; c != nil; c = t.ovf.next(c) {
			meta := b.tags(hd, c).Load()
			for match := matchTag(meta, h2(h)); match != 0; match &= match - 1 {
				if c.slots[slotIndex(match)].key == k {
					count++
				}
			}
		}
		hd.unlock()
		if count > n {
			key, n = k, count
		}
	}
	return key, n
}
