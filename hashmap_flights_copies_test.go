package safemap

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/internal/testkit"
)

// hashmap_flights.go keeps two copies on LoadOrCompute's hot path, for
// speed (BENCHMARKS.md has the instruction counts): claim's and land's
// in-line fast paths for a chain that is its root alone, which repeat what
// claimLocked and landLocked do for any chain, and computeMiss, which
// repeats the owner's and the waiter's halves of the shared protocol
// (loadOrCompute and runFlight in compute.go). The tests in this file run
// each copy and its original from the same state and fail when they give
// different results or leave different slots, tags, counts or
// reservations behind.

// twinMaps returns two empty maps that hash every key alike (b takes a's
// seeds), so that the same operations leave the same chains in both.
func twinMaps[K comparable](bad bool) (a, b *Map[K, int64]) {
	var opts []Option
	if bad {
		opts = append(opts, WithBadHash())
	}
	a, b = New[K, int64](opts...), New[K, int64](opts...)
	ta, tb := a.table.Load(), b.table.Load()
	tb.shared.keyHasher = ta.shared.keyHasher
	tb.keyHasher = ta.keyHasher
	return a, b
}

// chainDump describes every chain of m's current table: each bucket's tags
// word (the head's for a root, flags included), the key and value of each
// slot in use, the head's sequence word, and then Len. No other goroutine
// may use m.
func chainDump[K comparable](m *Map[K, int64]) string {
	var sb strings.Builder
	t := m.table.Load()
	for i := range t.buckets {
		b, hd := &t.buckets[i], &t.heads[i]
		fmt.Fprintf(&sb, "chain %d seq %#x:", i, hd.seq.Load())
		for c := b; c != nil; c = t.ovf.next(c) {
			meta := b.tags(hd, c).Load()
			fmt.Fprintf(&sb, " [%#016x", meta)
			for used := matchUsed(meta); used != 0; used &= used - 1 {
				j := slotIndex(used)
				fmt.Fprintf(&sb, " %d:%v=%d", j, c.slots[j].key, c.slots[j].value)
			}
			sb.WriteString("]")
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Len %d\n", m.Len())
	return sb.String()
}

// chainStep is one operation that builds a chain's state, applied alike to
// both twins.
type chainStep[K comparable] struct {
	what string
	do   func(m *Map[K, int64])
}

// randomChain returns steps that fill the chain of keys[0] (chain gives a
// key's chain) with entries and reservations (some of them waited for) of
// other keys of that chain, as many as fit in its root or more, and a query
// key: one of those or a key of the chain never used. h is the keys' hash.
func randomChain[K comparable](r *rand.Rand, keys []K, h, chain func(K) uint64) (steps []chainStep[K], query K) {
	var same []K
	for _, k := range keys {
		if chain(k) == chain(keys[0]) {
			same = append(same, k)
		}
	}
	n := r.IntN(min(len(same)-1, slotsPerBucket+2) + 1) // sometimes past the root: an overflow chain
	for _, k := range same[:n] {
		switch r.IntN(4) {
		case 0, 1:
			v := r.Int64N(100)
			steps = append(steps, chainStep[K]{fmt.Sprintf("Store(%v, %d)", k, v), func(m *Map[K, int64]) { m.Store(k, v) }})
		case 2:
			steps = append(steps, chainStep[K]{fmt.Sprintf("claim(%v)", k), func(m *Map[K, int64]) { m.claim(k, h(k)) }})
		default: // reserved, then waited for
			steps = append(steps, chainStep[K]{fmt.Sprintf("claim(%v) twice", k), func(m *Map[K, int64]) {
				m.claim(k, h(k))
				m.claim(k, h(k))
			}})
		}
		switch r.IntN(8) {
		case 0: // both reserved and stored: a Store while its function ran
			steps = append(steps, chainStep[K]{fmt.Sprintf("Delete(%v), claim and Store", k), func(m *Map[K, int64]) {
				m.Delete(k)
				m.claim(k, h(k))
				m.Store(k, 7)
			}})
		case 1: // an invalidated reservation, and maybe a new one of another generation
			steps = append(steps, chainStep[K]{fmt.Sprintf("claim(%v), Delete, claim", k), func(m *Map[K, int64]) {
				m.claim(k, h(k))
				m.Delete(k)
				m.claim(k, h(k))
			}})
		case 2:
			steps = append(steps, chainStep[K]{fmt.Sprintf("claim(%v), Delete", k), func(m *Map[K, int64]) {
				m.claim(k, h(k))
				m.Delete(k)
			}})
		}
	}
	query = same[n] // never used
	if n > 0 && r.IntN(3) != 0 {
		query = same[r.IntN(n)]
	}
	return steps, query
}

// TestMap_ClaimAndLandFastPathsDoWhatTheGeneralPathsDo builds random
// states of one chain twice, in twin maps, and calls claim (or land) on
// one and claimLocked (or landLocked) on the other: the fast path, where
// its conditions hold, must return what the general path returns and leave
// the same slots, tags, sequence words and Len.
func TestMap_ClaimAndLandFastPathsDoWhatTheGeneralPathsDo(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	rounds := testkit.ShortOr(200, 600)
	fastClaims, fastLands := 0, 0
	for round := range rounds {
		bad := round%2 == 1
		a, b := twinMaps[int64](bad)
		ta := a.table.Load()
		keys := make([]int64, 200)
		for i := range keys {
			keys[i] = r.Int64N(1 << 40)
		}
		h := func(k int64) uint64 { return ta.hash(k) }
		steps, k := randomChain(r, keys, h, func(k int64) uint64 { return h(k) & ta.mask })
		var log []string
		for _, s := range steps {
			s.do(a)
			s.do(b)
			log = append(log, s.what)
		}
		before := chainDump(a)
		if other := chainDump(b); other != before {
			t.Fatalf("round %d: the twins differ before the call:\n%s\nand\n%s", round, before, other)
		}
		meta := ta.heads[h(k)&ta.mask].meta.Load()
		var got, want string
		if r.IntN(2) == 0 {
			log = append(log, fmt.Sprintf("claim(%d)", k))
			i, ri := ta.root(uintptr(h(k)&ta.mask)).locateRoot(meta, k, h2(h(k)))
			if meta&metaOverflow == 0 && i < 0 && ri < 0 && matchEmpty(meta) != 0 {
				fastClaims++
			}
			v, ok, f, wait, gen := a.claim(k, h(k))
			got = fmt.Sprintf("(%d, %v, flight %v, wait %v, gen %d)\n%s", v, ok, f != nil, wait != nil, gen, chainDump(a))
			tb, bb, hd := b.lockChain(h(k))
			v, ok, f, wait, gen = b.claimLocked(tb, bb, hd, k, h(k))
			want = fmt.Sprintf("(%d, %v, flight %v, wait %v, gen %d)\n%s", v, ok, f != nil, wait != nil, gen, chainDump(b))
		} else {
			if reservedGens(a, k) == 0 { // land ends a reservation: make one
				for _, m := range []*Map[int64, int64]{a, b} {
					m.Delete(k)
					m.claim(k, h(k))
				}
				log = append(log, fmt.Sprintf("Delete(%d), claim(%d)", k, k))
				meta = ta.heads[h(k)&ta.mask].meta.Load()
			}
			// Land one of k's reservations, valid or invalidated.
			var gens []uint8
			for used := reservedGens(a, k); used != 0; used &= used - 1 {
				gens = append(gens, uint8(bits.TrailingZeros16(used)))
			}
			gen := gens[r.IntN(len(gens))]
			store, value := r.IntN(4) != 0, r.Int64N(100)
			log = append(log, fmt.Sprintf("land(%d, gen %d, %d, store=%v)", k, gen, value, store))
			i, ri := ta.root(uintptr(h(k)&ta.mask)).locateRoot(meta, k, h2(h(k)))
			if store && meta&metaOverflow == 0 && i < 0 && ri >= 0 && slotByte(meta, ri) == reservation(gen) {
				fastLands++
			}
			v, loaded, w, discarded := a.land(k, h(k), nil, gen, value, store)
			got = fmt.Sprintf("(%d, %v, waiters %v, discarded %v)\n%s", v, loaded, w != nil, discarded, chainDump(a))
			tb, bb, hd := b.lockChain(h(k))
			v, loaded, w, discarded = b.landLocked(tb, bb, hd, k, h(k), gen, value, store)
			want = fmt.Sprintf("(%d, %v, waiters %v, discarded %v)\n%s", v, loaded, w != nil, discarded, chainDump(b))
		}
		if got != want {
			t.Fatalf("round %d (badHash=%v), after %s:\nthe fast path gave %s\nthe general path gave %s",
				round, bad, strings.Join(log, ", "), got, want)
		}
	}
	t.Logf("%d rounds; the fast path's conditions held for %d claims and %d lands", rounds, fastClaims, fastLands)
	if fastClaims < rounds/20 || fastLands < rounds/20 {
		t.Errorf("the fast path's conditions held for %d claims and %d lands of %d rounds; want at least %d each, or the test proves little",
			fastClaims, fastLands, rounds, rounds/20)
	}
}

// reservedGens returns the generations held by key's reservations in m,
// valid or invalidated, a bit each.
func reservedGens[K comparable, V any](m *Map[K, V], key K) uint16 {
	h := m.tableOrInit().hash(key)
	t, b, hd := m.lockChain(h)
	defer hd.unlock()
	_, _, _, _, used := b.locateClaim(&t.ovf, hd, key, h2(h))
	return used
}

// missPath is one implementation of LoadOrCompute's miss on a Map: what
// LoadOrCompute runs once its lookup missed.
type missPath struct {
	name string
	run  func(m *Map[int64, int64], key int64, fn func() int64) (int64, bool)
}

var missPaths = []missPath{
	{"computeMiss", func(m *Map[int64, int64], key int64, fn func() int64) (int64, bool) {
		return m.computeMiss(key, m.table.Load().hash(key), fn)
	}},
	{"loadOrCompute", func(m *Map[int64, int64], key int64, fn func() int64) (int64, bool) {
		actual, loaded, _, _ := loadOrCompute[int64, int64](m, nil, key, m.table.Load().hash(key), noError(fn))
		return actual, loaded
	}},
}

// callOutcome runs call on a new goroutine and describes how it ended: its
// results, a panic, or runtime.Goexit.
func callOutcome(t *testing.T, what string, call func() (int64, bool)) <-chan string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		ended := "exited (runtime.Goexit)"
		defer func() {
			if r := recover(); r != nil {
				ended = fmt.Sprintf("panicked with %v", r)
			}
			done <- what + " " + ended
		}()
		v, loaded := call()
		ended = fmt.Sprintf("returned (%d, %v)", v, loaded)
	}()
	return done
}

