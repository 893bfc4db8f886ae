package advisor

import (
	"math"
	"strings"
	"testing"
	"time"
)

// base is a mid-sized read-mostly workload with an explicit goroutine
// count, so that no case depends on the machine's GOMAXPROCS.
func base() Workload {
	w := DefaultWorkload()
	w.Goroutines = 8
	return w
}

func with(f func(w *Workload)) Workload {
	w := base()
	f(&w)
	return w
}

// adviceText is everything Decide says, for phrase checks.
func adviceText(a Advice) string {
	var parts []string
	for _, l := range [][]string{a.Reasons, a.RunnerUpWhy, a.WouldChange, a.Warnings} {
		parts = append(parts, l...)
	}
	return strings.Join(parts, "\n")
}

// wantPhrases fails t for every phrase that text lacks.
func wantPhrases(t *testing.T, text string, phrases ...string) {
	t.Helper()
	for _, p := range phrases {
		if !strings.Contains(text, p) {
			t.Errorf("lacks %q; it says:\n%s", p, text)
		}
	}
}

// unwantedPhrases fails t for every phrase that text holds.
func unwantedPhrases(t *testing.T, text string, phrases ...string) {
	t.Helper()
	for _, p := range phrases {
		if strings.Contains(text, p) {
			t.Errorf("says %q; it should not:\n%s", p, text)
		}
	}
}

