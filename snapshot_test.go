package safemap_test

import (
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

func TestSnapshotMap_FallbackFillsMisses(t *testing.T) {
	var calls atomic.Int32
	m := safemap.NewSnapshotMapWithFallback(func(key string) (int, bool) {
		calls.Add(1)
		if key == "missing" {
			return 0, false
		}
		return len(key), true
	})
	if v, ok := m.Load("four"); !ok || v != 4 {
		t.Fatalf("Load(four) = %d, %t; want 4, true", v, ok)
	}
	if v, ok := m.Load("four"); !ok || v != 4 {
		t.Fatalf("second Load(four) = %d, %t; want 4, true", v, ok)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("fallback called %d times for one key; want 1 (the found value is stored)", got)
	}
	if _, ok := m.Load("missing"); ok {
		t.Fatal("Load(missing) found a value the fallback does not have")
	}
	m.Load("missing")
	if got := calls.Load(); got != 3 {
		t.Fatalf("fallback called %d times; want 3 (a miss is not remembered)", got)
	}
	if got := m.Len(); got != 1 {
		t.Fatalf("Len() = %d; want 1", got)
	}
	// Only Load consults the fallback.
	if v, loaded := m.LoadOrStore("other", 7); loaded || v != 7 {
		t.Fatalf("LoadOrStore(other, 7) = %d, %t; want 7, false", v, loaded)
	}
}

func TestSnapshotMap_FallbackCalledOncePerConcurrentMiss(t *testing.T) {
	const goroutines = 64
	release := make(chan struct{})
	var calls atomic.Int32
	m := safemap.NewSnapshotMapWithFallback(func(key int) (int, bool) {
		calls.Add(1)
		<-release
		return key * 2, key%2 == 0
	})
	var started, wg sync.WaitGroup
	for g := range goroutines {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := g % 2 // one key the fallback finds, one it does not
			started.Done()
			v, ok := m.Load(key)
			if ok != (key == 0) || v != 0 {
				t.Errorf("Load(%d) = %d, %t; want 0, %t", key, v, ok, key == 0)
			}
		}()
	}
	started.Wait()
	close(release)
	wg.Wait()
	// Goroutines that arrive after a not-found answer ask again, so the
	// missing key may be asked more than once; the found key exactly once.
	if got := calls.Load(); got < 2 || got > goroutines/2+1 {
		t.Fatalf("fallback called %d times; want between 2 and %d", got, goroutines/2+1)
	}
	if v, ok := m.Load(0); !ok || v != 0 {
		t.Fatalf("Load(0) = %d, %t; want 0, true", v, ok)
	}
}

func TestSnapshotMap_FallbackPanicReachesLoad(t *testing.T) {
	m := safemap.NewSnapshotMapWithFallback(func(int) (int, bool) { panic("config source down") })
	testkit.MustPanicWith(t, "Load(1) whose fallback panics", func() { m.Load(1) }, "config source down")
	m.Store(1, 1) // the writer mutex was released
	if v, ok := m.Load(1); !ok || v != 1 {
		t.Fatalf("Load(1) = %d, %t; want 1, true", v, ok)
	}
}

func TestSnapshotMap_RangeSeesOneSnapshot(t *testing.T) {
	m := safemap.NewSnapshotMap[int, int]()
	for i := range 10 {
		m.Store(i, i)
	}
	seen := map[int]int{}
	for k, v := range m.All() {
		m.Store(k+100, v) // writes during iteration are not visited
		m.Delete((k + 1) % 10)
		seen[k] = v
	}
	if len(seen) != 10 {
		t.Fatalf("Range visited %d entries; want the 10 of the snapshot", len(seen))
	}
}

func TestSnapshotMap_StoreAllPublishesAtOnce(t *testing.T) {
	m := safemap.NewSnapshotMap[int, string]()
	m.Store(0, "zero")
	m.StoreAll(maps.All(map[int]string{1: "one", 2: "two", 0: "nil"}))
	want := map[int]string{0: "nil", 1: "one", 2: "two"}
	if got := maps.Collect(m.All()); !maps.Equal(got, want) {
		t.Fatalf("after StoreAll: %v; want %v", got, want)
	}
	if m.Len() != 3 {
		t.Fatalf("Len() = %d; want 3", m.Len())
	}
	testkit.MustPanicWith(t, "StoreAll(nil)", func() { m.StoreAll(nil) }, "safemap: ", "StoreAll")
}

// generation returns the contents of generation g of a routing table that
// Replace publishes: n routes, keys g..g+n-1 (each generation drops one
// key and adds one), every value g. Readers can tell from any entry which
// generation it came from.
func generation(g, n int) map[int]int {
	m := make(map[int]int, n)
	for k := g; k < g+n; k++ {
		m[k] = g
	}
	return m
}

