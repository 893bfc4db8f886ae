package advisor

import (
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// The rule of issue 18 §7: a key set that grows without bound, or values
// that go stale, get cache.New with MaxEntries or TTL.

func TestDecide_AnUnboundedKeySetGetsACacheWithMaxEntries(t *testing.T) {
	a := Decide(with(func(w *Workload) { w.KeySet, w.Unbounded, w.Keys = Growing, true, 50_000 }))
	if a.Recommended != stratCache || a.RunnerUp != stratNew {
		t.Fatalf("unbounded key set: got %s, runner-up %s; want %s, runner-up %s", a.Recommended, a.RunnerUp, stratCache, stratNew)
	}
	text := adviceText(a)
	wantPhrases(t, text, "grows without bound", "cache.New(cache.Options{MaxEntries: …})", "~50000 keys", row(stratCache).is)
	if strings.Contains(text, "TTL:") {
		t.Errorf("advice for values that never go stale suggests a TTL:\n%s", text)
	}
	if strings.Contains(strings.Join(a.Warnings, "\n"), "The key set grows") {
		t.Errorf("the cache bounds the key set, yet the advice warns of growth:\n%s", text)
	}
}

func TestDecide_StaleValuesGetACacheWithTheirTTL(t *testing.T) {
	for _, ks := range []KeySet{Static, Growing, Churning} {
		a := Decide(with(func(w *Workload) { w.KeySet, w.StaleAfter = ks, 5*time.Minute }))
		if a.Recommended != stratCache {
			t.Errorf("%s key set, values stale after 5m: got %s; want %s", ks, a.Recommended, stratCache)
			continue
		}
		text := adviceText(a)
		wantPhrases(t, text, "go stale ~5m", "cache.New(cache.Options{TTL: 5 * time.Minute})", "RefreshAfter")
		if strings.Contains(text, "MaxEntries: …") {
			t.Errorf("%s key set: advice for a bounded key set asks for MaxEntries:\n%s", ks, text)
		}
	}
}

func TestDecide_NeitherUnboundedNorStaleKeepsTheMapAndNamesTheCache(t *testing.T) {
	a := Decide(DefaultWorkload())
	if a.Recommended == stratCache {
		t.Fatalf("the default workload: got %s; want a map", a.Recommended)
	}
	wantPhrases(t, strings.Join(a.WouldChange, "\n"), "-unbounded", "-stale-after) → cache.New")
	wantPhrases(t, strings.Join(a.Warnings, "\n"), "use cache.New, which bounds its own memory")
}

func TestDecide_ASnapshotNeedWinsOverTheCacheAndSaysWhatIsLost(t *testing.T) {
	a := Decide(with(func(w *Workload) { w.NeedSnapshot, w.StaleAfter, w.Keys = true, time.Minute, 1000 }))
	if a.Recommended == stratCache {
		t.Fatalf("snapshot needed: got %s, which gives no snapshot", a.Recommended)
	}
	wantPhrases(t, strings.Join(a.Warnings, "\n"), "Values go stale ~1m", "gives no point-in-time snapshot")
}

func TestFromMeasurement_MeasuredMapsDoNotOverrideTheCache(t *testing.T) {
	w := with(func(w *Workload) { w.KeySet, w.Unbounded = Growing, true })
	var m results.Workload
	m.Name, m.Primary = "advise", "ns/op"
	for i, impl := range Strategies() {
		c := results.Case{Impl: impl}
		for j := range 6 {
			c.Samples = append(c.Samples, results.Sample{Ops: 1, NsPerOp: float64(100*(i+1) + j)})
		}
		m.Cases = append(m.Cases, c)
	}
	a, err := FromMeasurement(w, m)
	if err != nil {
		t.Fatal(err)
	}
	if a.Recommended != stratCache || a.Basis != BasisRules || a.Measured == nil {
		t.Errorf("unbounded key set, maps measured: got %s on %q (measurement kept: %v); want %s on the rules, the measurement kept",
			a.Recommended, a.Basis, a.Measured != nil, stratCache)
	}
	wantPhrases(t, adviceText(a), "none of which bounds its size or expires values")
}

func TestGoDuration_WritesGoSource(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5 * time.Minute", time.Hour: "time.Hour", 1500 * time.Millisecond: "1500 * time.Millisecond", 7: "time.Duration(7)",
	} {
		if got := goDuration(d); got != want {
			t.Errorf("goDuration(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestMain_UnboundedAndStaleAfterFlagsReachTheAdvice(t *testing.T) {
	code, out, _ := run(t, nil, "-unbounded", "-stale-after", "90s")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantPhrases(t, out, "Recommended: cache.New\n", "MaxEntries", "TTL: 90 * time.Second")
	code, _, errOut := run(t, nil, "-stale-after", "-1s")
	if code != 2 || !strings.Contains(errOut, "stale_after_ns (-stale-after)") {
		t.Errorf("-stale-after -1s: exit %d, %q; want 2 and an error naming the field", code, errOut)
	}
	code, out, _ = run(t, nil, "-unbounded", "-json")
	if a := decodeAdvice(t, out); code != 0 || !a.Workload.Unbounded || a.Recommended != stratCache {
		t.Errorf("-unbounded -json: exit %d, workload.unbounded %v, recommended %s", code, a.Workload.Unbounded, a.Recommended)
	}
}
