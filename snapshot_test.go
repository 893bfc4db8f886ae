package safemap_test

import (
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
)

func TestSnapshotMap_FallbackFillsMisses(t *testing.T) {
	var calls atomic.Int32
	m := safemap.NewSnapshotMap[string, int](safemap.WithFallback(func(key string) (int, bool) {
		calls.Add(1)
		if key == "missing" {
			return 0, false
		}
		return len(key), true
	}))
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
	m := safemap.NewSnapshotMap[int, int](safemap.WithFallback(func(key int) (int, bool) {
		calls.Add(1)
		<-release
		return key * 2, key%2 == 0
	}))
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
	m := safemap.NewSnapshotMap[int, int](safemap.WithFallback(func(int) (int, bool) { panic("config source down") }))
	panicsWith(t, func() { m.Load(1) }, "config source down")
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
	panicsWith(t, func() { m.StoreAll(nil) }, "safemap: StoreAll")
}
