package main

import "testing"

// hitAllocs stores the keys through get, then returns the allocations and
// newSession calls of one lookup of a stored key.
func hitAllocs(get func(key int) *session) (allocs, buildsPerHit float64) {
	for key := range keys {
		get(key)
	}
	const runs = 1000
	builds0 := builds
	allocs = testing.AllocsPerRun(runs, func() { get(7) })
	return allocs, float64(builds-builds0) / (runs + 1) // AllocsPerRun adds a warm-up run
}

func TestBroken_LoadOrStoreBuildsAndAllocatesOnEveryHit(t *testing.T) {
	for _, l := range brokenLookups() {
		allocs, perHit := hitAllocs(l.get)
		// newSession allocates the session and its buffer.
		if allocs < 2 {
			t.Errorf("%s: got %v allocs per hit; want at least 2", l.code, allocs)
		}
		if perHit != 1 {
			t.Errorf("%s: got %v newSession calls per hit; want 1", l.code, perHit)
		}
	}
}

func TestFixed_LoadOrComputeAllocatesNothingOnHits(t *testing.T) {
	for _, l := range fixedLookups() {
		allocs, perHit := hitAllocs(l.get)
		if allocs != 0 {
			t.Errorf("%s: got %v allocs per hit; want 0", l.code, allocs)
		}
		if perHit != 0 {
			t.Errorf("%s: got %v newSession calls per hit; want 0", l.code, perHit)
		}
	}
}

// TestMeasureHits checks the program's own measurement, which reads
// runtime.MemStats, against the same expectations.
func TestMeasureHits(t *testing.T) {
	const n = 10_000
	for _, l := range brokenLookups() {
		if c := measureHits(l.get, n); c.allocs < 2 || c.bytes < 4<<10 || c.builds != 1 {
			t.Errorf("%s: got %+v; want >= 2 allocs, >= 4096 B and 1 newSession call per hit", l.code, c)
		}
	}
	for _, l := range fixedLookups() {
		// Nothing else runs, but the runtime may allocate now and then.
		if c := measureHits(l.get, n); c.allocs > 0.01 || c.builds != 0 {
			t.Errorf("%s: got %+v; want 0 allocs and 0 newSession calls per hit", l.code, c)
		}
	}
}
