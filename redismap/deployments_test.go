package redismap_test

import (
	"context"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// exerciseEveryPart runs issue 20's parts against a deployment (a Cluster,
// a Sentinel setup), through clients that newClient makes (each one a
// process, as far as Redis can tell); the single server runs each part's
// own tests. batchTrips bounds the round trips of a batch that loads some
// keys and waits for none.
func exerciseEveryPart(t *testing.T, newClient func() redis.UniversalClient, batchTrips int64) {
	ctx := testContext(t)
	pfx := prefix(t)

	t.Run("prefixes that concatenate alike share no entry", func(t *testing.T) {
		a := newMap(t, newClient(), redismap.Options[string, string]{Prefix: pfx})
		b := newMap(t, newClient(), redismap.Options[string, string]{Prefix: pfx + ":sub"})
		if err := a.Store(ctx, "sub:1", "A"); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := b.Load(ctx, "1"); ok || err != nil {
			t.Errorf("B.Load(1) = (%q, %v, %v); want absent", v, ok, err)
		}
	})

	t.Run("a hit is one GET", func(t *testing.T) {
		client := newClient()
		cmds := new(commandNames)
		client.AddHook(cmds)
		m := newMap(t, client, redismap.Options[string, string]{Prefix: pfx + ":hit"})
		if _, _, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
			t.Fatal(err)
		}
		before := cmds.len()
		if v, loaded, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "x", nil }); err != nil || !loaded || v != "v" {
			t.Fatalf("hit = (%q, %v, %v)", v, loaded, err)
		}
		if got := cmds.since(before); !slices.Equal(got, []string{"get"}) {
			t.Errorf("a hit sent %v; want [get]", got)
		}
	})

	t.Run("refresh reloads once across processes", func(t *testing.T) {
		opts := redismap.Options[string, string]{Prefix: pfx + ":refresh", TTL: refreshTTL, TTLJitter: -1, RefreshAfter: refreshAfter}
		a, b := newMap(t, newClient(), opts), newMap(t, newClient(), opts)
		ageValue(t, ctx, a, "k", "v1")
		reload := func(context.Context) (string, error) { return "v2", nil }
		for range 10 {
			a.LoadOrTryCompute(ctx, "k", reload)
			b.LoadOrTryCompute(ctx, "k", reload)
		}
		st := waitStats(t, "the reload's commit", func(s redismap.Stats) bool { return s.Commits >= 2 }, a, b)
		if st.Refreshes != 1 {
			t.Errorf("Refreshes = %d across two processes; want 1", st.Refreshes)
		}
		if v, _, _ := b.Load(ctx, "k"); v != "v2" {
			t.Errorf("after the reload: %q; want v2", v)
		}
	})

	t.Run("a batch loads each key once across processes", func(t *testing.T) {
		opts := redismap.Options[string, string]{Prefix: pfx + ":batch"}
		client := newClient()
		trips := new(redistest.RoundTrips)
		client.AddHook(trips)
		a, b := newMap(t, client, opts), newMap(t, newClient(), opts)
		l := &batchLoader{}
		a.LoadOrTryComputeAll(ctx, keyList("warm", 30), (&batchLoader{}).load) // the scripts, loaded on every node
		before := trips.Load()
		keys := keyList("k", 30)
		got, err := a.LoadOrTryComputeAll(ctx, keys[:20], l.load)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, got, keys[:20])
		n := trips.Load() - before
		if n > batchTrips {
			t.Errorf("a batch of 20 missing keys made %d round trips; want at most %d", n, batchTrips)
		}
		t.Logf("a batch of 20 missing keys: %d round trips", n)
		got, err = b.LoadOrTryComputeAll(ctx, keys, l.load)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, got, keys)
		l.mu.Lock()
		defer l.mu.Unlock()
		for k, n := range l.per {
			if n != 1 {
				t.Errorf("key %q loaded %d times; want once", k, n)
			}
		}
	})
}

func TestSentinel_EveryPartWorksThroughTheFailoverClient(t *testing.T) {
	t.Parallel()
	f := redistest.RunFailover(t)
	exerciseEveryPart(t, func() redis.UniversalClient { return failoverClient(t, f) }, 2)
}
