package safemap_test

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// This file hunts for bugs in the machinery of the default Map that the
// shared suite, with its tiny key spaces, rarely reaches: growing and
// shrinking while other goroutines read, write and iterate, following moved
// chains into newer tables, Clear, and the SWAR helpers of a bucket. Every
// test here must pass both with and without -race, which use different read
// paths.

// minMapBuckets is the smallest table a Map built without WithCapacity has.
const minMapBuckets = 8

// resizeValue encodes a key and a generation in one value, so that a reader
// can tell which key a value was stored for, and whether it is older than a
// value it saw before. Keys must lie in [0, 2³¹).
func resizeValue(key int64, gen uint32) int64 { return key<<32 | int64(gen) }

func resizeKeyOf(v int64) int64  { return v >> 32 }
func resizeGenOf(v int64) uint32 { return uint32(v) }

// atomicMax raises *p to v if v is larger.
func atomicMax(p *atomic.Int64, v int64) {
	for {
		cur := p.Load()
		if v <= cur || p.CompareAndSwap(cur, v) {
			return
		}
	}
}

// bucketWatch counts how often a map's table changes size, as seen by the
// goroutine that calls note after each of its operations, and reports each
// change to budget, if set.
type bucketWatch[K comparable, V any] struct {
	m       *safemap.Map[K, V]
	budget  *resizeBudget
	last    int
	changes int
}

func newBucketWatch[K comparable, V any](m *safemap.Map[K, V], budget *resizeBudget) *bucketWatch[K, V] {
	return &bucketWatch[K, V]{m: m, budget: budget, last: safemap.MapBuckets(m)}
}

func (w *bucketWatch[K, V]) note() {
	if b := safemap.MapBuckets(w.m); b != w.last {
		w.last = b
		w.changes++
		if w.budget != nil {
			w.budget.noteResize()
		}
	}
}

// resizeBudget bounds how many times the table may change size while any
// one Range pass runs: a writer that notes a resize waits (on a condition
// variable, not a timer) while some pass has already seen limit of them.
// Grow-then-shrink within a pass needs only two, so the tests still find
// what they look for, but a Range whose work multiplies with every growth
// it lives through stays finite, so a failing test reports instead of
// hanging or exhausting memory.
type resizeBudget struct {
	limit   int
	mu      sync.Mutex
	changed *sync.Cond
	resizes int         // resizes noted so far
	passes  map[int]int // running pass → resizes when it started
	nextID  int
}

func newResizeBudget(limit int) *resizeBudget {
	b := &resizeBudget{limit: limit, passes: make(map[int]int)}
	b.changed = sync.NewCond(&b.mu)
	return b
}

// pass runs one Range pass, f, within the budget.
func (b *resizeBudget) pass(f func()) {
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	b.passes[id] = b.resizes
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.passes, id)
		b.changed.Broadcast()
		b.mu.Unlock()
	}()
	f()
}

// noteResize records a resize and waits while a running pass has seen
// limit resizes.
func (b *resizeBudget) noteResize() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resizes++
	for b.exhausted() {
		b.changed.Wait()
	}
}

func (b *resizeBudget) exhausted() bool {
	for _, start := range b.passes {
		if b.resizes-start >= b.limit {
			return true
		}
	}
	return false
}

// rangeResizeLimit is the resizeBudget limit of the tests that range
// while the table resizes.
const rangeResizeLimit = 6

// shrinkTo stores and deletes spare, a key the map does not otherwise use,
// until m has at most atMost buckets. A delete checks for shrinking only
// once in 64 deletes, so this takes a few hundred operations; it fails the
// test if a generous bound passes first.
func shrinkTo[V any](t *testing.T, m *safemap.Map[int64, V], atMost int, spare int64, value V) {
	t.Helper()
	const bound = 1 << 14 // misses 64 samples in a row with p ≈ e⁻²⁵⁶
	for range bound {
		if safemap.MapBuckets(m) <= atMost {
			return
		}
		m.Store(spare, value)
		m.Delete(spare)
	}
	t.Fatalf("after %d more deletes, MapBuckets got %d; want at most %d", bound, safemap.MapBuckets(m), atMost)
}

// checkMapHolds checks, with no other goroutine using m, that m holds
// exactly want: Len, Range, All and Load all agree with it.
func checkMapHolds(t *testing.T, m *safemap.Map[int64, int64], want map[int64]int64) {
	t.Helper()
	if got := m.Len(); got != len(want) {
		t.Errorf("Len got %d; want %d", got, len(want))
	}
	for name, seq := range map[string]func(func(int64, int64) bool){"Range": m.Range, "All": m.All()} {
		seen := make(map[int64]bool, len(want))
		seq(func(k, v int64) bool {
			if seen[k] {
				t.Errorf("%s visited key %d twice", name, k)
			}
			seen[k] = true
			if w, ok := want[k]; !ok || v != w {
				t.Errorf("%s visited (%d, %#x); want %#x, %t", name, k, v, w, ok)
			}
			return true
		})
		if len(seen) != len(want) {
			t.Errorf("%s visited %d keys; want %d", name, len(seen), len(want))
		}
	}
	for k, w := range want {
		if v, ok := m.Load(k); !ok || v != w {
			t.Errorf("Load(%d) got (%#x, %t); want (%#x, true)", k, v, ok, w)
		}
	}
}

// genTracker checks what one reader sees of the keys that resizeStress
// writes: every value was stored for its key, and a key's generation never
// goes backwards, since only one writer writes a key, always with a newer
// generation.
type genTracker struct {
	f    *testkit.Failures
	last map[int64]uint32
}

func (g *genTracker) see(how string, k, v int64) {
	if resizeKeyOf(v) != k {
		g.f.Errorf("%s yielded key %d with %#x, stored for key %d; want a value stored for key %d", how, k, v, resizeKeyOf(v), k)
		return
	}
	gen := resizeGenOf(v)
	if last := g.last[k]; gen < last {
		g.f.Errorf("%s yielded key %d at generation %d after this goroutine saw generation %d; want %d or later", how, k, gen, last, last)
		return
	}
	g.last[k] = gen
}

// resizeStress describes a workload that grows and shrinks a map over and
// over while other goroutines read it.
type resizeStress struct {
	writers       int // goroutines that each own keysPerWriter keys
	keysPerWriter int
	rounds        int // per round each writer writes all its keys, then deletes most
	keepOneIn     int // each round a writer keeps one key in keepOneIn
	readers       int // goroutines that Load, Range and iterate All until the writers finish
}

