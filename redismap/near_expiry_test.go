package redismap_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// The near cache's TTL bound: an entry is never served past the moment its
// value expires in Redis. A value stored by this version carries its
// expiry in server time, so the near cache bounds an entry by it and the
// Map's estimate of the server's clock, with no PTTL per read.

// expiryTTL is the Redis TTL of the values in these tests: long enough for
// a near-cache fill after a slow first read, short enough for a test.
const expiryTTL = 1500 * time.Millisecond

// expiryOptions are the options of a Map whose values expire in Redis
// after expiryTTL, long before their near-cache TTL.
func expiryOptions(t testing.TB) redismap.Options[string, string] {
	return redismap.Options[string, string]{
		Prefix:    prefix(t),
		TTL:       expiryTTL,
		TTLJitter: -1,
		NearCache: redismap.NearCacheOptions{Size: 100, TTL: time.Hour},
	}
}

// neverServedPastItsTTL reads key through m until its value has expired
// in Redis and m no longer returns it, and fails if m's near cache served
// it after Redis had expired it. Each round asks Redis whether the key
// exists and then reads: a near-cache hit after Redis said "gone" is a
// value served past its TTL. It also fails if the near cache never served
// the value (the test would prove nothing).
func neverServedPastItsTTL(t *testing.T, m *redismap.Map[string, string], client redis.UniversalClient, key, want string) {
	t.Helper()
	ctx := testContext(t)
	vkey, _, _, err := m.KeyNames(key)
	if err != nil {
		t.Fatal(err)
	}
	nearHits := 0
	for deadline := time.Now().Add(expiryTTL + 10*time.Second); ; {
		exists, err := client.Exists(ctx, vkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		before := m.Stats().NearHits
		v, ok, err := m.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		near := m.Stats().NearHits > before
		switch {
		case near && exists == 0:
			t.Fatalf("the near cache served %q after the key expired in Redis", v)
		case near:
			nearHits++
		case ok && v != want:
			t.Fatalf("Load = %q; want %q", v, want)
		case exists == 0 && !ok:
			if nearHits == 0 {
				t.Fatal("the near cache never served the value while it was in Redis")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the value was still served %v after it was stored with a TTL of %v", expiryTTL+10*time.Second, expiryTTL)
		}
	}
}

// slowTIME is a client hook that delays the answer to every pipeline that
// holds a TIME by delay, after the server has answered: what a network
// that is slow on the way back looks like to the reader.
type slowTIME struct{ delay time.Duration }

func (slowTIME) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (slowTIME) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h slowTIME) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Name() == "time" }) {
			time.Sleep(h.delay) // the injected latency, not a synchronisation
		}
		return err
	}
}

func TestNearCache_NeverServesAnEntryOnceRedisHasExpiredIt(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	t.Run("a value stored by the Map", func(t *testing.T) {
		t.Parallel()
		client := srv.client(t)
		m := newMap(t, client, expiryOptions(t))
		waitConnected(t, m)
		storeSettled(t, m, "k", "v")
		neverServedPastItsTTL(t, m, client, "k", "v")
	})
	t.Run("a value loaded by the Map", func(t *testing.T) {
		t.Parallel()
		client := srv.client(t)
		m := newMap(t, client, expiryOptions(t))
		waitConnected(t, m)
		notes := m.Stats().Notifications
		if _, _, err := m.LoadOrTryCompute(testContext(t), "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
			t.Fatal(err)
		}
		waitNotification(t, m, notes) // the commit's own message
		neverServedPastItsTTL(t, m, client, "k", "v")
	})
	t.Run("the server's clock read over a slow round trip", func(t *testing.T) {
		t.Parallel()
		// The server's time in the answer is from when the request
		// arrived, 300 ms before the reader gets it: taking it for the
		// time of the answer would make every entry outlive its value by
		// 300 ms.
		client := srv.client(t)
		client.AddHook(slowTIME{300 * time.Millisecond})
		m := newMap(t, client, expiryOptions(t))
		waitConnected(t, m)
		storeSettled(t, m, "k", "v")
		neverServedPastItsTTL(t, m, client, "k", "v")
	})
	for _, form := range []string{"t1500,0;", "v"} {
		t.Run("a value of the older form "+form[:1], func(t *testing.T) {
			t.Parallel()
			// Written by an earlier version: no expiry in the value.
			client := srv.client(t)
			m := newMap(t, client, expiryOptions(t))
			waitConnected(t, m)
			vkey, _, _, _ := m.KeyNames("k")
			if err := client.Set(testContext(t), vkey, form+"old", expiryTTL).Err(); err != nil {
				t.Fatal(err)
			}
			neverServedPastItsTTL(t, m, client, "k", "old")
		})
	}
	t.Run("a client of several servers, which reads the TTL with PTTL", func(t *testing.T) {
		t.Parallel()
		ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": srv.addr()}})
		t.Cleanup(func() { ring.Close() })
		m := newMap(t, ring, expiryOptions(t))
		waitConnected(t, m)
		storeSettled(t, m, "k", "v")
		neverServedPastItsTTL(t, m, ring, "k", "v")
	})
}

