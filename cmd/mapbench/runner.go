package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// runner runs the selected workloads against the selected implementations.
type runner struct {
	keys       int
	goroutines []int
	duration   time.Duration
	reps       int           // samples every case gets
	maxReps    int           // the most samples an unsettled case gets
	budget     time.Duration // the wall time the whole run aims at
	precision  float64       // smallest relative difference that ranks
	keyTypes   []string
	workloads  []*workload
	impls      []*impl

	progress   io.Writer // where the progress bar draws; nil for none
	cpuProfile string    // -cpuprofile: where to write a CPU profile, if anywhere
	stampede   bool      // run the stampede workload (stampede.go)
	redisAddr  string    // -redis: its server, or "" to start one

	intKeys    *keyspace[int]
	stringKeys *keyspace[string]

	calibration []float64 // ns per calibration loop, in run order

	bar     *mpb.Bar
	planned atomic.Int64           // samples the bar expects
	current atomic.Pointer[string] // the case running, for the progress bar
}

// A contender is one row of a group's table: an implementation measured
// on the group's setting. Workloads over the in-process maps get one per
// implementation (contendersOf); a workload that compares other things (a
// distributed tier, say) builds its own.
type contender struct {
	name string
	// unsupported says why the contender cannot run the setting; it then
	// has no start.
	unsupported string
	// start sets the case up, once, before its first sample, and returns
	// the function that takes one sample and the one that lists the
	// guarantees broken so far (nil for none to check).
	start func() (sample func() results.Sample, violations func() []string)
	// release, when set, frees what start set up (a cache's background
	// goroutines); runGroup calls it once the group is measured.
	release func()
}

// A setting is what one group of a workload is measured under.
type setting struct {
	keyType    string
	goroutines int
	variant    variant
}

// run measures everything and returns the results. When ctx ends it stops
// after the sample in progress and returns what it measured, with
// Incomplete saying so.
func (r *runner) run(ctx context.Context) *results.Run {
	out := &results.Run{
		Version:    results.Version,
		Started:    time.Now().UTC().Round(0),
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPU:        results.LocalCPU(),
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Config: results.Config{
			Keys:       r.keys,
			Goroutines: r.goroutines,
			Duration:   r.duration,
			Reps:       r.reps,
			MaxReps:    r.maxReps,
			Budget:     r.budget,
			Precision:  r.precision,
			KeyTypes:   r.keyTypes,
		},
	}
	for _, w := range r.workloads {
		out.Config.Workloads = append(out.Config.Workloads, w.name)
	}
	for _, im := range r.impls {
		out.Config.Impls = append(out.Config.Impls, im.name)
		out.Impls = append(out.Impls, results.Impl{Name: im.name, Kind: im.kind(), About: im.about, Default: im.isDefault})
	}

	plan := r.plan()
	var p *mpb.Progress
	if r.progress != nil {
		// mpb refreshes by itself only when it finds stdout is a terminal;
		// stdout may be a file (mapbench > results.txt) while stderr, where
		// the bar goes, is one. Whether to draw was decided already.
		p = mpb.New(mpb.WithOutput(r.progress), mpb.WithWidth(32),
			mpb.WithRefreshRate(250*time.Millisecond), mpb.WithAutoRefresh())
		r.planned.Store(int64(plan.samples))
		r.bar = p.AddBar(int64(plan.samples),
			mpb.PrependDecorators(
				decor.Name("mapbench "),
				decor.CountersNoUnit("%d/%d samples", decor.WCSyncWidth),
			),
			mpb.AppendDecorators(
				decor.Elapsed(decor.ET_STYLE_MMSS, decor.WCSyncSpace),
				decor.Name(" of ~"+format.Duration(r.budget)),
				decor.Any(func(decor.Statistics) string {
					if s := r.current.Load(); s != nil {
						return "  " + *s
					}
					return ""
				}),
			),
		)
	}

	t0 := time.Now()
	b := &budgetClock{start: t0, budget: r.budget, left: plan.weight, duration: r.duration}
	for _, w := range r.workloads {
		rw, complete := r.runWorkload(ctx, w, b)
		if len(rw.Cases) > 0 {
			out.Workloads = append(out.Workloads, rw)
		}
		if !complete {
			out.Incomplete = fmt.Sprintf("interrupted after %s: the workloads after %s were not run, and its last group has fewer samples than asked",
				format.Duration(time.Since(t0)), w.name)
			break
		}
	}
	out.Elapsed = time.Since(t0)
	out.Calibration = r.calibration
	if p != nil {
		r.bar.SetTotal(-1, true) // complete even if a count was off
		p.Wait()
	}
	return out
}

// plan counts the groups and the minimum samples of the run, and weighs
// the samples by their workload's cost.
type plan struct {
	groups, samples int
	weight          float64
}

func (r *runner) plan() plan {
	var pl plan
	for _, w := range r.workloads {
		for _, st := range r.settingsOf(w) {
			pl.groups++
			for _, c := range r.contendersFor(w, st, false) {
				if c.unsupported == "" {
					pl.samples += r.reps
					pl.weight += float64(r.reps) * w.cost()
				}
			}
		}
	}
	return pl
}