// run runs the workload on m and returns the largest bucket count the
// writers saw and what m must hold afterwards.
//
// Each writer, round after round, writes a new value to every key it owns
// with a random writing method (the table grows), checks every key reads
// back its last write, deletes most keys with a random deleting method (the
// table shrinks on sampled deletes) and checks again. It checks every
// method's result against its own model, which is exact because nobody
// else writes its keys.
func (cfg resizeStress) run(t *testing.T, m *safemap.Map[int64, int64]) (peak int, want map[int64]int64) {
	t.Helper()
	f := testkit.NewFailures(t)
	defer f.Summarize()
	var (
		peakBuckets       atomic.Int64
		writers, readers  sync.WaitGroup
		stop              = make(chan struct{})
		models            = make([]map[int64]int64, cfg.writers)
		totalKeys         = int64(cfg.writers * cfg.keysPerWriter)
		readerRange, rCnt atomic.Int64
		budget            = newResizeBudget(rangeResizeLimit)
		full              = make([]sync.WaitGroup, cfg.rounds) // full[r]: every writer wrote round r's keys
	)
	for r := range full {
		full[r].Add(cfg.writers)
	}
	for r := range cfg.readers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 99))
			g := &genTracker{f: f, last: make(map[int64]uint32)}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch i % 8 {
				case 3:
					budget.pass(func() {
						m.Range(func(k, v int64) bool { g.see("Range", k, v); return true })
					})
					readerRange.Add(1)
				case 7:
					budget.pass(func() {
						for k, v := range m.All() {
							g.see("All", k, v)
						}
					})
					readerRange.Add(1)
				default:
					for range 256 {
						k := rng.Int64N(totalKeys)
						if v, ok := m.Load(k); ok {
							g.see("Load", k, v)
						}
						rCnt.Add(1)
					}
				}
			}
		}()
	}
	for w := range cfg.writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			base := int64(w * cfg.keysPerWriter)
			end := base + int64(cfg.keysPerWriter)
			own := make(map[int64]int64, cfg.keysPerWriter)
			gen := uint32(0)
			watch := newBucketWatch(m, budget)
			verify := func(when string) {
				for k := base; k < end; k++ {
					want, wantOK := own[k]
					if v, ok := m.Load(k); v != want || ok != wantOK {
						f.Errorf("%s: Load(%d) got (%#x, %t); want (%#x, %t)", when, k, v, ok, want, wantOK)
					}
				}
			}
			for round := range cfg.rounds {
				for k := base; k < end; k++ {
					gen++
					writeChecked(f, m, rng, own, k, resizeValue(k, gen))
					watch.note()
				}
				// Wait until every writer has written its keys, so that the
				// table holds all of them at once whatever the scheduler did
				// (on a busy machine one writer could otherwise finish a
				// round before another starts, and the peak stay low).
				full[round].Done()
				full[round].Wait()
				atomicMax(&peakBuckets, int64(safemap.MapBuckets(m)))
				verify(fmt.Sprintf("round %d, after writing every key", round))
				for k := base; k < end; k++ {
					if (k+int64(round))%int64(cfg.keepOneIn) != 0 {
						deleteChecked(f, m, rng, own, k)
						watch.note()
					}
				}
				verify(fmt.Sprintf("round %d, after deleting most keys", round))
				if f.Failed() {
					break
				}
			}
			models[w] = own
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	t.Logf("%d readers made %d Loads and %d Range/All passes; peak %d buckets", cfg.readers, rCnt.Load(), readerRange.Load(), peakBuckets.Load())
	want = make(map[int64]int64)
	for _, own := range models {
		for k, v := range own {
			want[k] = v
		}
	}
	return int(peakBuckets.Load()), want
}

// writeChecked stores v for k, which only the caller writes, with a method
// picked at random, and checks the method's results against own, which it
// updates.
func writeChecked(f *testkit.Failures, m *safemap.Map[int64, int64], rng *rand.Rand, own map[int64]int64, k, v int64) {
	old, had := own[k]
	switch rng.IntN(5) {
	case 0:
		m.Store(k, v)
	case 1:
		if prev, loaded := m.Swap(k, v); prev != old || loaded != had {
			f.Errorf("Swap(%d, %#x) got (%#x, %t); want (%#x, %t)", k, v, prev, loaded, old, had)
		}
	case 2:
		actual, ok := m.Compute(k, func(cur int64, loaded bool) (int64, safemap.ComputeOp) {
			if cur != old || loaded != had {
				f.Errorf("Compute(%d) passed fn (%#x, %t); want (%#x, %t)", k, cur, loaded, old, had)
			}
			return v, safemap.UpdateOp
		})
		if actual != v || !ok {
			f.Errorf("Compute(%d) updating to %#x got (%#x, %t); want (%#x, true)", k, v, actual, ok, v)
		}
	case 3:
		if had {
			if !m.CompareAndSwap(k, old, v) {
				f.Errorf("CompareAndSwap(%d, %#x, %#x) got false; want true", k, old, v)
			}
		} else if actual, loaded := m.LoadOrStore(k, v); actual != v || loaded {
			f.Errorf("LoadOrStore(%d, %#x) of an absent key got (%#x, %t); want (%#x, false)", k, v, actual, loaded, v)
		}
	default:
		if had {
			m.Store(k, v)
		} else if actual, loaded := m.LoadOrCompute(k, func() int64 { return v }); actual != v || loaded {
			f.Errorf("LoadOrCompute(%d, →%#x) of an absent key got (%#x, %t); want (%#x, false)", k, v, actual, loaded, v)
		}
	}
	own[k] = v
}

// deleteChecked deletes k, which only the caller writes, with a method
// picked at random, and checks the method's results against own, which it
// updates.
func deleteChecked(f *testkit.Failures, m *safemap.Map[int64, int64], rng *rand.Rand, own map[int64]int64, k int64) {
	old, had := own[k]
	switch rng.IntN(4) {
	case 0:
		m.Delete(k)
	case 1:
		if v, loaded := m.LoadAndDelete(k); v != old || loaded != had {
			f.Errorf("LoadAndDelete(%d) got (%#x, %t); want (%#x, %t)", k, v, loaded, old, had)
		}
	case 2:
		if deleted := m.CompareAndDelete(k, old); deleted != had {
			f.Errorf("CompareAndDelete(%d, %#x) got %t; want %t", k, old, deleted, had)
		}
	default:
		actual, ok := m.Compute(k, func(cur int64, loaded bool) (int64, safemap.ComputeOp) {
			if cur != old || loaded != had {
				f.Errorf("Compute(%d) passed fn (%#x, %t); want (%#x, %t)", k, cur, loaded, old, had)
			}
			return 0, safemap.DeleteOp
		})
		if actual != 0 || ok {
			f.Errorf("Compute(%d) deleting got (%#x, %t); want (0, false)", k, actual, ok)
		}
	}
	delete(own, k)
}

// checkShrinksAfterMassDeletion deletes every key of want from m, which no
// other goroutine uses, and checks that the table shrinks back to its
// minimum.
func checkShrinksAfterMassDeletion(t *testing.T, m *safemap.Map[int64, int64], want map[int64]int64, spare int64) {
	t.Helper()
	before := safemap.MapBuckets(m)
	for k := range want {
		m.Delete(k)
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len after deleting every key got %d; want 0", got)
	}
	shrinkTo(t, m, minMapBuckets, spare, 0)
	t.Logf("after deleting every key the table shrank from %d to %d buckets", before, safemap.MapBuckets(m))
}

