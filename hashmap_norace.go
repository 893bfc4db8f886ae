//go:build !race

package safemap

// raceEnabled selects the race-build read path of Map; see race.go.
const raceEnabled = false
