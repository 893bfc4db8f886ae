// Command cachecg runs one of the cache speed rows (bench/cache_speed_test.go)
// on one goroutine for a fixed number of operations, with the operations in
// one function, run, so that callgrind can count the instructions of the
// operations alone:
//
//	go build -o /tmp/cachecg ./bench/cmd/cachecg
//	GOMAXPROCS=1 valgrind --tool=callgrind --toggle-collect='main.run' \
//		/tmp/cachecg -impl safemap -row hit -n 1000000
//
// The instructions callgrind reports, divided by -n, are one operation's,
// the loop's key choice (a few instructions) included. Collection covers
// run and everything it calls, not other goroutines: so that work a cache
// hands to a goroutine of its own is counted too, otter runs with a
// synchronous Executor (its maintenance runs in the calling goroutine, as
// in its own simulator). bench/callgrind-cache.sh runs every row.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"os"

	"github.com/maypok86/otter/v2"

	"github.com/safemap-go/safemap/cache"
)

// The rows' shape, as in bench/cache_speed_test.go.
const (
	hotKeys = 100_000
	zipfS   = 1.01
	bound   = 200_000
	coldPct = 10
	probes  = 1 << 20
)

// target is what run drives.
type target interface {
	Load(key int64) (int64, bool)
	Store(key, value int64)
	LoadOrCompute(key int64) int64
}

type ours struct{ c *cache.Cache[int64, int64] }

func (o ours) Load(k int64) (int64, bool) { return o.c.Load(k) }
func (o ours) Store(k, v int64)           { o.c.Store(k, v) }
func (o ours) LoadOrCompute(k int64) int64 {
	v, _ := o.c.LoadOrCompute(k, one)
	return v
}

func one() int64 { return 1 }

type otterC struct{ c *otter.Cache[int64, int64] }

var otterOne = otter.LoaderFunc[int64, int64](func(context.Context, int64) (int64, error) { return 1, nil })

func (o otterC) Load(k int64) (int64, bool) { return o.c.GetIfPresent(k) }
func (o otterC) Store(k, v int64)           { o.c.Set(k, v) }
func (o otterC) LoadOrCompute(k int64) int64 {
	v, _ := o.c.Get(context.Background(), k, otterOne)
	return v
}

func main() {
	impl := flag.String("impl", "safemap", "the cache: safemap or otter")
	row := flag.String("row", "hit", "the row: hit (Load of present keys, Zipf) or compute (LoadOrCompute, 90 % hot, 10 % a cold range twice the bound)")
	n := flag.Int("n", 1_000_000, "operations to run")
	flag.Parse()

	var t target
	switch *impl {
	case "safemap":
		c, err := cache.New(cache.Options[int64, int64]{MaxEntries: bound})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		t = ours{c}
	case "otter":
		t = otterC{otter.Must(&otter.Options[int64, int64]{MaximumSize: bound, Executor: func(fn func()) { fn() }})}
	default:
		fmt.Fprintf(os.Stderr, "cachecg: -impl %q: want safemap or otter\n", *impl)
		os.Exit(2)
	}
	for k := range int64(hotKeys) {
		t.Store(k, k)
	}
	keys := zipf(probes, hotKeys, 1)
	switch *row {
	case "hit":
		settle(t)
		fmt.Println(run(t, keys, *n, false))
	case "compute":
		r := randv2.New(randv2.NewPCG(3, 4))
		for i := range keys {
			if r.IntN(100) < coldPct {
				keys[i] = hotKeys + r.Int64N(2*bound)
			}
		}
		for k := int64(hotKeys); k < 2*bound; k += 2 {
			t.LoadOrCompute(k) // full, evicting from here on
		}
		settle(t)
		fmt.Println(run(t, keys, *n, true))
	default:
		fmt.Fprintf(os.Stderr, "cachecg: -row %q: want hit or compute\n", *row)
		os.Exit(2)
	}
}

// settle applies the writes a cache buffered during the setup, so that
// run does not pay for them (otter's CleanUp; safemap's cache buffers
// none).
func settle(t target) {
	if o, ok := t.(otterC); ok {
		o.c.CleanUp()
	}
}

// zipf returns n keys drawn with Zipf exponent zipfS over 0..keys-1, the
// ranks mapped to keys by a fixed permutation.
func zipf(n, keys int, seed int64) []int64 {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, zipfS, 1, uint64(keys-1))
	perm := r.Perm(keys)
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(perm[z.Uint64()])
	}
	return out
}

// run is the measured loop: n operations over keys. It returns a sum of
// the values read, so that nothing is optimised away.
//
//go:noinline
func run(t target, keys []int64, n int, compute bool) int64 {
	mask := len(keys) - 1
	var sum int64
	for i := range n {
		k := keys[i&mask]
		if compute {
			sum += t.LoadOrCompute(k)
		} else {
			v, _ := t.Load(k)
			sum += v
		}
	}
	return sum
}
