package safemap_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// Tests of hashmap_resize.go: the table grows and shrinks, one chain at a
// time, while other goroutines read, write and iterate, following moved
// chains into newer tables; Clear moves every chain to an empty table.

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

// runAndCheck runs the workload on m and checks that the table grew with
// the entries, whatever the hash, that m then holds what the writers'
// models say, and that deleting everything shrinks it back to its minimum.
func (cfg resizeStress) runAndCheck(t *testing.T, m *safemap.Map[int64, int64]) {
	t.Helper()
	peak, want := cfg.run(t, m)
	total := cfg.writers * cfg.keysPerWriter
	// total entries at most 3/4 full need total/5.25 buckets; allow a
	// factor of two for growth that a concurrent resize skipped.
	if wantPeak := total / 11; peak < wantPeak {
		t.Errorf("peak MapBuckets got %d; want at least %d for %d entries", peak, wantPeak, total)
	}
	if t.Failed() {
		return
	}
	checkMapHolds(t, m, want)
	checkShrinksAfterMassDeletion(t, m, want, int64(total))
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
			cfg.runAndCheck(t, m)
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
	cfg.runAndCheck(t, safemap.New[int64, int64](safemap.WithBadHash()))
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

// TestMap_DrainedByDeletesGivesBackMostOfItsTable checks that deleting every
// key of a large map, in any order, shrinks its table to a small fraction of
// its largest: deletes check for shrinking by a sample of the keys' hashes,
// and each map draws its own hash seed, so several maps try several
// samples. (Not to the smallest table: the last check can come a few dozen
// deletes before the last delete, and shrinks to fit what is left then.)
func TestMap_DrainedByDeletesGivesBackMostOfItsTable(t *testing.T) {
	const n = 50_000
	for seed := range uint64(testkit.ShortOr(3, 8)) {
		m := safemap.New[int64, int64]()
		for k := range int64(n) {
			m.Store(k, k)
		}
		grown := safemap.MapBuckets(m)
		for _, k := range rand.New(rand.NewPCG(seed, 1)).Perm(n) {
			m.Delete(int64(k))
		}
		if got := safemap.MapBuckets(m); got > grown/16 {
			t.Errorf("map %d: MapBuckets after storing %d keys (%d buckets) and deleting them all got %d; want at most %d", seed, n, grown, got, grown/16)
		}
	}
}
