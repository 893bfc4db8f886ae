package safemap

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safemap-go/safemap/internal/testkit"
)

func TestMap_LoadOrTryComputeAllLoadsOnlyTheMissingKeysAndKeepsPartialResults(t *testing.T) {
	m := New[int, int]()
	m.Store(1, 10)
	errDB := errors.New("db down")
	var asked []int
	got, err := m.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3, 2, 4}, func(_ context.Context, missing []int) (map[int]int, error) {
		asked = slices.Sorted(slices.Values(missing))
		return map[int]int{2: 20, 4: 40}, errDB // 3 left out, with an error
	})
	if want := []int{2, 3, 4}; !slices.Equal(asked, want) {
		t.Fatalf("fn got missing keys %v; want %v (present and repeated keys not asked)", asked, want)
	}
	if len(got) != 3 || got[1] != 10 || got[2] != 20 || got[4] != 40 {
		t.Fatalf("result got %v; want map[1:10 2:20 4:40]", got)
	}
	if !errors.Is(err, errDB) {
		t.Fatalf("error got %v; want one wrapping %v", err, errDB)
	}
	if v, ok := m.Load(4); !ok || v != 40 {
		t.Fatalf("Load(4) got (%d, %v); want the partial result (40, true)", v, ok)
	}
	if _, ok := m.Load(3); ok {
		t.Fatalf("Load(3) found the key fn left out")
	}
	if n := reservations(m); n != 0 {
		t.Fatalf("%d reservations left; want 0", n)
	}
	// Nothing missing: fn is not called.
	got, err = m.LoadOrTryComputeAll(context.Background(), []int{1, 2}, func(context.Context, []int) (map[int]int, error) {
		t.Fatal("fn called with every key present")
		return nil, nil
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("all present: got %v, %v; want two values and no error", got, err)
	}
}

func TestMap_LoadOrTryComputeAllSharesOmissionsAndErrorsWithWaiters(t *testing.T) {
	m := New[int, int]()
	started, release := make(chan struct{}), make(chan struct{})
	batch := make(chan error, 1)
	go func() {
		_, err := m.LoadOrTryComputeAll(context.Background(), []int{1, 2}, func(context.Context, []int) (map[int]int, error) {
			close(started)
			<-release
			return map[int]int{1: 10}, nil // 2 is not found
		})
		batch <- err
	}()
	<-started
	waiter := make(chan error, 1)
	go func() {
		_, _, err := m.LoadOrTryCompute(context.Background(), 2, func(context.Context) (int, error) {
			t.Error("a waiter of key 2 ran its own loader")
			return 0, nil
		})
		waiter <- err
	}()
	testkit.WaitFor(t, "the waiter registers", func() bool { return reservedByte(m, 2)&slotWaited != 0 })
	close(release)
	if err := testkit.Receive(t, "the batch", batch); err != nil {
		t.Fatalf("batch error got %v; want nil (an omitted key is only absent)", err)
	}
	if err := testkit.Receive(t, "the waiter", waiter); !errors.Is(err, ErrNotFound) {
		t.Fatalf("waiter of the omitted key got %v; want ErrNotFound", err)
	}
}

func TestMap_LoadOrTryComputeAllPanicReleasesEveryKey(t *testing.T) {
	m := New[int, int]()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v; want the loader's panic", r)
			}
		}()
		m.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3}, func(context.Context, []int) (map[int]int, error) {
			panic("boom")
		})
	}()
	if n := reservations(m); n != 0 {
		t.Fatalf("%d reservations left after a panic; want 0", n)
	}
	v, loaded := m.LoadOrCompute(2, func() int { return 7 })
	if v != 7 || loaded {
		t.Fatalf("LoadOrCompute(2) after the panic got (%d, %v); want (7, false)", v, loaded)
	}
}

// TestMap_LoadOrTryComputeAllWaiterHonoursItsContext: a batch that loads
// key 2 itself and waits for key 1, which another goroutine is computing,
// returns when its context ends, with key 2's value and the context's
// error. The context ends only once key 2 has landed: a timeout instead
// (10 ms, once) could end it before the batch claimed key 2 on a loaded
// CI host, and the batch then rightly kept key 2 out.
func TestMap_LoadOrTryComputeAllWaiterHonoursItsContext(t *testing.T) {
	m := New[int, int]()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	go m.LoadOrCompute(1, func() int { close(started); <-release; return 1 })
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel() // after testkit.Timeout at the latest: the batch must not hang
		deadline := time.Now().Add(testkit.Timeout)
		for time.Now().Before(deadline) {
			if _, ok := m.Load(2); ok {
				return
			}
			runtime.Gosched()
		}
	}()
	var got map[int]int
	var err error
	testkit.Within(t, "LoadOrTryComputeAll waiting on a computed key with a cancelled context", func() {
		got, err = m.LoadOrTryComputeAll(ctx, []int{1, 2}, func(_ context.Context, missing []int) (map[int]int, error) {
			return map[int]int{2: 20}, nil
		})
	})
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[2] != 20 {
		t.Fatalf("got %v, %v; want map[2:20] and the context's error", got, err)
	}
}

func TestMap_LoadOrTryComputeAllInvalidationWinsPerKey(t *testing.T) {
	m := New[int, int]()
	got, err := m.LoadOrTryComputeAll(context.Background(), []int{1, 2}, func(context.Context, []int) (map[int]int, error) {
		m.Delete(1) // while fn runs: 1's value is discarded
		return map[int]int{1: 10, 2: 20}, nil
	})
	if err != nil || got[1] != 10 || got[2] != 20 {
		t.Fatalf("got %v, %v; want map[1:10 2:20]", got, err)
	}
	if _, ok := m.Load(1); ok {
		t.Fatalf("Load(1) found the value a Delete discarded")
	}
	if v, ok := m.Load(2); !ok || v != 20 {
		t.Fatalf("Load(2) got (%d, %v); want (20, true)", v, ok)
	}
}

// TestMap_LoadOrTryComputeAllOverlappingBatchesLoadEachKeyOnce: 8
// goroutines resolve overlapping random batches of 50 of 1,000 keys; every
// key is loaded at most once (nothing deletes, so each key has one
// absence), every batch gets every key's value, and nothing deadlocks.
func TestMap_LoadOrTryComputeAllOverlappingBatchesLoadEachKeyOnce(t *testing.T) {
	const keys, batch, goroutines = 1000, 50, 8
	rounds := testkit.ShortOr(20, 100)
	m := New[int, int]()
	var loads [keys]atomic.Int32
	fails := testkit.NewFailures(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 31))
			for range rounds {
				ks := make([]int, batch)
				for i := range ks {
					ks[i] = r.IntN(keys)
				}
				got, err := m.LoadOrTryComputeAll(context.Background(), ks, func(_ context.Context, missing []int) (map[int]int, error) {
					out := make(map[int]int, len(missing))
					for _, k := range missing {
						if loads[k].Add(1) > 1 {
							fails.Errorf("key %d loaded twice in one absence", k)
						}
						out[k] = k * 10
					}
					return out, nil
				})
				if err != nil {
					fails.Errorf("batch error %v", err)
				}
				for _, k := range ks {
					if v, ok := got[k]; !ok || v != k*10 {
						fails.Errorf("batch result for %d: got (%d, %v); want (%d, true)", k, v, ok, k*10)
					}
				}
			}
		}()
	}
	testkit.WithinBulk(t, "the batches (a deadlock?)", wg.Wait)
	fails.Summarize()
	if n := reservations(m); n != 0 {
		t.Fatalf("%d reservations left; want 0", n)
	}
}
