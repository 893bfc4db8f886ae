package safemapotel_test

import (
	"strings"
	"testing"

	safemapotel "github.com/safemap-go/safemap/otel"
)

// cacheStats has cache.Stats's documented fields (docs: the cache
// package's Stats), for testing the adapter apart from the cache.
type cacheStats struct {
	Hits, Misses               uint64
	Loads, LoadErrors          uint64
	Evictions                  uint64
	Expirations                uint64
	Refreshes, RefreshFailures uint64
	Entries                    int
	Weight                     uint64
}

type fakeCache struct{ stats cacheStats }

func (c *fakeCache) Stats() cacheStats { return c.stats }

func TestRegisterCache_ReadsTheDocumentedFieldsByName(t *testing.T) {
	mp, r := newMeterProvider(t)
	c := &fakeCache{cacheStats{Hits: 9, Misses: 3, Loads: 3, LoadErrors: 1, Evictions: 2, Expirations: 4,
		Refreshes: 5, RefreshFailures: 1, Entries: 7, Weight: 1<<64 - 1}}
	reg, err := safemapotel.RegisterCache(mp, "sessions", c)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	checkPoints(t, collect(t, r), map[string]float64{
		"safemap.lookups{safemap.name=sessions,safemap.outcome=hit}":       9,
		"safemap.lookups{safemap.name=sessions,safemap.outcome=miss}":      3,
		"safemap.loads{safemap.name=sessions}":                             3,
		"safemap.load.errors{safemap.name=sessions,safemap.outcome=error}": 1,
		"safemap.evictions{safemap.cause=size,safemap.name=sessions}":      2,
		"safemap.evictions{safemap.cause=expired,safemap.name=sessions}":   4,
		"safemap.refreshes{safemap.name=sessions}":                         5,
		"safemap.refresh.errors{safemap.name=sessions}":                    1,
		"safemap.entries{safemap.name=sessions}":                           7,
		"safemap.weight{safemap.name=sessions}":                            1<<63 - 1, // saturated
	})
}

type wrongStats struct {
	Hits   uint64
	Misses string
}

type wrongCache struct{}

func (wrongCache) Stats() wrongStats { return wrongStats{} }

func TestRegisterCache_NamesEachFieldTheStatsLack(t *testing.T) {
	mp, _ := newMeterProvider(t)
	_, err := safemapotel.RegisterCache(mp, "x", wrongCache{})
	if err == nil {
		t.Fatal("RegisterCache of a Stats without the cache's fields succeeded; want an error")
	}
	for _, want := range []string{"Misses is a string", "Loads is missing", "Weight is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
