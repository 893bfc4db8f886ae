package safemapotel_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracerProvider returns a tracer provider that records every span.
func newTracerProvider(t testing.TB) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// loadSpans returns the ended spans named safemap.load.
func loadSpans(rec *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == safemapotel.SpanName {
			out = append(out, s)
		}
	}
	return out
}

// attr returns the value of s's attribute k, or "" if it has none.
func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, a := range s.Attributes() {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return ""
}

// linksOf returns s's links marked safemap.link=kind.
func linksOf(s sdktrace.ReadOnlySpan, kind string) []trace.SpanContext {
	var out []trace.SpanContext
	for _, l := range s.Links() {
		for _, a := range l.Attributes {
			if a.Key == safemapotel.AttrLink && a.Value.AsString() == kind {
				out = append(out, l.SpanContext)
			}
		}
	}
	return out
}

func TestTraceLoader_MakesOneSpanPerLoadAndNoneForAHit(t *testing.T) {
	tp, rec := newTracerProvider(t)
	tracer := tp.Tracer("test")
	m := safemap.New[string, int]()
	ctx, req := tracer.Start(context.Background(), "request")
	boom := errors.New("boom")
	loaders := map[string]func(context.Context) (int, error){
		"a": func(context.Context) (int, error) { return 1, nil },
		"b": func(context.Context) (int, error) { return 0, boom },
		"c": func(context.Context) (int, error) { panic("kaboom") },
	}
	for _, k := range []string{"a", "a", "b", "c"} {
		func() {
			defer func() { recover() }()
			m.LoadOrTryCompute(ctx, k, safemapotel.TraceLoader(tracer, "users", loaders[k]))
		}()
	}
	req.End()
	spans := loadSpans(rec)
	if len(spans) != 3 {
		t.Fatalf("got %d load spans; want 3 (a, b, c: the second call of a is a hit)", len(spans))
	}
	for i, want := range []struct {
		outcome string
		status  codes.Code
	}{{"loaded", codes.Unset}, {"error", codes.Error}, {"panic", codes.Error}} {
		s := spans[i]
		if got := attr(s, safemapotel.AttrOutcome); got != want.outcome {
			t.Errorf("span %d: outcome %q; want %q", i, got, want.outcome)
		}
		if got := attr(s, safemapotel.AttrName); got != "users" {
			t.Errorf("span %d: name %q; want users", i, got)
		}
		if s.Status().Code != want.status {
			t.Errorf("span %d: status %v; want %v", i, s.Status().Code, want.status)
		}
		if s.Parent().SpanID() != req.SpanContext().SpanID() {
			t.Errorf("span %d: parent %v; want the request's span", i, s.Parent().SpanID())
		}
	}
}

func TestTraceBatchLoader_RecordsTheBatchSize(t *testing.T) {
	tp, rec := newTracerProvider(t)
	fn := safemapotel.TraceBatchLoader(tp.Tracer("test"), "users", func(_ context.Context, missing []int) (map[int]string, error) {
		return map[int]string{}, nil
	})
	fn(context.Background(), []int{1, 2, 3})
	spans := loadSpans(rec)
	if len(spans) != 1 || attr(spans[0], safemapotel.AttrBatchSize) != "3" {
		t.Fatalf("got %d spans, batch size %q; want 1 span with batch size 3", len(spans), attr(spans[0], safemapotel.AttrBatchSize))
	}
}

