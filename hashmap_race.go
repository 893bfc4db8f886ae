//go:build race

package safemap

// raceEnabled selects the race-build read path of Map: the race detector
// cannot reason about optimistic (seqlock) reads, so under -race readers
// briefly own a chain's modification bit instead; see hashmap_seqlock.go.
const raceEnabled = true