func TestDecide_Rules(t *testing.T) {
	tests := []struct {
		name          string
		w             Workload
		rec, runnerUp string
		want          []string // phrases that must appear
		absent        []string // phrases that must not
	}{
		{
			name: "snapshot needed, rare writes, small map: copy-on-write",
			w: with(func(w *Workload) {
				w.NeedSnapshot, w.NeedIteration = true, true
				w.ReadFraction, w.KeySet, w.Keys = 0.999, Static, 5000
			}),
			rec: stratSnapshot, runnerUp: stratRW,
			want: []string{
				"iterate one immutable point-in-time snapshot",
				"if a quarter or more of operations changed the map → safemap.NewRWMap",
				"if the map grew past ~100000 keys → safemap.NewRWMap",
				"if you no longer needed a point-in-time snapshot → safemap.New",
			},
			absent: []string{"You iterate over the map", "at most 1 in 100 operations"},
		},
		{
			name: "snapshot needed, frequent writes: RWMap copies per Range",
			w: with(func(w *Workload) {
				w.NeedSnapshot = true
				w.ReadFraction, w.Keys = 0.7, 5000
			}),
			rec: stratRW, runnerUp: stratSnapshot,
			want: []string{
				"more than ~1 %",
				"No strategy gives cheap point-in-time snapshots",
				"if at most 1 in 100 operations changed the map → safemap.NewSnapshotMap",
			},
			absent: []string{"more than ~100k"},
		},
		{
			name: "snapshot needed, rare writes, large map",
			w: with(func(w *Workload) {
				w.NeedSnapshot = true
				w.ReadFraction, w.KeySet, w.Keys = 1, Static, 2_000_000
			}),
			rec: stratRW, runnerUp: stratSnapshot,
			want: []string{
				"it holds ~2000000 keys (more than ~100k",
				"if at most 1 in 100 operations changed the map, on at most ~100000 keys → safemap.NewSnapshotMap",
			},
			absent: []string{"more than ~1 %"},
		},
		{
			name: "snapshot needed, frequent writes, unknown size",
			w: with(func(w *Workload) {
				w.NeedSnapshot = true
				w.ReadFraction, w.Keys = 0.5, 0
			}),
			rec: stratRW, runnerUp: stratSnapshot,
			want: []string{"more than ~1 %, a judgement) and the key count is unknown", "The key count is unknown (keys = 0)"},
		},
		{
			name: "read-only static map, hits: copy-on-write, size irrelevant",
			w: with(func(w *Workload) {
				w.ReadFraction, w.MissRate, w.KeySet, w.Keys = 1, 0, Static, 1_000_000
				w.NeedIteration = true
			}),
			rec: stratSnapshot, runnerUp: stratNew,
			want: []string{
				"never changed once it is filled",
				"StoreAll",
				"iterate one immutable point-in-time snapshot without copying it",
				"if most reads missed → safemap.New",
				"if you needed a point-in-time snapshot of all entries → safemap.NewRWMap",
			},
		},
		{
			name: "rarely written small static map: under one entry copied per operation",
			w: with(func(w *Workload) {
				w.ReadFraction, w.MissRate, w.KeySet, w.Keys = 0.9999, 0.01, Static, 1000
			}),
			rec: stratSnapshot, runnerUp: stratNew,
			want:   []string{"0.1 entries per operation", "if the map grew past ~100000 keys → safemap.New"},
			absent: []string{"never changed once it is filled"},
		},
		{
			name: "read-only static map, mostly misses: New's one-word miss",
			w: with(func(w *Workload) {
				w.ReadFraction, w.MissRate, w.KeySet, w.Keys = 1, 0.9, Static, 1_000_000
			}),
			rec: stratNew, runnerUp: stratSnapshot,
			want: []string{"one 8-byte word of a dense per-table array", "-measure ranks the two", "if most reads hit → safemap.NewSnapshotMap"},
		},
		{
			name: "tiny map, few goroutines: RWMap is as good",
			w: with(func(w *Workload) {
				w.Keys, w.Goroutines = 20, 2
			}),
			rec: stratNew, runnerUp: stratRW,
			want: []string{"under ~64 keys", "simplest and most compact"},
		},
		{
			name: "tiny map, many goroutines: the general rule",
			w: with(func(w *Workload) {
				w.Keys, w.Goroutines = 20, 16
			}),
			rec: stratNew, runnerUp: stratSharded,
			absent: []string{"under ~64 keys"},
		},
		{
			name: "write-heavy: ShardedMap runner-up",
			w: with(func(w *Workload) {
				w.ReadFraction, w.Keys = 0.5, 100_000
			}),
			rec: stratNew, runnerUp: stratSharded,
			want: []string{"Up to 55 % of operations change the map", "usual alternative for write-heavy maps"},
		},
		{
			name: "general read-mostly growing map",
			w:    base(),
			rec:  stratNew, runnerUp: stratSharded,
			want: []string{
				"Reads are 90 % of operations and up to 19 % change the map",
				"if you needed a point-in-time snapshot of all entries → safemap.NewRWMap",
				"if you needed a point-in-time snapshot and at most 1 in 100 operations changed the map → safemap.NewSnapshotMap",
				"if at most 1 in 10000 operations changed the map (a write, or a miss that inserts) → safemap.NewSnapshotMap",
				"→ safemap.NewSyncMap",
				"if several processes had to share the data",
				"-measure",
			},
			absent: []string{"You iterate", "churns", "value function takes", "fail", "BENCHMARKS.md"},
		},
		{
			name: "static key set: misses do not change the map",
			w: with(func(w *Workload) {
				w.ReadFraction, w.MissRate, w.KeySet = 0.9, 0.9, Static
			}),
			rec: stratNew, runnerUp: stratSharded,
			want: []string{"up to 10 % change the map"},
		},
		{
			name: "churning key set: New shrinks",
			w: with(func(w *Workload) {
				w.KeySet, w.NeedIteration = Churning, true
			}),
			rec: stratNew, runnerUp: stratSharded,
			want: []string{"The key set churns", "visit one bucket chain at a time"},
		},
		{
			name: "slowly churning snapshot table: no churn note for SnapshotMap",
			w: with(func(w *Workload) {
				w.KeySet, w.ReadFraction, w.MissRate, w.Keys, w.NeedSnapshot = Churning, 0.9999, 0, 100, true
			}),
			rec: stratSnapshot, runnerUp: stratRW,
			absent: []string{"churns"},
		},
		{
			name: "slow loader",
			w: with(func(w *Workload) {
				w.LoaderCost = time.Millisecond
			}),
			rec: stratNew, runnerUp: stratSharded,
			want:   []string{"The value function takes ~1ms", "LoadOrCompute or LoadOrTryCompute"},
			absent: []string{"fail"},
		},
		{
			name: "fast loader: no loader note",
			w: with(func(w *Workload) {
				w.LoaderCost = time.Microsecond
			}),
			rec: stratNew, runnerUp: stratSharded,
			absent: []string{"The value function takes"},
		},
		{
			name: "rare loader failures: errors are shared with waiters",
			w: with(func(w *Workload) {
				w.LoaderFailRate = 0.01
			}),
			rec: stratNew, runnerUp: stratSharded,
			want:   []string{"1 % of value-function calls fail", "returned to every caller waiting"},
			absent: []string{"Cache negative results"},
		},
		{
			name: "frequent loader failures: cache negative results",
			w: with(func(w *Workload) {
				w.LoaderFailRate = 0.1
			}),
			rec: stratNew, runnerUp: stratSharded,
			want: []string{"Cache negative results", "backoff"},
		},
		{
			name: "several processes: the Redis tier",
			w: with(func(w *Workload) {
				w.Processes = 3
			}),
			rec: stratRedis, runnerUp: stratNew,
			want:   []string{"shared by 3 processes", "redismap", "once per key per lease epoch", "round trips", "ErrFenced", "→ safemap.New in each process"},
			absent: []string{"if several processes had to share the data"},
		},
		{
			name: "processes 0 means one process",
			w: with(func(w *Workload) {
				w.Processes = 0
			}),
			rec: stratNew, runnerUp: stratSharded,
			want:   []string{"if several processes had to share the data"},
			absent: []string{"external store (a database"},
		},
		{
			name: "unknown key count, read-only: copy-on-write still fits",
			w: with(func(w *Workload) {
				w.ReadFraction, w.KeySet, w.Keys = 1, Static, 0
			}),
			rec: stratSnapshot, runnerUp: stratNew,
			want: []string{"The key count is unknown"},
		},
		{
			name: "unknown key count, written: assumed large",
			w: with(func(w *Workload) {
				w.Keys = 0
			}),
			rec: stratNew, runnerUp: stratSharded,
			want: []string{
				"The key count is unknown",
				"if at most 1 in 100000 operations changed the map (a write, or a miss that inserts), on at most ~100000 keys → safemap.NewSnapshotMap",
			},
			absent: []string{"grew past"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.w.Validate(); err != nil {
				t.Fatalf("test workload is invalid: %v", err)
			}
			a := Decide(tt.w)
			if a.Recommended != tt.rec || a.RunnerUp != tt.runnerUp {
				t.Errorf("got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, tt.rec, tt.runnerUp)
			}
			if len(a.Reasons) == 0 || len(a.RunnerUpWhy) == 0 {
				t.Errorf("got %d reasons and %d runner-up reasons; want some of each", len(a.Reasons), len(a.RunnerUpWhy))
			}
			if a.Workload != tt.w {
				t.Errorf("Workload = %+v; want %+v", a.Workload, tt.w)
			}
			text := adviceText(a)
			wantPhrases(t, text, tt.want...)
			unwantedPhrases(t, text, tt.absent...)
			for _, s := range a.WouldChange {
				if !strings.HasPrefix(s, "if ") || !strings.Contains(s, " → ") {
					t.Errorf("WouldChange item %q; want \"if … → …\"", s)
				}
				if strings.HasSuffix(s, "→ "+a.Recommended) {
					t.Errorf("WouldChange item %q leads to the current recommendation", s)
				}
			}
		})
	}
}

// TestDecide_WouldChangeHolds checks that every alteration the advice names
// does lead to the strategy it names, by applying it to the workload.
func TestDecide_WouldChangeHolds(t *testing.T) {
	w := base()
	a := Decide(w)
	alter := map[string]func(w *Workload){
		"if you needed a point-in-time snapshot of all entries → safemap.NewRWMap": func(w *Workload) { w.NeedSnapshot = true },
		"if you needed a point-in-time snapshot and at most 1 in 100 operations changed the map → safemap.NewSnapshotMap": func(w *Workload) {
			w.NeedSnapshot, w.ReadFraction, w.KeySet = true, 0.99, Static
		},
		"if at most 1 in 10000 operations changed the map (a write, or a miss that inserts) → safemap.NewSnapshotMap": func(w *Workload) {
			w.ReadFraction, w.KeySet = 0.9999, Static
		},
	}
	for item, f := range alter {
		found := false
		for _, s := range a.WouldChange {
			found = found || s == item
		}
		if !found {
			t.Errorf("WouldChange lacks %q: %q", item, a.WouldChange)
			continue
		}
		w2 := w
		f(&w2)
		want := item[strings.LastIndex(item, "→ ")+len("→ "):]
		if got := Decide(w2).Recommended; got != want {
			t.Errorf("after %q: got %s; want %s", item, got, want)
		}
	}
}

func TestDecide_GoroutinesZeroMeansGOMAXPROCS(t *testing.T) {
	w := with(func(w *Workload) { w.Keys, w.Goroutines = 20, 0 })
	if got := factsOf(w).conc; got < 1 {
		t.Errorf("conc = %d; want GOMAXPROCS ≥ 1", got)
	}
}

func TestDecide_ClampsOutOfRange(t *testing.T) {
	w := with(func(w *Workload) { w.ReadFraction, w.MissRate, w.Keys = 7, math.NaN(), -5 })
	f := factsOf(w)
	if f.reads != 1 || f.miss != 0 || f.changes != 0 || f.keys != 0 {
		t.Errorf("facts = %+v; want reads 1, miss 0, changes 0, keys 0", f)
	}
}

func TestDecide_GrowingKeySetWarnsOfMemory(t *testing.T) {
	for _, ks := range []KeySet{Static, Growing, Churning} {
		a := Decide(with(func(w *Workload) { w.KeySet = ks }))
		warned := strings.Contains(strings.Join(a.Warnings, "\n"), "safemap.New does not evict or expire entries")
		if warned != (ks == Growing) {
			t.Errorf("%s key set: memory-growth warning %v; want %v", ks, warned, ks == Growing)
		}
		if ks == Growing {
			w := strings.Join(a.Warnings, "\n")
			wantPhrases(t, w, "use cache.New, which bounds its own memory", "-unbounded", "redismap")
		}
	}
}

func TestDecide_WriteHeavyCountersPointToCompute(t *testing.T) {
	counters := with(func(w *Workload) { w.ReadFraction, w.KeySet = 0.3, Static })
	if text := adviceText(Decide(counters)); !strings.Contains(text, "make each one a single Compute call") {
		t.Errorf("write-heavy static key set: no Compute note:\n%s", text)
	}
	if text := adviceText(Decide(base())); strings.Contains(text, "Compute call") {
		t.Errorf("read-mostly growing map: a Compute note it does not need:\n%s", text)
	}
}
