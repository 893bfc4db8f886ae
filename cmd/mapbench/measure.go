package main

import (
	"math/bits"
	"runtime"
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

// measure runs ops on s.goroutines goroutines until the deadline or the
// budget, and returns the sample: wall time per operation over all
// goroutines (so ops/s is total throughput), allocations from the runtime's
// counters. The caller's setup must be done before measure; a GC runs first
// so that one case's garbage is not billed to the next.
func measure(s spec, run op) results.Sample {
	runtime.GC()
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
	for g := range s.goroutines {
		go func() {
			defer done.Done()
			w := &worker{id: g, rng: uint64(g)*0x9E3779B97F4A7C15 + 1}
			var n int64
			start.Done()
			<-gate
			for !stop.Load() {
				if s.budget > 0 && claimed.Add(batch) > s.budget {
					break
				}
				if !run(w, batch) {
					n += batch
					break
				}
				n += batch
			}
			total.Add(n)
		}()
	}
	start.Wait()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	close(gate)
	timer := time.AfterFunc(s.duration, func() { stop.Store(true) })
	done.Wait()
	elapsed := time.Since(t0)
	timer.Stop()
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

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what finalizers or sweeping left over
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