// TestMap_GrowsAndShrinksCorrectlyUnderConcurrentReadersAndWriters makes
// writers fill and empty their own key ranges round after round, so the
// table grows from 8 buckets to thousands and shrinks again many times,
// while readers Load, Range and iterate All without pause. Every result of
// every method is checked as it happens; afterwards Len, Range, All and Load
// agree with the writers' models, and deleting everything shrinks the table
// back to its minimum.
func TestMap_GrowsAndShrinksCorrectlyUnderConcurrentReadersAndWriters(t *testing.T) {
	cfg := resizeStress{
		writers:       max(4, runtime.GOMAXPROCS(0)),
		keysPerWriter: testkit.ShortOr(500, 2000),
		rounds:        testkit.ShortOr(3, 12),
		keepOneIn:     16,
		readers:       2,
	}
	for _, zero := range []bool{false, true} {
		name := map[bool]string{false: "New", true: "zero value"}[zero]
		t.Run(name, func(t *testing.T) {
			m := new(safemap.Map[int64, int64]) // the writers race to create its table
			if !zero {
				m = safemap.New[int64, int64]()
			}
			peak, want := cfg.run(t, m)
			total := cfg.writers * cfg.keysPerWriter
			// total entries at most 3/4 full need total/5.25 buckets;
			// allow a factor of two for growth that a concurrent resize
			// skipped.
			if wantPeak := total / 11; peak < wantPeak {
				t.Errorf("peak MapBuckets got %d; want at least %d for %d entries", peak, wantPeak, total)
			}
			if t.Failed() {
				return
			}
			checkMapHolds(t, m, want)
			checkShrinksAfterMassDeletion(t, m, want, int64(total))
		})
		if testing.Short() {
			break
		}
	}
}

// TestMap_BadHashStaysCorrectUnderConcurrentResizes is the grow-and-shrink
// stress test with a one-bit hash: every key lands in one of two chains,
// whatever the size of the table, so the chains are long and every resize
// moves them whole.
func TestMap_BadHashStaysCorrectUnderConcurrentResizes(t *testing.T) {
	cfg := resizeStress{
		writers:       4,
		keysPerWriter: testkit.ShortOr(60, 150),
		rounds:        testkit.ShortOr(3, 12),
		keepOneIn:     8,
		readers:       2,
	}
	m := safemap.New[int64, int64](safemap.WithBadHash())
	peak, want := cfg.run(t, m)
	total := cfg.writers * cfg.keysPerWriter
	if wantPeak := total / 11; peak < wantPeak {
		t.Errorf("peak MapBuckets got %d; want at least %d for %d entries (the table grows with Len, whatever the hash)", peak, wantPeak, total)
	}
	if t.Failed() {
		return
	}
	checkMapHolds(t, m, want)
	checkShrinksAfterMassDeletion(t, m, want, int64(total))
}

// rangeCounts runs one pass of Range (or All) over m and returns how many
// times each key was visited, checking each value with valid.
func rangeCounts(m *safemap.Map[int64, int64], useAll bool, valid func(k, v int64)) map[int64]int {
	counts := make(map[int64]int)
	visit := func(k, v int64) bool {
		counts[k]++
		valid(k, v)
		return true
	}
	if useAll {
		for k, v := range m.All() {
			visit(k, v)
		}
	} else {
		m.Range(visit)
	}
	return counts
}

// passProblem summarizes what is wrong with the visit counts of one pass:
// keys visited more than once, and stable keys (those below stable, present
// throughout) not visited exactly once. It returns "" if nothing is.
func passProblem(counts map[int64]int, stable int64) string {
	var (
		twice, visits    int
		twiceKey         int64
		twiceN           int
		missed, missedAt = 0, int64(-1)
	)
	for k, n := range counts {
		visits += n
		if n > 1 {
			twice++
			if n > twiceN || (n == twiceN && k < twiceKey) {
				twiceKey, twiceN = k, n
			}
		}
	}
	for k := range stable {
		if counts[k] == 0 {
			if missed++; missedAt < 0 {
				missedAt = k
			}
		}
	}
	var msgs []string
	if twice > 0 {
		msgs = append(msgs, fmt.Sprintf("visited %d of %d keys more than once (%d visits in all; key %d %d times); want each at most once",
			twice, len(counts), visits, twiceKey, twiceN))
	}
	if missed > 0 {
		msgs = append(msgs, fmt.Sprintf("missed %d of the %d keys present throughout (key %d first); want each visited", missed, stable, missedAt))
	}
	return strings.Join(msgs, "; ")
}

// TestMap_RangeVisitsEachUntouchedKeyExactlyOnceWhileTheTableResizes stores
// a set of stable keys that nobody touches afterwards, then ranges over the
// map with Range and All, pass after pass, while other goroutines insert
// and delete thousands of other keys so that the table grows and shrinks
// under the iteration. Every pass must visit every stable key exactly once
// (it is present throughout) and no key twice.
func TestMap_RangeVisitsEachUntouchedKeyExactlyOnceWhileTheTableResizes(t *testing.T) {
	tests := []struct {
		name                string
		opts                []safemap.Option
		stable              int
		churners, churnKeys int
		cycles              int
	}{
		{name: "hash=seeded", stable: 256, churners: 2, churnKeys: testkit.ShortOr(800, 2500), cycles: testkit.ShortOr(3, 30)},
		{name: "hash=bad", opts: []safemap.Option{safemap.WithBadHash()}, stable: 32, churners: 2, churnKeys: testkit.ShortOr(100, 200), cycles: testkit.ShortOr(3, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testkit.NewFailures(t)
			defer f.Summarize()
			m := safemap.New[int64, int64](tt.opts...)
			for k := range int64(tt.stable) {
				m.Store(k, resizeValue(k, 0))
			}
			var (
				churning, ranging sync.WaitGroup
				stop              = make(chan struct{})
				resizes, passes   atomic.Int64
				budget            = newResizeBudget(rangeResizeLimit)
			)
			for c := range tt.churners {
				churning.Add(1)
				go func() {
					defer churning.Done()
					watch := newBucketWatch(m, budget)
					base := int64(1<<20 + c*tt.churnKeys)
					for cycle := range tt.cycles {
						for k := base; k < base+int64(tt.churnKeys); k++ {
							m.Store(k, resizeValue(k, uint32(cycle+1)))
							watch.note()
						}
						for k := base; k < base+int64(tt.churnKeys); k++ {
							m.Delete(k)
							watch.note()
						}
					}
					resizes.Add(int64(watch.changes))
				}()
			}
			for r := range 2 {
				ranging.Add(1)
				go func() {
					defer ranging.Done()
					how := [2]string{"Range", "All"}[r]
					valid := func(k, v int64) {
						if resizeKeyOf(v) != k || (k < int64(tt.stable) && v != resizeValue(k, 0)) {
							f.Errorf("%s visited key %d with %#x, never stored for it", how, k, v)
						}
					}
					for {
						var counts map[int64]int
						budget.pass(func() { counts = rangeCounts(m, r == 1, valid) })
						passes.Add(1)
						if msg := passProblem(counts, int64(tt.stable)); msg != "" {
							f.Errorf("a pass of %s during resizes %s", how, msg)
						}
						select {
						case <-stop:
							return
						default:
						}
					}
				}()
			}
			churning.Wait()
			close(stop)
			ranging.Wait()
			t.Logf("%d Range/All passes while the churners saw the table resize %d times", passes.Load(), resizes.Load())
			if resizes.Load() == 0 {
				t.Errorf("the churners saw the table resize 0 times; want some, or the test proves nothing")
			}
		})
	}
}

