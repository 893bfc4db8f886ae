package safemap_test

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap"
)

// New is the map to start with. LoadOrCompute runs the loader once for a
// missing key however many goroutines ask for it together; the others get
// its value.
func ExampleNew() {
	sessions := safemap.New[string, int]()
	var loads atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sessions.LoadOrCompute("alice", func() int {
				loads.Add(1)
				return 42 // e.g. read from a database
			})
		}()
	}
	wg.Wait()
	id, _ := sessions.Load("alice")
	fmt.Println("session:", id, "loads:", loads.Load())
	// Output: session: 42 loads: 1
}

// Compute is an atomic read-modify-write of one key: here a counter that
// deletes itself when it reaches zero.
func ExampleMap_Compute() {
	stock := safemap.New[string, int]()
	stock.Store("apples", 2)
	take := func(item string) {
		stock.Compute(item, func(n int, ok bool) (int, safemap.ComputeOp) {
			switch {
			case !ok:
				return 0, safemap.CancelOp
			case n <= 1:
				return 0, safemap.DeleteOp
			}
			return n - 1, safemap.UpdateOp
		})
	}
	take("apples")
	fmt.Println(stock.Load("apples"))
	take("apples")
	fmt.Println(stock.Load("apples"))
	// Output:
	// 1 true
	// 0 false
}