// missScenario runs one LoadOrCompute miss of key 1 through path and
// returns what it saw: what the owner and a waiter returned, the
// reservation's byte while the function runs, and the map afterwards.
//
// before is applied first; during runs inside the owner's function (once a
// waiter has registered, if waiter is set) and says how the function ends.
type missScenario struct {
	name   string
	before func(m *Map[int64, int64])
	waiter bool
	during func(m *Map[int64, int64]) int64 // may panic or call runtime.Goexit
}

var missScenarios = []missScenario{
	{name: "fn returns", during: func(*Map[int64, int64]) int64 { return 7 }},
	{name: "the key is present", before: func(m *Map[int64, int64]) { m.Store(1, 3) },
		during: func(*Map[int64, int64]) int64 { return 7 }},
	{name: "a Store while fn runs wins", during: func(m *Map[int64, int64]) int64 { m.Store(1, 5); return 7 }},
	{name: "a Delete while fn runs deletes nothing", during: func(m *Map[int64, int64]) int64 { m.Delete(1); return 7 }},
	{name: "fn panics", during: func(*Map[int64, int64]) int64 { panic("fn gives up") }},
	{name: "fn calls Goexit", during: func(*Map[int64, int64]) int64 { runtime.Goexit(); return 0 }},
	{name: "a waiter gets the landed value", waiter: true, during: func(*Map[int64, int64]) int64 { return 7 }},
	{name: "a waiter gets the value of a Store that won", waiter: true,
		during: func(m *Map[int64, int64]) int64 { m.Store(1, 5); return 7 }},
	{name: "a waiter computes after fn panics", waiter: true, during: func(*Map[int64, int64]) int64 { panic("fn gives up") }},
	{name: "a waiter computes after fn calls Goexit", waiter: true,
		during: func(*Map[int64, int64]) int64 { runtime.Goexit(); return 0 }},
}