// growThenShrinkWithin grows m, which the caller is ranging over, by storing n keys
// from base, checks that it grew at least fourfold, then deletes them and
// shrinks the table back to at most atMost buckets.
func growThenShrinkWithin(t *testing.T, m *safemap.Map[int64, int64], base int64, n int, atMost int) {
	t.Helper()
	before := safemap.MapBuckets(m)
	for k := base; k < base+int64(n); k++ {
		m.Store(k, resizeValue(k, 1))
	}
	grown := safemap.MapBuckets(m)
	if grown < 4*before {
		t.Fatalf("after storing %d keys MapBuckets got %d; want at least %d", n, grown, 4*before)
	}
	for k := base; k < base+int64(n); k++ {
		m.Delete(k)
	}
	shrinkTo(t, m, atMost, base+int64(n), 0)
	t.Logf("during the pass the table grew from %d to %d buckets and shrank to %d", before, grown, safemap.MapBuckets(m))
}

// TestMap_RangeVisitsNoKeyTwiceWhenTheTableGrowsThenShrinksDuringIt is the
// deterministic form of the test above: the Range callback itself (which may
// call any method) grows the table fourfold or more and shrinks it again
// after the first key; the pass must still visit each of the keys it
// started with, which nobody touched, exactly once.
func TestMap_RangeVisitsNoKeyTwiceWhenTheTableGrowsThenShrinksDuringIt(t *testing.T) {
	for _, useAll := range []bool{false, true} {
		how := map[bool]string{false: "Range", true: "All"}[useAll]
		t.Run(how, func(t *testing.T) {
			const stable = 100
			m := safemap.New[int64, int64]()
			for k := range int64(stable) {
				m.Store(k, resizeValue(k, 0))
			}
			start := safemap.MapBuckets(m)
			first := true
			counts := rangeCounts(m, useAll, func(k, v int64) {
				if v != resizeValue(k, 0) {
					t.Errorf("%s visited key %d with %#x; want %#x", how, k, v, resizeValue(k, 0))
				}
				if first {
					first = false
					growThenShrinkWithin(t, m, 1000, 4000, 4*start)
				}
			})
			if msg := passProblem(counts, stable); msg != "" {
				t.Errorf("%s %s", how, msg)
			}
			if len(counts) != stable {
				t.Errorf("%s visited %d distinct keys; want %d", how, len(counts), stable)
			}
		})
	}
}

// TestMap_RangeVisitsNoKeyTwiceWhenClearFollowsGrowthDuringIt has the Range
// callback grow the table and Clear it, once or a few times over, and then
// store the map's keys again. Keys stored during the pass may or may not be
// visited, but none more than once; and the work of the pass must not
// multiply with each growth it lives through.
func TestMap_RangeVisitsNoKeyTwiceWhenClearFollowsGrowthDuringIt(t *testing.T) {
	const keys = 100
	for cycles := 1; cycles <= 3; cycles++ {
		t.Run(fmt.Sprintf("cycles=%d", cycles), func(t *testing.T) {
			m := safemap.New[int64, int64]()
			for k := range int64(keys) {
				m.Store(k, resizeValue(k, 0))
			}
			before := safemap.MapBuckets(m)
			first := true
			counts := rangeCounts(m, false, func(k, v int64) {
				if resizeKeyOf(v) != k {
					t.Errorf("Range visited key %d with %#x, never stored for it", k, v)
				}
				if !first {
					return
				}
				first = false
				for c := range cycles {
					for k := int64(1000); k < 3000; k++ {
						m.Store(k, resizeValue(k, 1))
					}
					if c == 0 {
						t.Logf("during the pass the table grew from %d to %d buckets, then was cleared, %d times", before, safemap.MapBuckets(m), cycles)
					}
					m.Clear()
				}
				for k := range int64(keys) {
					m.Store(k, resizeValue(k, 2))
				}
			})
			if msg := passProblem(counts, 0); msg != "" {
				t.Errorf("Range %s", msg)
			}
		})
	}
}

// TestMap_ClearRacingWritesAndResizesLeavesLenRangeAndLoadAgreeing runs
// Clear over and over while writers fill and empty their key ranges (so the
// table keeps growing and shrinking) and a reader ranges. A writer's own
// reads must see its last write or nothing (a Clear may have removed it),
// never an older value. The Clears stop three quarters of the way through
// the writes, so entries survive; once everyone stops, Len (which every
// racing Clear adjusted), Range, All and Load agree on what survived, and a
// last Clear empties the map and returns it to the minimum size.
func TestMap_ClearRacingWritesAndResizesLeavesLenRangeAndLoadAgreeing(t *testing.T) {
	const (
		writers       = 3
		keysPerWriter = 1500
	)
	rounds := testkit.ShortOr(2, 12)
	cycles := testkit.ShortOr(2, 4)
	var totalClears, totalSurvivors int
	defer func() {
		t.Logf("%d rounds: %d Clears raced the writers, and %d entries survived them in all", rounds, totalClears, totalSurvivors)
		if !t.Failed() && totalSurvivors == 0 {
			t.Errorf("no entry survived the Clears in any round; want some, or the final checks prove nothing")
		}
	}()
	for round := range rounds {
		f := testkit.NewFailures(t)
		m := safemap.New[int64, int64]()
		var (
			writing, others sync.WaitGroup
			done            = make(chan struct{})
			clears          atomic.Int64
			budget          = newResizeBudget(rangeResizeLimit)
			progress        atomic.Int64 // writes done so far
			clearUntil      = int64(writers*cycles*keysPerWriter) * 3 / 4
		)
		others.Add(2)
		go func() { // the clearer
			defer others.Done()
			rng := rand.New(rand.NewPCG(uint64(round), 1))
			watch := newBucketWatch(m, budget)
			for progress.Load() < clearUntil {
				m.Clear()
				clears.Add(1)
				watch.note()
				// Spacing between Clears, so the table can grow
				// in between: work, not sleep.
				for range 2000 + rng.IntN(2000) {
					m.Load(rng.Int64N(writers * keysPerWriter))
				}
			}
		}()
		go func() { // a reader
			defer others.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				budget.pass(func() {
					m.Range(func(k, v int64) bool {
						if resizeKeyOf(v) != k {
							f.Errorf("Range visited key %d with %#x, never stored for it", k, v)
						}
						return true
					})
				})
			}
		}()
		for w := range writers {
			writing.Add(1)
			go func() {
				defer writing.Done()
				base := int64(w * keysPerWriter)
				last := make(map[int64]int64, keysPerWriter)
				gen := uint32(0)
				watch := newBucketWatch(m, budget)
				checkOwn := func(k int64) {
					if v, ok := m.Load(k); ok && v != last[k] {
						f.Errorf("Load(%d) got %#x; want the last write %#x or nothing", k, v, last[k])
					}
				}
				for range cycles {
					for k := base; k < base+keysPerWriter; k++ {
						gen++
						v := resizeValue(k, gen)
						if k%3 == 0 {
							actual, loaded := m.LoadOrStore(k, v)
							switch prev, had := last[k]; {
							case loaded && (!had || actual != prev):
								f.Errorf("LoadOrStore(%d, %#x) got (%#x, true); want this writer's last write (%#x, %t) or a store", k, v, actual, prev, had)
							case loaded:
								m.Store(k, v) // no Clear removed the last write yet
							case actual != v:
								f.Errorf("LoadOrStore(%d, %#x) got (%#x, false); want (%#x, false)", k, v, actual, v)
							}
						} else {
							m.Store(k, v)
						}
						last[k] = v
						checkOwn(k)
						watch.note()
						progress.Add(1)
					}
					for k := base; k < base+keysPerWriter; k++ {
						if k%4 != 0 {
							m.Delete(k)
							delete(last, k)
							if v, ok := m.Load(k); ok {
								f.Errorf("Load(%d) after Delete got (%#x, true); want (0, false)", k, v)
							}
							watch.note()
						} else {
							checkOwn(k)
						}
					}
				}
			}()
		}
		writing.Wait()
		close(done)
		others.Wait()
		f.Summarize()
		if t.Failed() {
			return
		}

		// Quiescent: whatever survived, every view agrees on it.
		survivors := make(map[int64]int64)
		for k := range int64(writers * keysPerWriter) {
			if v, ok := m.Load(k); ok {
				survivors[k] = v
			}
		}
		checkMapHolds(t, m, survivors)
		totalClears += int(clears.Load())
		totalSurvivors += len(survivors)

		m.Clear()
		checkMapHolds(t, m, nil)
		if got := safemap.MapBuckets(m); got != minMapBuckets {
			t.Errorf("MapBuckets after Clear got %d; want %d", got, minMapBuckets)
		}
	}
}

