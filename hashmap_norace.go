//go:build !race

package safemap

// raceEnabled selects the race-build read path of Map; see hashmap_race.go.
const raceEnabled = false
