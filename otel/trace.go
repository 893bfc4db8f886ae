package safemapotel

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// SpanName is the name of every load span.
const SpanName = "safemap.load"

// The outcomes of a load span (the safemap.outcome attribute) and of the
// loader-duration histogram.
const (
	OutcomeLoaded    = "loaded"    // the loader returned a value
	OutcomeError     = "error"     // the loader returned an error
	OutcomePanic     = "panic"     // the loader panicked
	OutcomeFenced    = "fenced"    // redismap refused the value's commit (ErrFenced or ErrLeaseLost)
	OutcomeTakeover  = "takeover"  // redismap: the loader ran under a lease taken over from a holder that stored nothing
	OutcomeRefreshed = "refreshed" // the loader reloaded a value in the background (refresh before expiry)
)

// AttrLink marks the links a load span and a waiter's span carry:
// "waiter" on the load span's link to a caller that waited for it, "load"
// on a waiter's link to the load it waited for, "trigger" on a background
// refresh's link to the call that started it.
const AttrLink = attribute.Key("safemap.link")

// loadDurationBounds are the loader-duration histogram's bucket bounds in
// seconds: from 100 µs (an in-memory computation) to a minute (redismap's
// default MaxLoad).
var loadDurationBounds = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// TraceLoader wraps fn, a loader for LoadOrTryCompute of any tier, so that
// each call of it is one span, named "safemap.load", a child of the span
// in the ctx the map passes it, with the attributes safemap.name=name and
// safemap.outcome: loaded, error or panic (the span's status is Error for
// the last two, and a panic is recorded as an exception event and goes
// on). A hit never calls the loader, so it makes no span.
//
// TraceLoader links no waiter: only [Traced] sees the callers that wait
// for a load. The returned function holds no lock while fn runs and is
// safe for concurrent use if fn is; each call of it allocates the span.
func TraceLoader[V any](tracer trace.Tracer, name string, fn func(context.Context) (V, error)) func(context.Context) (V, error) {
	if tracer == nil || fn == nil {
		panic("safemapotel: TraceLoader with a nil tracer or function")
	}
	return func(ctx context.Context) (V, error) {
		ctx, span := tracer.Start(ctx, SpanName, trace.WithAttributes(AttrName.String(name)))
		l := &load{span: span}
		v, err := runLoader(l, func() (V, error) { return fn(ctx) }, func() { l.end(OutcomePanic, nil) })
		l.end(outcomeOf(err), nil)
		return v, err
	}
}

// TraceBatchLoader is TraceLoader for the loader of LoadOrTryComputeAll
// (a cache's or a redismap's): each call is one span with, besides
// safemap.name and safemap.outcome, safemap.batch.size, the number of keys
// the call was given.
func TraceBatchLoader[K comparable, V any](tracer trace.Tracer, name string, fn func(ctx context.Context, missing []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	if tracer == nil || fn == nil {
		panic("safemapotel: TraceBatchLoader with a nil tracer or function")
	}
	return func(ctx context.Context, missing []K) (map[K]V, error) {
		ctx, span := tracer.Start(ctx, SpanName, trace.WithAttributes(AttrName.String(name), AttrBatchSize.Int(len(missing))))
		l := &load{span: span}
		v, err := runLoader(l, func() (map[K]V, error) { return fn(ctx, missing) }, func() { l.end(OutcomePanic, nil) })
		l.end(outcomeOf(err), nil)
		return v, err
	}
}

// load is one load span, from the loader's call to the span's end.
type load struct {
	span  trace.Span
	start time.Time     // when the loader was called
	took  time.Duration // how long the loader ran
}

// runLoader runs fn for the load l, timing it. If fn panics, onPanic runs
// (to end the span with the outcome panic) and the panic goes on, raised
// again from the deferred call so that the crash report shows where it
// began; a runtime.Goexit in fn calls onPanic too and goes on.
func runLoader[R any](l *load, fn func() (R, error), onPanic func()) (R, error) {
	v, err, nilPanic := timeLoader(l, fn, onPanic)
	if nilPanic {
		// fn called panic(nil) under GODEBUG=panicnil=1, which the recover
		// in timeLoader stopped: start it again.
		panic(nil)
	}
	return v, err
}

// timeLoader is runLoader's call of fn. recover tells a panic from
// runtime.Goexit: it returns a panic's value (never nil since Go 1.21) and
// nil during Goexit, which it does not stop. The one ambiguity is
// panic(nil) under GODEBUG=panicnil=1, which recover does stop: timeLoader
// then returns normally with nilPanic set, which no Goexit can do.
func timeLoader[R any](l *load, fn func() (R, error), onPanic func()) (v R, err error, nilPanic bool) {
	l.start = time.Now()
	normalReturn := false
	defer func() {
		if normalReturn {
			return
		}
		l.took = time.Since(l.start)
		r := recover()
		if r != nil {
			l.span.RecordError(fmt.Errorf("panic: %v", r), trace.WithStackTrace(true))
		}
		onPanic()
		if r != nil {
			panic(r)
		}
		nilPanic = true // seen by the caller only if this was no Goexit
	}()
	v, err = fn()
	normalReturn = true
	l.took = time.Since(l.start)
	return v, err, false
}

// outcomeOf is the outcome of a loader that returned err.
func outcomeOf(err error) string {
	if err != nil {
		return OutcomeError
	}
	return OutcomeLoaded
}

// end sets l's outcome, records its duration in h (if not nil) and ends
// the span. An error outcome sets the span's status to Error.
func (l *load) end(outcome string, h *durationHistogram) {
	l.span.SetAttributes(AttrOutcome.String(outcome))
	if outcome == OutcomeError || outcome == OutcomePanic || outcome == OutcomeFenced {
		l.span.SetStatus(codes.Error, outcome)
	}
	if h != nil {
		h.record(l.span, l.took, outcome)
	}
	l.span.End()
}

// durationHistogram is the safemap.load.duration histogram of one
// registered name.
type durationHistogram struct {
	h    metric.Float64Histogram
	name attribute.KeyValue
}

func newDurationHistogram(mp metric.MeterProvider, name string) (*durationHistogram, error) {
	h, err := mp.Meter(ScopeName).Float64Histogram("safemap.load.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long each loader call ran, by outcome."),
		metric.WithExplicitBucketBoundaries(loadDurationBounds...))
	if err != nil {
		return nil, err
	}
	return &durationHistogram{h: h, name: AttrName.String(name)}, nil
}

// record records one load of the span span: in a context that carries the
// span, so that a reader that keeps exemplars ties the bucket to the trace.
func (d *durationHistogram) record(span trace.Span, took time.Duration, outcome string) {
	ctx := trace.ContextWithSpan(context.Background(), span)
	d.h.Record(ctx, took.Seconds(), metric.WithAttributes(d.name, AttrOutcome.String(outcome)))
}
