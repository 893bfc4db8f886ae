package bench_test

import (
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoreToCoreLatency is a measurement, not a check: it runs only when
// SAFEMAP_CORE_LATENCY is set. Two goroutines, each locked to its own
// thread, pass a counter back and forth through one atomic word, so every
// step moves that word's cache line from one core to the other; it prints
// the time of one move (5 runs of 1M moves). On this project's 2-vCPU
// host it tells whether the two cores share a cache (tens of ns) or not
// (hundreds), which decides what a write that another core reads costs;
// BENCHMARKS.md quotes it beside the mixed row. Run it with
//
//	SAFEMAP_CORE_LATENCY=1 GOMAXPROCS=2 go test -run TestCoreToCoreLatency -v ./bench
func TestCoreToCoreLatency(t *testing.T) {
	if os.Getenv("SAFEMAP_CORE_LATENCY") == "" {
		t.Skip("a measurement: set SAFEMAP_CORE_LATENCY=1 to run it")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS ≥ 2")
	}
	const moves = 1_000_000
	for range 5 {
		var word atomic.Int64
		done := make(chan struct{})
		// pass waits for the word to reach each value of its parity and
		// answers with the next one.
		pass := func(first int64) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := first; i < moves; i += 2 {
				for word.Load() != i {
				}
				word.Store(i + 1)
			}
		}
		start := time.Now()
		go func() {
			defer close(done)
			pass(1)
		}()
		pass(0)
		<-done
		t.Logf("one move of a cache line between the two threads: %.0f ns", float64(time.Since(start).Nanoseconds())/moves)
	}
}
