package safemap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// ProfileStatsVersion is the version of the JSON layout written by
// [ProfileStats.WriteJSON]. ReadProfileStats rejects other versions.
const ProfileStatsVersion = 1

// ProfileStats is what a [Profile] counted: a summary of a real workload,
// which `mapbench advise --from FILE` turns into a recommendation. Counts
// are totals since the Profile was created or last reset; a snapshot taken
// while operations run may count an operation in one field and not yet in
// another.
type ProfileStats struct {
	Version  int           `json:"version"`
	Duration time.Duration `json:"duration_ns"` // time the counts cover

	// Reads are the calls that look a key up: Load, LoadOrStore,
	// LoadOrCompute and LoadOrTryCompute. Hits found the key present;
	// Misses did not (for the get-or-create calls, a miss is what makes
	// them store or compute). Hits + Misses == Reads.
	Reads  int64 `json:"reads"`
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`

	// Inserts are writes that added a key (Store, Swap, LoadOrStore,
	// LoadOrCompute, LoadOrTryCompute, Compute), Updates writes that
	// replaced the value of a present key, Deletes writes that removed one
	// (Delete, LoadAndDelete, CompareAndDelete, Compute). Clears counts
	// Clear calls, whose removals are not in Deletes.
	Inserts int64 `json:"inserts"`
	Updates int64 `json:"updates"`
	Deletes int64 `json:"deletes"`
	Clears  int64 `json:"clears"`

	// Computes counts value-function calls made by LoadOrCompute and
	// LoadOrTryCompute; ComputeErrors and ComputePanics those that returned
	// an error or panicked; ComputeTime their total running time. Waiters
	// counts the calls that missed the key and returned a value another
	// call computed (or stored) meanwhile, or the error of another call's
	// LoadOrTryCompute function, without running their own.
	Computes      int64         `json:"computes"`
	ComputeErrors int64         `json:"compute_errors"`
	ComputePanics int64         `json:"compute_panics"`
	ComputeTime   time.Duration `json:"compute_ns"`
	Waiters       int64         `json:"waiters"`

	// Ranges counts Range and All iterations started.
	Ranges int64 `json:"ranges"`

	// Len is the map's length when the stats were taken, and MaxLen the
	// largest length the Profile has seen (sampled on inserts, so it can
	// trail a racing insert).
	Len    int `json:"len"`
	MaxLen int `json:"max_len"`

	// Calls counts calls per method name ("Load", "LoadOrCompute", …).
	Calls map[string]int64 `json:"calls"`
}

// WriteJSON writes the stats as one indented JSON document.
func (s ProfileStats) WriteJSON(w io.Writer) error {
	if s.Version == 0 {
		s.Version = ProfileStatsVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// ReadProfileStats reads stats written by [ProfileStats.WriteJSON]. It
// rejects unknown fields, a version other than [ProfileStatsVersion] and
// counts that contradict each other, so that a hand-edited file gets a
// clear error rather than a wrong recommendation.
func ReadProfileStats(r io.Reader) (ProfileStats, error) {
	var s ProfileStats
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return ProfileStats{}, fmt.Errorf("safemap: reading profile: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ProfileStats{}, errors.New("safemap: reading profile: data after the profile")
	}
	if s.Version != ProfileStatsVersion {
		return ProfileStats{}, fmt.Errorf("safemap: profile version %d, want %d", s.Version, ProfileStatsVersion)
	}
	if err := s.check(); err != nil {
		return ProfileStats{}, fmt.Errorf("safemap: profile: %w", err)
	}
	return s, nil
}

func (s ProfileStats) check() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"duration_ns", int64(s.Duration)}, {"reads", s.Reads}, {"hits", s.Hits},
		{"misses", s.Misses}, {"inserts", s.Inserts}, {"updates", s.Updates},
		{"deletes", s.Deletes}, {"clears", s.Clears}, {"computes", s.Computes},
		{"compute_errors", s.ComputeErrors}, {"compute_panics", s.ComputePanics},
		{"compute_ns", int64(s.ComputeTime)}, {"waiters", s.Waiters},
		{"ranges", s.Ranges}, {"len", int64(s.Len)}, {"max_len", int64(s.MaxLen)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s is negative (%d)", f.name, f.v)
		}
	}
	for _, method := range slices.Sorted(maps.Keys(s.Calls)) {
		if n := s.Calls[method]; n < 0 {
			return fmt.Errorf("calls of %s is negative (%d)", method, n)
		}
	}
	// The counts are not negative, so neither subtraction can overflow
	// where the sums could.
	if s.Hits != s.Reads-s.Misses {
		return fmt.Errorf("hits (%d) + misses (%d) != reads (%d)", s.Hits, s.Misses, s.Reads)
	}
	if s.ComputeErrors > s.Computes-s.ComputePanics {
		return fmt.Errorf("compute_errors (%d) + compute_panics (%d) exceed computes (%d)", s.ComputeErrors, s.ComputePanics, s.Computes)
	}
	return nil
}
