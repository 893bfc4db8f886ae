package advisor

import (
	"math"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
)

// writeMethods are the ConcurrentMap methods that write without reading
// (ProfileStats.Calls keys). Reads are counted by ProfileStats.Reads.
var writeMethods = []string{
	"Store", "Swap", "CompareAndSwap", "CompareAndDelete",
	"LoadAndDelete", "Delete", "Compute", "Clear",
}

// FromStats derives a workload from a profile recorded by safemap.Profile.
// A profile cannot tell whether iterations need a point-in-time view or how
// many processes share the data, so those fields get their defaults
// (NeedSnapshot false, Processes 1): set them with flags. It does not count
// goroutines either; Goroutines is estimated from the time value functions
// ran, when that says more than one. The derivations:
//
//   - Operations are Reads plus the writes. The writes are the calls of
//     the write-only methods in Calls (Store, Swap, CompareAndSwap,
//     CompareAndDelete, LoadAndDelete, Delete, Compute, Clear), but at
//     least updates + deletes + clears + (inserts − misses): every update,
//     delete and clear came from a write call, and so did every insert
//     beyond what read misses (get-or-create calls) can account for. That
//     lower bound stands in when Calls is missing.
//   - ReadFraction = reads ÷ operations (1 when nothing was recorded).
//   - MissRate = misses ÷ reads (0 when nothing was read).
//   - KeySet: Static if no key was inserted while recording; Churning if
//     at least half as many keys were removed as inserted (deletes × 2 ≥
//     inserts: a judgement), or the map was refilled after a Clear
//     (clears > 0 and inserts > max_len); Growing otherwise.
//   - Keys = max_len, the largest live size seen (len if max_len is 0):
//     the size a strategy must cope with, not the size at the end.
//   - LoaderCost = compute_ns ÷ computes (0 when nothing was computed).
//   - LoaderFailRate = (compute_errors + compute_panics) ÷ computes.
//   - NeedIteration = ranges > 0.
//   - Goroutines = compute_ns ÷ duration_ns rounded up, the mean number of
//     value functions running at once (Little's law), which only goroutines
//     running at once can reach: a lower bound on the workload's
//     concurrency, close to it when the workload mostly waits for its
//     value functions. At least 2 if any call waited for another's
//     computation (waiters > 0). When neither says more than one goroutine,
//     Goroutines is 0 (GOMAXPROCS) and GoroutinesFrom is empty.
func FromStats(s safemap.ProfileStats) Workload {
	w := Workload{Processes: 1}
	ops := s.Reads + writesOf(s)
	w.ReadFraction = 1
	if ops > 0 {
		w.ReadFraction = float64(s.Reads) / float64(ops)
	}
	if s.Reads > 0 {
		w.MissRate = float64(s.Misses) / float64(s.Reads)
	}
	switch {
	case s.Inserts == 0:
		w.KeySet = Static
	case s.Deletes > 0 && 2*s.Deletes >= s.Inserts, s.Clears > 0 && s.Inserts > int64(s.MaxLen):
		w.KeySet = Churning
	default:
		w.KeySet = Growing
	}
	w.Keys = s.MaxLen
	if w.Keys == 0 {
		w.Keys = s.Len
	}
	if s.Computes > 0 {
		w.LoaderCost = s.ComputeTime / time.Duration(s.Computes)
		w.LoaderFailRate = min(float64(s.ComputeErrors+s.ComputePanics)/float64(s.Computes), 1)
	}
	w.NeedIteration = s.Ranges > 0
	if g, from := concurrencyOf(s); g > 1 {
		w.Goroutines, w.GoroutinesFrom = g, from
	}
	return w
}

// concurrencyOf estimates how many goroutines used the profiled map at
// once; see FromStats.
func concurrencyOf(s safemap.ProfileStats) (int, string) {
	g, from := 0, ""
	if s.Duration > 0 && s.ComputeTime > 0 {
		inFlight := float64(s.ComputeTime) / float64(s.Duration)
		g = int(math.Ceil(inFlight - 1e-9))
		from = "estimated from the profile: value functions ran " + format.Number(inFlight) + " at a time on average"
	}
	if s.Waiters > 0 && g < 2 {
		g, from = 2, "estimated from the profile: calls waited for another goroutine's value function"
	}
	return g, from
}

// writesOf counts the write-only operations of a profile; see FromStats.
func writesOf(s safemap.ProfileStats) int64 {
	var calls int64
	for _, m := range writeMethods {
		calls += s.Calls[m]
	}
	lower := s.Updates + s.Deletes + s.Clears + max(s.Inserts-s.Misses, 0)
	return max(calls, lower)
}

// recordedOps is how many operations a profile saw.
func recordedOps(s safemap.ProfileStats) int64 {
	return s.Reads + writesOf(s)
}
