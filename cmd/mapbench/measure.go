package main

import (
	"math/bits"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// batch is how many operations a worker runs between looks at the clock
// and the op budget: large enough that the checks cost nothing measurable,
// small enough that a run stops within microseconds of its deadline.
const batch = 64

// worker is one goroutine's view of a measurement.
type worker struct {
	id  int    // 0 … goroutines-1
	rng uint64 // xorshift state, private to the goroutine
}

// next returns a pseudo-random number. xorshift64* costs a few
// instructions and no shared state, so it is the same small, constant cost
// for every implementation measured.
func (w *worker) next() uint64 {
	w.rng ^= w.rng >> 12
	w.rng ^= w.rng << 25
	w.rng ^= w.rng >> 27
	return w.rng * 2685821657736338717
}

// below returns a pseudo-random number in [0, n).
func (w *worker) below(n int) int {
	hi, _ := bits.Mul64(w.next(), uint64(n))
	return int(hi)
}

// spec says how to run one sample.
type spec struct {
	goroutines int
	duration   time.Duration // stop after this long …
	budget     int64         // … or after this many operations in all (0: no budget)
}

// op runs n operations for worker w and reports false to stop early (for
// instance when a churn window is exhausted).
type op func(w *worker, n int) bool

// clockEvery is how many batches a worker runs between looks at the clock:
// with 64 operations a batch, a clock read costs well under 0.1 ns per
// operation, and a sample overshoots its deadline by at most 16 batches of
// one goroutine (microseconds, unless the operations themselves are slow).
const clockEvery = 16

// afterFunc calls f in its own goroutine after d and returns a function
// that cancels the call: time.AfterFunc, replaced by tests that need the
// deadline to pass before any worker is scheduled.
var afterFunc = func(d time.Duration, f func()) (cancel func()) {
	t := time.AfterFunc(d, f)
	return func() { t.Stop() }
}

// measure runs ops on s.goroutines goroutines until the deadline or the
// budget, and returns the sample: wall time per operation over all
// goroutines (so ops/s is total throughput), allocations from the runtime's
// counters. The caller's setup must be done before measure; the heap is
// collected first if it holds garbage (settleHeap), so that one case's
// garbage is not billed to the next.
func measure(s spec, run op) results.Sample {
	settleHeap()
	var (
		stop    atomic.Bool
		claimed atomic.Int64
		total   atomic.Int64
		start   sync.WaitGroup
		done    sync.WaitGroup
		gate    = make(chan struct{})
	)
	start.Add(s.goroutines)
	done.Add(s.goroutines)
	var t0 time.Time // set before the gate opens, read after
	for g := range s.goroutines {
		go func() {
			defer done.Done()
			w := &worker{id: g, rng: uint64(g)*0x9E3779B97F4A7C15 + 1}
			var n int64
			start.Done()
			<-gate
			deadline := t0.Add(s.duration)
			// Every goroutine runs its first batch before it looks at the
			// clock: on a busy machine a goroutine may first be scheduled
			// after the deadline, and a sample must not end with no
			// operations (it would have no ns/op). A batch is claimed while
			// the claims so far are under the budget, so a budget smaller
			// than a batch still runs one.
			for b := 1; ; b++ {
				if s.budget > 0 && claimed.Add(batch)-batch >= s.budget {
					break
				}
				more := run(w, batch)
				n += batch
				// The workers read the clock themselves every clockEvery
				// batches: the timer's goroutine alone may wait for a
				// preemption (10 ms) when the workers fill every P.
				if b%clockEvery == 0 && !time.Now().Before(deadline) {
					stop.Store(true)
				}
				if !more || stop.Load() {
					break
				}
			}
			total.Add(n)
		}()
	}
	start.Wait()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 = time.Now()
	close(gate)
	cancel := afterFunc(s.duration, func() { stop.Store(true) })
	done.Wait()
	elapsed := time.Since(t0)
	cancel()
	runtime.ReadMemStats(&after)
	return sampleOf(total.Load(), elapsed, &before, &after)
}

// sampleOf turns an operation count, a wall time and the memory statistics
// around it into a Sample.
func sampleOf(ops int64, elapsed time.Duration, before, after *runtime.MemStats) results.Sample {
	s := results.Sample{Ops: ops, Metrics: map[string]float64{}}
	if ops <= 0 {
		return s
	}
	n := float64(ops)
	s.NsPerOp = float64(elapsed.Nanoseconds()) / n
	s.AllocsPerOp = float64(after.Mallocs-before.Mallocs) / n
	s.BytesPerOp = float64(after.TotalAlloc-before.TotalAlloc) / n
	s.Metrics["GCs/Mop"] = float64(after.NumGC-before.NumGC) * 1e6 / n
	return s
}

// garbageLimit is how much garbage settleHeap leaves for the next sample:
// less than a GC cycle's worth at any heap size mapbench runs.
const garbageLimit = 1 << 20

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"}, // live objects and garbage not yet swept
	{Name: "/gc/heap/live:bytes"},                // live after the last GC
}

// settleHeap runs a garbage collection if the heap holds more than
// garbageLimit bytes of garbage since the last one. A forced collection
// with a 100 000-key map of every implementation live costs milliseconds,
// more than a sample of a workload that allocates nothing, and it would
// be paid before every sample.
func settleHeap() {
	metrics.Read(heapSamples)
	objects, live := heapSamples[0].Value, heapSamples[1].Value
	if objects.Kind() != metrics.KindUint64 || live.Kind() != metrics.KindUint64 ||
		objects.Uint64() > live.Uint64()+garbageLimit {
		runtime.GC()
	}
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what finalizers or sweeping left over
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
