package stampede

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

func TestMain(m *testing.M) {
	MaybeWorker() // the harness re-executes this test binary as its workers
	os.Exit(m.Run())
}

// testBinary runs this test binary as a worker.
func testBinary() *exec.Cmd { return exec.Command(os.Args[0], "-test.run=^$") }

// oneRound starts cfg's workers, runs one round and stops them.
func oneRound(t *testing.T, ctx context.Context, cfg Config) RoundResult {
	t.Helper()
	r, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestStampede_RedismapLoadsOncePerKeyAndTheOthersMoreOften(t *testing.T) {
	srv := redistest.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const procs, goroutines, keys = 3, 4, 3
	for _, impl := range Impls {
		cfg := Config{Addr: srv.Addr(), Impl: impl, Procs: procs, Goroutines: goroutines, Keys: keys, Load: 50 * time.Millisecond, Command: testBinary}
		res := oneRound(t, ctx, cfg)
		s := Summarize(cfg, []RoundResult{res})
		t.Logf("%s: %+v", impl, s)
		if s.Errors > 0 || len(res.Latencies) != procs*goroutines*keys {
			t.Errorf("%s: %d errors, %d answers; want none, %d", impl, s.Errors, len(res.Latencies), procs*goroutines*keys)
		}
		switch impl {
		case Redismap:
			if res.LoaderCalls != keys {
				t.Errorf("%s: loader calls %d; want %d", impl, res.LoaderCalls, keys)
			}
			if s.TripsPerProcKey > 3 {
				t.Errorf("%s: %.1f round trips per process per miss; want at most 3", impl, s.TripsPerProcKey)
			}
		case GoRedisOnce:
			// Once deduplicates inside each process only.
			if res.LoaderCalls < keys || res.LoaderCalls > keys*procs {
				t.Errorf("%s: loader calls %d; want between %d and %d", impl, res.LoaderCalls, keys, keys*procs)
			}
		case CacheAside:
			if res.LoaderCalls < keys || res.LoaderCalls > keys*procs*goroutines {
				t.Errorf("%s: loader calls %d; want between %d and %d", impl, res.LoaderCalls, keys, keys*procs*goroutines)
			}
		}
	}
}

// BenchmarkStampede runs one cold stampede per iteration: procs processes
// × goroutines goroutines per key × keys keys, a 20 ms loader. Its metrics
// are per stampede: loader calls, callers' p50 and p99, server commands per
// missed key, and round trips per process per missed key.
func BenchmarkStampede(b *testing.B) {
	srv := redistest.Run(b)
	ctx := context.Background()
	for _, shape := range []struct{ procs, goroutines, keys int }{{4, 16, 8}} {
		for _, impl := range Impls {
			name := fmt.Sprintf("impl=%s/procs=%d/goroutines=%d/keys=%d", impl, shape.procs, shape.goroutines, shape.keys)
			b.Run(name, func(b *testing.B) {
				cfg := Config{Addr: srv.Addr(), Impl: impl, Procs: shape.procs, Goroutines: shape.goroutines, Keys: shape.keys, Load: 20 * time.Millisecond, Command: testBinary}
				r, err := Start(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				if _, err := r.Round(ctx); err != nil { // warm connections
					b.Fatal(err)
				}
				var results []RoundResult
				for b.Loop() {
					res, err := r.Round(ctx)
					if err != nil {
						b.Fatal(err)
					}
					results = append(results, res)
				}
				s := Summarize(cfg, results)
				b.ReportMetric(s.LoaderCalls, "loads/op")
				b.ReportMetric(float64(s.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(s.P99.Microseconds()), "p99-µs")
				b.ReportMetric(s.CommandsPerMiss, "cmds/miss")
				b.ReportMetric(s.TripsPerProcKey, "trips/proc/miss")
				if s.Errors > 0 {
					b.Errorf("%d callers got errors", s.Errors)
				}
			})
		}
	}
}

// BenchmarkHit measures one caller reading a present key: an in-process
// safemap.Map, the tier's near cache, the tier's remote hit (Load and
// LoadOrTryCompute: one round trip), and a plain go-redis GET on the same
// server.
func BenchmarkHit(b *testing.B) {
	srv := redistest.Run(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	remote, err := redismap.New(client, redismap.Options[string, string]{Prefix: "bench-remote"})
	if err != nil {
		b.Fatal(err)
	}
	defer remote.Close()
	near, err := redismap.New(client, redismap.Options[string, string]{Prefix: "bench-near", NearCache: redismap.NearCacheOptions{Size: 1000, TTL: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	defer near.Close()
	if err := near.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	local := safemap.New[string, string]()
	const key = "user:42"
	local.Store(key, "value")
	for _, m := range []*redismap.Map[string, string]{remote, near} {
		if err := m.Store(ctx, key, "value"); err != nil {
			b.Fatal(err)
		}
	}
	client.Set(ctx, key, "value", time.Hour)
	loader := func(context.Context) (string, error) { return "", fmt.Errorf("the loader ran on a hit") }
	// Let the Store's own notification arrive before the near cache fills.
	for deadline := time.Now().Add(5 * time.Second); near.Stats().Notifications == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	near.Load(ctx, key)

	check := func(b *testing.B, v string, ok bool, err error) {
		if err != nil || !ok || v != "value" {
			b.Fatalf("got (%q, %v, %v)", v, ok, err)
		}
	}
	b.Run("impl=safemap-Map-Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := local.Load(key)
			check(b, v, ok, nil)
		}
	})
	b.Run("impl=redismap-near-Load", func(b *testing.B) {
		b.ReportAllocs()
		before := near.Stats().RemoteHits
		for b.Loop() {
			v, ok, err := near.Load(ctx, key)
			check(b, v, ok, err)
		}
		if near.Stats().RemoteHits != before {
			b.Error("near-cache hits reached Redis")
		}
	})
	b.Run("impl=redismap-near-LoadOrTryCompute", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, loaded, err := near.LoadOrTryCompute(ctx, key, loader)
			check(b, v, loaded, err)
		}
	})
	b.Run("impl=go-redis-GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := client.Get(ctx, key).Result()
			check(b, v, true, err)
		}
	})
	b.Run("impl=redismap-remote-Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok, err := remote.Load(ctx, key)
			check(b, v, ok, err)
		}
	})
	b.Run("impl=redismap-remote-LoadOrTryCompute", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, loaded, err := remote.LoadOrTryCompute(ctx, key, loader)
			check(b, v, loaded, err)
		}
	})
}

