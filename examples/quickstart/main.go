// Command quickstart shows the missing-key path of safemap in three short
// scenes:
//
//  1. LoadOrCompute: 100 goroutines miss the same key at once and the loader
//     runs once, with every strategy.
//  2. LoadOrTryCompute: a failing loader stores nothing, callers waiting on it
//     get its error instead of each calling the backend again, and the next
//     call tries again.
//  3. Compute: an atomic read-modify-write, used as a counter.
//
// Its output is the same on every run.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap"
)

func main() {
	loadOrComputeOnce()
	fmt.Println()
	loadOrTryComputeSharesErrors()
	fmt.Println()
	computeCounter()
}

// loadOrComputeOnce starts 100 goroutines that all want the same missing key
// and counts how often the (expensive) loader runs.
func loadOrComputeOnce() {
	fmt.Println("1. LoadOrCompute: 100 goroutines miss the key \"config\" at the same time")

	strategies := []struct {
		name string
		m    safemap.ConcurrentMap[string, string]
	}{
		{"Map (New)", safemap.New[string, string]()},
		{"SyncMap", safemap.NewSyncMap[string, string]()},
		{"RWMap", safemap.NewRWMap[string, string]()},
		{"ShardedMap", safemap.NewShardedMap[string, string]()},
		{"SnapshotMap", safemap.NewSnapshotMap[string, string]()},
	}
	for _, s := range strategies {
		const goroutines = 100
		var (
			loaderCalls atomic.Int32
			computed    atomic.Int32 // callers that got loaded == false
			wrong       atomic.Int32 // callers that saw another value
			start       = make(chan struct{})
			wg          sync.WaitGroup
		)
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start // release everyone together to maximise the overlap
				v, loaded := s.m.LoadOrCompute("config", func() string {
					loaderCalls.Add(1)
					return "parsed config v1" // imagine a slow parse here
				})
				if !loaded {
					computed.Add(1)
				}
				if v != "parsed config v1" {
					wrong.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		fmt.Printf("   %-11s loader ran %d time(s); %d caller computed, %d loaded it; %d saw another value\n",
			s.name, loaderCalls.Load(), computed.Load(), goroutines-computed.Load(), wrong.Load())
	}
}

var errBackendDown = errors.New("backend unavailable")

// loadOrTryComputeSharesErrors shows a loader that fails: while it runs,
// other callers of the same key wait for it and then share its error rather
// than hammering the failing backend themselves.
func loadOrTryComputeSharesErrors() {
	fmt.Println("2. LoadOrTryCompute: the backend fails while 10 callers want \"user:42\"")

	m := safemap.NewRWMap[string, string]()
	ctx := context.Background()

	backendUp := false
	inFlight := make(chan struct{}) // closed once the first load has started
	release := make(chan struct{})  // closed to let the first load fail
	var firstLoad sync.Once
	fetchUser := func(ctx context.Context) (string, error) {
		firstLoad.Do(func() {
			close(inFlight)
			<-release // hold the first load open so that others queue up behind it
		})
		if !backendUp {
			return "", fmt.Errorf("fetch user:42: %w", errBackendDown)
		}
		return "Ada Lovelace", nil
	}

	const callers = 10
	errs := make([]error, callers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the first caller: it runs fetchUser and blocks in it
		defer wg.Done()
		_, _, errs[0] = m.LoadOrTryCompute(ctx, "user:42", fetchUser)
	}()
	<-inFlight
	for i := 1; i < callers; i++ {
		wg.Add(1)
		go func() { // these find the load in flight and wait for its result
			defer wg.Done()
			_, _, errs[i] = m.LoadOrTryCompute(ctx, "user:42", fetchUser)
		}()
	}
	close(release)
	wg.Wait()

	failed := 0
	for _, err := range errs {
		if errors.Is(err, errBackendDown) {
			failed++
		}
	}
	fmt.Printf("   %d of %d callers got the error: %v\n", failed, callers, errs[0])
	_, stored := m.Load("user:42")
	fmt.Printf("   stored after the failure: %t (errors are not cached)\n", stored)

	backendUp = true // no goroutine is running fetchUser any more
	v, loaded, err := m.LoadOrTryCompute(ctx, "user:42", fetchUser)
	fmt.Printf("   once the backend is back: %q, loaded=%t, err=%v\n", v, loaded, err)
	v, loaded, err = m.LoadOrTryCompute(ctx, "user:42", fetchUser)
	fmt.Printf("   the next call is a hit:   %q, loaded=%t, err=%v\n", v, loaded, err)
}

// computeCounter increments a counter from many goroutines with Compute and
// then uses DeleteOp to remove it.
func computeCounter() {
	fmt.Println("3. Compute: 8 goroutines each add 1000 to the counter \"hits\"")

	m := safemap.New[string, int]()
	increment := func(old int, loaded bool) (int, safemap.ComputeOp) {
		return old + 1, safemap.UpdateOp // old is 0 when the key is absent
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				m.Compute("hits", increment)
			}
		}()
	}
	wg.Wait()
	hits, _ := m.Load("hits")
	fmt.Printf("   hits = %d\n", hits)

	// fn decides what happens: here, delete the counter only if it reached
	// the expected total, in one atomic step.
	v, ok := m.Compute("hits", func(old int, loaded bool) (int, safemap.ComputeOp) {
		if loaded && old == 8000 {
			return 0, safemap.DeleteOp
		}
		return old, safemap.CancelOp
	})
	fmt.Printf("   after a DeleteOp: value=%d present=%t len=%d\n", v, ok, m.Len())
}
