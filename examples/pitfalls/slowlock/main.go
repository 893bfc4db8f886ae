// Command slowlock reproduces the third pitfall of the missing-key path: a
// slow loader that runs under a map-wide write lock. Loading under the lock
// is the usual cure for double loads (see ../doubleload), and it makes every
// other key wait for the slowest load:
//
//	c.mu.RLock()
//	v, ok := c.m[key]
//	c.mu.RUnlock()
//	if ok {
//		return v
//	}
//	c.mu.Lock()
//	defer c.mu.Unlock()
//	if v, ok := c.m[key]; ok {
//		return v
//	}
//	v = load(key) // a slow query: every other key waits for it
//	c.m[key] = v
//	return v
//
// While one key loads, lookups of keys that are already stored block on the
// read lock: throughput collapses for the whole map, not just for that key.
// The fix is safemap's LoadOrCompute, which runs the loader with no lock
// held, so other keys' lookups go on at full speed.
//
// Choose what to run with -variant:
//
//	broken  the cache above, over a map and a sync.RWMutex
//	fixed   a safemap.Map and LoadOrCompute
//
// Readers look up stored keys in a loop. The program counts their lookups
// while a slow loader (a 20ms sleep) runs for another key, and compares
// that with their count during the same sleep taken outside the cache, just
// before. It reports the median of the rounds' ratios, which a burst of
// load elsewhere on the machine does not sway. For example:
//
//	go run ./examples/pitfalls/slowlock -variant broken
//	go run ./examples/pitfalls/slowlock -variant fixed -slow 200ms
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap"
)

func main() {
	variant := flag.String("variant", "broken", "what to run: broken or fixed")
	var cfg config
	flag.IntVar(&cfg.readers, "readers", 2, "goroutines looking up stored keys")
	flag.IntVar(&cfg.keys, "keys", 1000, "stored keys the readers look up")
	flag.DurationVar(&cfg.slow, "slow", 20*time.Millisecond, "how long the slow loader takes")
	flag.IntVar(&cfg.rounds, "rounds", 15, "slow loads to measure")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "slowlock: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if cfg.readers < 1 || cfg.keys < 1 || cfg.rounds < 1 || cfg.slow <= 0 {
		fmt.Fprintln(os.Stderr, "slowlock: -readers, -keys, -rounds and -slow must be positive")
		os.Exit(2)
	}

	var c cache
	switch *variant {
	case "broken":
		fmt.Println("broken: a map and a sync.RWMutex; the loader runs under the write lock")
		c = &lockedCache{m: make(map[int]string)}
	case "fixed":
		fmt.Println("fixed: safemap.Map.LoadOrCompute; the loader runs with no lock held")
		c = safemapCache{safemap.New[int, string]()}
	default:
		fmt.Fprintf(os.Stderr, "slowlock: unknown -variant %q: want broken or fixed\n", *variant)
		os.Exit(2)
	}

	r := measure(c, cfg)
	fmt.Printf("  %d readers look up %d stored keys while another key's loader takes %v, %d times\n",
		cfg.readers, cfg.keys, cfg.slow, cfg.rounds)
	fmt.Printf("  lookups/s of other keys, normally:            %12s\n", thousands(r.normalRate()))
	fmt.Printf("  lookups/s of other keys, while one key loads: %12s  (%s lookups in %v)\n",
		thousands(r.slowRate()), thousands(float64(r.slowOps)), r.slowTime.Round(time.Millisecond))
	fmt.Printf("  throughput kept while one key loads: %.2f (the median of %d rounds' ratios)\n", r.ratio(), len(r.ratios))
}

// A cache returns the value for key, calling load to create and store it if
// the key is missing.
type cache interface {
	Get(key int, load func(key int) string) string
}

// lockedCache is the broken cache: a hit takes the read lock; a miss loads
// and stores under the write lock, so the loader runs once per key but
// every other lookup waits for it.
type lockedCache struct {
	mu sync.RWMutex
	m  map[int]string
}

func (c *lockedCache) Get(key int, load func(key int) string) string {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok {
		return v
	}
	v = load(key) // a slow query: every other key waits for it
	c.m[key] = v
	return v
}

// safemapCache is the fixed cache: LoadOrCompute runs load once per missing
// key with no lock held; lookups of other keys do not wait for it.
type safemapCache struct {
	m *safemap.Map[int, string]
}

func (c safemapCache) Get(key int, load func(key int) string) string {
	v, _ := c.m.LoadOrCompute(key, func() string { return load(key) })
	return v
}

type config struct {
	readers int           // goroutines looking up stored keys
	keys    int           // stored keys
	slow    time.Duration // the slow loader's duration
	rounds  int           // slow loads measured
}

// result counts the readers' lookups during the slow loads (slowOps in
// slowTime) and during equally slow calls made outside the cache (normalOps
// in normalTime), in total and in each round.
type result struct {
	normalOps, slowOps   int64
	normalTime, slowTime time.Duration
	ratios               []float64 // throughput kept, round by round
}

func (r result) normalRate() float64 { return float64(r.normalOps) / r.normalTime.Seconds() }
func (r result) slowRate() float64   { return float64(r.slowOps) / r.slowTime.Seconds() }

// ratio is the share of their normal throughput that the readers keep while
// another key loads slowly: the median over the rounds, so that a burst of
// load from elsewhere on the machine, which slows one window, does not
// decide it.
func (r result) ratio() float64 {
	if len(r.ratios) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(r.ratios))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// measure stores cfg.keys keys in c, starts cfg.readers goroutines looking
// them up, and then, cfg.rounds times, takes the slow call once outside the
// cache and once as the loader of a missing key. The slow call counts the
// lookups made while it runs.
func measure(c cache, cfg config) result {
	fastLoad := func(key int) string { return "value " + strconv.Itoa(key) }
	for key := range cfg.keys {
		c.Get(key, fastLoad)
	}

	var (
		counts = make([]counter, cfg.readers) // lookups, per reader
		stop   atomic.Bool
		warm   sync.WaitGroup // readers that have made their first lookups
		done   sync.WaitGroup
	)
	for r := range cfg.readers {
		warm.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			for i := 0; !stop.Load(); i++ {
				c.Get((r+i*cfg.readers)%cfg.keys, fastLoad)
				counts[r].n.Add(1)
				if i == 100 {
					warm.Done()
				}
			}
		}()
	}
	warm.Wait()
	lookups := func() (n int64) {
		for i := range counts {
			n += counts[i].n.Load()
		}
		return n
	}

	// slowCall is the slow loader: it stands for a query that takes
	// cfg.slow, and counts the lookups the readers make meanwhile.
	var ops int64
	var took time.Duration
	slowCall := func(int) string {
		ops0, t0 := lookups(), time.Now()
		time.Sleep(cfg.slow)
		ops, took = lookups()-ops0, time.Since(t0)
		return "slow value"
	}

	var r result
	for round := range cfg.rounds {
		slowCall(-1) // outside the cache: the readers' normal throughput
		normalOps, normalTime := ops, took
		r.normalOps += ops
		r.normalTime += took

		c.Get(cfg.keys+round, slowCall) // a missing key: the slow loader runs
		r.slowOps += ops
		r.slowTime += took

		if normalOps > 0 {
			normalRate := float64(normalOps) / normalTime.Seconds()
			r.ratios = append(r.ratios, float64(ops)/took.Seconds()/normalRate)
		}
	}

	stop.Store(true)
	done.Wait()
	return r
}

// counter is a reader's count of lookups, alone in its cache line so that
// the readers do not slow each other down by counting.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// thousands formats x, rounded, with commas between groups of three digits.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
