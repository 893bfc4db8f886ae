package safemapotel

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/safemap-go/safemap/redismap"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// LoadOrTryComputer is the method [Traced] wraps. safemap.Map, every
// other ConcurrentMap, a Profile, cache.Cache and redismap.Map have it.
type LoadOrTryComputer[K comparable, V any] interface {
	LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error)
}

// BatchLoader is the batch method [Traced.LoadOrTryComputeAll] wraps:
// cache.Cache and redismap.Map have it.
type BatchLoader[K comparable, V any] interface {
	LoadOrTryComputeAll(ctx context.Context, keys []K, fn func(ctx context.Context, missing []K) (map[K]V, error)) (map[K]V, error)
}

// Option configures [Trace].
type Option func(*traceConfig)

type traceConfig struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider sets the provider of Trace's tracer. Default: the
// global one (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *traceConfig) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that records the
// safemap.load.duration histogram. Default: the global one
// (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *traceConfig) { c.mp = mp }
}

// Traced wraps the get-or-load methods of a map, cache or redismap: each
// loader call is one span (named "safemap.load", with safemap.name,
// safemap.outcome and, for batches, safemap.batch.size) and one
// measurement of the safemap.load.duration histogram, and the load's span
// is linked to every caller in this process that waited for it, while
// each such caller's span gets a link back to the load. A hit makes no
// span and records nothing.
//
// How a waiter's span context reaches the load: Traced keeps an in-flight
// record per key that a traced call is working on (a table sharded by the
// key's hash, entries removed when the last call for the key returns).
// Before calling the wrapped method, a call whose ctx holds a valid span
// context registers that span in the record of its key (of each key, for
// a batch). When a loader starts, its wrapper marks the record (of each
// key of the batch) as loading and links every registered caller but the
// one that runs it; a caller that registers while the key is loading is
// linked at once; when the loader returns, the mark goes. The links are
// added to the load's span when it ends, each with safemap.link=waiter;
// each waiter, once its call returns, adds a link to the load's span
// context (safemap.link=load) to its own span. Waiters in other processes
// (redismap) are not linked: the span context does not travel through
// Redis. A caller that arrives after the loader returned, while the map
// stores the value, is not linked; one that registers while the key loads
// but then finds the key present is.
//
// The outcome of a load: panic or error if the loader panicked or failed;
// else fenced if the map refused to store its value (redismap's ErrFenced
// or ErrLeaseLost, seen by the caller that ran it); else refreshed if it
// was a reload in the background (refresh before expiry), which Traced
// tells by its ending after the call that gave the map the loader had
// returned, or, if it ended first, by that call returning a value with
// loaded set (so not the loader's); else takeover if the loader ran under
// a redismap lease taken over from a holder that stored nothing
// ([redismap.LeaseTakenOver]); else loaded. A load whose caller was still
// inside the wrapped method when it returned ends its span when that call
// returns, so the span covers the map's commit too; the histogram
// measures the loader alone. The span of a load is a child of the span in
// the ctx the map passed the loader; a refresh that runs on a ctx of the
// map's own (redismap's) starts a new trace, linked to the call that
// started it (safemap.link=trigger).
//
// Cost: a hit allocates the wrapper of its loader and a call record (2
// allocations); a call with a valid span context in ctx also allocates
// its registration and locks its key's shard twice (5 allocations in all);
// a call without one registers nothing. BenchmarkTracedHit measures it.
// The loader runs with no lock of this package held.
//
// Traced is safe for concurrent use, as safe as the wrapped map. Create
// one with [Trace]; the zero Traced wraps no map. A Traced must not be
// copied after first use (go vet reports a copy).
type Traced[K comparable, V any] struct {
	m        LoadOrTryComputer[K, V]
	batch    BatchLoader[K, V] // nil if m has no LoadOrTryComputeAll
	name     string
	tracer   trace.Tracer
	duration *durationHistogram
	flights  flightTable[K]
}

