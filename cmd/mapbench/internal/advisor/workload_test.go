package advisor

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap"
)

func TestValidate_AcceptsDefaultsAndZero(t *testing.T) {
	for _, w := range []Workload{DefaultWorkload(), {}} {
		if err := w.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", w, err)
		}
	}
}

func TestValidate_ReportsEachProblem(t *testing.T) {
	tests := []struct {
		name string
		f    func(w *Workload)
		want string
	}{
		{"reads above 1", func(w *Workload) { w.ReadFraction = 1.5 }, "read_fraction (-reads) is 1.5: want a fraction from 0 to 1"},
		{"reads NaN", func(w *Workload) { w.ReadFraction = math.NaN() }, "read_fraction (-reads) is NaN"},
		{"negative miss", func(w *Workload) { w.MissRate = -0.1 }, "miss_rate (-miss) is -0.1"},
		{"bad key set", func(w *Workload) { w.KeySet = 9 }, "key_set (-keyset) is 9: want static, growing or churning"},
		{"negative keys", func(w *Workload) { w.Keys = -1 }, "keys (-keys) is -1"},
		{"negative loader cost", func(w *Workload) { w.LoaderCost = -time.Second }, "loader_cost_ns (-loader-cost) is -1s"},
		{"fail rate above 1", func(w *Workload) { w.LoaderFailRate = 2 }, "loader_fail_rate (-loader-fail) is 2"},
		{"negative processes", func(w *Workload) { w.Processes = -2 }, "processes (-processes) is -2"},
		{"negative goroutines", func(w *Workload) { w.Goroutines = -4 }, "goroutines (-goroutines) is -4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := DefaultWorkload()
			tt.f(&w)
			err := w.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("Validate() = %q; want one line", err)
			}
		})
	}
}

func TestValidate_JoinsProblems(t *testing.T) {
	w := Workload{ReadFraction: 2, Keys: -1}
	err := w.Validate()
	if err == nil || !strings.Contains(err.Error(), "read_fraction") || !strings.Contains(err.Error(), "; keys") {
		t.Errorf("Validate() = %v; want both problems", err)
	}
}

func TestKeySet_Text(t *testing.T) {
	for _, k := range []KeySet{Static, Growing, Churning} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", k, err)
		}
		var back KeySet
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, k)
		}
	}
	var k KeySet
	if err := k.UnmarshalText([]byte(" Churning ")); err != nil || k != Churning {
		t.Errorf("UnmarshalText(\" Churning \") = %v, %v; want churning", k, err)
	}
	if err := k.UnmarshalText([]byte("round")); err == nil || !strings.Contains(err.Error(), `unknown key set "round"`) {
		t.Errorf("UnmarshalText(round) = %v; want an unknown key set error", err)
	}
	if _, err := KeySet(7).MarshalText(); err == nil {
		t.Error("MarshalText(KeySet(7)) succeeded; want an error")
	}
	if got := KeySet(7).String(); got != "KeySet(7)" {
		t.Errorf("String() = %q; want KeySet(7)", got)
	}
}

func TestWorkload_JSONRoundTrip(t *testing.T) {
	w := Workload{ReadFraction: 0.75, MissRate: 0.25, KeySet: Churning, Keys: 42, LoaderCost: 3 * time.Millisecond,
		LoaderFailRate: 0.125, NeedIteration: true, NeedSnapshot: true, Processes: 2, Goroutines: 16}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	wantPhrases(t, string(b), `"read_fraction":0.75`, `"key_set":"churning"`, `"loader_cost_ns":3000000`, `"need_snapshot":true`)
	var back Workload
	if err := json.Unmarshal(b, &back); err != nil || back != w {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, w)
	}
}