func (sc missScenario) run(t *testing.T, path missPath) []string {
	t.Helper()
	const key = 1
	m := New[int64, int64]()
	if sc.before != nil {
		sc.before(m)
	}
	var seen []string
	started, proceed := make(chan struct{}), make(chan struct{})
	owner := callOutcome(t, "the owner", func() (int64, bool) {
		return path.run(m, key, func() int64 {
			close(started)
			<-proceed
			return sc.during(m)
		})
	})
	var waiter <-chan string
	select {
	case <-started:
		seen = append(seen, fmt.Sprintf("fn runs with reservation byte %#x", reservedByte(m, key)))
		if sc.waiter {
			waiter = callOutcome(t, "the waiter", func() (int64, bool) {
				return path.run(m, key, func() int64 { return 9 })
			})
			testkit.WaitFor(t, "the waiter registers", func() bool { return reservedByte(m, key)&slotWaited != 0 })
			seen = append(seen, "a waiter registered")
		}
		close(proceed)
		seen = append(seen, testkit.Receive(t, "the owner", owner))
	case r := <-owner:
		seen = append(seen, "fn did not run", r)
	}
	if waiter != nil {
		seen = append(seen, testkit.Receive(t, "the waiter", waiter))
	}
	v, ok := m.Load(key)
	seen = append(seen, fmt.Sprintf("afterwards Load (%d, %v), Len %d, %d reservations", v, ok, m.Len(), reservations(m)))
	return seen
}

