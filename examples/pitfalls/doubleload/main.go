// Command doubleload reproduces the second pitfall of the missing-key path:
// double-checked creation that runs the loader outside the lock, so every
// goroutine that misses a key before the first one stores it runs the
// loader too:
//
//	c.mu.RLock()
//	v, ok := c.m[key]
//	c.mu.RUnlock()
//	if ok {
//		return v
//	}
//	v = load(key) // every goroutine that missed the key gets here
//	c.mu.Lock()
//	defer c.mu.Unlock()
//	if old, ok := c.m[key]; ok { // the second check stops the overwrite...
//		return old // ...but the load has already run
//	}
//	c.m[key] = v
//	return v
//
// The code is race-free, and every caller gets the stored value. The cost is
// the loads: when a key is missed by many goroutines at once (a cold start, an
// expired hot key), the backend is called once per goroutine, just when it is
// busiest. The fix is safemap's LoadOrCompute, which runs the loader once per
// missing key and makes the other goroutines wait for its value.
//
// Choose what to run with -variant:
//
//	broken  the double-checked cache above, over a map and a sync.RWMutex
//	fixed   a safemap.Map and LoadOrCompute
//
// Every goroutine asks for the same keys in the same order, and the loader,
// like a backend under a stampede, answers only once every goroutine has
// asked for the key. For example:
//
//	go run ./examples/pitfalls/doubleload -variant broken
//	go run ./examples/pitfalls/doubleload -variant fixed -goroutines 100
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap"
)

func main() {
	variant := flag.String("variant", "broken", "what to run: broken or fixed")
	goroutines := flag.Int("goroutines", 8, "goroutines asking for the keys")
	keys := flag.Int("keys", 100, "keys each goroutine asks for")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "doubleload: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if *goroutines < 1 || *keys < 1 {
		fmt.Fprintln(os.Stderr, "doubleload: -goroutines and -keys must be at least 1")
		os.Exit(2)
	}

	var c cache
	switch *variant {
	case "broken":
		fmt.Printf("broken: double-checked creation over a map and a sync.RWMutex, loader outside the lock\n")
		c = &doubleCheckedCache{m: make(map[int]string)}
	case "fixed":
		fmt.Printf("fixed: safemap.Map.LoadOrCompute\n")
		c = safemapCache{safemap.New[int, string]()}
	default:
		fmt.Fprintf(os.Stderr, "doubleload: unknown -variant %q: want broken or fixed\n", *variant)
		os.Exit(2)
	}

	o := stampede(c, *goroutines, *keys)
	fmt.Printf("  %d goroutines asked for the same %d keys: the loader ran %d times (%d wasted loads)\n",
		*goroutines, *keys, o.loads, o.loads-int64(*keys))
	fmt.Printf("  most loads of one key: %d; keys stored: %d; lookups that returned another value than the stored one: %d\n",
		o.maxLoadsPerKey, o.stored, o.disagreed)
}

// A cache returns the value for key, calling load to create and store it if
// the key is missing.
type cache interface {
	Get(key int, load func(key int) string) string
	Len() int
	Value(key int) (string, bool) // what the cache holds, for the report
}

// doubleCheckedCache is the broken cache: check under the read lock, load
// with no lock held, check again and store under the write lock.
type doubleCheckedCache struct {
	mu sync.RWMutex
	m  map[int]string
}

func (c *doubleCheckedCache) Get(key int, load func(key int) string) string {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = load(key) // every goroutine that missed the key gets here
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok { // the second check stops the overwrite...
		return old // ...but the load has already run
	}
	c.m[key] = v
	return v
}

func (c *doubleCheckedCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *doubleCheckedCache) Value(key int) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[key]
	return v, ok
}

// safemapCache is the fixed cache: LoadOrCompute runs load once per missing
// key, with no lock held, and the goroutines that miss the key meanwhile
// wait for its value.
type safemapCache struct {
	m *safemap.Map[int, string]
}

func (c safemapCache) Get(key int, load func(key int) string) string {
	v, _ := c.m.LoadOrCompute(key, func() string { return load(key) })
	return v
}

func (c safemapCache) Len() int                     { return c.m.Len() }
func (c safemapCache) Value(key int) (string, bool) { return c.m.Load(key) }

type outcome struct {
	loads          int64 // calls of the loader, over all keys
	maxLoadsPerKey int64
	stored         int // keys in the cache afterwards
	disagreed      int // lookups that returned a value other than the stored one
}

// stampede has goroutines ask c for keys 0 to keys-1, in the same order, and
// counts the loader's calls. The loader of a key returns only after every
// goroutine has asked for that key, so all of them are in Get, past or
// waiting at the check, while the key is still missing: the moment a
// cold-start stampede is worst.
func stampede(c cache, goroutines, keys int) outcome {
	asked := make([]atomic.Int64, keys)
	everyoneAsked := make([]chan struct{}, keys)
	for i := range everyoneAsked {
		everyoneAsked[i] = make(chan struct{})
	}
	loads := make([]atomic.Int64, keys)
	load := func(key int) string {
		n := loads[key].Add(1)
		<-everyoneAsked[key] // the backend answers once everyone has asked
		return fmt.Sprintf("value %d (load %d)", key, n)
	}

	got := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g] = make([]string, keys)
			for key := range keys {
				if asked[key].Add(1) == int64(goroutines) {
					close(everyoneAsked[key])
				}
				got[g][key] = c.Get(key, load)
			}
		}()
	}
	wg.Wait()

	o := outcome{stored: c.Len()}
	for key := range keys {
		n := loads[key].Load()
		o.loads += n
		o.maxLoadsPerKey = max(o.maxLoadsPerKey, n)
		stored, _ := c.Value(key)
		for g := range goroutines {
			if got[g][key] != stored {
				o.disagreed++
			}
		}
	}
	return o
}