// tracedMap returns m traced under "users" with tp and mp.
func tracedMap[K comparable, V any](t testing.TB, m safemapotel.LoadOrTryComputer[K, V], tp trace.TracerProvider, opts ...safemapotel.Option) *safemapotel.Traced[K, V] {
	t.Helper()
	tm, err := safemapotel.Trace(m, "users", append([]safemapotel.Option{safemapotel.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// waitUntilWaiting waits until n callers are registered for key.
func waitUntilWaiting[K comparable, V any](tm *safemapotel.Traced[K, V], key K, n int) {
	for {
		if w, _ := tm.Waiting(key); w >= n {
			return
		}
		runtime.Gosched()
	}
}

func TestTraced_LinksTheLoadToTheCallerThatWaitedForIt(t *testing.T) {
	tp, rec := newTracerProvider(t)
	tracer := tp.Tracer("test")
	tm := tracedMap[string, int](t, safemap.New[string, int](), tp)

	loaderCtx, loaderReq := tracer.Start(context.Background(), "request A")
	waiterCtx, waiterReq := tracer.Start(context.Background(), "request B")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tm.LoadOrTryCompute(loaderCtx, "k", func(context.Context) (int, error) { close(started); <-release; return 7, nil })
	}()
	<-started
	got := make(chan int)
	go func() {
		v, _, _ := tm.LoadOrTryCompute(waiterCtx, "k", func(context.Context) (int, error) { return -1, nil })
		got <- v
	}()
	waitUntilWaiting(tm, "k", 2) // A and B
	close(release)
	<-done
	if v := <-got; v != 7 {
		t.Fatalf("the waiter got %d; want the loader's 7", v)
	}
	loaderReq.End()
	waiterReq.End()

	spans := loadSpans(rec)
	if len(spans) != 1 {
		t.Fatalf("got %d load spans; want 1 (the waiter made none)", len(spans))
	}
	load := spans[0]
	if load.Parent().SpanID() != loaderReq.SpanContext().SpanID() {
		t.Errorf("the load's parent is %v; want request A's span", load.Parent().SpanID())
	}
	if links := linksOf(load, "waiter"); len(links) != 1 || links[0].SpanID() != waiterReq.SpanContext().SpanID() {
		t.Errorf("the load's waiter links: %v; want request B's span alone", links)
	}
	if got := attr(load, safemapotel.AttrOutcome); got != "loaded" {
		t.Errorf("outcome %q; want loaded", got)
	}
	var b sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "request B" {
			b = s
		}
	}
	if links := linksOf(b, "load"); len(links) != 1 || links[0].SpanID() != load.SpanContext().SpanID() {
		t.Errorf("request B's load links: %v; want the load's span", links)
	}
	if _, records := tm.Waiting("k"); records != 0 {
		t.Errorf("%d in-flight records left after every call returned; want 0", records)
	}
}

func TestTraced_RecordsOutcomesAndTheLoaderDurationAndNothingForAHit(t *testing.T) {
	tp, rec := newTracerProvider(t)
	mp, r := newMeterProvider(t)
	tm := tracedMap[string, int](t, safemap.New[string, int](), tp, safemapotel.WithMeterProvider(mp))
	ctx := context.Background() // no span: nothing to link, loads still traced
	boom := errors.New("boom")
	tm.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 1, nil })
	tm.LoadOrTryCompute(ctx, "a", func(context.Context) (int, error) { return 2, nil }) // hit
	tm.LoadOrTryCompute(ctx, "b", func(context.Context) (int, error) { return 0, boom })
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v; want the loader's panic", r)
			}
		}()
		tm.LoadOrTryCompute(ctx, "c", func(context.Context) (int, error) { panic("kaboom") })
	}()
	var outcomes []string
	for _, s := range loadSpans(rec) {
		outcomes = append(outcomes, attr(s, safemapotel.AttrOutcome))
	}
	if len(outcomes) != 3 || outcomes[0] != "loaded" || outcomes[1] != "error" || outcomes[2] != "panic" {
		t.Errorf("load span outcomes %v; want [loaded error panic]", outcomes)
	}
	got := collect(t, r)
	checkPoints(t, got, map[string]float64{
		"safemap.load.duration{safemap.name=users,safemap.outcome=loaded}": 1,
		"safemap.load.duration{safemap.name=users,safemap.outcome=error}":  1,
		"safemap.load.duration{safemap.name=users,safemap.outcome=panic}":  1,
	})
	if got.kinds["safemap.load.duration"] != "histogram" || got.units["safemap.load.duration"] != "s" {
		t.Errorf("safemap.load.duration is a %q in %q; want a histogram in s", got.kinds["safemap.load.duration"], got.units["safemap.load.duration"])
	}
	if _, records := tm.Waiting("a"); records != 0 {
		t.Errorf("%d in-flight records left; want 0", records)
	}
	checkNoGoroutineOf(t, thisPackage)
}

func TestTrace_RejectsAnEmptyNameAndANilMap(t *testing.T) {
	if _, err := safemapotel.Trace[string, int](nil, ""); err == nil ||
		!containsAll(err.Error(), "the map is nil", "name is empty") {
		t.Errorf("Trace(nil, \"\"): err = %v; want one naming both problems", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !contains(s, p) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestTraced_TiesTheLoaderDurationToTheLoadsTraceByAnExemplar(t *testing.T) {
	tp, rec := newTracerProvider(t)
	mp, r := newMeterProvider(t)
	tm := tracedMap[string, int](t, safemap.New[string, int](), tp, safemapotel.WithMeterProvider(mp))
	tm.LoadOrTryCompute(context.Background(), "a", func(context.Context) (int, error) { return 1, nil })
	spans := loadSpans(rec)
	if len(spans) != 1 {
		t.Fatalf("got %d load spans; want 1", len(spans))
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var exemplars []metricdata.Exemplar[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "safemap.load.duration" {
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					exemplars = append(exemplars, dp.Exemplars...)
				}
			}
		}
	}
	want := spans[0].SpanContext().TraceID()
	if len(exemplars) != 1 || trace.TraceID(exemplars[0].TraceID) != want {
		t.Errorf("exemplars %v; want one of the load's trace %v", exemplars, want)
	}
}
