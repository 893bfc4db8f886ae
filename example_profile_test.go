package safemap_test

import (
	"fmt"

	"github.com/safemap-go/safemap"
)

// Profile counts what a workload does to a map. Wrap the map a program
// uses, run the workload, and read the counts, or write them out with
// WriteJSON for `mapbench advise --from FILE`.
func ExampleProfile() {
	users := safemap.NewProfile[string, int](safemap.New[string, int]())

	users.Store("alice", 1)
	users.Store("alice", 2)                             // an update
	users.Load("alice")                                 // a hit
	users.Load("bob")                                   // a miss
	users.LoadOrCompute("bob", func() int { return 3 }) // a miss: computes and inserts
	users.LoadOrCompute("bob", func() int { return 4 }) // a hit: fn not called
	users.Delete("alice")

	s := users.Stats()
	fmt.Println("reads:", s.Reads, "hits:", s.Hits, "misses:", s.Misses)
	fmt.Println("inserts:", s.Inserts, "updates:", s.Updates, "deletes:", s.Deletes)
	fmt.Println("computes:", s.Computes, "len:", s.Len, "max len:", s.MaxLen)
	fmt.Println("calls:", s.Calls)

	users.Reset()
	fmt.Println("after Reset:", users.Stats().Reads, "reads,", users.Stats().Len, "entry")
	// Output:
	// reads: 4 hits: 2 misses: 2
	// inserts: 2 updates: 1 deletes: 1
	// computes: 1 len: 1 max len: 2
	// calls: map[Delete:1 Load:2 LoadOrCompute:2 Store:2]
	// after Reset: 0 reads, 1 entry
}