// TestMap_HotKeyHistoriesDuringResizesAreLinearizable records histories of
// every operation on three hot keys (with porcupine, as the shared
// linearizability test does) while a background goroutine stores and
// deletes thousands of other keys, so the table grows and shrinks, and
// chains holding the hot keys move, while the history is recorded.
func TestMap_HotKeyHistoriesDuringResizesAreLinearizable(t *testing.T) {
	histories := testkit.ShortOr(4, 40)
	clients, opsPerClient := 4, testkit.ShortOr(150, 300)
	churnKeys := testkit.ShortOr(1000, 3000)
	const churnBase = 1 << 20
	var resizesDuring int64
	for range histories {
		seed := rand.Uint64()
		m := safemap.New[int, int]()
		var (
			churning sync.WaitGroup
			stop     = make(chan struct{})
			resized  = make(chan struct{}) // closed on the churner's first resize
			resizes  atomic.Int64
		)
		churning.Add(1)
		go func() {
			defer churning.Done()
			watch := newBucketWatch(m, nil)
			signalled := false
			note := func() bool {
				watch.note()
				resizes.Store(int64(watch.changes))
				if !signalled && watch.changes > 0 {
					signalled = true
					close(resized)
				}
				select {
				case <-stop:
					return false
				default:
					return true
				}
			}
			for cycle := 1; ; cycle++ {
				for k := churnBase; k < churnBase+churnKeys; k++ {
					m.Store(k, k+cycle)
					if !note() {
						return
					}
				}
				for k := churnBase; k < churnBase+churnKeys; k++ {
					m.Delete(k)
					if !note() {
						return
					}
				}
			}
		}()
		<-resized
		before := resizes.Load()
		history := linHistory(t, m, linAllOps, 3, clients, opsPerClient, seed)
		during := resizes.Load() - before
		close(stop)
		churning.Wait()
		resizesDuring += during
		checkLinearizable(t, history, seed)
	}
	t.Logf("%d histories of %d×%d operations on 3 hot keys are linearizable; the table resized %d times while they were recorded",
		histories, clients, opsPerClient, resizesDuring)
	if resizesDuring == 0 {
		t.Errorf("the table resized 0 times while histories were recorded; want some, or the test proves nothing")
	}
}

// TestMap_OscillatingAroundTheGrowThresholdDoesNotResizeEachTime fills the
// map until an insert makes it grow, then deletes and re-inserts the last
// keys over and over, crossing back and forth over the count at which it
// grew. The table must not shrink and grow again each time.
func TestMap_OscillatingAroundTheGrowThresholdDoesNotResizeEachTime(t *testing.T) {
	const width = 16
	oscillations := testkit.ShortOr(200, 1000)
	m := safemap.New[int64, int64]()
	var n int64
	for safemap.MapBuckets(m) < 256 {
		m.Store(n, n)
		n++
	}
	watch := newBucketWatch(m, nil)
	for range oscillations {
		for k := n - width; k < n; k++ {
			m.Delete(k)
			watch.note()
		}
		for k := n - width; k < n; k++ {
			m.Store(k, k)
			watch.note()
		}
	}
	if watch.changes > 1 {
		t.Errorf("oscillating %d keys around %d entries %d times resized the table %d times; want at most 1", width, n, oscillations, watch.changes)
	}
}

// TestMap_OscillatingAroundTheShrinkThresholdDoesNotResizeEachTime grows the
// map, deletes keys until it shrinks, then inserts and deletes a few keys
// over and over around the count at which it shrank. The table must not
// grow and shrink again each time.
func TestMap_OscillatingAroundTheShrinkThresholdDoesNotResizeEachTime(t *testing.T) {
	const width = 16
	oscillations := testkit.ShortOr(200, 1000)
	m := safemap.New[int64, int64]()
	n := int64(4000)
	for k := range n {
		m.Store(k, k)
	}
	grown := safemap.MapBuckets(m)
	for safemap.MapBuckets(m) == grown {
		if n == 0 {
			t.Fatalf("deleting all %d keys left MapBuckets at %d; want it to shrink", 4000, grown)
		}
		n--
		m.Delete(n)
	}
	watch := newBucketWatch(m, nil)
	for range oscillations {
		for k := n; k < n+width; k++ {
			m.Store(k, k)
			watch.note()
		}
		for k := n; k < n+width; k++ {
			m.Delete(k)
			watch.note()
		}
	}
	if watch.changes > 1 {
		t.Errorf("oscillating %d keys around %d entries %d times resized the table %d times; want at most 1", width, n, oscillations, watch.changes)
	}
}

// TestMap_NeverShrinksBelowItsCapacity checks that a map built with
// WithCapacity keeps at least the table it started with, however many
// entries come and go.
func TestMap_NeverShrinksBelowItsCapacity(t *testing.T) {
	m := safemap.New[int64, int64](safemap.WithCapacity(3000))
	initial := safemap.MapBuckets(m)
	if initial*safemap.SlotsPerBucket*3/4 < 3000 {
		t.Fatalf("MapBuckets after WithCapacity(3000) got %d; want room for 3000 entries at most 3/4 full", initial)
	}
	const n = 20000
	for k := range int64(n) {
		m.Store(k, k)
	}
	if got := safemap.MapBuckets(m); got <= initial {
		t.Fatalf("MapBuckets after storing %d keys got %d; want more than %d", n, got, initial)
	}
	smallest := safemap.MapBuckets(m)
	for k := range int64(n) {
		m.Delete(k)
		smallest = min(smallest, safemap.MapBuckets(m))
	}
	for range 1 << 12 {
		m.Store(-1, 0)
		m.Delete(-1)
		smallest = min(smallest, safemap.MapBuckets(m))
	}
	if smallest != initial {
		t.Errorf("smallest MapBuckets after deleting everything got %d; want %d, the initial table", smallest, initial)
	}
}

// TestMapBucketSize_IsPinned pins the layout of a bucket of int64→int64: a
// meta word and a next pointer, then seven 16-byte slots; and of a chain's
// head in the dense array: a meta word and a seq word.
func TestMapBucketSize_IsPinned(t *testing.T) {
	if got, want := safemap.MapBucketSize, uintptr(16+7*16); got != want {
		t.Errorf("MapBucketSize got %d; want %d", got, want)
	}
	if got, want := safemap.MapHeadSize, uintptr(16); got != want {
		t.Errorf("MapHeadSize got %d; want %d", got, want)
	}
	if got, want := safemap.SlotsPerBucket, 7; got != want {
		t.Errorf("SlotsPerBucket got %d; want %d", got, want)
	}
}

