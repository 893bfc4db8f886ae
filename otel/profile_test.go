package safemapotel_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
	safemapotel "github.com/safemap-go/safemap/otel"
)

// thisPackage prefixes the functions of package safemapotel in a stack.
const thisPackage = "github.com/safemap-go/safemap/otel."

// profileWorkload runs a scripted workload on p: 2 hits, 6 misses, 4
// loads (1 error, 1 panic), 1 waiter, 2 entries left.
func profileWorkload(t *testing.T, p *safemap.Profile[string, int]) {
	t.Helper()
	ctx := context.Background()
	p.Load("a") // miss
	if _, _, err := p.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err) // miss, load
	}
	p.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 2, nil }) // hit
	p.Load("a")                                                                        // hit
	boom := errors.New("boom")
	if _, _, err := p.LoadOrTryCompute(ctx, "b", func(context.Context) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("got %v; want boom", err) // miss, load, error
	}
	func() {
		defer func() { recover() }()
		p.LoadOrCompute("c", func() int { panic("kaboom") }) // miss, load, panic
	}()
	// A waiter: the second call misses "d" while the first one's loader
	// runs, and returns its value.
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.LoadOrTryCompute(ctx, "d", func(context.Context) (int, error) { close(started); <-release; return 4, nil }) // miss, load
	}()
	<-started
	before := p.Stats().Misses
	waited := make(chan int)
	go func() {
		v, _, _ := p.LoadOrTryCompute(ctx, "d", func(context.Context) (int, error) { return -1, nil }) // miss, wait
		waited <- v
	}()
	for p.Stats().Misses == before { // the waiter has missed: it waits, or finds the value
		runtime.Gosched()
	}
	close(release)
	<-done
	if v := <-waited; v != 4 {
		t.Fatalf("the waiter got %d; want 4", v)
	}
}

func TestRegisterProfile_ReportsExactCountsAfterAScriptedWorkload(t *testing.T) {
	mp, r := newMeterProvider(t)
	p := safemap.NewProfile[string, int](safemap.New[string, int]())
	reg, err := safemapotel.RegisterProfile(mp, "users", p)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	profileWorkload(t, p)

	got := collect(t, r)
	checkPoints(t, got, map[string]float64{
		"safemap.lookups{safemap.name=users,safemap.outcome=hit}":       2,
		"safemap.lookups{safemap.name=users,safemap.outcome=miss}":      6,
		"safemap.loads{safemap.name=users}":                             4,
		"safemap.load.errors{safemap.name=users,safemap.outcome=error}": 1,
		"safemap.load.errors{safemap.name=users,safemap.outcome=panic}": 1,
		"safemap.waits{safemap.name=users}":                             1,
		"safemap.entries{safemap.name=users}":                           2,
	})
	if v := got.values["safemap.load.time{safemap.name=users}"]; v <= 0 {
		t.Errorf("safemap.load.time = %v; want > 0", v)
	}
	for name, want := range map[string]string{
		"safemap.lookups": "counter", "safemap.loads": "counter", "safemap.load.errors": "counter",
		"safemap.load.time": "counter", "safemap.waits": "counter", "safemap.entries": "gauge",
	} {
		if got.kinds[name] != want {
			t.Errorf("%s is a %q; want a %s", name, got.kinds[name], want)
		}
	}
	for name, want := range map[string]string{"safemap.lookups": "{lookup}", "safemap.load.time": "s", "safemap.entries": "{entry}"} {
		if got.units[name] != want {
			t.Errorf("%s has unit %q; want %q", name, got.units[name], want)
		}
	}
}

func TestRegisterProfile_TwoNamesReportSeparateSeries(t *testing.T) {
	mp, r := newMeterProvider(t)
	a := safemap.NewProfile[string, int](safemap.New[string, int]())
	b := safemap.NewProfile[int, string](safemap.NewShardedMap[int, string]())
	for name, p := range map[string]safemapotel.ProfileStatser{"a": a, "b": b} {
		reg, err := safemapotel.RegisterProfile(mp, name, p)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Unregister()
	}
	a.Load("x")
	b.Load(1)
	b.Load(2)
	checkPoints(t, collect(t, r), map[string]float64{
		"safemap.lookups{safemap.name=a,safemap.outcome=hit}":  0,
		"safemap.lookups{safemap.name=a,safemap.outcome=miss}": 1,
		"safemap.lookups{safemap.name=b,safemap.outcome=hit}":  0,
		"safemap.lookups{safemap.name=b,safemap.outcome=miss}": 2,
	})
}

func TestUnregister_StopsReadingStatsAndLeavesNoGoroutine(t *testing.T) {
	mp, r := newMeterProvider(t)
	p := &countingProfile{Profile: safemap.NewProfile[string, int](safemap.New[string, int]())}
	reg, err := safemapotel.RegisterProfile(mp, "users", p)
	if err != nil {
		t.Fatal(err)
	}
	collect(t, r)
	if p.reads != 1 {
		t.Fatalf("one collection called Stats %d times; want 1", p.reads)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatalf("a second Unregister: %v", err)
	}
	got := collect(t, r)
	if p.reads != 1 {
		t.Errorf("a collection after Unregister called Stats; reads = %d, want 1", p.reads)
	}
	for k := range got.values {
		if strings.Contains(k, "safemap.name=users") {
			t.Errorf("point %s reported after Unregister", k)
		}
	}
	checkNoGoroutineOf(t, thisPackage)
}

// countingProfile counts the calls of Stats.
type countingProfile struct {
	*safemap.Profile[string, int]
	reads int
}

func (p *countingProfile) Stats() safemap.ProfileStats {
	p.reads++
	return p.Profile.Stats()
}

func TestRegister_RejectsAnEmptyNameAndANilMap(t *testing.T) {
	mp, _ := newMeterProvider(t)
	p := safemap.NewProfile[string, int](safemap.New[string, int]())
	if _, err := safemapotel.RegisterProfile(mp, "", p); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("RegisterProfile with an empty name: err = %v; want one saying the name is empty", err)
	}
	if _, err := safemapotel.RegisterProfile(mp, "x", nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("RegisterProfile with a nil map: err = %v; want one saying it is nil", err)
	}
	if _, err := safemapotel.RegisterCache(mp, "x", (*cache.Cache[string, int])(nil)); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("RegisterCache with a nil cache: err = %v; want one saying it is nil", err)
	}
	if _, err := safemapotel.RegisterRedisMap(mp, "x", nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("RegisterRedisMap with a nil map: err = %v; want one saying it is nil", err)
	}
}
