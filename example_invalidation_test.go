package safemap_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/safemap-go/safemap"
)

// A loader reads the price of an item from a database; meanwhile a writer
// changes the price in the database and deletes the cached one. The load
// that read the old price returns it to its caller, but it does not stay
// in the map: the next call loads the new price.
func ExampleMap_Delete_invalidationWins() {
	db := map[string]int{"tea": 3} // stands in for a database
	prices := safemap.New[string, int]()

	readOld := make(chan struct{})
	written := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		price, loaded := prices.LoadOrCompute("tea", func() int {
			p := db["tea"] // reads 3
			close(readOld)
			<-written // the writer runs now, while the load is in flight
			return p
		})
		fmt.Println("the slow load returns", price, loaded)
	}()

	<-readOld
	db["tea"] = 4        // the writer updates the database,
	prices.Delete("tea") // then invalidates the cache
	close(written)
	<-done

	_, ok := prices.Load("tea")
	fmt.Println("the old price was stored:", ok)
	price, _ := prices.LoadOrCompute("tea", func() int { return db["tea"] })
	fmt.Println("the next load gets", price)
	// Output:
	// the slow load returns 3 false
	// the old price was stored: false
	// the next load gets 4
}

// LoadOrTryComputeAll resolves a batch: present keys come from the map,
// the missing ones from one call of the loader, and a key the loader does
// not find is simply absent from the result.
func ExampleMap_LoadOrTryComputeAll() {
	users := safemap.New[int, string]()
	users.Store(1, "Ada")
	db := map[int]string{2: "Grace", 3: "Edsger"}
	got, err := users.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3, 4}, func(_ context.Context, missing []int) (map[int]string, error) {
		slices.Sort(missing)
		fmt.Println("loading", missing)
		found := make(map[int]string)
		for _, id := range missing {
			if name, ok := db[id]; ok {
				found[id] = name
			}
		}
		return found, nil
	})
	fmt.Println(got[1], got[2], got[3], len(got), err)
	// Output:
	// loading [2 3 4]
	// Ada Grace Edsger 3 <nil>
}
