package redismap_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// The hot-key workload of issue 20: P processes × G goroutines read one
// key for several TTL periods, with a slow loader, without refresh, with
// RefreshAfter, and with XFetch's rule in its place (Vattani, Chierichetti
// and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB
// 2015): a read is due when -load·β·ln(U) ≥ the value's remaining TTL, U
// uniform in (0, 1]. The processes are children re-executing this test
// binary (role "hotkey").
//
//	go test -run '^$' -bench RefreshHotKey -benchtime 1x -count 3 ./redismap/ > refresh.txt
//	benchstat -col /rule refresh.txt

// hotKeyReport is what a "hotkey" child prints when it is done.
type hotKeyReport struct {
	Calls     int64 // loader calls while the key was read (after the first fill)
	Errors    int64
	Latencies redistest.Latencies
	Stats     redismap.Stats
}

// The workload's shape, in the children's environment.
type hotKeyShape struct {
	procs, goroutines int
	ttl, load, pace   time.Duration
	periods           int
}

func hotKeyChild(ctx context.Context, client *redis.Client, in *bufio.Scanner, out *json.Encoder, num func(string) int) error {
	ms := func(name string) time.Duration { return time.Duration(num(name)) * time.Millisecond }
	opts := redismap.Options[string, string]{
		Prefix: os.Getenv("REDISMAP_PREFIX"), TTL: ms("TTL_MS"), TTLJitter: -1, Lease: ms("LEASE_MS"),
		RefreshAfter: ms("REFRESH_AFTER_MS"),
	}
	m, err := redismap.New(client, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	if beta, _ := strconv.ParseFloat(os.Getenv("REDISMAP_XFETCH_BETA"), 64); beta > 0 {
		redismap.SetRefreshRule(m, func(age, ttl, load time.Duration) bool {
			return -float64(load)*beta*math.Log(1-rand.Float64()) >= float64(ttl-age)
		})
	}
	if err := m.Ready(ctx); err != nil {
		return err
	}
	var calls atomic.Int64
	load := ms("LOAD_MS")
	loader := func(ctx context.Context) (string, error) {
		calls.Add(1)
		select {
		case <-time.After(load): // the slow backend the cache protects
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "value", nil
	}
	read := func(ctx context.Context) error {
		v, _, err := m.LoadOrTryCompute(ctx, "hot", loader)
		if err == nil && v != "value" {
			err = fmt.Errorf("got %q", v)
		}
		return err
	}
	if err := read(ctx); err != nil { // the first fill
		return err
	}
	fmt.Println("ready")
	if !in.Scan() {
		return errors.New("no go from the parent")
	}
	calls.Store(0)
	lat, errs := redistest.ReadHotKey(ctx, num("GOROUTINES"), ms("DURATION_MS"), ms("PACE_MS"), read)
	return out.Encode(hotKeyReport{Calls: calls.Load(), Errors: errs, Latencies: lat, Stats: m.Stats()})
}

// runHotKey runs the workload once with rule ("off", "RefreshAfter",
// "XFetch") and returns the children's reports added up.
func runHotKey(b *testing.B, srv *server, shape hotKeyShape, rule string) hotKeyReport {
	b.Helper()
	env := map[string]string{
		"ADDR": srv.addr(), "PREFIX": prefix(b), "LEASE_MS": "5000",
		"TTL_MS": fmt.Sprint(shape.ttl.Milliseconds()), "LOAD_MS": fmt.Sprint(shape.load.Milliseconds()),
		"GOROUTINES": strconv.Itoa(shape.goroutines), "PACE_MS": fmt.Sprint(shape.pace.Milliseconds()),
		"DURATION_MS": fmt.Sprint((time.Duration(shape.periods) * shape.ttl).Milliseconds()),
	}
	switch rule {
	case "RefreshAfter":
		env["REFRESH_AFTER_MS"] = fmt.Sprint((shape.ttl * 8 / 10).Milliseconds())
	case "XFetch":
		// The server refuses values younger than RefreshAfter: half the
		// TTL, so that XFetch's rule decides in the second half.
		env["REFRESH_AFTER_MS"] = fmt.Sprint((shape.ttl / 2).Milliseconds())
		env["XFETCH_BETA"] = "1"
	}
	children := startChildren(b, shape.procs, "hotkey", func(int) map[string]string { return env })
	var sum hotKeyReport
	for _, c := range children {
		var r hotKeyReport
		if err := json.Unmarshal([]byte(c.line()), &r); err != nil {
			b.Fatal(err)
		}
		c.wait()
		sum.Calls += r.Calls
		sum.Errors += r.Errors
		sum.Latencies.Merge(r.Latencies)
		sum.Stats.Refreshes += r.Stats.Refreshes
	}
	return sum
}

func BenchmarkRefreshHotKey(b *testing.B) {
	srv := shared(b)
	shape := hotKeyShape{procs: 4, goroutines: 8, ttl: time.Second, load: 50 * time.Millisecond, pace: 2 * time.Millisecond, periods: 10}
	for _, rule := range []string{"off", "RefreshAfter", "XFetch"} {
		b.Run(fmt.Sprintf("rule=%s/procs=%d/goroutines=%d", rule, shape.procs, shape.goroutines), func(b *testing.B) {
			var sum hotKeyReport
			for b.Loop() {
				r := runHotKey(b, srv, shape, rule)
				sum.Calls += r.Calls
				sum.Errors += r.Errors
				sum.Latencies.Merge(r.Latencies)
			}
			b.ReportMetric(float64(sum.Calls)/float64(b.N*shape.periods), "loads/period")
			b.ReportMetric(float64(sum.Latencies.Quantile(0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(sum.Latencies.Quantile(0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(sum.Latencies.Quantile(0.999).Microseconds()), "p99.9-µs")
			b.ReportMetric(float64(sum.Latencies.Max.Microseconds()), "max-µs")
			b.ReportMetric(float64(sum.Latencies.N)/float64(b.N), "reads/op")
			// Reads that took most of a loader's time: callers that waited
			// for a load (or, on a loaded host, a stall as long).
			b.ReportMetric(float64(sum.Latencies.CountAbove(shape.load*8/10))/float64(b.N), "waited-reads/op")
			if sum.Errors > 0 {
				b.Errorf("%d reads failed", sum.Errors)
			}
		})
	}
}
