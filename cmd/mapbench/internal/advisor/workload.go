// Package advisor is `mapbench advise`: it turns a description of a
// workload into a recommended safemap strategy, with the reasons, the
// runner-up, what would change the answer and what to watch out for.
//
// A workload comes from flags, from a Workload JSON file, or from a
// [safemap.ProfileStats] recorded on real traffic ([FromStats]). [Decide]
// applies a small set of rules to one table of strategy facts (what each
// strategy guarantees, locks and costs, in words; strategies.go) and quotes
// no benchmark figure, since figures differ between machines and go stale
// with every performance change. [DecideMeasured] runs the workload against
// every strategy instead, and recommends from, and quotes, the numbers of
// that run. [Main] is the whole subcommand.
package advisor

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// KeySet says how the set of keys in the map behaves over time.
type KeySet int

const (
	// Static: the keys are known up front (or filled once); later
	// operations read and update them but add no new keys.
	Static KeySet = iota
	// Growing: new keys keep arriving and few are removed (a cache that
	// fills up).
	Growing
	// Churning: keys keep arriving and expiring, so the live set turns
	// over (sessions, request-scoped entries).
	Churning
)

var keySetNames = [...]string{Static: "static", Growing: "growing", Churning: "churning"}

// String returns the key set's name: "static", "growing" or "churning".
func (k KeySet) String() string {
	if k >= 0 && int(k) < len(keySetNames) {
		return keySetNames[k]
	}
	return fmt.Sprintf("KeySet(%d)", int(k))
}

// MarshalText encodes the key set as its name, so that JSON holds
// "growing" rather than a number.
func (k KeySet) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(keySetNames) {
		return nil, fmt.Errorf("advisor: invalid key set %d", int(k))
	}
	return []byte(keySetNames[k]), nil
}

// UnmarshalText decodes a key set's name, ignoring case.
func (k *KeySet) UnmarshalText(text []byte) error {
	name := strings.ToLower(strings.TrimSpace(string(text)))
	for i, n := range keySetNames {
		if name == n {
			*k = KeySet(i)
			return nil
		}
	}
	return fmt.Errorf("unknown key set %q: want static, growing or churning", string(text))
}

// Workload is a workload profile: what the advisor decides from.
type Workload struct {
	// ReadFraction is the fraction of operations that read: Load and the
	// get-or-create calls (LoadOrStore, LoadOrCompute, LoadOrTryCompute).
	// The rest write (Store, Delete, Compute, …). 0..1.
	ReadFraction float64 `json:"read_fraction"`
	// MissRate is the fraction of reads whose key is absent. 0..1. In a
	// growing or churning key set [Decide] counts every miss as a possible
	// insert (a get-or-create call inserts on a miss); that makes its
	// estimate of how often the map changes an upper bound.
	MissRate float64 `json:"miss_rate"`
	// KeySet is how the set of keys behaves over time.
	KeySet KeySet `json:"key_set"`
	// Keys is the typical number of live keys; 0 means unknown, which the
	// rules treat as large.
	Keys int `json:"keys"`
	// LoaderCost is the mean running time of the value function on a miss;
	// 0 means values are cheap or already known.
	LoaderCost time.Duration `json:"loader_cost_ns"`
	// LoaderFailRate is the fraction of value-function calls that fail
	// (return an error or panic). 0..1.
	LoaderFailRate float64 `json:"loader_fail_rate"`
	// NeedIteration is set when the program ranges over the map.
	NeedIteration bool `json:"need_iteration"`
	// NeedSnapshot is set when an iteration must see all entries at one
	// instant (a point-in-time consistent view).
	NeedSnapshot bool `json:"need_snapshot"`
	// Unbounded is set when the key set grows without bound: keys keep
	// arriving for as long as the process runs (user IDs, URLs, request
	// keys), so a map that keeps every key grows without end.
	Unbounded bool `json:"unbounded"`
	// StaleAfter is how long after it is loaded a value goes stale (the
	// source changes it, and serving the old value longer is wrong); 0
	// means values do not go stale while they are in the map.
	StaleAfter time.Duration `json:"stale_after_ns"`
	// Processes is how many processes must share the map's contents:
	// 1 (or 0) for one process.
	Processes int `json:"processes"`
	// Goroutines is how many goroutines use the map at once; 0 means
	// GOMAXPROCS.
	Goroutines int `json:"goroutines"`
	// GoroutinesFrom says where Goroutines came from when it was not given
	// but estimated (FromStats); "" when given or defaulted.
	GoroutinesFrom string `json:"goroutines_from,omitempty"`
}

