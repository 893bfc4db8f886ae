// Command checkinsert reproduces the first pitfall of the missing-key path:
// check-then-insert on a built-in map shared by several goroutines,
//
//	if v, ok := m[key]; ok {
//		return v
//	}
//	v := build(key)
//	m[key] = v
//	return v
//
// and its fix, safemap's LoadOrCompute.
//
// Choose what to run with -variant:
//
//	broken     4 goroutines look up the same 100 keys in a plain map, building
//	           and inserting the ones they find missing. It runs on one P
//	           (GOMAXPROCS=1, as on a machine with one CPU), so two
//	           map writes never overlap and the runtime never notices: the
//	           program finishes and silently loses values. Built with -race,
//	           the race detector reports "WARNING: DATA RACE" and the program
//	           exits with status 66.
//	unguarded  the insert alone (m[key] = v) on two or more Ps, each goroutine
//	           writing its own 131072 keys into the one map: the writes overlap and the Go
//	           runtime kills the process with "fatal error: concurrent map
//	           writes" (exit status 2), with or without -race. The runtime's
//	           check is best-effort; if a run gets through, it says so.
//	fixed      the broken workload on a safemap.Map with LoadOrCompute: build
//	           runs once per key, every goroutine gets the stored value, and
//	           the race detector has nothing to report.
//
// For example:
//
//	go run -race ./examples/pitfalls/checkinsert -variant broken
//	go run ./examples/pitfalls/checkinsert -variant unguarded
//	go run -race ./examples/pitfalls/checkinsert -variant fixed
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap"
)

const (
	goroutines = 4
	keys       = 100

	unguardedKeys = 1 << 17 // per goroutine: enough to collide, bounded to well under a second
)

func main() {
	variant := flag.String("variant", "broken", "what to run: broken, unguarded or fixed")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "checkinsert: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}

	switch *variant {
	case "broken":
		runtime.GOMAXPROCS(1)
		fmt.Printf("broken: %d goroutines check-then-insert the same %d keys in a plain map (GOMAXPROCS=1)\n", goroutines, keys)
		report(lookUpAll(newPlainLookup()))
		fmt.Println("  nothing crashed: on one P two map writes never overlap, so the runtime's")
		fmt.Println("  concurrent-write check cannot fire. Build with -race to have the race")
		fmt.Println("  detector report it (exit status 66).")
	case "unguarded":
		runtime.GOMAXPROCS(max(2, runtime.NumCPU()))
		fmt.Printf("unguarded: %d goroutines each write %d keys of their own into one plain map (GOMAXPROCS=%d)\n",
			goroutines, unguardedKeys, runtime.GOMAXPROCS(0))
		inserted := insertInParallel()
		// Reached only if the runtime did not catch an overlapping write.
		fmt.Printf("  all %d inserts finished and the map holds %d keys: the runtime's check is\n", goroutines*unguardedKeys, inserted)
		fmt.Println("  best-effort and missed the overlaps this time; run it again.")
	case "fixed":
		runtime.GOMAXPROCS(1) // the broken variant's setting, to compare like with like
		fmt.Printf("fixed: %d goroutines call LoadOrCompute on the same %d keys of a safemap.Map (GOMAXPROCS=1)\n", goroutines, keys)
		report(lookUpAll(newSafemapLookup()))
	default:
		fmt.Fprintf(os.Stderr, "checkinsert: unknown -variant %q: want broken, unguarded or fixed\n", *variant)
		os.Exit(2)
	}
}

// A lookup returns the value for key, calling build to create and store it
// if the key is missing.
type lookup func(key int, build func(key int) int) int

// newPlainLookup returns the broken lookup: check-then-insert on a built-in
// map with no lock. Presizing the map keeps inserts from growing it, so an
// insert never allocates and so never yields inside the runtime's map code.
func newPlainLookup() (lookup, func() map[int]int) {
	m := make(map[int]int, keys)
	look := func(key int, build func(key int) int) int {
		if v, ok := m[key]; ok { // read: races with other goroutines' writes
			return v
		}
		v := build(key) // others can check the key in the meantime, and miss too
		m[key] = v      // write: may overwrite a value another goroutine built and returned
		return v
	}
	return look, func() map[int]int { return m }
}

// newSafemapLookup returns the fixed lookup: LoadOrCompute runs build once
// per missing key and makes every other caller wait for its value.
func newSafemapLookup() (lookup, func() map[int]int) {
	m := safemap.New[int, int](safemap.WithCapacity(keys))
	look := func(key int, build func(key int) int) int {
		v, _ := m.LoadOrCompute(key, func() int { return build(key) })
		return v
	}
	final := func() map[int]int {
		out := make(map[int]int, m.Len())
		for k, v := range m.All() {
			out[k] = v
		}
		return out
	}
	return look, final
}

type outcome struct {
	builds    int64 // calls of build
	stored    int   // keys in the map afterwards
	disagreed int   // lookups that returned a value other than the one left in the map
}

// lookUpAll has every goroutine look up keys 0 to keys-1, in order, and
// compares what each lookup returned with what the map holds at the end.
func lookUpAll(look lookup, final func() map[int]int) outcome {
	var builds atomic.Int64
	build := func(key int) int {
		n := builds.Add(1)
		// Building a value takes time: a query, a parse, an allocation. Here
		// it just lets the scheduler run another goroutine, which is what
		// any of those may do.
		runtime.Gosched()
		return int(n) // a distinct value per build, to tell them apart
	}

	got := make([][]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g] = make([]int, keys)
			for key := range keys {
				got[g][key] = look(key, build)
			}
		}()
	}
	wg.Wait()

	m := final()
	o := outcome{builds: builds.Load(), stored: len(m)}
	for g := range goroutines {
		for key, v := range got[g] {
			if v != m[key] {
				o.disagreed++
			}
		}
	}
	return o
}

func report(o outcome) {
	fmt.Printf("  build ran %d times for %d keys: %d built values were overwritten or never stored\n",
		o.builds, o.stored, o.builds-int64(o.stored))
	fmt.Printf("  %d of %d lookups returned a value other than the one left in the map\n",
		o.disagreed, goroutines*keys)
}

// insertInParallel is the unguarded variant: every goroutine writes keys of
// its own into the one map, with no lock. (It leaves out the check: with it,
// the runtime is as likely to report "concurrent map read and map write".)
// The map starts empty, so it grows while the writes overlap.
func insertInParallel() int {
	m := make(map[int]int)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range unguardedKeys {
				m[i*goroutines+g] = i // no check, no lock
			}
		}()
	}
	wg.Wait()
	return len(m)
}
