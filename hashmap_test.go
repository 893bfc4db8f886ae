package safemap_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// This file and the other hashmap_*_test.go files hunt for bugs in the
// machinery of the default Map that the shared suite, with its tiny key
// spaces, rarely reaches; each is named for the source file it covers
// (hashmap_resize_test.go for growing, shrinking and Clear,
// hashmap_range_test.go for Range across resizes, hashmap_load_test.go for
// the optimistic read path). This one holds the helpers they share and the
// tests of hashmap.go's methods. Every test here must pass both with and
// without -race, which use different read paths.

// minMapBuckets is the smallest table a Map built without WithCapacity has.
const minMapBuckets = 8

// resizeValue encodes a key and a generation in one value, so that a reader
// can tell which key a value was stored for, and whether it is older than a
// value it saw before. Keys must lie in [0, 2³¹).
func resizeValue(key int64, gen uint32) int64 { return key<<32 | int64(gen) }

func resizeKeyOf(v int64) int64 { return v >> 32 }

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