// DefaultWorkload is the profile `mapbench advise` starts from before flags
// and files change it: a read-mostly map of 10 000 keys that grows through
// occasional misses, used by GOMAXPROCS goroutines in one process.
func DefaultWorkload() Workload {
	return Workload{
		ReadFraction: 0.9,
		MissRate:     0.1,
		KeySet:       Growing,
		Keys:         10_000,
		Processes:    1,
	}
}

// Validate reports every field that is out of range, in one error naming
// each field by its JSON name and its flag.
func (w Workload) Validate() error {
	var problems []string
	fraction := func(name, flag string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			problems = append(problems, fmt.Sprintf("%s (-%s) is %v: want a fraction from 0 to 1", name, flag, v))
		}
	}
	nonNegative := func(name, flag string, v int64, unit string) {
		if v < 0 {
			problems = append(problems, fmt.Sprintf("%s (-%s) is %d: want %s", name, flag, v, unit))
		}
	}
	fraction("read_fraction", "reads", w.ReadFraction)
	fraction("miss_rate", "miss", w.MissRate)
	if w.KeySet < 0 || int(w.KeySet) >= len(keySetNames) {
		problems = append(problems, fmt.Sprintf("key_set (-keyset) is %d: want static, growing or churning", int(w.KeySet)))
	}
	nonNegative("keys", "keys", int64(w.Keys), "0 (unknown) or more")
	if w.LoaderCost < 0 {
		problems = append(problems, fmt.Sprintf("loader_cost_ns (-loader-cost) is %v: want 0 or more", w.LoaderCost))
	}
	fraction("loader_fail_rate", "loader-fail", w.LoaderFailRate)
	if w.StaleAfter < 0 {
		problems = append(problems, fmt.Sprintf("stale_after_ns (-stale-after) is %v: want 0 (values do not go stale) or more", w.StaleAfter))
	}
	nonNegative("processes", "processes", int64(w.Processes), "1 or more (0 also means one process)")
	nonNegative("goroutines", "goroutines", int64(w.Goroutines), "0 (GOMAXPROCS) or more")
	if len(problems) > 0 {
		return fmt.Errorf("invalid workload: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Advice is what the advisor recommends, and why.
type Advice struct {
	// Recommended is the strategy's constructor, e.g. "safemap.New".
	Recommended string   `json:"recommended"`
	Reasons     []string `json:"reasons"`
	// RunnerUp is the second choice, and RunnerUpWhy when to prefer it.
	RunnerUp    string   `json:"runner_up"`
	RunnerUpWhy []string `json:"runner_up_why"`
	// WouldChange lists what about the workload would change the
	// recommendation, each ending in "→ <the new choice>".
	WouldChange []string `json:"would_change"`
	// Warnings are problems no strategy solves, or risks in the workload.
	Warnings []string `json:"warnings"`
	// Basis says what decided the recommendation: BasisRules,
	// BasisMeasurement (a significantly better measured winner) or BasisTie
	// (measured, tied, decided by the rules).
	Basis string `json:"basis"`
	// Workload is the profile the advice was decided from, after defaults,
	// files and flags were applied.
	Workload Workload `json:"workload"`
	// Measured holds the measurement when the advice was decided from one.
	Measured *results.Workload `json:"measured,omitempty"`
}