func TestFromStats_Derivations(t *testing.T) {
	tests := []struct {
		name string
		s    safemap.ProfileStats
		want Workload
	}{
		{
			name: "nothing recorded",
			s:    safemap.ProfileStats{},
			want: Workload{ReadFraction: 1, KeySet: Static, Processes: 1},
		},
		{
			name: "read-only lookups of a prefilled map",
			s:    safemap.ProfileStats{Reads: 1000, Hits: 900, Misses: 100, Len: 50, MaxLen: 50},
			want: Workload{ReadFraction: 1, MissRate: 0.1, KeySet: Static, Keys: 50, Processes: 1},
		},
		{
			name: "get-or-create cache: inserts come from read misses",
			s: safemap.ProfileStats{Reads: 800, Hits: 600, Misses: 200, Inserts: 200, Updates: 200,
				Computes: 200, ComputeErrors: 10, ComputePanics: 10, ComputeTime: 200 * time.Millisecond,
				Ranges: 3, Len: 200, MaxLen: 200,
				Calls: map[string]int64{"LoadOrCompute": 800, "Store": 200, "Range": 3, "Len": 9}},
			want: Workload{ReadFraction: 0.8, MissRate: 0.25, KeySet: Growing, Keys: 200,
				LoaderCost: time.Millisecond, LoaderFailRate: 0.1, NeedIteration: true, Processes: 1},
		},
		{
			name: "no Calls: writes bounded from below by the counts",
			s: safemap.ProfileStats{Reads: 500, Hits: 500, Inserts: 300, Updates: 100, Deletes: 100,
				Len: 200, MaxLen: 250},
			want: Workload{ReadFraction: 0.5, KeySet: Growing, Keys: 250, Processes: 1},
		},
		{
			name: "Calls undercounting writes: the lower bound wins",
			s: safemap.ProfileStats{Reads: 100, Hits: 100, Inserts: 100, Len: 100, MaxLen: 100,
				Calls: map[string]int64{"Load": 100, "Store": 10}},
			want: Workload{ReadFraction: 0.5, KeySet: Growing, Keys: 100, Processes: 1},
		},
		{
			name: "keys arrive and expire: churning",
			s: safemap.ProfileStats{Reads: 100, Hits: 50, Misses: 50, Inserts: 100, Deletes: 50, Len: 40, MaxLen: 60,
				Calls: map[string]int64{"LoadOrStore": 100, "Delete": 100}},
			want: Workload{ReadFraction: 0.5, MissRate: 0.5, KeySet: Churning, Keys: 60, Processes: 1},
		},
		{
			name: "refilled after Clear: churning",
			s: safemap.ProfileStats{Reads: 300, Hits: 0, Misses: 300, Inserts: 300, Clears: 2, Len: 100, MaxLen: 100,
				Calls: map[string]int64{"LoadOrStore": 300, "Clear": 2}},
			want: Workload{ReadFraction: 300.0 / 302, MissRate: 1, KeySet: Churning, Keys: 100, Processes: 1},
		},
		{
			name: "max_len missing: len stands in",
			s:    safemap.ProfileStats{Reads: 10, Hits: 10, Len: 7},
			want: Workload{ReadFraction: 1, KeySet: Static, Keys: 7, Processes: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromStats(tt.s); got != tt.want {
				t.Errorf("FromStats() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestFromStats_TestdataProfile(t *testing.T) {
	f, err := os.Open("testdata/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := safemap.ReadProfileStats(f)
	if err != nil {
		t.Fatalf("ReadProfileStats: %v", err)
	}
	got := FromStats(s)
	want := Workload{
		ReadFraction:   1e6 / 1.001e6, // 1000 Store calls besides the reads
		MissRate:       0.05,
		KeySet:         Growing,
		Keys:           48000,
		LoaderCost:     2 * time.Millisecond,
		LoaderFailRate: 500.0 / 48500,
		NeedIteration:  true,
		Processes:      1,
		// 97 s of value functions in 60 s: 1.62 at a time on average.
		Goroutines:     2,
		GoroutinesFrom: "estimated from the profile: value functions ran 1.62 at a time on average",
	}
	if got != want {
		t.Errorf("FromStats() = %+v; want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("derived workload is invalid: %v", err)
	}
	if a := Decide(got); a.Recommended != stratNew {
		t.Errorf("Decide(profile) = %s; want %s", a.Recommended, stratNew)
	}
}
