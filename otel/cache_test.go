package safemapotel_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cache"
	safemapotel "github.com/safemap-go/safemap/otel"
)

// fakeClock is a cache clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T, opts cache.Options[string, int]) *cache.Cache[string, int] {
	t.Helper()
	c, err := cache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRegisterCache_ReportsExactCountsAfterAScriptedWorkload(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_000_000, 0)}
	c := newCache(t, cache.Options[string, int]{TTL: 10 * time.Second, Clock: clk.Now})
	mp, r := newMeterProvider(t)
	reg, err := safemapotel.RegisterCache(mp, "sessions", c)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()

	ctx := context.Background()
	c.Load("a")                                                                        // miss
	c.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 1, nil }) // miss, load
	c.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 2, nil }) // hit
	c.Load("a")                                                                        // hit
	boom := errors.New("boom")
	if _, _, err := c.LoadOrTryCompute(ctx, "b", func(context.Context) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("got %v; want boom", err) // miss, load, load error
	}
	clk.Advance(10 * time.Second)
	c.Load("a") // miss: a expired
	c.Store("c", 3)

	checkPoints(t, collect(t, r), map[string]float64{
		"safemap.lookups{safemap.name=sessions,safemap.outcome=hit}":       2,
		"safemap.lookups{safemap.name=sessions,safemap.outcome=miss}":      4,
		"safemap.loads{safemap.name=sessions}":                             2,
		"safemap.load.errors{safemap.name=sessions,safemap.outcome=error}": 1,
		"safemap.evictions{safemap.cause=size,safemap.name=sessions}":      0,
		"safemap.evictions{safemap.cause=expired,safemap.name=sessions}":   1,
		"safemap.refreshes{safemap.name=sessions}":                         0,
		"safemap.refresh.errors{safemap.name=sessions}":                    0,
		"safemap.entries{safemap.name=sessions}":                           1,
		"safemap.weight{safemap.name=sessions}":                            0,
	})
}

func TestRegisterCache_ReportsSizeEvictionsAndWeight(t *testing.T) {
	c := newCache(t, cache.Options[string, int]{MaxWeight: 100, Weigher: func(string, int) uint32 { return 10 }})
	mp, r := newMeterProvider(t)
	reg, err := safemapotel.RegisterCache(mp, "bounded", c)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	for i := range 50 {
		c.Store(strings.Repeat("k", i+1), i)
	}
	got := collect(t, r)
	st := c.Stats()
	if st.Evictions == 0 || st.Weight == 0 {
		t.Fatalf("Stats after 50 stores of weight 10 into 100: %+v; want evictions and a weight", st)
	}
	checkPoints(t, got, map[string]float64{
		"safemap.evictions{safemap.cause=size,safemap.name=bounded}":    float64(st.Evictions),
		"safemap.evictions{safemap.cause=expired,safemap.name=bounded}": 0,
		"safemap.entries{safemap.name=bounded}":                         float64(st.Entries),
		"safemap.weight{safemap.name=bounded}":                          float64(st.Weight),
	})
}
