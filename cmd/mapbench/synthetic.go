package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/advisor"
	"iter"
	"runtime"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// synthetic describes the workload `mapbench advise -measure` replays
// against every strategy: the profile's mix of reads and writes, miss rate,
// key-set behaviour and value-function cost, on the profile's key count.
type synthetic struct {
	keys       int
	goroutines int
	readFrac   float64 // share of operations that read
	missRate   float64 // share of reads whose key is absent
	keySet     string  // "static", "growing" or "churning"
	loaderCost time.Duration
	failRate   float64 // share of value-function calls that fail
	duration   time.Duration
	reps       int
}

// strategy is one safemap constructor, named as the advisor names it.
type strategy struct {
	name string
	new  func() safemap.ConcurrentMap[int, int]
}

var strategies = []strategy{
	{"New", func() safemap.ConcurrentMap[int, int] { return safemap.New[int, int]() }},
	{"NewSyncMap", func() safemap.ConcurrentMap[int, int] { return safemap.NewSyncMap[int, int]() }},
	{"NewRWMap", func() safemap.ConcurrentMap[int, int] { return safemap.NewRWMap[int, int]() }},
	{"NewShardedMap", func() safemap.ConcurrentMap[int, int] { return safemap.NewShardedMap[int, int]() }},
	{"NewSnapshotMap", func() safemap.ConcurrentMap[int, int] { return safemap.NewSnapshotMap[int, int]() }},
}

// maxSyntheticKeys bounds the key count a profile can ask to replay, so
// that -measure stays a quick check rather than a capacity test.
const maxSyntheticKeys = 1 << 20

var errLoad = errors.New("mapbench: synthetic loader failure")

// run measures every strategy on the synthetic workload.
func (sy synthetic) run(ctx context.Context) (results.Workload, error) {
	n := min(max(sy.keys, 1), maxSyntheticKeys)
	g := sy.goroutines
	if g < 1 {
		g = runtime.GOMAXPROCS(0)
	}
	wl := results.Workload{
		Name: "advise",
		Description: fmt.Sprintf("The profile replayed: %.0f %% reads, %.0f %% of them missing, %s key set of %d keys, "+
			"value function %v failing %.0f %% of the time, %d goroutines.",
			100*sy.readFrac, 100*sy.missRate, sy.keySet, n, sy.loaderCost, 100*sy.failRate, g),
		Param:   "strategy",
		Primary: "ns/op",
	}
	if n < sy.keys {
		wl.Notes = append(wl.Notes, fmt.Sprintf("Replayed with %d keys instead of %d.", n, sy.keys))
	}
	ks := newKeyspace[int](n)
	readBelow := uint64(sy.readFrac * 10000)
	missBelow := uint64(sy.missRate * 10000)
	failBelow := uint64(sy.failRate * 10000)
	cases := make([]results.Case, len(strategies))
	for i, st := range strategies {
		cases[i] = results.Case{Impl: st.name, Variant: "profile", KeyType: "int", Goroutines: g}
	}
	for range max(sy.reps, 1) {
		for i, st := range strategies {
			if err := ctx.Err(); err != nil {
				return results.Workload{}, err
			}
			m := st.new()
			fillTarget[int](m, entries(ks.present[:n]))
			f := &fresh{base: n}
			own := make([]owned, g)
			s := measure(spec{goroutines: g, duration: sy.duration}, func(w *worker, batch int) bool {
				o := &own[w.id]
				newKey := func() int { return ks.present[f.take(ks, o)] }
				loader := func(context.Context) (int, error) {
					spend(sy.loaderCost)
					if w.next()%10000 < failBelow {
						return 0, errLoad
					}
					return 1, nil
				}
				for range batch {
					r := w.next()
					if r%10000 < readBelow {
						switch {
						case (r>>16)%10000 >= missBelow:
							m.LoadOrTryCompute(ctx, ks.present[w.below(n)], loader)
						case sy.keySet == "static":
							m.Load(ks.absent[w.below(len(ks.absent))])
						default:
							m.LoadOrTryCompute(ctx, newKey(), loader)
						}
						continue
					}
					switch {
					case sy.keySet == "static":
						m.Store(ks.present[w.below(n)], int(r))
					case sy.keySet == "churning" && r>>32&1 == 0:
						m.Delete(ks.present[w.below(n)])
					default:
						m.Store(newKey(), int(r))
					}
				}
				return true
			})
			cases[i].Samples = append(cases[i].Samples, s)
		}
	}
	wl.Cases = cases
	return wl, nil
}

// entries yields keys[i], i.
func entries(keys []int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i, k := range keys {
			if !yield(k, i) {
				return
			}
		}
	}
}

// spend stands in for a value function's work: it sleeps for costs long
// enough to be I/O (a goroutine blocked on the network), and spins for
// shorter ones (CPU work, where a sleep would oversleep by far).
func spend(d time.Duration) {
	const spinBelow = 20 * time.Microsecond
	switch {
	case d <= 0:
	case d >= spinBelow:
		time.Sleep(d)
	default:
		for t0 := time.Now(); time.Since(t0) < d; {
		}
	}
}

// syntheticKeys is the key count replayed when the profile does not know
// its own.
const syntheticKeys = 100_000

// measureSynthetic is the advisor's MeasureFunc: it replays the profile
// against every safemap strategy for 200 ms per sample, three samples each,
// interleaved.
func measureSynthetic(ctx context.Context, w advisor.Workload) (results.Workload, error) {
	return synthetic{
		keys:       cmp.Or(w.Keys, syntheticKeys),
		goroutines: w.Goroutines,
		readFrac:   w.ReadFraction,
		missRate:   w.MissRate,
		keySet:     w.KeySet.String(),
		loaderCost: w.LoaderCost,
		failRate:   w.LoaderFailRate,
		duration:   200 * time.Millisecond,
		reps:       3,
	}.run(ctx)
}
