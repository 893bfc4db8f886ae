package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// workload is one named scenario: an entry of the workloads table, which
// `mapbench list`, the flags, the runner and the reports all read.
//
// A workload over the in-process maps gives ints and strings: its case
// function is called once per implementation, variant, key type and
// goroutine count to set the case up, and returns the function that takes
// one sample. A workload that compares something else (a distributed tier,
// say) gives contenders instead, which returns the rows of one setting's
// table; it is called to plan the run as well as to run it, so it must not
// set anything up before a contender's start is called.
type workload struct {
	name        string
	description string
	param       string // what variant.param means (the chart's x axis)
	primary     string // unit of the headline figure
	higher      bool   // a larger primary figure is better
	variants    []variant
	readOnly    bool // the built-in map can run it
	concurrent  bool // runs once per goroutine count (memory runs on one goroutine)
	usesCompute bool // calls LoadOrCompute: peers' compute notes apply
	ints        caseFunc[int]
	strings     caseFunc[string]
	contenders  func(r *runner, st setting) []contender
	// sampleCost is how many -duration a sample costs in all, setup and
	// collection included, relative to the other workloads' (0 means 1):
	// the time budget is shared by it, before the run has measured it.
	sampleCost float64
	// explain returns notes on what the run measured, such as figures that
	// can only be noise; nil for none.
	explain func(rw *results.Workload) []string
}

// primaryUnit is the unit w ranks by.
func (w *workload) primaryUnit() string {
	if w.primary == "" {
		return "ns/op"
	}
	return w.primary
}

// cost is w's sampleCost, 1 when unset.
func (w *workload) cost() float64 {
	if w.sampleCost <= 0 {
		return 1
	}
	return w.sampleCost
}

// notes returns w's notes on the run's results.
func (w *workload) notes(rw *results.Workload) []string {
	if w.explain == nil {
		return nil
	}
	return w.explain(rw)
}

type variant struct {
	name  string  // benchmark name element, "miss=50%"
	param float64 // its number, 50
	a, b  float64 // workload-specific knobs
}

// caseFunc sets up one case and returns its sampler.
type caseFunc[K comparable] func(c *caseEnv[K]) func() results.Sample

// caseEnv is what a case function gets to work with.
type caseEnv[K comparable] struct {
	im         *impl
	keys       *keyspace[K]
	n          int // key-space size (-keys)
	v          variant
	goroutines int
	duration   time.Duration

	mu         sync.Mutex
	violations []string
}

// brokenGuarantees returns the violations recorded so far.
func (c *caseEnv[K]) brokenGuarantees() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// violation records a guarantee the implementation broke, once per message.
func (c *caseEnv[K]) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.violations, msg) {
		c.violations = append(c.violations, msg)
	}
}

func (c *caseEnv[K]) spec() spec {
	return spec{goroutines: c.goroutines, duration: c.duration}
}

// prefilled returns a new map of the case's implementation holding the
// first n keys.
func (c *caseEnv[K]) prefilled(n int) target[K] {
	m := newTarget[K](c.im)
	fillTarget(m, func(yield func(K, int) bool) {
		for i, k := range c.keys.present[:n] {
			if !yield(k, i) {
				return
			}
		}
	})
	return m
}