func TestSnapshotMap_ReplaceSwitchesToExactlyTheNewContents(t *testing.T) {
	m := safemap.NewSnapshotMap[int, int]()
	m.StoreAll(maps.All(generation(0, 4)))
	m.Store(100, 7) // not in the next generation: Replace must drop it
	m.Replace(maps.All(generation(1, 4)))
	if got, want := maps.Collect(m.All()), generation(1, 4); !maps.Equal(got, want) {
		t.Fatalf("after Replace: %v; want %v", got, want)
	}
	m.Replace(maps.All(map[int]int{}))
	if n := m.Len(); n != 0 {
		t.Fatalf("after Replace with nothing: Len %d; want 0", n)
	}
	testkit.MustPanicWith(t, "Replace(nil)", func() { m.Replace(nil) }, "safemap: ", "Replace called with a nil function")
}

func TestSnapshotMap_ReplaceWithAPanickingSeqChangesNothing(t *testing.T) {
	m := safemap.NewSnapshotMap[int, int]()
	m.StoreAll(maps.All(generation(0, 3)))
	testkit.MustPanicWith(t, "Replace whose seq panics", func() {
		m.Replace(func(yield func(int, int) bool) {
			yield(50, 50)
			panic("source broke")
		})
	}, "", "source broke")
	if got, want := maps.Collect(m.All()), generation(0, 3); !maps.Equal(got, want) {
		t.Fatalf("after a panicking Replace: %v; want %v", got, want)
	}
	m.Store(9, 9) // the writer mutex is free
}

// TestSnapshotMap_ReplaceIsAtomicForConcurrentReaders replaces a routing
// table over and over while readers check every view they get: a Range
// sees exactly one generation, whole; a Load of a key that the generations
// before and after both hold never misses; and no generation goes
// backwards for a reader.
func TestSnapshotMap_ReplaceIsAtomicForConcurrentReaders(t *testing.T) {
	const routes = 64
	gens := 2000
	if testing.Short() {
		gens = 200
	}
	m := safemap.NewSnapshotMap[int, int]()
	m.Replace(maps.All(generation(0, routes)))

	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	report := func(msg string) {
		select {
		case errs <- msg:
		default:
		}
	}
	for range 2 { // readers that iterate
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for !done.Load() {
				g, n, mixed := -1, 0, false
				for _, v := range m.All() {
					if g == -1 {
						g = v
					}
					mixed = mixed || v != g
					n++
				}
				switch {
				case mixed:
					report("a Range saw entries of two generations")
				case n != routes:
					report("a Range saw a table of the wrong size")
				case g < last:
					report("a Range saw an older generation after a newer one")
				}
				last = max(last, g)
			}
		}()
	}
	// The writer stores g in started before it replaces the table with
	// generation g, and in finished once that Replace has returned, so a
	// Load made between reading finished (lo) and reading started (hi)
	// sees a generation in [lo, hi].
	var started, finished atomic.Int64
	for range 2 { // readers that look keys up
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				lo := int(finished.Load())
				k := lo + routes - 1 // in generations lo .. lo+routes-1
				v, ok := m.Load(k)
				hi := int(started.Load())
				switch {
				case !ok && hi <= lo+routes-1:
					report("a Load missed a key that every generation it could see holds")
				case ok && (v < lo || v > hi):
					report("a Load saw a generation that was not current during it")
				}
			}
		}()
	}
	for g := 1; g <= gens; g++ {
		started.Store(int64(g))
		m.Replace(maps.All(generation(g, routes)))
		finished.Store(int64(g))
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if got, want := maps.Collect(m.All()), generation(gens, routes); !maps.Equal(got, want) {
		t.Fatalf("final contents: %v; want %v", got, want)
	}
}

// StoreAll merges, which is why a table rebuilt as a whole needs Replace:
// a key the new version dropped would stay.
func TestSnapshotMap_StoreAllMergesWhereReplaceDoesNot(t *testing.T) {
	m := safemap.NewSnapshotMap[int, int]()
	m.StoreAll(maps.All(generation(0, 2))) // keys 0, 1
	m.StoreAll(maps.All(generation(1, 2))) // keys 1, 2: key 0 stays
	if _, ok := m.Load(0); !ok {
		t.Fatal("StoreAll dropped a key it did not mention; want it kept (it merges)")
	}
	m.Replace(maps.All(generation(1, 2)))
	if _, ok := m.Load(0); ok {
		t.Fatal("Replace kept a key the new contents do not hold")
	}
}