// randomMeta returns a bucket's meta word: each of the seven slot bytes
// empty (0) or a tag (high bit set), the eighth byte unused (0).
func randomMeta(rng *rand.Rand, emptyOneIn int) uint64 {
	var meta uint64
	for i := range safemap.SlotsPerBucket {
		if rng.IntN(emptyOneIn) != 0 {
			meta |= uint64(0x80|rng.IntN(0x80)) << (8 * i)
		}
	}
	return meta
}

// metaByte returns slot i's byte of meta.
func metaByte(meta uint64, i int) uint8 { return uint8(meta >> (8 * i)) }

// TestMatchEmpty_FindsExactlyTheEmptySlots checks matchEmpty against a
// byte-by-byte scan over random meta words, including all-empty and
// all-full ones.
func TestMatchEmpty_FindsExactlyTheEmptySlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	metas := []uint64{0, 0x00ffffffffffffff, 0x0080808080808080, 0x0000000000000080, 0x0080000000000000}
	for range 20000 {
		metas = append(metas, randomMeta(rng, 1+rng.IntN(4)))
	}
	for _, meta := range metas {
		var want uint64
		for i := range safemap.SlotsPerBucket {
			if metaByte(meta, i) == 0 {
				want |= 0x80 << (8 * i)
			}
		}
		if got := safemap.MatchEmpty(meta); got != want {
			t.Fatalf("MatchEmpty(%#016x) got %#016x; want %#016x", meta, got, want)
		}
	}
}

// TestMatchTag_FindsEveryMatchingSlot checks that matchTag reports every
// slot holding the tag, never an empty slot, never the unused eighth byte,
// and a false positive only above a true match (a borrow), so that a
// bucket without the tag is rejected outright.
func TestMatchTag_FindsEveryMatchingSlot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(meta uint64, tag uint8) {
		t.Helper()
		got := safemap.MatchTag(meta, tag)
		if got&^0x0080808080808080 != 0 {
			t.Fatalf("MatchTag(%#016x, %#x) got %#016x; want only the high bits of slot bytes", meta, tag, got)
		}
		lowestTrue := -1
		for i := range safemap.SlotsPerBucket {
			b := metaByte(meta, i)
			reported := got&(0x80<<(8*i)) != 0
			switch {
			case b == tag:
				if !reported {
					t.Fatalf("MatchTag(%#016x, %#x) got %#016x; want slot %d reported", meta, tag, got, i)
				}
				if lowestTrue < 0 {
					lowestTrue = i
				}
			case reported && b == 0:
				t.Fatalf("MatchTag(%#016x, %#x) got %#016x, reporting empty slot %d; want it not reported", meta, tag, got, i)
			case reported && (lowestTrue < 0 || lowestTrue > i):
				t.Fatalf("MatchTag(%#016x, %#x) got %#016x, reporting slot %d with no true match below it; want it not reported", meta, tag, got, i)
			}
		}
	}
	for range 20000 {
		meta := randomMeta(rng, 1+rng.IntN(4))
		check(meta, uint8(0x80|rng.IntN(0x80)))
		// A tag that is present, and its neighbours (which borrows
		// can make look present).
		tag := metaByte(meta, rng.IntN(safemap.SlotsPerBucket))
		if tag != 0 {
			check(meta, tag)
			check(meta, tag^1)
		}
	}
	// Every tag against a full bucket of that tag, and an empty bucket.
	for tag := 0x80; tag <= 0xff; tag++ {
		check(0x0001010101010101*uint64(tag), uint8(tag))
		check(0, uint8(tag))
	}
}

// TestSlotIndex_ReturnsTheLowestReportedSlot checks slotIndex on every
// non-empty set of reported slots.
func TestSlotIndex_ReturnsTheLowestReportedSlot(t *testing.T) {
	for set := 1; set < 1<<safemap.SlotsPerBucket; set++ {
		var match uint64
		for i := range safemap.SlotsPerBucket {
			if set&(1<<i) != 0 {
				match |= 0x80 << (8 * i)
			}
		}
		if got, want := safemap.SlotIndex(match), bits.TrailingZeros(uint(set)); got != want {
			t.Errorf("SlotIndex(%#016x) got %d; want %d", match, got, want)
		}
	}
}

// tornCase describes values (and keys) that hold pointers and differ in
// length from one write to the next, derived from the key so that a reader
// can tell whether what it got was really stored for that key: a torn copy
// (a header from one write with a pointer from another) fails check, or
// crashes.
type tornCase[K comparable, V any] struct {
	key   func(i int) K
	value func(i, gen int) V
	check func(k K, v V) string // "" if v is value(i, gen) for the i of k and some gen
}

// runTornCase has writers overwrite, delete and re-insert a few hot keys
// with values of ever-changing length, and fill and empty their own ranges
// of other keys to make the table grow and shrink, while readers Load the
// hot keys and Range over everything, checking every key and value.
func runTornCase[K comparable, V any](t *testing.T, c tornCase[K, V]) {
	t.Helper()
	const (
		hot       = 64
		writers   = 3
		readers   = 2
		churnKeys = 400
	)
	ops := testkit.ShortOr(3000, 40000)
	f := testkit.NewFailures(t)
	defer f.Summarize()
	m := safemap.New[K, V]()
	for i := range hot {
		m.Store(c.key(i), c.value(i, 0))
	}
	checked := func(how string, k K, v V) {
		if msg := c.check(k, v); msg != "" {
			f.Errorf("%s yielded key %v with %v: %s", how, k, v, msg)
		}
	}
	var (
		writing, reading sync.WaitGroup
		stop             = make(chan struct{})
		loads, ranges    atomic.Int64
		budget           = newResizeBudget(rangeResizeLimit)
	)
	for r := range readers {
		reading.Add(1)
		go func() {
			defer reading.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%64 == 63 {
					budget.pass(func() {
						m.Range(func(k K, v V) bool { checked("Range", k, v); return true })
					})
					ranges.Add(1)
					continue
				}
				k := c.key(rng.IntN(hot))
				if v, ok := m.Load(k); ok {
					checked("Load", k, v)
				}
				loads.Add(1)
			}
		}()
	}
	for w := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 6))
			churnBase := 1000 + w*churnKeys
			watch := newBucketWatch(m, budget)
			for n := range ops {
				if n%1000 == 999 {
					for i := churnBase; i < churnBase+churnKeys; i++ {
						m.Store(c.key(i), c.value(i, n))
						watch.note()
					}
					for i := churnBase; i < churnBase+churnKeys; i++ {
						m.Delete(c.key(i))
						watch.note()
					}
				}
				i := rng.IntN(hot)
				k, v := c.key(i), c.value(i, w*ops+n+1)
				switch rng.IntN(6) {
				case 0, 1:
					m.Store(k, v)
				case 2:
					if prev, loaded := m.Swap(k, v); loaded {
						checked("Swap", k, prev)
					}
				case 3:
					if prev, loaded := m.LoadAndDelete(k); loaded {
						checked("LoadAndDelete", k, prev)
					}
				case 4:
					m.Compute(k, func(old V, loaded bool) (V, safemap.ComputeOp) {
						if loaded {
							checked("Compute", k, old)
						}
						return v, safemap.UpdateOp
					})
				default:
					if actual, loaded := m.LoadOrStore(k, v); loaded {
						checked("LoadOrStore", k, actual)
					}
				}
			}
		}()
	}
	writing.Wait()
	close(stop)
	reading.Wait()
	t.Logf("%d Loads and %d Range passes checked", loads.Load(), ranges.Load())
}

