package cache

import (
	"sync/atomic"
	"unsafe"
)

// Stats is a snapshot of a cache's counters, from [Cache.Stats]. Counters
// count since New; each is read atomically, but the snapshot as a whole is
// not, so it may be off by the operations in flight while it is taken.
type Stats struct {
	// Hits and Misses count lookups by Load, LoadOrCompute,
	// LoadOrTryCompute and LoadOrTryComputeAll (per key): a hit returned a
	// present value (including one it waited for while another goroutine
	// loaded it), a miss found the key absent or expired.
	Hits, Misses uint64
	// Loads counts the loader calls that LoadOrCompute, LoadOrTryCompute
	// and LoadOrTryComputeAll made (a batch call counts once per key);
	// LoadErrors those that failed.
	Loads, LoadErrors uint64
	// Evictions counts entries the policy evicted by size; Expirations
	// entries removed because their time to live ran out.
	Evictions   uint64
	Expirations uint64
	// Refreshes counts background reloads that succeeded; RefreshFailures
	// those that returned an error or panicked.
	Refreshes, RefreshFailures uint64
	// Entries is Len() when the snapshot was taken.
	Entries int
	// Weight is the total weight of the entries when MaxWeight is set, else 0.
	Weight uint64
}

// HitRatio returns Hits/(Hits+Misses), or 0 when both are 0.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// cacheLine is the assumed size of a cache line: each stripe of the hit
// counters fills one, so that goroutines on different cores counting hits
// never write the same line.
const cacheLine = 64

const statStripes = 16

type statStripe struct {
	hits, misses atomic.Uint64
	_            [cacheLine - 16]byte
}

// counters are a cache's statistics. Hits and misses, counted on every
// lookup, are striped by goroutine; the rest are counted on slow paths.
type counters struct {
	stripes                                                               [statStripes]statStripe
	loads, loadErrors, evictions, expirations, refreshes, refreshFailures atomic.Uint64
	weight                                                                atomic.Uint64
}

// stripe returns the calling goroutine's stripe. Goroutines' stacks are
// distinct blocks of at least 8 KiB (and usually stay within one), so the
// address of a local variable, shifted past that, tells goroutines apart
// for the price of a few arithmetic instructions: no goroutine ID, no
// random number. Two goroutines that share a stripe only share a line.
func (s *counters) stripe() *statStripe {
	var local byte
	p := uintptr(unsafe.Pointer(&local)) >> 13
	return &s.stripes[(p^p>>4)&(statStripes-1)]
}

func (s *counters) hit()  { s.stripe().hits.Add(1) }
func (s *counters) miss() { s.stripe().misses.Add(1) }

func (s *counters) hitsAndMisses() (hits, misses uint64) {
	for i := range s.stripes {
		hits += s.stripes[i].hits.Load()
		misses += s.stripes[i].misses.Load()
	}
	return hits, misses
}