func TestNearCache_RemoteHitIsOneGETWithATIMEAtMostOnceASecond(t *testing.T) {
	t.Parallel()
	client, cmds := recordingClient(t)
	m := newMap(t, client, nearOptions(t))
	waitConnected(t, m)
	ctx := testContext(t)
	const n = 20
	notes := m.Stats().Notifications
	for i := range n {
		if err := m.Store(ctx, strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	waitNotification(t, m, notes+n-1) // the Stores' own messages, which would drop what the reads cache
	before := cmds.len()
	start := time.Now()
	for i := range n {
		if v, loaded, err := m.LoadOrTryCompute(ctx, strconv.Itoa(i), func(context.Context) (string, error) { return "x", nil }); err != nil || !loaded || v != "v" {
			t.Fatalf("LoadOrTryCompute = (%q, %v, %v); want the stored value", v, loaded, err)
		}
	}
	elapsed := time.Since(start)
	got := cmds.since(before)
	// The first read measures the server's clock (a Map starts without an
	// estimate); the next ones use the estimate, for a second.
	measures := 0
	for _, c := range got {
		switch c {
		case "get":
		case "get+time":
			measures++
		default:
			t.Fatalf("near-cache misses that hit Redis sent %v; want each a get, or a get+time", got)
		}
	}
	if wantMax := 1 + int(elapsed/time.Second); len(got) != n || got[0] != "get+time" || measures > wantMax {
		t.Errorf("%d near-cache misses in %v sent %v; want one request each, the first a get+time, and at most %d get+time", n, elapsed, got, wantMax)
	}

	// A value of an older form carries no expiry: its TTL is asked for.
	vkey, _, _, _ := m.KeyNames("old")
	if err := client.Set(ctx, vkey, "t3600000,0;old", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	before = cmds.len()
	if v, ok, err := m.Load(ctx, "old"); err != nil || !ok || v != "old" {
		t.Fatalf("Load = (%q, %v, %v); want old", v, ok, err)
	}
	if got := cmds.since(before); !slices.Equal(got, []string{"get", "pttl"}) && !slices.Equal(got, []string{"get+time", "pttl"}) {
		t.Errorf("a near-cache miss on a value of the older form sent %v; want a get (or get+time), then a pttl", got)
	}
}

func TestStoredValue_CarriesTheExpiryOfItsKey(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	client := srv.client(t)
	m := newMap(t, client, redismap.Options[string, string]{Prefix: prefix(t), TTL: time.Minute})
	ctx := testContext(t)
	if err := m.Store(ctx, "stored", "v"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.LoadOrTryCompute(ctx, "loaded", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"stored", "loaded"} {
		vkey, _, _, _ := m.KeyNames(key)
		raw := client.Get(ctx, vkey).Val()
		at, rest, _ := strings.Cut(strings.TrimPrefix(raw, "x"), ",")
		stored, err := strconv.ParseInt(at, 10, 64)
		if !strings.HasPrefix(raw, "x") || err != nil || !strings.HasSuffix(rest, ";v") {
			t.Fatalf("%s: stored form %q; want x<expiry>,<TTL>,<load>;v", key, raw)
		}
		expires, err := client.PExpireTime(ctx, vkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := expires.Milliseconds(); stored != want {
			t.Errorf("%s: the value says it expires at %d; want %d, the key's PEXPIRETIME", key, stored, want)
		}
	}
}

// refuseTIME is a client hook that answers every TIME with an error reply,
// as a proxy that passes on only commands with keys does.
type refuseTIME struct{}

// refusal is an error reply.
type refusal string

func (r refusal) Error() string { return string(r) }
func (refusal) RedisError()     {}

func (refuseTIME) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (refuseTIME) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (refuseTIME) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if c.Name() == "time" {
				c.SetErr(refusal("ERR unsupported command 'time'"))
			}
		}
		return err
	}
}

func TestNearCache_AClientThatCannotSendTIMEReadsWithPTTL(t *testing.T) {
	t.Parallel()
	client, cmds := recordingClient(t)
	client.AddHook(refuseTIME{})
	m := newMap(t, client, nearOptions(t))
	waitConnected(t, m)
	ctx := testContext(t)
	storeSettled(t, m, "a", "v")
	storeSettled(t, m, "b", "v")
	before := cmds.len()
	for _, k := range []string{"a", "b"} {
		if v, ok, err := m.Load(ctx, k); err != nil || !ok || v != "v" {
			t.Fatalf("Load(%s) = (%q, %v, %v); want the stored value", k, v, ok, err)
		}
	}
	// The first read learns that TIME is refused and asks for the TTL;
	// the next ones pipeline a PTTL with the GET, as on a cluster.
	if got, want := cmds.since(before), []string{"get+time", "pttl", "get+pttl"}; !slices.Equal(got, want) {
		t.Errorf("two near-cache misses sent %v; want %v", got, want)
	}
	hits := m.Stats().NearHits
	if _, ok, _ := m.Load(ctx, "b"); !ok || m.Stats().NearHits != hits+1 {
		t.Error("the value read with PTTL was not served from the near cache")
	}
}