// tornLetter is the filler byte of key i's values.
func tornLetter(i int) string { return string(rune('a' + i%26)) }

// checkRepeated returns "" if s is at least one copy of fill, and nothing
// else.
func checkRepeated(s, fill string) string {
	if s == "" || strings.Trim(s, fill) != "" {
		return fmt.Sprintf("filler %q; want one or more %q", s, fill)
	}
	return ""
}

// tornPair is a value of several words that must stay consistent: all three
// fields come from the same write.
// tornScale separates a key's part of a value from the write's: key*tornScale
// + generation stays within a 32-bit int for every key runTornCase writes
// (at most a few thousand), so the test means the same on 386.
const tornScale = 100_000

type tornPair struct {
	n int
	s string
	p *int
}

// TestMap_ValuesHoldingPointersAreNeverTornUnderConcurrentOverwrites stores
// values of pointer-holding types (strings and slices of ever-changing
// length, pointers, multi-word structs, interfaces of changing dynamic
// type) and string keys of different lengths, overwritten and deleted
// concurrently while the table resizes: every value a reader gets must be
// one stored for that key, whole.
func TestMap_ValuesHoldingPointersAreNeverTornUnderConcurrentOverwrites(t *testing.T) {
	t.Run("V=string", func(t *testing.T) {
		runTornCase(t, tornCase[int, string]{
			key: func(i int) int { return i },
			value: func(i, gen int) string {
				return strings.Repeat(tornLetter(i), 1+gen%48) + "#" + strconv.Itoa(i)
			},
			check: func(k int, v string) string {
				fill, suffix, ok := strings.Cut(v, "#")
				if !ok || suffix != strconv.Itoa(k) {
					return fmt.Sprintf("suffix %q; want %q", suffix, strconv.Itoa(k))
				}
				return checkRepeated(fill, tornLetter(k))
			},
		})
	})
	t.Run("V=[]byte", func(t *testing.T) {
		runTornCase(t, tornCase[int, []byte]{
			key: func(i int) int { return i },
			value: func(i, gen int) []byte {
				n := 1 + gen%48
				b := make([]byte, n+1)
				for j := range n {
					b[j] = byte(i)
				}
				b[n] = byte(n) // the length, to catch a header torn between writes
				return b
			},
			check: func(k int, v []byte) string {
				if len(v) < 2 || int(v[len(v)-1]) != len(v)-1 {
					return fmt.Sprintf("length %d; want a final byte holding the length before it", len(v))
				}
				for _, b := range v[:len(v)-1] {
					if b != byte(k) {
						return fmt.Sprintf("byte %d; want %d", b, byte(k))
					}
				}
				return ""
			},
		})
	})
	t.Run("V=*int", func(t *testing.T) {
		runTornCase(t, tornCase[int, *int]{
			key: func(i int) int { return i },
			value: func(i, gen int) *int {
				v := i*tornScale + gen%tornScale
				return &v
			},
			check: func(k int, v *int) string {
				if v == nil || *v/tornScale != k {
					return fmt.Sprintf("pointer to a value not stored for key %d", k)
				}
				return ""
			},
		})
	})
	t.Run("V=struct", func(t *testing.T) {
		runTornCase(t, tornCase[int, tornPair]{
			key: func(i int) int { return i },
			value: func(i, gen int) tornPair {
				n := i*tornScale + gen%tornScale
				p := n
				return tornPair{n: n, s: strconv.Itoa(n), p: &p}
			},
			check: func(k int, v tornPair) string {
				if v.n/tornScale != k || v.s != strconv.Itoa(v.n) || v.p == nil || *v.p != v.n {
					return fmt.Sprintf("fields from different writes, or a value not stored for key %d", k)
				}
				return ""
			},
		})
	})
	t.Run("V=any", func(t *testing.T) {
		runTornCase(t, tornCase[int, any]{
			key: func(i int) int { return i },
			value: func(i, gen int) any {
				switch gen % 3 {
				case 0:
					return strings.Repeat(tornLetter(i), 1+gen%40)
				case 1:
					return i*tornScale + gen%tornScale
				default:
					v := -i
					return &v
				}
			},
			check: func(k int, v any) string {
				switch v := v.(type) {
				case string:
					return checkRepeated(v, tornLetter(k))
				case int:
					if v/tornScale != k {
						return fmt.Sprintf("int not stored for key %d", k)
					}
				case *int:
					if v == nil || *v != -k {
						return fmt.Sprintf("*int not stored for key %d", k)
					}
				default:
					return fmt.Sprintf("dynamic type %T; want string, int or *int", v)
				}
				return ""
			},
		})
	})
	t.Run("K=string", func(t *testing.T) {
		key := func(i int) string { return strings.Repeat("~", i%11) + "k" + strconv.Itoa(i) }
		runTornCase(t, tornCase[string, string]{
			key: key,
			value: func(i, gen int) string {
				return key(i) + "=" + strings.Repeat("!", 1+gen%37)
			},
			check: func(k, v string) string {
				tildes, digits, ok := strings.Cut(k, "k")
				i, err := strconv.Atoi(digits)
				if !ok || err != nil || tildes != strings.Repeat("~", i%11) {
					return fmt.Sprintf("key %q was never stored", k)
				}
				prefix, fill, ok := strings.Cut(v, "=")
				if !ok || prefix != k {
					return fmt.Sprintf("value stored for key %q", prefix)
				}
				return checkRepeated(fill, "!")
			},
		})
	})
}

// TestMap_LoadNeverSeesAnOlderValueThanItSawBefore has one writer per key
// overwrite a few hot keys with increasing generations while the table
// resizes under churn, and readers check that, for each key, the
// generation they read never goes backwards: no read may be served from a
// stale copy of a chain left in an old table.
func TestMap_LoadNeverSeesAnOlderValueThanItSawBefore(t *testing.T) {
	const hot = 8
	writes := testkit.ShortOr(20000, 300000)
	f := testkit.NewFailures(t)
	defer f.Summarize()
	m := safemap.New[int64, int64]()
	var (
		writing, others sync.WaitGroup
		stop            = make(chan struct{})
		watchChanges    atomic.Int64
	)
	for r := range 2 {
		others.Add(1)
		go func() {
			defer others.Done()
			g := &genTracker{f: f, last: make(map[int64]uint32)}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := int64((n + r) % hot)
				if v, ok := m.Load(k); ok {
					g.see("Load", k, v)
				}
			}
		}()
	}
	others.Add(1)
	go func() { // churn: grow and shrink without pause
		defer others.Done()
		watch := newBucketWatch(m, nil)
		defer func() { watchChanges.Store(int64(watch.changes)) }()
		for {
			for k := int64(1 << 20); k < 1<<20+2000; k++ {
				m.Store(k, resizeValue(k, 1))
				watch.note()
			}
			for k := int64(1 << 20); k < 1<<20+2000; k++ {
				m.Delete(k)
				watch.note()
				if k%256 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}
	}()
	for w := range int64(hot) {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for gen := uint32(1); gen <= uint32(writes/hot); gen++ {
				m.Store(w, resizeValue(w, gen))
				if gen%64 == 0 {
					runtime.Gosched() // let readers and the churner interleave on few CPUs
				}
			}
		}()
	}
	writing.Wait()
	close(stop)
	others.Wait()
	t.Logf("the table resized %d times during the writes", watchChanges.Load())
}