// BenchmarkHitParallel is BenchmarkHit's in-process rows with every core
// reading the same key.
func BenchmarkHitParallel(b *testing.B) {
	srv := redistest.Run(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	near, err := redismap.New(client, redismap.Options[string, string]{Prefix: "bench-near", NearCache: redismap.NearCacheOptions{Size: 1000, TTL: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	defer near.Close()
	if err := near.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	const key = "user:42"
	vkey, _, _, err := near.KeyNames(key)
	if err != nil {
		b.Fatal(err)
	}
	client.Set(ctx, vkey, "vvalue", time.Hour)
	near.Load(ctx, key)
	local := safemap.New[string, string]()
	local.Store(key, "value")
	b.Run("impl=safemap-Map-Load", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, ok := local.Load(key); !ok || v != "value" {
					b.Error("miss")
					return
				}
			}
		})
	})
	b.Run("impl=redismap-near-Load", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, ok, err := near.Load(ctx, key); !ok || err != nil || v != "value" {
					b.Error("miss")
					return
				}
			}
		})
	})
}

func TestBatch_RedismapLoadsEachKeyOnceInOneCallPerBatchAndTheOthersMoreOften(t *testing.T) {
	srv := redistest.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shape := &BatchShape{Keys: 300, Size: 30, Batches: 3, PerKey: 10 * time.Microsecond}
	for _, impl := range BatchImpls {
		cfg := Config{Addr: srv.Addr(), Impl: impl, Procs: 3, Goroutines: 1, Keys: 1, Load: 5 * time.Millisecond, Batch: shape, Command: testBinary}
		res := oneRound(t, ctx, cfg)
		s := SummarizeBatch(cfg, []RoundResult{res})
		t.Logf("%s: %+v", impl, s)
		if s.Errors > 0 || len(res.Latencies) != cfg.Procs*shape.Batches {
			t.Errorf("%s: %d errors, %d batches; want none, %d", impl, s.Errors, len(res.Latencies), cfg.Procs*shape.Batches)
		}
		switch impl {
		case RedismapBatch:
			if s.LoadsPerKey != 1 || s.LoaderCallsPerProc > 1 || s.TripsPerProc > 3 {
				t.Errorf("%s: %.2f loads per key, %.2f loader calls and %.2f round trips per process per batch; want 1, at most 1, at most 3", impl, s.LoadsPerKey, s.LoaderCallsPerProc, s.TripsPerProc)
			}
		case Redismap:
			if s.LoadsPerKey != 1 {
				t.Errorf("%s: %.2f loads per key; want 1", impl, s.LoadsPerKey)
			}
		}
	}
}

// BenchmarkBatch runs the batch workload: 4 processes each resolve 10
// overlapping random batches of 100 keys out of 1,000 per iteration, with
// a loader that costs 5 ms plus 10 µs per key. Its metrics: loader calls
// and round trips per process per batch, keys loaded per distinct key, and
// a batch's p50 and p99.
func BenchmarkBatch(b *testing.B) {
	srv := redistest.Run(b)
	ctx := context.Background()
	shape := &BatchShape{Keys: 1000, Size: 100, Batches: 10, PerKey: 10 * time.Microsecond}
	for _, impl := range BatchImpls {
		b.Run(fmt.Sprintf("impl=%s/procs=4/batch=%d/keys=%d", impl, shape.Size, shape.Keys), func(b *testing.B) {
			cfg := Config{Addr: srv.Addr(), Impl: impl, Procs: 4, Goroutines: 1, Keys: 1, Load: 5 * time.Millisecond, Batch: shape, Command: testBinary}
			r, err := Start(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var results []RoundResult
			for b.Loop() {
				res, err := r.Round(ctx)
				if err != nil {
					b.Fatal(err)
				}
				results = append(results, res)
			}
			s := SummarizeBatch(cfg, results)
			b.ReportMetric(s.LoaderCallsPerProc, "loads/proc/batch")
			b.ReportMetric(s.LoadsPerKey, "loads/key")
			b.ReportMetric(s.TripsPerProc, "trips/proc/batch")
			b.ReportMetric(float64(s.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(s.P99.Microseconds()), "p99-µs")
			if s.Errors > 0 {
				b.Errorf("%d keys without a value", s.Errors)
			}
		})
	}
}
