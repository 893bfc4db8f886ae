package redismap_test

import (
	"context"
	"testing"
	"time"

	"github.com/safemap-go/safemap/redismap"
)

func nearOptions(t testing.TB) redismap.Options[string, string] {
	return redismap.Options[string, string]{Prefix: prefix(t), NearCache: redismap.NearCacheOptions{Size: 100}}
}

// storeSettled stores key and waits (bounded) for the Store's own
// notification to come back to m, which drops the key from m's near cache:
// after it, a Load fills the near cache for good.
func storeSettled(t testing.TB, m *redismap.Map[string, string], key, value string) {
	t.Helper()
	notes := m.Stats().Notifications
	if err := m.Store(context.Background(), key, value); err != nil {
		t.Fatal(err)
	}
	waitNotification(t, m, notes)
}

// waitNotification waits (bounded) until m has received more than notes
// notifications.
func waitNotification(t testing.TB, m *redismap.Map[string, string], notes int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); m.Stats().Notifications <= notes; {
		if time.Now().After(deadline) {
			t.Fatal("no notification arrived")
		}
		time.Sleep(time.Millisecond) // polling a counter the notification goroutine bumps
	}
}

func TestNearCache_HitMakesNoRedisCall(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client, rt := srv.countingClient(t)
	m := newMap(t, client, nearOptions(t))
	waitConnected(t, m)
	ctx := testContext(t)
	storeSettled(t, m, "k", "v")
	if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || v != "v" {
		t.Fatalf("first Load = (%q, %v, %v)", v, ok, err)
	}
	before := rt.Load()
	for range 100 {
		if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || v != "v" {
			t.Fatalf("Load = (%q, %v, %v)", v, ok, err)
		}
		if v, loaded, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "x", nil }); !loaded || err != nil || v != "v" {
			t.Fatalf("LoadOrTryCompute = (%q, %v, %v)", v, loaded, err)
		}
	}
	if got := rt.Load() - before; got != 0 {
		t.Errorf("%d Redis calls for 200 near-cache hits; want 0", got)
	}
	if st := m.Stats(); st.NearHits != 200 {
		t.Errorf("NearHits = %d; want 200", st.NearHits)
	}
}

func TestNearCache_DropsAnEntryWrittenByAnotherMap(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := nearOptions(t) // one Prefix: the two Maps share entries
	reader := newMap(t, srv.client(t), opts)
	writer := newMap(t, srv.client(t), opts)
	waitConnected(t, reader)
	ctx := testContext(t)
	for _, op := range []string{"store", "delete"} {
		notes := reader.Stats().Notifications
		if err := writer.Store(ctx, "k", "old"); err != nil {
			t.Fatal(err)
		}
		waitNotification(t, reader, notes)
		if v, _, _ := reader.Load(ctx, "k"); v != "old" {
			t.Fatalf("Load = %q; want old", v)
		}
		notes = reader.Stats().Notifications
		if op == "store" {
			writer.Store(ctx, "k", "new")
		} else {
			writer.Delete(ctx, "k")
		}
		waitNotification(t, reader, notes) // it arrives asynchronously
		v, ok, err := reader.Load(ctx, "k")
		switch {
		case err != nil:
			t.Fatal(err)
		case op == "store" && (!ok || v != "new"):
			t.Errorf("after another Map's Store: (%q, %v); want the new value", v, ok)
		case op == "delete" && ok:
			t.Errorf("after another Map's Delete: (%q, %v); want absent", v, ok)
		}
	}
}

func TestNearCache_FlushesWhenTheNotificationConnectionIsKilled(t *testing.T) {
	srv := startServer(t) // CLIENT KILL TYPE pubsub would hit other tests' Maps
	client, rt := srv.countingClient(t)
	m := newMap(t, client, nearOptions(t))
	waitConnected(t, m)
	ctx := testContext(t)
	storeSettled(t, m, "k", "v")
	m.Load(ctx, "k")
	before := rt.Load()
	if _, ok, _ := m.Load(ctx, "k"); !ok || rt.Load() != before {
		t.Fatal("the value was not served from the near cache before the kill")
	}
	admin := srv.client(t)
	if n, err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v; want one connection killed", n, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := redismap.WaitConnected(wctx, m, false); err != nil {
		t.Fatalf("the Map did not notice the killed connection: %v", err)
	}
	// While it is down, and once it is back, nothing stale is served: the
	// next Load goes to Redis.
	before = rt.Load()
	if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || v != "v" {
		t.Fatalf("Load = (%q, %v, %v)", v, ok, err)
	}
	if rt.Load() == before {
		t.Error("a Load after the connection dropped was served from the near cache; want it flushed")
	}
	waitConnected(t, m)
	st := m.Stats()
	if st.Disconnects != 1 || st.NearFlushes < 2 {
		t.Errorf("Disconnects=%d NearFlushes=%d; want 1 and at least 2 (on the drop, and on the way back)", st.Disconnects, st.NearFlushes)
	}
	// And it caches again.
	m.Load(ctx, "k")
	before = rt.Load()
	if _, ok, _ := m.Load(ctx, "k"); !ok || rt.Load() != before {
		t.Error("the near cache does not serve hits after the connection came back")
	}
}

func TestNearCache_NeverServesAValuePastItsRedisTTL(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := nearOptions(t)
	opts.TTL = 300 * time.Millisecond
	opts.TTLJitter = -1
	m := newMap(t, srv.client(t), opts)
	waitConnected(t, m)
	ctx := testContext(t)
	storeSettled(t, m, "k", "v")
	// The server set the TTL before Store returned: the value expires in
	// Redis before stored + TTL.
	stored := time.Now()
	if _, ok, _ := m.Load(ctx, "k"); !ok {
		t.Fatal("Load missed a fresh value")
	}
	for range 10000 {
		age := time.Since(stored)
		_, ok, err := m.Load(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		// Redis keeps time in whole milliseconds: a key set with PX 300
		// during millisecond t lives until t+300 has passed, up to 1 ms
		// more than 300 ms after the Store.
		if age > opts.TTL+time.Millisecond {
			t.Fatalf("Load served the value %v after it was stored with TTL %v", age, opts.TTL)
		}
		time.Sleep(time.Millisecond) // the TTL running out is the point of the test
	}
	if _, ok, _ := m.Load(ctx, "k"); ok {
		t.Error("the value is still served after its TTL")
	}
}

func TestNearCache_StaysWithinItsSize(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	opts := nearOptions(t)
	opts.NearCache.Size = 16
	m := newMap(t, srv.client(t), opts)
	waitConnected(t, m)
	ctx := testContext(t)
	key := func(i int) string { return string(rune('a'+i%26)) + string(rune('a'+i/26)) }
	notes := m.Stats().Notifications
	for i := range 100 {
		if err := m.Store(ctx, key(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	// Let the Stores' own notifications arrive first: one that came after
	// a Load would drop what the Load cached.
	waitNotification(t, m, notes+99)
	for i := range 100 {
		m.Load(ctx, key(i))
	}
	if st := m.Stats(); st.NearEvictions == 0 {
		t.Errorf("NearEvictions = 0 after 100 keys in a 16-entry near cache")
	}
}
