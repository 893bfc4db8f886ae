package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/safemap-go/safemap/cache"
)

// A bounded cache with a TTL in front of a loader: the loader runs once
// per missing key, however many goroutines miss it together.
func ExampleNew() {
	users, err := cache.New(cache.Options[int, string]{
		MaxEntries: 100_000,
		TTL:        time.Minute,
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	load := func(ctx context.Context) (string, error) { return "ada", nil } // a database read
	name, loaded, err := users.LoadOrTryCompute(context.Background(), 42, load)
	fmt.Println(name, loaded, err)
	name, loaded, err = users.LoadOrTryCompute(context.Background(), 42, load)
	fmt.Println(name, loaded, err)
	fmt.Printf("%+v\n", users.Stats())
	// Output:
	// ada false <nil>
	// ada true <nil>
	// {Hits:1 Misses:1 Loads:1 LoadErrors:0 Evictions:0 Expirations:0 Refreshes:0 RefreshFailures:0 Entries:1 Weight:0}
}

// New names every bad field of the options.
func ExampleNew_invalidOptions() {
	_, err := cache.New(cache.Options[string, []byte]{MaxEntries: -1, MaxWeight: 1 << 20})
	fmt.Println(errors.Is(err, cache.ErrInvalidOptions))
	fmt.Println(err)
	// Output:
	// true
	// cache: invalid options: MaxEntries is -1; want 0 (no bound) or more; MaxWeight is 1048576 without a Weigher
}

// With RefreshAfter, a hit on an older entry returns it at once and
// reloads it in the background; Refresh reloads on demand.
func ExampleCache_Refresh() {
	c, _ := cache.New(cache.Options[string, string]{TTL: time.Minute, RefreshAfter: 30 * time.Second})
	defer c.Close()
	c.Store("config", "v1")
	res := <-c.Refresh(context.Background(), "config", func(context.Context) (string, error) {
		return "v2", nil
	})
	fmt.Println(res.Value, res.Stored, res.Err)
	v, _ := c.Load("config")
	fmt.Println(v)
	// Output:
	// v2 true <nil>
	// v2
}

// With NegativeTTL, a loader's ErrNotFound is remembered: the next calls
// return it without reaching the database.
func ExampleErrNotFound() {
	c, _ := cache.New(cache.Options[int, string]{NegativeTTL: 10 * time.Second})
	defer c.Close()
	calls := 0
	load := func(ctx context.Context) (string, error) {
		calls++
		return "", fmt.Errorf("user 7: %w", cache.ErrNotFound)
	}
	for range 3 {
		_, _, err := c.LoadOrTryCompute(context.Background(), 7, load)
		fmt.Println(errors.Is(err, cache.ErrNotFound))
	}
	_, ok := c.Load(7)
	fmt.Println("loader calls:", calls, "present:", ok)
	// Output:
	// true
	// true
	// true
	// loader calls: 1 present: false
}

// LoadOrTryComputeAll loads the missing keys of a batch together; present
// keys cost a Load each, and keys the loader leaves out are not found.
func ExampleCache_LoadOrTryComputeAll() {
	c, _ := cache.New(cache.Options[int, string]{MaxEntries: 1000})
	defer c.Close()
	c.Store(1, "ada")
	var mu sync.Mutex
	var asked []int
	users, err := c.LoadOrTryComputeAll(context.Background(), []int{1, 2, 3}, func(_ context.Context, missing []int) (map[int]string, error) {
		mu.Lock()
		asked = append(asked, missing...)
		mu.Unlock()
		return map[int]string{2: "grace"}, nil // 3 does not exist
	})
	slices.Sort(asked)
	fmt.Println("the loader was asked for", asked)
	fmt.Println(users, err)
	// Output:
	// the loader was asked for [2 3]
	// map[1:ada 2:grace] <nil>
}

// A loader reads a price from a database; meanwhile a writer changes the
// price and deletes the cached one. The load that read the old price
// returns it to its caller, but the cache does not keep it: invalidation
// wins, and the next call loads the new price.
func ExampleCache_Delete_invalidationWins() {
	db := map[string]int{"tea": 3} // stands in for a database
	prices, err := cache.New(cache.Options[string, int]{MaxEntries: 1000, TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	defer prices.Close()

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
	fmt.Println("the old price was kept:", ok)
	price, _ := prices.LoadOrCompute("tea", func() int { return db["tea"] })
	fmt.Println("the next load gets", price, "; entries:", prices.Len())
	// Output:
	// the slow load returns 3 false
	// the old price was kept: false
	// the next load gets 4 ; entries: 1
}