// Trace returns m wrapped so that its loads are traced and timed under
// name (see [Traced]). It returns an error if name is empty, m is nil or
// the meter refuses the histogram.
func Trace[K comparable, V any](m LoadOrTryComputer[K, V], name string, opts ...Option) (*Traced[K, V], error) {
	var errs []error
	if isNil(m) {
		errs = append(errs, errors.New("the map is nil"))
	}
	if name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	cfg := traceConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("safemapotel: Trace: %w", errors.Join(errs...))
	}
	h, err := newDurationHistogram(cfg.mp, name)
	if err != nil {
		return nil, fmt.Errorf("safemapotel: Trace: creating the histogram: %w", err)
	}
	t := &Traced[K, V]{m: m, name: name, tracer: cfg.tp.Tracer(ScopeName), duration: h}
	t.batch, _ = m.(BatchLoader[K, V])
	t.flights.seed = maphash.MakeSeed()
	return t, nil
}

// Unwrap returns the wrapped map.
func (t *Traced[K, V]) Unwrap() LoadOrTryComputer[K, V] { return t.m }

// call is one traced call of LoadOrTryCompute or LoadOrTryComputeAll.
type call struct {
	waiter *waiter // nil if the caller's ctx has no valid span context

	mu       sync.Mutex
	returned bool          // the wrapped method has returned
	pending  []*tracedLoad // loads that ended before the call returned, ended when it returns
}

// waiter is a caller registered in the in-flight table.
type waiter struct {
	span trace.Span
	sc   trace.SpanContext
	load atomic.Pointer[tracedLoad] // the last load it was linked to
}

// tracedLoad is one loader call of a Traced.
type tracedLoad struct {
	load
	sc      trace.SpanContext
	outcome string // set when the loader returns

	mu      sync.Mutex
	ended   bool
	waiters []*waiter
}

// link records that w waits for l; links made after l ended are dropped.
func (l *tracedLoad) link(w *waiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || slices.Contains(l.waiters, w) {
		return
	}
	l.waiters = append(l.waiters, w)
	w.load.Store(l)
}

