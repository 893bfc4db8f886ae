// Command panicunlock reproduces the fourth pitfall of the missing-key path:
// a lock released without defer, and a loader that panics while it is held:
//
//	c.mu.Lock()
//	v, ok := c.m[key]
//	if !ok {
//		v = load(key) // if load panics, the Unlock below never runs
//		c.m[key] = v
//	}
//	c.mu.Unlock()
//	return v
//
// The panic unwinds past the Unlock. If the caller recovers (net/http
// recovers a panicking handler and goes on serving), the process lives on
// with the mutex locked, and the next call, for any key, blocks forever.
// The Go runtime cannot help: it reports "all goroutines are asleep" only
// when every goroutine is blocked, and a server always has some that are
// not. The fix is safemap's LoadOrCompute: a panic in the loader reaches
// its caller, stores nothing and leaves no lock held, so the map stays
// usable and the key is computed again on the next call. (The minimal fix
// of the code above is "defer c.mu.Unlock()".)
//
// Choose what to run with -variant:
//
//	broken  the cache above, over a map and a sync.Mutex
//	fixed   a safemap.Map and LoadOrCompute
//
// The program makes requests the way a server does, each in its own
// goroutine that recovers a panic; it gives up waiting for a request after
// -timeout. For example:
//
//	go run ./examples/pitfalls/panicunlock -variant broken
//	go run ./examples/pitfalls/panicunlock -variant fixed
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/safemap-go/safemap"
)

func main() {
	variant := flag.String("variant", "broken", "what to run: broken or fixed")
	timeout := flag.Duration("timeout", time.Second, "how long to wait for a request before calling it stuck")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "panicunlock: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if *timeout <= 0 {
		fmt.Fprintln(os.Stderr, "panicunlock: -timeout must be positive")
		os.Exit(2)
	}

	var (
		c     cache
		stuck = "" // why a request can block
	)
	switch *variant {
	case "broken":
		fmt.Println("broken: a map and a sync.Mutex, unlocked without defer")
		c = &lockedCache{m: make(map[string]string)}
		stuck = ": the panic skipped Unlock, so the mutex stays locked"
	case "fixed":
		fmt.Println("fixed: safemap.Map.LoadOrCompute")
		c = safemapCache{safemap.New[string, string]()}
	default:
		fmt.Fprintf(os.Stderr, "panicunlock: unknown -variant %q: want broken or fixed\n", *variant)
		os.Exit(2)
	}

	requests := []struct {
		what string
		key  string
		load func(key string) string
	}{
		{"request 1", "user:1", loadMalformed},
		{"request 2", "user:2", loadRow},
		{"request 3", "user:1", loadRow}, // the key whose load panicked, again
	}
	for _, req := range requests {
		r := serve(c, req.key, req.load, *timeout)
		fmt.Printf("  %s, %q: ", req.what, req.key)
		switch {
		case r.blocked:
			fmt.Printf("still blocked after %v%s\n", *timeout, stuck)
			fmt.Println("  every later call blocks forever, whatever its key: a server would hang here")
			return
		case r.panicked != nil:
			fmt.Printf("the loader panicked and the request recovered: %v\n", r.panicked)
		case r.loaded:
			fmt.Printf("returned %q, already stored\n", r.value)
		default:
			fmt.Printf("returned %q, computed by this call\n", r.value)
		}
	}
	fmt.Println("  the panic stored nothing and left no lock held: the map is still usable")
}

// loadMalformed is a loader that panics, as code does on a nil map, an
// index out of range or a failed type assertion.
func loadMalformed(key string) string {
	panic(fmt.Sprintf("malformed row for %q", key))
}

// loadRow is a loader that works.
func loadRow(key string) string { return "row for " + key }

// A cache returns the value for key, calling load to create and store it if
// the key is missing; loaded reports whether it was already stored.
type cache interface {
	Get(key string, load func(key string) string) (value string, loaded bool)
}

// lockedCache is the broken cache: it unlocks its mutex without defer.
type lockedCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *lockedCache) Get(key string, load func(key string) string) (string, bool) {
	c.mu.Lock()
	v, ok := c.m[key]
	if !ok {
		v = load(key) // if load panics, the Unlock below never runs
		c.m[key] = v
	}
	c.mu.Unlock()
	return v, ok
}

// safemapCache is the fixed cache: LoadOrCompute holds no lock while load
// runs, and a panic in load stores nothing.
type safemapCache struct {
	m *safemap.Map[string, string]
}

func (c safemapCache) Get(key string, load func(key string) string) (string, bool) {
	return c.m.LoadOrCompute(key, func() string { return load(key) })
}

type response struct {
	value    string
	loaded   bool
	panicked any  // what the request recovered, if it panicked
	blocked  bool // the request did not finish within the timeout
}

// serve runs one request the way a server does: in a goroutine of its own
// that recovers a panic. It waits for the request for at most timeout; a
// request that is still blocked then is left blocked.
func serve(c cache, key string, load func(key string) string, timeout time.Duration) response {
	done := make(chan response, 1)
	go func() {
		var r response
		defer func() {
			r.panicked = recover()
			done <- r
		}()
		r.value, r.loaded = c.Get(key, load)
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(timeout):
		return response{blocked: true}
	}
}
