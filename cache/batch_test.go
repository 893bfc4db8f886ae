package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap/cache"
)

func TestLoadOrTryComputeAll_LoadsOnlyTheMissingKeysInOneCall(t *testing.T) {
	c := mustNew(t, cache.Options[int, string]{MaxEntries: 100})
	c.Store(1, "one")
	var calls [][]int
	got, err := c.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3, 2}, func(_ context.Context, missing []int) (map[int]string, error) {
		calls = append(calls, slices.Sorted(slices.Values(missing)))
		out := map[int]string{}
		for _, k := range missing {
			out[k] = fmt.Sprint("v", k)
		}
		return out, nil
	})
	if err != nil || len(got) != 3 || got[1] != "one" || got[2] != "v2" || got[3] != "v3" {
		t.Fatalf("got %v, %v; want {1:one 2:v2 3:v3}, nil", got, err)
	}
	if len(calls) != 1 || !slices.Equal(calls[0], []int{2, 3}) {
		t.Fatalf("fn calls %v; want one call with [2 3]", calls)
	}
	if v, ok := c.Load(3); !ok || v != "v3" {
		t.Fatalf("Load(3) after the batch = %q, %v; want v3, true", v, ok)
	}
}

func TestLoadOrTryComputeAll_KeysLeftOutAreNotFoundAndNegativeCached(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{NegativeTTL: 1 << 40})
	got, err := c.LoadOrTryComputeAll(context.Background(), []int{1, 2}, func(_ context.Context, missing []int) (map[int]int, error) {
		return map[int]int{1: 10}, nil
	})
	if err != nil || len(got) != 1 || got[1] != 10 {
		t.Fatalf("got %v, %v; want {1:10}, nil", got, err)
	}
	_, _, err = c.LoadOrTryCompute(context.Background(), 2, func(context.Context) (int, error) {
		t.Error("the loader ran for a key remembered as not found")
		return 0, nil
	})
	if !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("LoadOrTryCompute(2) error %v; want ErrNotFound", err)
	}
}

func TestLoadOrTryComputeAll_StoresPartialResultsAndReturnsTheLoadersError(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{})
	boom := errors.New("backend down")
	got, err := c.LoadOrTryComputeAll(context.Background(), []int{1, 2}, func(_ context.Context, missing []int) (map[int]int, error) {
		return map[int]int{1: 10}, boom
	})
	if !errors.Is(err, boom) || len(got) != 1 || got[1] != 10 {
		t.Fatalf("got %v, %v; want {1:10} and the loader's error", got, err)
	}
	if _, ok := c.Load(2); ok {
		t.Fatal("key 2, which the failing loader left out, is present")
	}
}

func TestLoadOrTryComputeAll_APanicReleasesEveryKeyAndReachesTheCaller(t *testing.T) {
	c := mustNew(t, cache.Options[int, int]{ErrorTTL: 1 << 40})
	func() {
		defer func() {
			if p := recover(); p != "loader panics" {
				t.Fatalf("recovered %v; want the loader's panic", p)
			}
		}()
		c.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3}, func(context.Context, []int) (map[int]int, error) {
			panic("loader panics")
		})
		t.Fatal("LoadOrTryComputeAll returned after its loader panicked")
	}()
	got, err := c.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3}, func(_ context.Context, missing []int) (map[int]int, error) {
		out := map[int]int{}
		for _, k := range missing {
			out[k] = k
		}
		return out, nil
	})
	if err != nil || len(got) != 3 {
		t.Fatalf("after the panic: got %v, %v; want all three keys loaded again", got, err)
	}
}

// The stress: 8 goroutines resolve overlapping random batches of 50
// of 1,000 keys; no key is ever loaded twice (nothing deletes, so each key
// has one absence).
func TestLoadOrTryComputeAll_OverlappingBatchesLoadEachKeyOnce(t *testing.T) {
	const keys, goroutines, batches, size = 1000, 8, 40, 50
	c := mustNew(t, cache.Options[int, int]{})
	var loads [keys]atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range batches {
				batch := make([]int, size)
				for i := range batch {
					batch[i] = rng.IntN(keys)
				}
				got, err := c.LoadOrTryComputeAll(context.Background(), batch, func(_ context.Context, missing []int) (map[int]int, error) {
					out := map[int]int{}
					for _, k := range missing {
						loads[k].Add(1)
						out[k] = k * 10
					}
					return out, nil
				})
				if err != nil {
					t.Errorf("batch error %v", err)
				}
				for _, k := range batch {
					if got[k] != k*10 {
						t.Errorf("key %d: got %d; want %d", k, got[k], k*10)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for k := range loads {
		if n := loads[k].Load(); n > 1 {
			t.Errorf("key %d loaded %d times in one absence", k, n)
		}
	}
}
