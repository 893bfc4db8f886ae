package safemap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap"
)

// Many goroutines miss the same key at once; the value function runs once
// and every caller gets its value.
func ExampleShardedMap_LoadOrCompute() {
	m := safemap.NewShardedMap[string, []byte]()

	var calls atomic.Int32
	loadTemplate := func() []byte {
		calls.Add(1)
		return []byte("<h1>{{.Title}}</h1>") // imagine reading and parsing a file
	}

	var wg sync.WaitGroup
	results := make([]string, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmpl, _ := m.LoadOrCompute("index.html", loadTemplate)
			results[i] = string(tmpl)
		}()
	}
	wg.Wait()

	fmt.Println("value function calls:", calls.Load())
	same := !slices.ContainsFunc(results, func(r string) bool { return r != results[0] })
	fmt.Println("every caller got the same value:", results[0], same)

	// A key that is present is returned without calling the function.
	tmpl, loaded := m.LoadOrCompute("index.html", loadTemplate)
	fmt.Println(string(tmpl), loaded, calls.Load())
	// Output:
	// value function calls: 1
	// every caller got the same value: <h1>{{.Title}}</h1> true
	// <h1>{{.Title}}</h1> true 1
}

// A loader that fails stores nothing, so the next call tries again. Callers
// that were waiting on the failed load get the same error (not shown here:
// see examples/quickstart).
func ExampleRWMap_LoadOrTryCompute() {
	m := safemap.NewRWMap[int, string]()
	ctx := context.Background()

	errUnavailable := errors.New("user service unavailable")
	attempts := 0
	fetchUser := func(ctx context.Context) (string, error) {
		attempts++
		if attempts == 1 {
			return "", errUnavailable
		}
		return "Ada", nil
	}

	_, _, err := m.LoadOrTryCompute(ctx, 42, fetchUser)
	fmt.Println("first call:", err)
	_, ok := m.Load(42)
	fmt.Println("stored after the error:", ok)

	name, loaded, err := m.LoadOrTryCompute(ctx, 42, fetchUser)
	fmt.Println("second call:", name, loaded, err)

	name, loaded, err = m.LoadOrTryCompute(ctx, 42, fetchUser)
	fmt.Println("third call:", name, loaded, err)
	fmt.Println("attempts:", attempts)
	// Output:
	// first call: user service unavailable
	// stored after the error: false
	// second call: Ada false <nil>
	// third call: Ada true <nil>
	// attempts: 2
}

// NewSnapshotMapWithFallback makes Load consult a source of truth on a miss. A value the
// fallback finds is stored, so later Loads are served lock-free from the
// snapshot; a key it does not find is asked for again on the next Load.
func ExampleSnapshotMap_Load() {
	defaults := map[string]string{"timeout": "30s", "retries": "3"}
	var lookups []string
	m := safemap.NewSnapshotMapWithFallback(func(key string) (string, bool) {
		lookups = append(lookups, key)
		v, ok := defaults[key]
		return v, ok
	})
	m.Store("retries", "5") // stored entries win: the fallback is only for misses

	for _, key := range []string{"timeout", "timeout", "retries", "color", "color"} {
		v, ok := m.Load(key)
		fmt.Printf("Load(%q) = %q, %t\n", key, v, ok)
	}
	fmt.Println("fallback lookups:", lookups)
	fmt.Println("entries:", m.Len())
	// Output:
	// Load("timeout") = "30s", true
	// Load("timeout") = "30s", true
	// Load("retries") = "5", true
	// Load("color") = "", false
	// Load("color") = "", false
	// fallback lookups: [timeout color color]
	// entries: 2
}

// Compute reads and writes one key atomically; its ComputeOp result decides
// whether the entry is updated, deleted or left alone.
func ExampleSyncMap_Compute() {
	m := safemap.NewSyncMap[string, int]()

	// A SyncMap may call fn more than once under contention, so fn must only
	// compute its result from its arguments.
	increment := func(old int, loaded bool) (int, safemap.ComputeOp) {
		return old + 1, safemap.UpdateOp
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				m.Compute("requests", increment)
			}
		}()
	}
	wg.Wait()
	fmt.Println(m.Load("requests"))

	// Take one away, deleting the entry when it would reach zero.
	decrement := func(old int, loaded bool) (int, safemap.ComputeOp) {
		switch {
		case !loaded:
			return 0, safemap.CancelOp
		case old == 1:
			return 0, safemap.DeleteOp
		}
		return old - 1, safemap.UpdateOp
	}
	m.Store("sessions", 1)
	fmt.Println(m.Compute("sessions", decrement)) // 1 -> deleted
	fmt.Println(m.Compute("sessions", decrement)) // absent: CancelOp leaves it absent
	fmt.Println(m.Len())
	// Output:
	// 1000 true
	// 0 false
	// 0 false
	// 1
}

// countWords only needs the contract, so it works with every strategy.
func countWords(m safemap.ConcurrentMap[string, int], words []string) {
	var wg sync.WaitGroup
	for _, w := range words {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Compute(w, func(old int, _ bool) (int, safemap.ComputeOp) {
				return old + 1, safemap.UpdateOp
			})
		}()
	}
	wg.Wait()
}

// Code written against ConcurrentMap runs unchanged on every strategy, so
// the choice of strategy is one line at construction.
func ExampleConcurrentMap() {
	words := []string{"go", "map", "go", "lock", "go", "map"}
	maps := []struct {
		name string
		m    safemap.ConcurrentMap[string, int]
	}{
		{"SyncMap", safemap.NewSyncMap[string, int]()},
		{"RWMap", safemap.NewRWMap[string, int]()},
		{"ShardedMap", safemap.NewShardedMap[string, int](safemap.WithShards(8))},
		{"SnapshotMap", new(safemap.SnapshotMap[string, int])}, // the zero value is ready too
	}
	for _, s := range maps {
		countWords(s.m, words)
		goCount, _ := s.m.Load("go")
		mapCount, _ := s.m.Load("map")
		fmt.Printf("%-11s len=%d go=%d map=%d\n", s.name, s.m.Len(), goCount, mapCount)
	}
	// Output:
	// SyncMap     len=3 go=3 map=2
	// RWMap       len=3 go=3 map=2
	// ShardedMap  len=3 go=3 map=2
	// SnapshotMap len=3 go=3 map=2
}

// All returns an iterator for range-over-func. The order is unspecified, so
// sort when the output must be stable. The loop body holds no lock and may
// call the map, here to delete entries while iterating.
func ExampleShardedMap_All() {
	m := safemap.NewShardedMap[string, int](safemap.WithCapacity(4))
	m.Store("apples", 3)
	m.Store("pears", 0)
	m.Store("plums", 7)
	m.Store("figs", 0)

	var inStock []string
	for fruit, n := range m.All() {
		if n == 0 {
			m.Delete(fruit)
			continue
		}
		inStock = append(inStock, fmt.Sprintf("%s=%d", fruit, n))
	}
	slices.Sort(inStock)
	fmt.Println(inStock)
	fmt.Println("left:", m.Len())
	// Output:
	// [apples=3 plums=7]
	// left: 2
}