// TestMap_ComputeFunctionMayLoadWhileTheTableResizes has Compute functions
// call Load, which the documentation allows, on their own key and on
// others, while another goroutine grows and shrinks the table: Load must
// neither deadlock on the chain lock that Compute holds (under -race it
// takes the chain's D bit) nor see anything but the value Compute was
// given.
func TestMap_ComputeFunctionMayLoadWhileTheTableResizes(t *testing.T) {
	const (
		writers = 3
		hot     = 16
	)
	ops := testkit.ShortOr(3000, 20000)
	f := testkit.NewFailures(t)
	defer f.Summarize()
	m := safemap.New[int64, int64]()
	var resizes int
	testkit.Within(t, "Compute functions calling Load during resizes", func() {
		var writing, churning sync.WaitGroup
		stop := make(chan struct{})
		resized := make(chan struct{}) // closed on the churner's first resize
		churning.Add(1)
		go func() {
			defer churning.Done()
			watch := newBucketWatch(m, nil)
			defer func() { resizes = watch.changes }()
			signalled := false
			note := func() {
				if watch.note(); !signalled && watch.changes > 0 {
					signalled = true
					close(resized)
				}
			}
			for {
				for k := int64(1 << 20); k < 1<<20+2000; k++ {
					m.Store(k, resizeValue(k, 1))
					note()
				}
				for k := int64(1 << 20); k < 1<<20+2000; k++ {
					m.Delete(k)
					note()
					if k%256 == 0 {
						select {
						case <-stop:
							return
						default:
						}
					}
				}
			}
		}()
		<-resized
		for w := range int64(writers) {
			writing.Add(1)
			go func() {
				defer writing.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 11))
				for i := range ops {
					// Writer w owns the hot keys k with k%writers == w.
					k := int64(rng.IntN(hot/writers))*writers + w
					other := rng.Int64N(hot)
					m.Compute(k, func(old int64, loaded bool) (int64, safemap.ComputeOp) {
						if v, ok := m.Load(k); v != old || ok != loaded {
							f.Errorf("Load(%d) inside Compute(%d) got (%#x, %t); want (%#x, %t), what Compute passed fn", k, k, v, ok, old, loaded)
						}
						if v, ok := m.Load(other); ok && resizeKeyOf(v) != other {
							f.Errorf("Load(%d) inside Compute(%d) got %#x, never stored for it", other, k, v)
						}
						if i%5 == 4 {
							return 0, safemap.DeleteOp
						}
						return resizeValue(k, uint32(i+1)), safemap.UpdateOp
					})
				}
			}()
		}
		writing.Wait()
		close(stop)
		churning.Wait()
	})
	t.Logf("the table resized %d times while %d writers ran %d Computes each", resizes, writers, ops)
}

// TestMap_LenIsNeverNegative has writers store and delete their own few
// keys over and over while another goroutine polls Len. Len need not be
// exact while writes run, but it counts entries, so it must never be
// negative (make([]T, 0, m.Len()) would panic), and once the writers stop
// it must be exact.
func TestMap_LenIsNeverNegative(t *testing.T) {
	const (
		writers       = 4
		keysPerWriter = 2
	)
	toggles := testkit.ShortOr(20000, 100000)
	m := safemap.New[int64, int64]()
	var (
		writing sync.WaitGroup
		polled  = make(chan [2]int) // lowest and highest Len seen
		stop    = make(chan struct{})
	)
	go func() {
		lo, hi := 0, 0
		for {
			select {
			case <-stop:
				polled <- [2]int{lo, hi}
				return
			default:
			}
			n := m.Len()
			lo, hi = min(lo, n), max(hi, n)
		}
	}()
	for w := range int64(writers) {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for i := range toggles {
				k := w*keysPerWriter + int64(i%keysPerWriter)
				m.Store(k, resizeValue(k, uint32(i)))
				m.Delete(k)
			}
		}()
	}
	writing.Wait()
	close(stop)
	seen := <-polled
	if seen[0] < 0 {
		t.Errorf("Len during %d×%d store/delete pairs (at most %d keys present at once) got %d; want at least 0", writers, toggles, writers, seen[0])
	}
	t.Logf("Len ranged over [%d, %d] with at most %d keys present at once", seen[0], seen[1], writers)
	if got := m.Len(); got != 0 {
		t.Errorf("Len after the writers stopped got %d; want 0", got)
	}
}

// TestMap_RangeVisitsNaNKeysOnceAcrossGrowth stores entries under NaN keys,
// each a distinct key that hashes differently on every call, then grows
// the table from inside Range. Range must still visit each of those entries
// exactly once: where it resumes in the grown table cannot depend on
// hashing the key again.
func TestMap_RangeVisitsNaNKeysOnceAcrossGrowth(t *testing.T) {
	for round := range 20 {
		m := safemap.New[float64, int]()
		const nans = 300
		for i := range nans {
			m.Store(math.NaN(), i)
		}
		seen := make([]int, nans)
		calls := 0
		m.Range(func(k float64, v int) bool {
			if calls++; calls == nans/2 {
				// Grow the table several times over, mid-Range.
				for i := range 20 * nans {
					m.Store(float64(i), -1)
				}
			}
			if k != k {
				seen[v]++
			}
			return true
		})
		for v, n := range seen {
			if n != 1 {
				t.Fatalf("round %d: the NaN entry with value %d was visited %d times; want 1", round, v, n)
			}
		}
	}
}

// TestMap_RangeVisitsNaNKeysAtMostOnceAcrossShrinking is the shrinking
// counterpart: the table shrinks from inside Range, so chains Range has
// visited merge with chains it has not. Every entry still comes at most
// once; ordinary keys present throughout come exactly once.
func TestMap_RangeVisitsNaNKeysAtMostOnceAcrossShrinking(t *testing.T) {
	for round := range 20 {
		m := safemap.New[float64, int]()
		const nans, others, doomed = 300, 2000, 50_000
		for i := range nans {
			m.Store(math.NaN(), i)
		}
		for i := range others + doomed {
			m.Store(float64(i), i)
		}
		before := safemap.MapBuckets(m)
		seenNaN := make([]int, nans)
		seen := make([]int, others)
		calls := 0
		m.Range(func(k float64, v int) bool {
			if calls++; calls == (nans+others+doomed)/3 {
				for i := others; i < others+doomed; i++ {
					m.Delete(float64(i))
				}
				if after := safemap.MapBuckets(m); after >= before {
					t.Fatalf("round %d: the table did not shrink (%d buckets, then %d)", round, before, after)
				}
			}
			switch {
			case k != k:
				seenNaN[v]++
			case v < others:
				seen[v]++
			}
			return true
		})
		for v, n := range seenNaN {
			if n > 1 {
				t.Fatalf("round %d: the NaN entry with value %d was visited %d times; want at most 1", round, v, n)
			}
		}
		for v, n := range seen {
			if n != 1 {
				t.Fatalf("round %d: key %d was visited %d times; want 1", round, v, n)
			}
		}
	}
}