// settingsOf returns the settings w runs under, in run order: key type,
// then goroutine count, then variant.
func (r *runner) settingsOf(w *workload) []setting {
	gs := r.goroutines
	if !w.concurrent {
		gs = []int{1}
	}
	vs := w.variants
	if len(vs) == 0 {
		vs = []variant{{name: fmt.Sprintf("keys=%d", r.keys), param: float64(r.keys)}}
	}
	var out []setting
	for _, kt := range r.keyTypes {
		for _, g := range gs {
			for _, v := range vs {
				out = append(out, setting{keyType: kt, goroutines: g, variant: v})
			}
		}
	}
	return out
}

// contendersFor returns the rows of w's group under st. With build false
// it only lists them (for the plan): the key spaces are not built.
func (r *runner) contendersFor(w *workload, st setting, build bool) []contender {
	if w.contenders != nil {
		return w.contenders(r, st)
	}
	switch st.keyType {
	case "int":
		if build && r.intKeys == nil {
			r.intKeys = newKeyspace[int](r.keys)
		}
		return contendersOf(r, r.intKeys, w, w.ints, st)
	case "string":
		if build && r.stringKeys == nil {
			r.stringKeys = newKeyspace[string](r.keys)
		}
		return contendersOf(r, r.stringKeys, w, w.strings, st)
	}
	return nil
}

// contendersOf makes one contender per implementation of an in-process
// workload.
func contendersOf[K comparable](r *runner, ks *keyspace[K], w *workload, setup caseFunc[K], st setting) []contender {
	out := make([]contender, len(r.impls))
	for i, im := range r.impls {
		out[i].name = im.name
		if im.readOnly && !w.readOnly {
			out[i].unsupported = "a built-in map is not safe for concurrent writes"
			continue
		}
		out[i].start = func() (func() results.Sample, func() []string) {
			env := &caseEnv[K]{im: im, keys: ks, n: r.keys, v: st.variant, goroutines: st.goroutines, duration: r.duration}
			return setup(env), env.brokenGuarantees
		}
	}
	return out
}

func (r *runner) runWorkload(ctx context.Context, w *workload, b *budgetClock) (rw results.Workload, complete bool) {
	t0 := time.Now()
	defer func() { rw.Elapsed = time.Since(t0) }()
	rw = results.Workload{
		Name:           w.name,
		Description:    w.description,
		Param:          w.param,
		Primary:        w.primary,
		HigherIsBetter: w.higher,
	}
	for _, st := range r.settingsOf(w) {
		cases, ok := r.runGroup(ctx, w, st, b)
		rw.Cases = append(rw.Cases, cases...)
		if !ok {
			return rw, false
		}
	}
	if w.usesCompute {
		for _, im := range r.impls {
			if im.computeNote != "" && !im.readOnly {
				rw.Notes = append(rw.Notes, im.name+": "+im.computeNote+".")
			}
		}
	}
	rw.Notes = append(rw.Notes, w.notes(&rw)...)
	return rw, true
}

// runGroup measures every contender of w under st, adaptively:
//
//  1. r.reps rounds of one sample of every contender, interleaved (round k
//     starts with contender k, so that each runs first as often as the
//     others and a noisy neighbour slows all of them alike);
//  2. then, while the ranking is unsettled (see stats.Judge.Unsettled),
//     rounds of the unsettled contenders alone, each taking at most
//     r.maxReps samples, for as long as the group's share of the time
//     budget lasts.
//
// A calibration loop runs before every round. It returns false if ctx
// ended; the cases then hold the samples taken so far.
func (r *runner) runGroup(ctx context.Context, w *workload, st setting, b *budgetClock) ([]results.Case, bool) {
	cons := r.contendersFor(w, st, true)
	cases := make([]results.Case, len(cons))
	samplers := make([]func() results.Sample, len(cons))
	broken := make([]func() []string, len(cons))
	for i, c := range cons {
		cases[i] = results.Case{Impl: c.name, Variant: st.variant.name, Param: st.variant.param,
			KeyType: st.keyType, Goroutines: st.goroutines, Unsupported: c.unsupported}
	}
	finish := func() []results.Case {
		for _, c := range cons {
			if c.release != nil {
				c.release()
			}
		}
		for i := range cases {
			if broken[i] != nil {
				cases[i].Violations = broken[i]()
			}
		}
		return cases
	}
	judge := stats.Judge{HigherIsBetter: w.higher, Precision: r.precision}
	unit := w.primaryUnit()

	groupStart := time.Now()
	minSamples, taken := 0, 0
	for _, c := range cons {
		if c.unsupported == "" {
			minSamples += r.reps
		}
	}
	cost := w.cost()
	allowance := b.allowance(float64(minSamples) * cost)
	defer func() { b.groupDone(float64(minSamples)*cost, float64(taken)*cost, time.Since(groupStart)) }()

	for round := 0; ; round++ {
		want := make([]bool, len(cons))
		any := false
		if round < r.reps {
			for i, c := range cons {
				want[i] = c.unsupported == ""
				any = any || want[i]
			}
		} else {
			if time.Since(groupStart) >= allowance {
				break
			}
			sets := make([][]float64, len(cases))
			for i := range cases {
				sets[i], _ = cases[i].Values(unit)
			}
			for i, u := range judge.Unsettled(sets) {
				want[i] = u && len(cases[i].Samples) < r.maxReps
				any = any || want[i]
			}
			if any {
				n := 0
				for _, x := range want {
					if x {
						n++
					}
				}
				r.plannedAdd(n)
			}
		}
		if !any {
			break
		}
		r.calibration = append(r.calibration, calibrate())
		for k := range cons {
			i := (round + k) % len(cons)
			if !want[i] {
				continue
			}
			if ctx.Err() != nil {
				return finish(), false
			}
			label := fmt.Sprintf("%s %s key=%s g=%d %s (%d)", w.name, st.variant.name, st.keyType, st.goroutines, cons[i].name, len(cases[i].Samples)+1)
			r.current.Store(&label)
			if samplers[i] == nil {
				samplers[i], broken[i] = cons[i].start()
			}
			cases[i].Samples = append(cases[i].Samples, samplers[i]())
			taken++
			if r.bar != nil {
				r.bar.Increment()
			}
		}
	}
	return finish(), true
}

