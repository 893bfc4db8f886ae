package redistest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap/redistest"
)

func TestRun_StartsAServerOnALoopbackPortThatRestartEmpties(t *testing.T) {
	t.Parallel()
	s := redistest.Run(t)
	if s.Port() == 6379 || s.Addr() != "127.0.0.1:"+strconv.Itoa(s.Port()) {
		t.Fatalf("address %s; want a loopback address, never port 6379", s.Addr())
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("after Restart: EXISTS k = %d, %v; want 0 (no persistence)", n, err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("the server answers PING after Stop")
	}
	s.Stop() // a second Stop is harmless
}

func TestRunFailover_SentinelsNameThePrimaryAndPromoteTheReplica(t *testing.T) {
	t.Parallel()
	f := redistest.RunFailover(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if addr, err := f.MasterAddr(ctx); err != nil || addr != f.Primary.Addr() {
		t.Fatalf("the sentinels name %q, %v; want the primary %s", addr, err, f.Primary.Addr())
	}
	f.Primary.Kill()
	for {
		addr, err := f.MasterAddr(ctx)
		if err == nil && addr == f.Replica.Addr() {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("after kill -9 of the primary the sentinels name %q, %v; want the replica %s", addr, err, f.Replica.Addr())
		}
		time.Sleep(20 * time.Millisecond) // polling the sentinels
	}
}

func TestLatencies_QuantilesAreWithinABucketAndMergeAddsUp(t *testing.T) {
	t.Parallel()
	var a, b redistest.Latencies
	for i := 1; i <= 100; i++ {
		a.Add(time.Duration(i) * time.Millisecond)
	}
	b.Add(time.Second)
	a.Merge(b)
	if a.N != 101 || a.Max != time.Second {
		t.Fatalf("N=%d Max=%v; want 101, 1s", a.N, a.Max)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 51 * time.Millisecond}, {0.99, 100 * time.Millisecond}, {1, time.Second}} {
		if got := a.Quantile(tc.q); got < tc.want*99/100 || got > tc.want*102/100 {
			t.Errorf("Quantile(%v) = %v; want %v within 2 %%", tc.q, got, tc.want)
		}
	}
	if got := a.CountAbove(90 * time.Millisecond); got < 11 || got > 13 {
		t.Errorf("CountAbove(90ms) = %d; want 12 within a bucket", got)
	}
}