// LoadOrTryCompute calls the wrapped map's LoadOrTryCompute with fn
// wrapped as [Traced] describes, and returns what it returns; it has the
// wrapped method's guarantees (fn runs with whatever that method holds
// locked while it runs: for every tier of this repository, no lock).
func (t *Traced[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	if ctx == nil || fn == nil {
		panic("safemapotel: LoadOrTryCompute with a nil context or function")
	}
	c := t.begin(ctx)
	defer t.finish(c, &loaded, &err) // runs after leave: the last link is made
	if c.waiter != nil {
		t.flights.enter(key, c.waiter)
		defer t.flights.leave(key, c.waiter)
	}
	return t.m.LoadOrTryCompute(ctx, key, func(fctx context.Context) (V, error) {
		keys := []K{key}
		fctx, l := t.startLoad(fctx, c, keys, -1)
		v, err := runLoader(&l.load, func() (V, error) { return fn(fctx) }, func() { t.endLoad(c, l, keys, OutcomePanic) })
		t.endLoad(c, l, keys, outcomeOf(err))
		return v, err
	})
}

// LoadOrTryComputeAll calls the wrapped map's LoadOrTryComputeAll with fn
// wrapped as [Traced] describes (each call of fn is one span, with
// safemap.batch.size), and returns what it returns. It panics if the
// wrapped map has no LoadOrTryComputeAll.
func (t *Traced[K, V]) LoadOrTryComputeAll(ctx context.Context, keys []K, fn func(ctx context.Context, missing []K) (map[K]V, error)) (values map[K]V, err error) {
	if t.batch == nil {
		panic(fmt.Sprintf("safemapotel: LoadOrTryComputeAll: %T has no LoadOrTryComputeAll", t.m))
	}
	if ctx == nil || fn == nil {
		panic("safemapotel: LoadOrTryComputeAll with a nil context or function")
	}
	c := t.begin(ctx)
	loaded := false // a batch returns the values it loaded: its loads are never refreshes in disguise
	defer t.finish(c, &loaded, &err)
	if c.waiter != nil {
		distinct := distinctKeys(keys)
		for _, k := range distinct {
			t.flights.enter(k, c.waiter)
		}
		defer func() {
			for _, k := range distinct {
				t.flights.leave(k, c.waiter)
			}
		}()
	}
	return t.batch.LoadOrTryComputeAll(ctx, keys, func(fctx context.Context, missing []K) (map[K]V, error) {
		fctx, l := t.startLoad(fctx, c, missing, len(missing))
		v, err := runLoader(&l.load, func() (map[K]V, error) { return fn(fctx, missing) }, func() { t.endLoad(c, l, missing, OutcomePanic) })
		t.endLoad(c, l, missing, outcomeOf(err))
		return v, err
	})
}

func distinctKeys[K comparable](keys []K) []K {
	seen := make(map[K]struct{}, len(keys))
	out := make([]K, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

// begin starts a traced call; its waiter is the caller's span, if its ctx
// has a valid one.
func (t *Traced[K, V]) begin(ctx context.Context) *call {
	c := &call{}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		c.waiter = &waiter{span: trace.SpanFromContext(ctx), sc: sc}
	}
	return c
}

// finish ends a traced call whose wrapped method returned *loaded and
// *errp (or panicked), once its caller is unregistered: it ends the loads
// that ended before the call returned, and links the caller's span to the
// load it waited for.
//
// A load that ended before the call returned is the call's own, unless
// the call returned a value with no error and loaded set: the value is not
// the loader's, so the loader was a refresh that the map started before
// returning and that ended first (or, on the in-process maps, a write
// stored the key while the loader ran, and won).
func (t *Traced[K, V]) finish(c *call, loaded *bool, errp *error) {
	c.mu.Lock()
	c.returned = true
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, l := range pending {
		outcome := l.outcome
		switch {
		case outcome == OutcomeError:
		case errors.Is(*errp, redismap.ErrFenced) || errors.Is(*errp, redismap.ErrLeaseLost):
			outcome = OutcomeFenced
		case *loaded && *errp == nil:
			outcome = OutcomeRefreshed
		}
		t.endSpan(l, outcome)
	}
	// The loads this caller was linked to are others' (a caller is never
	// linked to a load it runs); the last one is what it waited for.
	if w := c.waiter; w != nil {
		if l := w.load.Load(); l != nil {
			w.span.AddLink(trace.Link{SpanContext: l.sc, Attributes: []attribute.KeyValue{AttrLink.String("load")}})
		}
	}
}

// startLoad starts the span of a loader called with fctx for keys (a
// batch of batchSize keys, or one key if batchSize < 0) on behalf of c,
// and marks keys as loading. It returns the loader's ctx, which carries
// the span.
func (t *Traced[K, V]) startLoad(fctx context.Context, c *call, keys []K, batchSize int) (context.Context, *tracedLoad) {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(AttrName.String(t.name))}
	if batchSize >= 0 {
		opts = append(opts, trace.WithAttributes(AttrBatchSize.Int(batchSize)))
	}
	if c.waiter != nil && !trace.SpanContextFromContext(fctx).IsValid() {
		// The map called the loader on a ctx of its own, not the caller's:
		// a refresh in the background. Its span starts a new trace, linked
		// to the call that started it.
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: c.waiter.sc, Attributes: []attribute.KeyValue{AttrLink.String("trigger")}}))
	}
	fctx, span := t.tracer.Start(fctx, SpanName, opts...)
	l := &tracedLoad{load: load{span: span}, sc: span.SpanContext()}
	if redismap.LeaseTakenOver(fctx) {
		l.outcome = OutcomeTakeover
	}
	for _, k := range keys {
		// The caller that runs the loader does not wait for it, nor does
		// the call that started a refresh.
		t.flights.startLoad(k, l, c.waiter)
	}
	return fctx, l
}

// endLoad is called when l's loader has returned with outcome (or
// panicked): keys stop loading, and the span ends, now if the loader
// panicked or c has returned (a refresh in the background), else when c
// returns (see finish).
func (t *Traced[K, V]) endLoad(c *call, l *tracedLoad, keys []K, outcome string) {
	for _, k := range keys {
		t.flights.endLoad(k, l)
	}
	if outcome != OutcomeLoaded || l.outcome == "" {
		l.outcome = outcome
	}
	if outcome != OutcomePanic {
		c.mu.Lock()
		if !c.returned {
			c.pending = append(c.pending, l)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if outcome == OutcomeLoaded {
			l.outcome = OutcomeRefreshed
		}
	}
	t.endSpan(l, l.outcome)
}

// endSpan links l's span to its waiters and ends it with outcome.
func (t *Traced[K, V]) endSpan(l *tracedLoad, outcome string) {
	l.mu.Lock()
	l.ended = true
	waiters := l.waiters
	l.mu.Unlock()
	for _, w := range waiters {
		l.span.AddLink(trace.Link{SpanContext: w.sc, Attributes: []attribute.KeyValue{AttrLink.String("waiter")}})
	}
	l.end(outcome, t.duration)
}
