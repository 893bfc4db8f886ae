package safemapotel_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// prefixes makes each test's redismap Prefix unique.
var prefixes atomic.Int64

// newRedisMap starts a redis-server for the test (skipping it, with an
// install hint, where there is none, and failing under CI=true) and
// returns a Map on it with opts, whose Prefix is made unique, and a
// client of the same server.
func newRedisMap(t *testing.T, opts redismap.Options[string, string]) (*redismap.Map[string, string], *redis.Client) {
	t.Helper()
	srv := redistest.Run(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	return newRedisMapOn(t, client, opts), client
}

// newRedisMapOn returns a Map on client with opts, closed when the test
// ends, once its notification subscription is up.
func newRedisMapOn(t *testing.T, client redis.UniversalClient, opts redismap.Options[string, string]) *redismap.Map[string, string] {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("otel.%s.%d", strings.ReplaceAll(t.Name(), "/", "."), prefixes.Add(1))
	}
	m, err := redismap.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	return m
}

// redisWorkload runs a scripted workload on tm (a traced redismap) and
// returns the outcomes its loads should have: a miss, a load, two hits, a
// failed load and its shared error, a not-found load and its negative
// hit, and a load whose commit is fenced by a Store made while it ran.
func redisWorkload(t *testing.T, m *redismap.Map[string, string], tm *safemapotel.Traced[string, string]) []string {
	t.Helper()
	ctx := context.Background()
	load := func(key string, fn func(context.Context) (string, error)) (string, error) {
		v, _, err := tm.LoadOrTryCompute(ctx, key, fn)
		return v, err
	}
	if _, ok, err := m.Load(ctx, "a"); ok || err != nil {
		t.Fatalf("Load of an absent key: ok=%v err=%v", ok, err)
	}
	if v, err := load("a", func(context.Context) (string, error) { return "A", nil }); v != "A" || err != nil {
		t.Fatalf("load a: %q, %v", v, err)
	}
	if v, err := load("a", func(context.Context) (string, error) { return "X", nil }); v != "A" || err != nil {
		t.Fatalf("hit a: %q, %v", v, err)
	}
	if v, ok, err := m.Load(ctx, "a"); v != "A" || !ok || err != nil {
		t.Fatalf("Load a: %q, %v, %v", v, ok, err)
	}
	boom := errors.New("boom")
	if _, err := load("b", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("load b: %v; want boom", err)
	}
	var shared *redismap.SharedError
	if _, err := load("b", func(context.Context) (string, error) { return "B", nil }); !errors.As(err, &shared) {
		t.Fatalf("b again: %v; want a *SharedError", err)
	}
	if _, err := load("n", func(context.Context) (string, error) { return "", redismap.ErrNotFound }); !errors.Is(err, redismap.ErrNotFound) {
		t.Fatalf("load n: %v; want ErrNotFound", err)
	}
	if _, err := load("n", func(context.Context) (string, error) { return "N", nil }); !errors.Is(err, redismap.ErrNotFound) {
		t.Fatalf("n again: %v; want the cached ErrNotFound", err)
	}
	if _, err := load("f", func(ctx context.Context) (string, error) {
		if err := m.Store(ctx, "f", "stored"); err != nil {
			return "", err
		}
		return "loaded", nil
	}); !errors.Is(err, redismap.ErrFenced) {
		t.Fatalf("load f: %v; want ErrFenced", err)
	}
	return []string{"loaded", "error", "error", "fenced"}
}