// plannedAdd tells the progress bar that n more samples are coming.
func (r *runner) plannedAdd(n int) {
	if r.bar != nil {
		r.bar.SetTotal(r.planned.Add(int64(n)), false)
	}
}

// budgetClock shares the run's time budget among its groups. Every group
// gets its minimum samples whatever the budget; the time the budget leaves
// beyond the minimum samples of the groups still to run is shared among
// them in proportion to their minimum samples, and a group that settles
// early leaves its share to the groups after it. Samples are counted in
// cost units (a sample of a workload with sampleCost 3 counts 3); the
// time of a unit is estimated from the groups run so far (setup
// included), starting from twice the sample duration.
type budgetClock struct {
	start    time.Time
	budget   time.Duration
	duration time.Duration
	left     float64 // cost of the minimum samples of the groups not yet run
	spent    time.Duration
	units    float64 // cost of the samples taken in the groups done
}

// allowance is how long the next group, whose minimum samples cost
// minimum units, may run in all.
func (b *budgetClock) allowance(minimum float64) time.Duration {
	perUnit := float64(2 * b.duration)
	if b.units > 0 {
		perUnit = float64(b.spent) / b.units
	}
	own := time.Duration(perUnit * minimum)
	spare := b.budget - time.Since(b.start) - time.Duration(perUnit*b.left)
	if spare <= 0 || b.left <= 0 {
		return own
	}
	return own + time.Duration(float64(spare)*minimum/b.left)
}

// groupDone records that a group whose minimum samples cost minimum units
// took samples costing taken units in d.
func (b *budgetClock) groupDone(minimum, taken float64, d time.Duration) {
	b.left -= minimum
	b.spent += d
	b.units += taken
}

// The calibration loop: calibrationALU rounds of arithmetic and
// calibrationReads dependent reads at random places in a table of
// calibrationTable entries (8 MB, past the caches a neighbour shares),
// per goroutine; about 2 ms on a quiet 2020s x86 core.
const (
	calibrationALU   = 1 << 18
	calibrationReads = 1 << 13
	calibrationTable = 1 << 21
)

var (
	calibrationSink atomic.Uint64
	calibrationOnce sync.Once
	calibrationRing []uint32 // one cycle through every entry, in random order
)

// calibrate runs a fixed loop, which writes no shared memory, on
// GOMAXPROCS goroutines at once and returns its wall time in ns. On a
// quiet machine every call takes the same time; on a loaded one, the
// calls that share the cores, or the memory system, with other work take
// longer. It reads memory as well as computing, because the maps measured
// here spend much of their time waiting for memory, which a neighbour
// slows down without taking any CPU time.
func calibrate() float64 {
	calibrationOnce.Do(func() {
		// Sattolo's algorithm: a random permutation that is one cycle, so
		// that following it visits every entry before repeating.
		calibrationRing = make([]uint32, calibrationTable)
		for i := range calibrationRing {
			calibrationRing[i] = uint32(i)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := len(calibrationRing) - 1; i > 0; i-- {
			j := rng.IntN(i)
			calibrationRing[i], calibrationRing[j] = calibrationRing[j], calibrationRing[i]
		}
	})
	procs := runtime.GOMAXPROCS(0)
	done := make(chan struct{}, procs)
	t0 := time.Now()
	for g := range procs {
		go func() {
			x := uint64(g) + 1
			for range calibrationALU {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			p := uint32(g * (calibrationTable / 8))
			for range calibrationReads {
				p = calibrationRing[p]
			}
			calibrationSink.Add(x + uint64(p))
			done <- struct{}{}
		}()
	}
	for range procs {
		<-done
	}
	return float64(time.Since(t0).Nanoseconds())
}
