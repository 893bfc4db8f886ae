//go:build race

package bench_test

// raceEnabled reports whether the race detector is on: the hit-ratio replays, which are
// deterministic single-goroutine measurements, shrink under it.
const raceEnabled = true
