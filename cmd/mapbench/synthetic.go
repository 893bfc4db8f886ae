package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/advisor"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
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
	reps       int           // samples every strategy gets
	maxReps    int           // the most an unsettled strategy gets
	budget     time.Duration // how long the whole measurement may take beyond the minimum samples
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

// run measures every strategy on the synthetic workload, adaptively: each
// gets reps samples, interleaved, and the strategies mapbench cannot yet
// rank get more, up to maxReps, within budget.
func (sy synthetic) run(ctx context.Context) (results.Workload, error) {
	n := min(max(sy.keys, 1), maxSyntheticKeys)
	g := sy.goroutines
	if g < 1 {
		g = runtime.GOMAXPROCS(0)
	}
	wl := &workload{
		name: "advise",
		description: fmt.Sprintf("The profile replayed: %s reads, %s of them missing, %s key set of %d keys, %s, %d goroutines.",
			format.Percent(sy.readFrac), format.Percent(sy.missRate), sy.keySet, n, loaderText(sy.loaderCost, sy.failRate), g),
		param:   "strategy",
		primary: "ns/op",
	}
	var ks *keyspace[int]
	wl.contenders = func(*runner, setting) []contender {
		out := make([]contender, len(strategies))
		for i, st := range strategies {
			out[i] = contender{name: st.name, start: func() (func() results.Sample, func() []string) {
				if ks == nil {
					ks = newKeyspace[int](n)
				}
				return sy.sampler(st, ks, n, g), nil
			}}
		}
		return out
	}
	reps := max(sy.reps, 1)
	r := &runner{duration: sy.duration, reps: reps, maxReps: max(sy.maxReps, reps), precision: advisor.MeasuredPrecision}
	st := setting{keyType: "int", goroutines: g, variant: variant{name: "profile"}}
	b := &budgetClock{start: time.Now(), budget: sy.budget, duration: sy.duration, left: float64(reps * len(strategies))}
	cases, complete := r.runGroup(ctx, wl, st, b)
	if !complete {
		return results.Workload{}, ctx.Err()
	}
	out := results.Workload{Name: wl.name, Description: wl.description, Param: wl.param, Primary: wl.primary, Cases: cases}
	if n < sy.keys {
		out.Notes = append(out.Notes, fmt.Sprintf("Replayed with %d keys instead of %d.", n, sy.keys))
	}
	return out, nil
}

// sampler returns the function that takes one sample of the profile's
// operations on a map of strategy st, filled afresh with n keys before
// every sample so that every sample starts from the same state.
func (sy synthetic) sampler(st strategy, ks *keyspace[int], n, g int) func() results.Sample {
	readBelow := uint64(sy.readFrac * 10000)
	missBelow := uint64(sy.missRate * 10000)
	failBelow := uint64(sy.failRate * 10000)
	return func() results.Sample {
		m := st.new()
		fillTarget[int](m, entries(ks.present[:n]))
		f := &fresh{base: n}
		own := make([]owned, g)
		return measure(spec{goroutines: g, duration: sy.duration}, func(w *worker, batch int) bool {
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
						m.LoadOrTryCompute(context.Background(), ks.present[w.below(n)], loader)
					case sy.keySet == "static":
						m.Load(ks.absent[w.below(len(ks.absent))])
					default:
						m.LoadOrTryCompute(context.Background(), newKey(), loader)
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
	}
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
// against every safemap strategy, 6 to 16 samples each (more where the
// strategies are close), interleaved, 100 ms per sample, or 200 ms when the
// value function takes a millisecond or more (so that a sample sees enough
// of them), within about 20 s.
func measureSynthetic(ctx context.Context, w advisor.Workload) (results.Workload, error) {
	d := 100 * time.Millisecond
	if w.LoaderCost >= time.Millisecond {
		d = 200 * time.Millisecond
	}
	return synthetic{
		keys:       cmp.Or(w.Keys, syntheticKeys),
		goroutines: w.Goroutines,
		readFrac:   w.ReadFraction,
		missRate:   w.MissRate,
		keySet:     w.KeySet.String(),
		loaderCost: w.LoaderCost,
		failRate:   w.LoaderFailRate,
		duration:   d,
		reps:       6,
		maxReps:    16,
		budget:     20 * time.Second,
	}.run(ctx)
}

// loaderText describes the replayed value function.
func loaderText(cost time.Duration, failRate float64) string {
	s := "a value function of no cost"
	if cost > 0 {
		s = "a value function of " + format.Duration(cost)
	}
	if failRate > 0 {
		s += " failing " + format.Percent(failRate) + " of the time"
	}
	return s
}
