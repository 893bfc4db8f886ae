package redismap

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap/redistest"
)

func TestClockEstimate_RemainingTakesTheServerToBeAsFarAheadAsItCanBe(t *testing.T) {
	var c serverClock
	const s = int64(time.Second)
	// TIME sent at monotime 1 s, answered at 1.005 s, said 10 s: the
	// server was at most 9 s ahead.
	e, _ := c.measured(10*s, 1*s, 1*s+5*int64(time.Millisecond), 3)
	for _, tc := range []struct {
		expiresAt, sent int64 // server ms, monotime ns
		want            int64 // ms
	}{
		{12_000, 1 * s, 2000},      // at the measurement: 12 s − (1 s + 9 s)
		{12_000, 2 * s, 999},       // a second later: 1 ms more of drift allowed
		{12_000, 3 * s, 0},         // 12 s − (3 s + 9.002 s) < 0: may have expired
		{9_000, 1 * s, 0},          // expired before the measurement
		{20_000, 1 * s / 2, 10500}, // a read sent before the measurement
	} {
		if got := e.remaining(tc.expiresAt, tc.sent); got != tc.want {
			t.Errorf("remaining(expiry %d ms, read at %v) = %d ms; want %d ms", tc.expiresAt, time.Duration(tc.sent), got, tc.want)
		}
	}
}

func TestServerClock_NoticesAServerClockThatJumpedAhead(t *testing.T) {
	const s, ms = int64(time.Second), int64(time.Millisecond)
	for _, tc := range []struct {
		name     string
		serverNs int64 // the second answer, sent at 2 s and received at 2.005 s
		state    uint64
		want     bool
	}{
		{"a clock that kept time", 11 * s, 3, false},
		{"a clock within the round trip and the drift allowance", 11*s + 6*ms, 3, false},
		{"a clock stepped back", 10 * s, 3, false},
		{"a clock stepped 50 ms ahead", 11*s + 50*ms, 3, true},
		{"a clock 50 ms ahead, in another state", 11*s + 50*ms, 5, false},
	} {
		var c serverClock
		c.measured(10*s, 1*s, 1*s+5*ms, 3) // the server at most 9 s ahead
		if _, jumped := c.measured(tc.serverNs, 2*s, 2*s+5*ms, tc.state); jumped != tc.want {
			t.Errorf("%s: jumped = %v; want %v", tc.name, jumped, tc.want)
		}
	}
}

func TestServerClock_AnEstimateServesForASecondInItsOwnState(t *testing.T) {
	var c serverClock
	const s = int64(time.Second)
	c.measured(10*s, 1*s, 1*s, 3)
	c.measured(9*s, s/2, s/2, 3) // an older measurement answered later: kept out
	for _, tc := range []struct {
		now   int64
		state uint64
		want  bool
	}{{1 * s, 3, true}, {2*s - 1, 3, true}, {2 * s, 3, false}, {1 * s, 5, false}} {
		e := c.current(tc.state, tc.now)
		if (e != nil) != tc.want || e != nil && e.sent != 1*s {
			t.Errorf("current(state %d, at %v) = %+v; want an estimate: %v, the later one", tc.state, time.Duration(tc.now), e, tc.want)
		}
	}
}

func TestRead_FlushesTheNearCacheWhenTheServerClockJumpedAhead(t *testing.T) {
	srv := redistest.Run(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	m, err := New(client, Options[string, string]{Prefix: "jump", NearCache: NearCacheOptions{Size: 10}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := m.Store(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	// The Stores' own messages drop what the near cache holds: let them in.
	for m.Stats().Notifications < 2 {
		if ctx.Err() != nil {
			t.Fatal("the Stores' notifications did not arrive")
		}
		time.Sleep(time.Millisecond) // polling a counter the notification goroutine bumps
	}
	// An estimate that took the server to be an hour behind, and is due
	// for a new measurement: a's entry was bounded with it.
	m.clock.est.Store(&clockEstimate{
		ahead: time.Now().UnixNano() - monotime() - int64(time.Hour),
		sent:  monotime() - int64(clockEstimateLife),
		state: m.notify.state.Load(),
	})
	p := m.near.reserve("a")
	m.near.fill("a", p, "v", monotime(), 1000, -1)
	flushes := m.Stats().NearFlushes
	if _, ok, err := m.Load(ctx, "b"); !ok || err != nil {
		t.Fatalf("Load(b) = (%v, %v); want the stored value", ok, err)
	}
	if got := m.Stats().NearFlushes; got != flushes+1 {
		t.Errorf("NearFlushes went from %d to %d; want one flush, for the clock's jump", flushes, got)
	}
	if _, _, ok := m.near.get("a"); ok {
		t.Error("an entry bounded with the old estimate is still served")
	}
}