var workloads = []*workload{
	{
		name: "load",
		description: "Load on a map pre-filled with -keys keys; the missing keys were never inserted. " +
			"The built-in map is the lower bound for a lookup.",
		param: "miss %", primary: "ns/op",
		variants: []variant{{name: "miss=0%", param: 0}, {name: "miss=50%", param: 50}, {name: "miss=99%", param: 99}},
		readOnly: true, concurrent: true,
		ints: loadCase[int], strings: loadCase[string],
	},
	{
		name: "grow",
		description: "LoadOrCompute from a nearly empty map (1024 keys) until -keys calls have run; " +
			"the variant is the share of calls that miss and insert a new key, the rest hit a key already inserted.",
		param: "new keys %", primary: "ns/op",
		variants:   []variant{{name: "new=0%", param: 0}, {name: "new=50%", param: 50}, {name: "new=99%", param: 99}},
		concurrent: true, usesCompute: true,
		ints: growCase[int], strings: growCase[string],
	},
	{
		name:        "mixed",
		description: "Read-mostly mixes of Load / LoadOrStore / Delete on a fixed key space of -keys keys, half of them present at the start.",
		param:       "reads %", primary: "ns/op",
		variants: []variant{
			{name: "mix=90/9/1", param: 90, a: 9, b: 1},
			{name: "mix=99/0.9/0.1", param: 99, a: 0.9, b: 0.1},
		},
		concurrent: true,
		ints:       mixedCase[int], strings: mixedCase[string],
	},
	{
		name: "churn",
		description: "Keys keep arriving and expiring: each goroutine inserts a new key (LoadOrCompute) and deletes its oldest " +
			"for every two Loads of live keys, so -keys keys stay live while the key set turns over.",
		param: "live keys", primary: "ns/op",
		concurrent: true, usesCompute: true,
		ints: churnCase[int], strings: churnCase[string],
	},
	{
		name:        "skew",
		description: "Zipf-distributed keys (a few hot keys) on a pre-filled map: 90 % Load, 10 % Store. The variant is Zipf's s.",
		param:       "zipf s", primary: "ns/op",
		variants:   []variant{{name: "zipf=1.1", param: 1.1}, {name: "zipf=2", param: 2}},
		concurrent: true,
		ints:       skewCase[int], strings: skewCase[string],
	},
	{
		name: "slowload",
		description: "One goroutine keeps a 1 ms LoadOrCompute in flight (a new key each time) while the others Load and insert other keys " +
			"on a map pre-filled with min(-keys, 10000) keys. " +
			"isolation = the others' throughput with the slow loader ÷ without it (1.0 = untouched). " +
			"At every goroutine count it also checks that max(8, goroutines) goroutines missing one slow key at once run its value function once, " +
			"and that a value function that panics leaves no lock held.",
		param: "loader ms", primary: "isolation", higher: true,
		variants:   []variant{{name: "loader=1ms", param: 1}},
		concurrent: true, usesCompute: true,
		ints: slowloadCase[int], strings: slowloadCase[string],
		explain:    explainIsolation,
		sampleCost: 3, // two phases, two fills
	},
	{
		name: "memory",
		description: "Inserts -keys keys into an empty map on one goroutine; B/entry is the live heap the map holds afterwards, " +
			"B/op and allocs/op the garbage its growth made.",
		param: "entries", primary: "B/entry",
		readOnly: true,
		ints:     memoryCase[int], strings: memoryCase[string],
	},
}

// loadCase: Load on a pre-filled map at a miss rate.
func loadCase[K comparable](c *caseEnv[K]) func() results.Sample {
	m := c.prefilled(c.n)
	missPct := uint64(c.v.param)
	present, absent := c.keys.present[:c.n], c.keys.absent
	var sink atomic.Int64
	return func() results.Sample {
		return measure(c.spec(), func(w *worker, n int) bool {
			var hits int64
			for range n {
				r := w.next()
				var ok bool
				if r%100 < missPct {
					_, ok = m.Load(absent[w.below(len(absent))])
				} else {
					_, ok = m.Load(present[w.below(len(present))])
				}
				if ok {
					hits++
				}
			}
			sink.Add(hits)
			return true
		})
	}
}

// growWarm is how many keys grow starts with, so that its hits have
// something to hit.
const growWarm = 1024

// growCase: LoadOrCompute from (nearly) empty, a share of calls inserting.
func growCase[K comparable](c *caseEnv[K]) func() results.Sample {
	newPct := uint64(c.v.param)
	warm := min(growWarm, c.n)
	return func() results.Sample {
		m := c.prefilled(warm)
		var calls atomic.Int64
		fn := func() int { calls.Add(1); return 1 }
		// Each goroutine inserts new keys of its own, so every new key is
		// missed by exactly one goroutine, and hits the warm keys or its
		// own earlier ones.
		f := &fresh{base: warm}
		own := make([]owned, c.goroutines)
		s := measure(spec{goroutines: c.goroutines, duration: c.duration, budget: int64(c.n)}, func(w *worker, n int) bool {
			o := &own[w.id]
			for range n {
				var i int
				if w.next()%100 < newPct {
					i = f.take(c.keys, o)
				} else if i = w.below(warm + o.n); i >= warm {
					i = f.index(c.keys, o.key(i-warm))
				}
				m.LoadOrCompute(c.keys.present[i], fn)
			}
			return true
		})
		inserted := 0
		for i := range own {
			inserted += own[i].n
		}
		if got := calls.Load(); got != int64(inserted) {
			c.violation("value function ran %d times for %d new keys", got, inserted)
		}
		if got := m.Len(); got != warm+inserted {
			c.violation("Len() = %d after inserting %d keys into %d", got, inserted, warm)
		}
		return s
	}
}

