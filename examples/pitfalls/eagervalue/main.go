// Command eagervalue reproduces the fifth pitfall of the missing-key path:
// a value built eagerly for LoadOrStore,
//
//	s, _ := m.LoadOrStore(key, newSession(key))
//
// Go evaluates newSession(key) before LoadOrStore runs, so the value is
// built, and allocated, on every call, hit or miss. On a hit, LoadOrStore
// returns the stored value and the new one is garbage: a cache that is
// hit 99% of the time builds 100 values to keep one. It does not matter
// which map it is; the cost is in the call. The fix is safemap's
// LoadOrCompute, which takes the constructor instead of its result and
// calls it only when the key is missing:
//
//	s, _ := m.LoadOrCompute(key, func() *session { return newSession(key) })
//
// Choose what to run with -variant:
//
//	broken  LoadOrStore(key, newSession(key)) on a sync.Map and on a
//	        safemap.Map
//	fixed   LoadOrCompute on a safemap.Map
//
// The program stores 100 keys, then looks them up -hits times and reads
// the allocations from runtime.MemStats. For example:
//
//	go run ./examples/pitfalls/eagervalue -variant broken
//	go run ./examples/pitfalls/eagervalue -variant fixed
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/safemap-go/safemap"
)

const keys = 100

func main() {
	variant := flag.String("variant", "broken", "what to run: broken or fixed")
	hits := flag.Int("hits", 100_000, "lookups of stored keys to measure")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "eagervalue: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if *hits < 1 {
		fmt.Fprintln(os.Stderr, "eagervalue: -hits must be at least 1")
		os.Exit(2)
	}

	var ls []lookup
	switch *variant {
	case "broken":
		fmt.Println("broken: the value is built before LoadOrStore looks the key up")
		ls = brokenLookups()
	case "fixed":
		fmt.Println("fixed: LoadOrCompute builds the value only for a missing key")
		ls = fixedLookups()
	default:
		fmt.Fprintf(os.Stderr, "eagervalue: unknown -variant %q: want broken or fixed\n", *variant)
		os.Exit(2)
	}

	fmt.Printf("  %d lookups of %d stored keys, per lookup:\n", *hits, keys)
	for _, l := range ls {
		c := measureHits(l.get, *hits)
		fmt.Printf("  %-48s %4.2f allocs  %6.0f B  %4.2f newSession calls  %5.0f ns\n",
			l.code, c.allocs, c.bytes, c.builds, c.ns)
	}
}

// session stands for a value that is expensive to build: a parsed template,
// a compiled regexp, a client with its buffers. Building one allocates 4 KiB.
type session struct {
	id  int
	buf []byte
}

// builds counts the calls of newSession. Only one goroutine uses it.
var builds int

func newSession(id int) *session {
	builds++
	return &session{id: id, buf: make([]byte, 4<<10)}
}

// A lookup returns the session for key, building and storing it if the key
// is missing. code is the call it makes.
type lookup struct {
	code string
	get  func(key int) *session
}

func brokenLookups() []lookup {
	var sm sync.Map
	m := safemap.New[int, *session]()
	return []lookup{
		{"sync.Map.LoadOrStore(key, newSession(key))", func(key int) *session {
			s, _ := sm.LoadOrStore(key, newSession(key))
			return s.(*session)
		}},
		{"safemap.Map.LoadOrStore(key, newSession(key))", func(key int) *session {
			s, _ := m.LoadOrStore(key, newSession(key))
			return s
		}},
	}
}

func fixedLookups() []lookup {
	m := safemap.New[int, *session]()
	return []lookup{
		{"safemap.Map.LoadOrCompute(key, func...)", func(key int) *session {
			s, _ := m.LoadOrCompute(key, func() *session { return newSession(key) })
			return s
		}},
	}
}

// cost is the average cost of one lookup.
type cost struct {
	allocs float64 // heap allocations
	bytes  float64 // bytes allocated
	builds float64 // calls of newSession
	ns     float64 // wall time, a rough figure
}

// measureHits stores keys 0 to keys-1 through get, then looks them up n
// times and returns the cost of one of those lookups.
func measureHits(get func(key int) *session, n int) cost {
	for key := range keys {
		get(key) // a miss: builds and stores the session
	}
	var before, after runtime.MemStats
	builds0 := builds
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range n {
		get(i % keys) // a hit
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return cost{
		allocs: float64(after.Mallocs-before.Mallocs) / float64(n),
		bytes:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
		builds: float64(builds-builds0) / float64(n),
		ns:     float64(elapsed.Nanoseconds()) / float64(n),
	}
}
