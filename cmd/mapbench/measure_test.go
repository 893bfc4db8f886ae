package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// A sample whose deadline passes before its goroutines are first scheduled
// (a busy machine, the race detector) must still measure something: a
// sample with no operations has no ns/op, and bench.txt then carried a
// result benchstat cannot read (TestMapbench_EndToEndWritesEveryReport
// failed so once on Mixed/…/goroutines=3). Here the deadline passes the
// moment the workers are released, before any of them is scheduled.
func TestMeasure_EveryGoroutineRunsABatchBeforeTheDeadline(t *testing.T) {
	saved := afterFunc
	t.Cleanup(func() { afterFunc = saved })
	afterFunc = func(_ time.Duration, f func()) func() {
		f()
		return func() {}
	}
	const goroutines = 4
	for range 3 {
		var calls [goroutines]atomic.Int64
		s := measure(spec{goroutines: goroutines, duration: time.Nanosecond}, func(w *worker, n int) bool {
			calls[w.id].Add(1)
			return true
		})
		for id := range calls {
			if calls[id].Load() == 0 {
				t.Fatalf("goroutine %d ran no batch before the deadline; want at least one", id)
			}
		}
		if s.Ops < goroutines*batch || s.NsPerOp <= 0 {
			t.Fatalf("sample = %d ops at %v ns/op; want at least %d ops and a positive ns/op", s.Ops, s.NsPerOp, goroutines*batch)
		}
	}
}

// A budget smaller than one batch still runs one batch, and a budget stops
// the sample within a batch of it.
func TestMeasure_BudgetRunsAtLeastOneBatchAndStopsNearIt(t *testing.T) {
	for _, budget := range []int64{1, batch, 10 * batch, 10*batch + 1} {
		s := measure(spec{goroutines: 3, duration: time.Hour, budget: budget}, func(*worker, int) bool { return true })
		if s.Ops < min(budget, batch) || s.Ops >= budget+batch {
			t.Errorf("budget %d: %d ops; want at least %d and under %d", budget, s.Ops, min(budget, batch), budget+batch)
		}
	}
}
