package safemap_test

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// Tests of hashmap_range.go: Range and All keep their place across a
// resize, so that no key is visited twice and every key present throughout
// is visited, NaN keys included.

// newStableMap returns a Map holding keys 0 to n-1, each with
// resizeValue(k, 0): the keys a test's Range passes must visit.
func newStableMap(n int, opts ...safemap.Option) *safemap.Map[int64, int64] {
	m := safemap.New[int64, int64](opts...)
	for k := range int64(n) {
		m.Store(k, resizeValue(k, 0))
	}
	return m
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
			m := newStableMap(tt.stable, tt.opts...)
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
			m := newStableMap(stable)
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
			m := newStableMap(keys)
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
