package safemap_test

import (
	"fmt"
	"maps"
	"slices"

	"github.com/safemap-go/safemap"
)

// Replace publishes a routing table rebuilt as a whole: readers see the old
// table or the new one, never a mix and never an empty table, and a route
// the new version drops is gone.
func ExampleSnapshotMap_Replace() {
	routes := safemap.NewSnapshotMap[string, string]()
	routes.Replace(maps.All(map[string]string{
		"/users":  "users-v1",
		"/orders": "orders-v1",
	}))

	// A minute later the configuration is reloaded: /orders moved to a
	// new backend, /billing is new and /users was dropped.
	routes.Replace(maps.All(map[string]string{
		"/orders":  "orders-v2",
		"/billing": "billing-v1",
	}))

	for _, path := range slices.Sorted(maps.Keys(maps.Collect(routes.All()))) {
		backend, _ := routes.Load(path)
		fmt.Println(path, "->", backend)
	}
	_, ok := routes.Load("/users")
	fmt.Println("/users still routed:", ok)
	// Output:
	// /billing -> billing-v1
	// /orders -> orders-v2
	// /users still routed: false
}
