package bench_test

import "math/rand/v2"

// goroutineRand is the random generator of one of b.RunParallel's
// goroutines, alone on its cache lines (newGoroutineRand).
type goroutineRand struct {
	_   [64]byte // nothing else within a cache line of src and r
	src rand.PCG
	r   rand.Rand
	_   [64]byte
}

// newGoroutineRand returns a generator for one benchmark goroutine, seeded
// as rand.New(rand.NewPCG(seed1, seed2)) is (it draws the same numbers),
// but padded so that no other goroutine's data shares its cache lines.
//
// Each goroutine draws from its generator on every call and so writes its
// state. Two 16-byte generators that goroutines allocated on the same
// processor (which happens when both start there) sit side by side on one
// line, which then moves between the two cores on every call: in
// BenchmarkMixed that made one implementation, Map or xsync, whichever
// drew the short straw, run far slower for a whole run, in many of the
// processes (BENCHMARKS.md, "The mixed row's two levels were the
// benchmark's").
func newGoroutineRand(seed1, seed2 uint64) *rand.Rand {
	l := new(goroutineRand)
	l.src.Seed(seed1, seed2)
	l.r = *rand.New(&l.src)
	return &l.r
}