// mixedCase: Load / LoadOrStore / Delete on a fixed key space.
func mixedCase[K comparable](c *caseEnv[K]) func() results.Sample {
	m := newTarget[K](c.im)
	space := c.keys.present[:c.n]
	fillTarget(m, func(yield func(K, int) bool) {
		for i := 0; i < len(space); i += 2 {
			if !yield(space[i], i) {
				return
			}
		}
	})
	// Thresholds in units of 1/10000 so that 0.1 % is exact.
	loadBelow := uint64(c.v.param * 100)
	storeBelow := loadBelow + uint64(c.v.a*100)
	return func() results.Sample {
		return measure(c.spec(), func(w *worker, n int) bool {
			for range n {
				r := w.next()
				k := space[w.below(len(space))]
				switch p := r % 10000; {
				case p < loadBelow:
					m.Load(k)
				case p < storeBelow:
					m.LoadOrStore(k, 1)
				default:
					m.Delete(k)
				}
			}
			return true
		})
	}
}

// churnCase: a sliding window of live keys per goroutine.
func churnCase[K comparable](c *caseEnv[K]) func() results.Sample {
	g := c.goroutines
	window := max(c.n/g, 1)
	return func() results.Sample {
		m := newTarget[K](c.im)
		// Goroutine id's keys with sequence numbers in [lo, hi) are live.
		type span struct {
			lo, hi int
			_      [112]byte
		}
		spans := make([]span, g)
		fillTarget(m, func(yield func(K, int) bool) {
			for id := range g {
				for s := range window {
					if !yield(c.keys.segment(id, g, s), s) {
						return
					}
				}
				spans[id].hi = window
			}
		})
		fn := func() int { return 1 }
		return measure(c.spec(), func(w *worker, n int) bool {
			sp := &spans[w.id]
			for i := range n {
				switch i & 3 {
				case 0:
					m.LoadOrCompute(c.keys.segment(w.id, g, sp.hi), fn)
					sp.hi++
				case 1:
					m.Delete(c.keys.segment(w.id, g, sp.lo))
					sp.lo++
				default:
					m.Load(c.keys.segment(w.id, g, sp.lo+w.below(sp.hi-sp.lo)))
				}
			}
			return true
		})
	}
}

// skewCase: Zipf-distributed Load / Store on a pre-filled map.
func skewCase[K comparable](c *caseEnv[K]) func() results.Sample {
	m := c.prefilled(c.n)
	// Zipf draws cost more than a map lookup, so each goroutine replays a
	// precomputed sequence of key indexes.
	const seqLen = 1 << 14
	seqs := make([][]int32, c.goroutines)
	for id := range seqs {
		z := rand.NewZipf(rand.New(rand.NewPCG(uint64(id), 7)), c.v.param, 1, uint64(c.n-1))
		seqs[id] = make([]int32, seqLen)
		for i := range seqs[id] {
			seqs[id][i] = int32(z.Uint64())
		}
	}
	present := c.keys.present
	return func() results.Sample {
		return measure(c.spec(), func(w *worker, n int) bool {
			seq := seqs[w.id]
			for range n {
				r := w.next()
				k := present[seq[r>>50&(seqLen-1)]]
				if r%10 == 0 {
					m.Store(k, int(r))
				} else {
					m.Load(k)
				}
			}
			return true
		})
	}
}

// slowLoad is how long the slow value function takes.
const slowLoad = time.Millisecond

// slowloadKeys bounds the keys slowload pre-fills: every sample fills two
// maps afresh (with and without the slow loader), and at 100 000 keys the
// fills took most of the run's time, while the isolation ratio does not
// depend on the map's size.
const slowloadKeys = 10_000

// slowloadCase: the others' throughput while one LoadOrCompute is slow.
func slowloadCase[K comparable](c *caseEnv[K]) func() results.Sample {
	c.stampede()
	c.panicSafety()
	k := min(c.n, slowloadKeys)
	// The others Load pre-filled keys and insert new keys of their own.
	others := func(m target[K]) results.Sample {
		fn := func() int { return 1 }
		f := &fresh{base: c.n}
		own := make([]owned, c.goroutines)
		// Half the operations insert: stop before the new keys run out.
		sp := spec{goroutines: c.goroutines, duration: c.duration, budget: 2 * int64(len(c.keys.present)-c.n-chunkKeys*c.goroutines)}
		return measure(sp, func(w *worker, n int) bool {
			o := &own[w.id]
			for range n {
				if w.next()&1 == 0 {
					m.Load(c.keys.present[w.below(k)])
				} else {
					m.LoadOrCompute(c.keys.present[f.take(c.keys, o)], fn)
				}
			}
			return true
		})
	}
	rep := 0
	return func() results.Sample {
		// Alternate which phase runs first, so that whatever the first
		// phase of a sample pays (a cold cache, the GC pacing of the
		// previous case) is not billed to one side of the ratio.
		rep++
		var base results.Sample
		if rep%2 == 1 {
			base = others(c.prefilled(k))
		}
		m := c.prefilled(k)
		stop := make(chan struct{})
		started := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			first := true
			slow := func() int {
				if first {
					first = false
					close(started)
				}
				time.Sleep(slowLoad)
				return 1
			}
			// The slow keys come from the absent set: no other goroutine
			// touches them.
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m.LoadOrCompute(c.keys.absent[i%len(c.keys.absent)], slow)
			}
		}()
		<-started
		s := others(m)
		close(stop)
		<-done
		if rep%2 == 0 {
			base = others(c.prefilled(k))
		}
		if base.NsPerOp > 0 && s.NsPerOp > 0 {
			s.Metrics["isolation"] = base.NsPerOp / s.NsPerOp
		}
		return s
	}
}