func TestRegisterRedisMap_ReportsExactCountsAfterAScriptedWorkload(t *testing.T) {
	m, _ := newRedisMap(t, redismap.Options[string, string]{NegativeTTL: time.Minute, NearCache: redismap.NearCacheOptions{Size: 100}})
	mp, r := newMeterProvider(t)
	tp, rec := newTracerProvider(t)
	reg, err := safemapotel.RegisterRedisMap(mp, "accounts", m)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	tm, err := safemapotel.Trace[string, string](m, "accounts", safemapotel.WithTracerProvider(tp), safemapotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes := redisWorkload(t, m, tm)

	st := m.Stats()
	// What the script fixes; the near cache decides which hits are near.
	if st.Misses != 1 || st.Loads != 4 || st.LoaderErrors != 2 || st.SharedErrors != 1 || st.NegativeHits != 1 ||
		st.FencedCommits != 1 || st.Takeovers != 0 || st.NearHits+st.RemoteHits != 2 {
		t.Fatalf("Stats after the script: %+v; want 1 miss, 4 loads, 2 loader errors, 1 shared error, 1 negative hit, 1 fenced commit, 2 hits", st)
	}
	n := func(v int64) float64 { return float64(v) }
	got := collect(t, r)
	checkPoints(t, got, map[string]float64{
		"safemap.lookups{safemap.name=accounts,safemap.outcome=hit,safemap.source=near}":   n(st.NearHits),
		"safemap.lookups{safemap.name=accounts,safemap.outcome=hit,safemap.source=remote}": n(st.RemoteHits),
		"safemap.lookups{safemap.name=accounts,safemap.outcome=miss}":                      1,
		"safemap.lookups{safemap.name=accounts,safemap.outcome=negative_hit}":              1,
		"safemap.loads{safemap.name=accounts}":                                             4,
		"safemap.load.errors{safemap.name=accounts,safemap.outcome=error}":                 2,
		"safemap.waits{safemap.name=accounts}":                                             0,
		"safemap.shared_errors{safemap.name=accounts}":                                     1,
		"safemap.refreshes{safemap.name=accounts}":                                         0,
		"safemap.refresh.errors{safemap.name=accounts}":                                    0,
		"safemap.evictions{safemap.cause=size,safemap.name=accounts}":                      0,
		"safemap.takeovers{safemap.name=accounts}":                                         0,
		"safemap.commits{safemap.name=accounts,safemap.outcome=stored}":                    n(st.Commits),
		"safemap.commits{safemap.name=accounts,safemap.outcome=fenced}":                    1,
		"safemap.commits{safemap.name=accounts,safemap.outcome=lease_lost}":                0,
		"safemap.commits{safemap.name=accounts,safemap.outcome=error}":                     0,
		"safemap.load.duration{safemap.name=accounts,safemap.outcome=loaded}":              1,
		"safemap.load.duration{safemap.name=accounts,safemap.outcome=error}":               2,
		"safemap.load.duration{safemap.name=accounts,safemap.outcome=fenced}":              1,
	})
	if st.Commits != 3 { // a's value, b's error marker, n's negative entry
		t.Errorf("Commits = %d; want 3", st.Commits)
	}
	var outcomes []string
	for _, s := range loadSpans(rec) {
		outcomes = append(outcomes, attr(s, safemapotel.AttrOutcome))
	}
	if strings.Join(outcomes, " ") != strings.Join(wantOutcomes, " ") {
		t.Errorf("load span outcomes %v; want %v", outcomes, wantOutcomes)
	}
}

func TestTraced_LabelsARedisTakeover(t *testing.T) {
	m, client := newRedisMap(t, redismap.Options[string, string]{Lease: 10 * time.Second})
	holderClient := redis.NewClient(&redis.Options{Addr: client.Options().Addr})
	t.Cleanup(func() { holderClient.Close() })
	holder := newRedisMapOn(t, holderClient, redismap.Options[string, string]{Prefix: prefixOf(t, m), Lease: 10 * time.Second})
	tp, rec := newTracerProvider(t)
	tm := tracedMap[string, string](t, m, tp)

	hctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	holderDone := make(chan struct{})
	go func() {
		defer close(holderDone)
		holder.LoadOrTryCompute(hctx, "k", func(ctx context.Context) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		})
	}()
	<-started
	got := make(chan string, 1)
	go func() {
		v, _, err := tm.LoadOrTryCompute(context.Background(), "k", func(context.Context) (string, error) { return "mine", nil })
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	for m.Stats().Waits == 0 { // the traced call waits for the holder's lease
		runtime.Gosched()
	}
	cancel() // the holder gives the lease up with nothing stored
	<-holderDone
	if v := <-got; v != "mine" {
		t.Fatalf("the traced call got %q; want its own value", v)
	}
	spans := loadSpans(rec)
	if len(spans) != 1 || attr(spans[0], safemapotel.AttrOutcome) != "takeover" {
		t.Fatalf("got %d load spans, outcome %q; want one, takeover", len(spans), attr(spans[0], safemapotel.AttrOutcome))
	}
}

func TestTraced_LabelsABackgroundRefreshAndLinksItToTheCallThatStartedIt(t *testing.T) {
	m, _ := newRedisMap(t, redismap.Options[string, string]{TTL: time.Minute, TTLJitter: -1, RefreshAfter: 20 * time.Millisecond})
	tp, rec := newTracerProvider(t)
	tm := tracedMap[string, string](t, m, tp)
	ctx := context.Background()
	tm.LoadOrTryCompute(ctx, "k", func(context.Context) (string, error) { return "v1", nil })

	reqCtx, req := tp.Tracer("test").Start(ctx, "request")
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond) // the value must age, in the server's time
	defer tick.Stop()
	for m.Stats().Refreshes == 0 || len(loadSpans(rec)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no refresh within 10 s: %+v", m.Stats())
		}
		// A hit on a value older than RefreshAfter starts the refresh.
		tm.LoadOrTryCompute(reqCtx, "k", func(context.Context) (string, error) { return "v2", nil })
		<-tick.C
	}
	req.End()
	spans := loadSpans(rec)
	refresh := spans[1]
	if got := attr(refresh, safemapotel.AttrOutcome); got != "refreshed" {
		t.Errorf("the refresh's outcome is %q; want refreshed", got)
	}
	if refresh.Parent().IsValid() {
		t.Errorf("the refresh's span has parent %v; want a new root (it runs on the map's context)", refresh.Parent().SpanID())
	}
	if links := linksOf(refresh, "trigger"); len(links) != 1 || links[0].SpanID() != req.SpanContext().SpanID() {
		t.Errorf("the refresh's trigger links: %v; want the request's span", links)
	}
}