// TestMap_ComputeMissDoesWhatTheSharedProtocolDoes runs every ending of a
// LoadOrCompute miss (the function returns, panics or exits; a Store or a
// Delete runs while it does; a waiter is there or not) through computeMiss
// and through the shared protocol it copies, and compares what the owner
// and the waiter returned, the reservation while the function ran, and the
// map afterwards.
func TestMap_ComputeMissDoesWhatTheSharedProtocolDoes(t *testing.T) {
	for _, sc := range missScenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := sc.run(t, missPaths[0])
			want := sc.run(t, missPaths[1])
			if !slices.Equal(got, want) {
				t.Fatalf("%s saw:\n  %s\n%s saw:\n  %s", missPaths[0].name, strings.Join(got, "\n  "),
					missPaths[1].name, strings.Join(want, "\n  "))
			}
		})
	}
	// A NaN key is never reserved: its caller runs fn and inserts.
	m := New[float64, int64]()
	nan := math.NaN()
	for range 2 {
		if v, loaded := m.computeMiss(nan, m.table.Load().hash(nan), func() int64 { return 4 }); v != 4 || loaded {
			t.Fatalf("computeMiss(NaN) got (%d, %v); want (4, false)", v, loaded)
		}
		if v, loaded, _, _ := loadOrCompute[float64, int64](m, nil, nan, m.table.Load().hash(nan), noError(func() int64 { return 4 })); v != 4 || loaded {
			t.Fatalf("loadOrCompute(NaN) got (%d, %v); want (4, false)", v, loaded)
		}
	}
	if n := m.Len(); n != 4 {
		t.Fatalf("Len after four computations of NaN keys got %d; want 4", n)
	}
}