// stampede has max(8, goroutines) goroutines miss one key at once with a
// slow value function and records a violation if it runs more than once.
func (c *caseEnv[K]) stampede() {
	callers := max(8, c.goroutines)
	m := newTarget[K](c.im)
	var calls atomic.Int32
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(callers)
	done.Add(callers)
	for range callers {
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			m.LoadOrCompute(c.keys.absent[0], func() int {
				calls.Add(1)
				time.Sleep(slowLoad)
				return 1
			})
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	if n := calls.Load(); n != 1 {
		c.violation("value function ran %d times for 1 key missed by %d goroutines at once", n, callers)
	}
}

// panicWait is how long panicSafety waits for a LoadOrCompute that a
// correct map finishes in microseconds.
var panicWait = 500 * time.Millisecond

// panicSafety lets a value function panic, then calls LoadOrCompute on the
// same key again and records a violation if that call is still blocked
// after panicWait: the panic left a lock held. The blocked goroutine is
// left behind (nothing can unblock it). It runs in every case of the
// workload, so that the flag shows at every goroutine count.
func (c *caseEnv[K]) panicSafety() {
	m := newTarget[K](c.im)
	key := c.keys.absent[0]
	func() {
		defer func() { _ = recover() }()
		m.LoadOrCompute(key, func() int { panic("mapbench: a value function that panics") })
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.LoadOrCompute(key, func() int { return 1 })
	}()
	select {
	case <-done:
	case <-time.After(panicWait):
		c.violation("a panic in the value function left a lock held: the next LoadOrCompute of the key was still blocked after %v", panicWait)
	}
}

// explainIsolation notes the slowload rows whose isolation is above 1: the
// other goroutines cannot be helped by a loader in flight, so a figure
// above 1 is the machine's noise, and how far above 1 it goes is a measure
// of that noise.
func explainIsolation(rw *results.Workload) []string {
	var above []string
	worst, worstCase := 1.0, ""
	for i := range rw.Cases {
		c := &rw.Cases[i]
		st, ok := c.Figure("isolation")
		if !ok || st.Median <= 1 {
			continue
		}
		above = append(above, c.Impl)
		if st.Median > worst {
			worst = st.Median
			worstCase = fmt.Sprintf("%s at goroutines=%d, key=%s: %s", c.Impl, c.Goroutines, c.KeyType, format.Number(st.Median))
			if !math.IsInf(st.Lo, 0) && !math.IsInf(st.Hi, 0) {
				worstCase += ", 95 % interval " + format.Number(st.Lo) + "–" + format.Number(st.Hi)
			}
		}
	}
	if len(above) == 0 {
		return nil
	}
	slices.Sort(above)
	above = slices.Compact(above)
	return []string{fmt.Sprintf("isolation above 1 is noise: a loader in flight cannot make the other goroutines faster. "+
		"%d rows measured above 1 (%s; highest %s); read an isolation whose interval reaches 1 as untouched (1.0).",
		countAbove(rw), strings.Join(above, ", "), worstCase)}
}

func countAbove(rw *results.Workload) int {
	n := 0
	for i := range rw.Cases {
		if st, ok := rw.Cases[i].Figure("isolation"); ok && st.Median > 1 {
			n++
		}
	}
	return n
}

// memoryCase: bytes per entry after inserting n keys on one goroutine.
func memoryCase[K comparable](c *caseEnv[K]) func() results.Sample {
	return func() results.Sample {
		before := liveHeap()
		var msBefore, msAfter runtime.MemStats
		runtime.ReadMemStats(&msBefore)
		t0 := time.Now()
		m := c.prefilled(c.n)
		elapsed := time.Since(t0)
		runtime.ReadMemStats(&msAfter)
		s := sampleOf(int64(c.n), elapsed, &msBefore, &msAfter)
		after := liveHeap()
		if got := m.Len(); got != c.n {
			c.violation("Len() = %d after inserting %d keys", got, c.n)
		}
		runtime.KeepAlive(m)
		s.Metrics["B/entry"] = (float64(after) - float64(before)) / float64(c.n)
		return s
	}
}