// prefixOf returns m's Prefix.
func prefixOf(t *testing.T, m *redismap.Map[string, string]) string {
	t.Helper()
	value, _, _, err := m.KeyNames("x")
	if err != nil {
		t.Fatal(err)
	}
	// value is "{N:Prefix:x}:v".
	inner := value[strings.Index(value, ":")+1 : strings.LastIndex(value, "}")]
	return strings.TrimSuffix(inner, ":x")
}

func TestTraced_ABatchLoadIsOneSpanWithItsBatchSize(t *testing.T) {
	m, _ := newRedisMap(t, redismap.Options[string, string]{})
	tp, rec := newTracerProvider(t)
	tm := tracedMap[string, string](t, m, tp)
	ctx := context.Background()
	if err := m.Store(ctx, "b", "B"); err != nil {
		t.Fatal(err)
	}
	got, err := tm.LoadOrTryComputeAll(ctx, []string{"a", "b", "c", "a"}, func(_ context.Context, missing []string) (map[string]string, error) {
		out := map[string]string{}
		for _, k := range missing {
			out[k] = strings.ToUpper(k)
		}
		return out, nil
	})
	if err != nil || len(got) != 3 {
		t.Fatalf("LoadOrTryComputeAll: %v, %v; want a, b and c", got, err)
	}
	spans := loadSpans(rec)
	if len(spans) != 1 {
		t.Fatalf("got %d load spans; want 1 (one loader call for a and c)", len(spans))
	}
	if size, outcome := attr(spans[0], safemapotel.AttrBatchSize), attr(spans[0], safemapotel.AttrOutcome); size != "2" || outcome != "loaded" {
		t.Errorf("batch size %s, outcome %s; want 2, loaded", size, outcome)
	}
}

func TestTraced_LoadOrTryComputeAllPanicsOnAMapWithoutIt(t *testing.T) {
	// RWMap has no batch method (Map has one since invalidation-wins).
	tp, _ := newTracerProvider(t)
	tm := tracedMap[string, int](t, new(safemap.RWMap[string, int]), tp)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "has no LoadOrTryComputeAll") {
			t.Errorf("recovered %v; want a panic saying the map has no LoadOrTryComputeAll", r)
		}
	}()
	tm.LoadOrTryComputeAll(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]int, error) { return nil, nil })
}
