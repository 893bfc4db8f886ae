package main

import (
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// runner runs the selected workloads against the selected implementations.
type runner struct {
	keys       int
	goroutines []int
	duration   time.Duration
	reps       int
	keyTypes   []string
	workloads  []*workload
	impls      []*impl

	progress   io.Writer // where the progress bar draws; nil for none
	cpuProfile string    // -cpuprofile: where to write a CPU profile, if anywhere
	stampede   bool      // run the stampede workload (stampede.go)
	redisAddr  string    // -redis: its server, or "" to start one

	intKeys    *keyspace[int]
	stringKeys *keyspace[string]

	checks checks // once-per-run checks, such as panic safety

	bar     *mpb.Bar
	current atomic.Pointer[string] // the case running, for the progress bar
}

// run measures everything and returns the results.
func (r *runner) run() *results.Run {
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
			KeyTypes:   r.keyTypes,
		},
	}
	for _, w := range r.workloads {
		out.Config.Workloads = append(out.Config.Workloads, w.name)
	}
	for _, im := range r.impls {
		out.Config.Impls = append(out.Config.Impls, im.name)
	}

	var p *mpb.Progress
	if r.progress != nil {
		// mpb refreshes by itself only when it finds stdout is a terminal;
		// stdout may be a file (mapbench > results.txt) while stderr, where
		// the bar goes, is one. Whether to draw was decided already.
		p = mpb.New(mpb.WithOutput(r.progress), mpb.WithWidth(32),
			mpb.WithRefreshRate(250*time.Millisecond), mpb.WithAutoRefresh())
		r.bar = p.AddBar(int64(r.samples()),
			mpb.PrependDecorators(
				decor.Name("mapbench "),
				decor.CountersNoUnit("%d/%d samples", decor.WCSyncWidth),
			),
			mpb.AppendDecorators(
				decor.Percentage(decor.WCSyncSpace),
				decor.Name(" ETA "),
				decor.AverageETA(decor.ET_STYLE_MMSS),
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
	for _, w := range r.workloads {
		out.Workloads = append(out.Workloads, r.runWorkload(w))
	}
	out.Elapsed = time.Since(t0)
	if p != nil {
		r.bar.SetTotal(-1, true) // complete even if a count was off
		p.Wait()
	}
	return out
}

// groupsOf returns the goroutine counts and variants w runs with.
func (r *runner) groupsOf(w *workload) (goroutines []int, variants []variant) {
	goroutines = r.goroutines
	if !w.concurrent {
		goroutines = []int{1}
	}
	variants = w.variants
	if len(variants) == 0 {
		variants = []variant{{name: fmt.Sprintf("keys=%d", r.keys), param: float64(r.keys)}}
	}
	return goroutines, variants
}

// samples counts the samples the run will take, for the progress bar.
func (r *runner) samples() int {
	n := 0
	for _, w := range r.workloads {
		gs, vs := r.groupsOf(w)
		for _, im := range r.impls {
			if im.readOnly && !w.readOnly {
				continue
			}
			n += len(r.keyTypes) * len(gs) * len(vs) * r.reps
		}
	}
	return n
}

func (r *runner) runWorkload(w *workload) results.Workload {
	rw := results.Workload{
		Name:           w.name,
		Description:    w.description,
		Param:          w.param,
		Primary:        w.primary,
		HigherIsBetter: w.higher,
	}
	gs, vs := r.groupsOf(w)
	for _, kt := range r.keyTypes {
		for _, g := range gs {
			for _, v := range vs {
				var cases []results.Case
				switch kt {
				case "int":
					if r.intKeys == nil {
						r.intKeys = newKeyspace[int](r.keys)
					}
					cases = runGroup(r, r.intKeys, w, w.ints, kt, v, g)
				case "string":
					if r.stringKeys == nil {
						r.stringKeys = newKeyspace[string](r.keys)
					}
					cases = runGroup(r, r.stringKeys, w, w.strings, kt, v, g)
				}
				rw.Cases = append(rw.Cases, cases...)
			}
		}
	}
	if w.usesCompute {
		for _, im := range r.impls {
			if im.computeNote != "" && !im.readOnly {
				rw.Notes = append(rw.Notes, im.name+": "+im.computeNote+".")
			}
		}
	}
	return rw
}

// runGroup measures every implementation on one variant of w. Repetitions
// are interleaved (rep 1 of every implementation, then rep 2, …) so that a
// noisy neighbour slows all of them alike rather than one of them.
func runGroup[K comparable](r *runner, ks *keyspace[K], w *workload, setup caseFunc[K], kt string, v variant, g int) []results.Case {
	cases := make([]results.Case, len(r.impls))
	envs := make([]*caseEnv[K], len(r.impls))
	samplers := make([]func() results.Sample, len(r.impls))
	for i, im := range r.impls {
		cases[i] = results.Case{Impl: im.name, Variant: v.name, Param: v.param, KeyType: kt, Goroutines: g}
		if im.readOnly && !w.readOnly {
			cases[i].Unsupported = "a built-in map is not safe for concurrent writes"
		}
	}
	for rep := range r.reps {
		for i, im := range r.impls {
			if cases[i].Unsupported != "" {
				continue
			}
			label := fmt.Sprintf("%s %s key=%s g=%d %s (%d/%d)", w.name, v.name, kt, g, im.name, rep+1, r.reps)
			r.current.Store(&label)
			if samplers[i] == nil {
				envs[i] = &caseEnv[K]{im: im, keys: ks, n: r.keys, v: v, goroutines: g, duration: r.duration, checks: &r.checks}
				samplers[i] = setup(envs[i])
			}
			cases[i].Samples = append(cases[i].Samples, samplers[i]())
			if r.bar != nil {
				r.bar.Increment()
			}
		}
	}
	for i, env := range envs {
		if env != nil {
			cases[i].Violations = env.violations
		}
	}
	return cases
}
