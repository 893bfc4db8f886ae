package safemapotel_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
)

// BenchmarkProfileLoadHit measures what registering a Profile's metrics
// costs a Load hit: nothing, since the instruments are observable and read
// the Profile's Stats only when a reader collects. Both sub-benchmarks run
// in each round (-count), one after the other, so that a noisy machine
// touches both alike; compare them with benchstat:
//
//	go test -run '^$' -bench ProfileLoadHit -count 10 . | tee hit.txt
//	benchstat -col /registered hit.txt
//
// The registered Profile is collected once before the timed loop and once
// after it (checking that it counted the hits), as a reader would every
// scrape interval: a collection costs one Stats call, off the hot path.
func BenchmarkProfileLoadHit(b *testing.B) {
	const keys = 1 << 10
	for _, registered := range []bool{false, true} {
		b.Run("registered="+strconv.FormatBool(registered), func(b *testing.B) {
			p := safemap.NewProfile[int, int](safemap.New[int, int]())
			for k := range keys {
				p.Store(k, k)
			}
			if registered {
				mp, r := newMeterProvider(b)
				reg, err := safemapotel.RegisterProfile(mp, "bench", p)
				if err != nil {
					b.Fatal(err)
				}
				defer reg.Unregister()
				collect(b, r)
				defer func() {
					if got := collect(b, r).values["safemap.lookups{safemap.name=bench,safemap.outcome=hit}"]; got < float64(b.N) {
						b.Errorf("collected %v hits; want at least %d", got, b.N)
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, ok := p.Load(i & (keys - 1)); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkTracedHit measures what the waiter-linking wrapper costs a
// LoadOrTryCompute hit on the default Map, with and without a span in the
// caller's ctx (with one, the call registers in the key's in-flight
// record): the wrapper allocates its loader's closure and the context
// that carries the call, and makes no span.
func BenchmarkTracedHit(b *testing.B) {
	const keys = 1 << 10
	m := safemap.New[int, int]()
	for k := range keys {
		m.Store(k, k)
	}
	tp, _ := newTracerProvider(b)
	tm, err := safemapotel.Trace[int, int](m, "bench", safemapotel.WithTracerProvider(tp))
	if err != nil {
		b.Fatal(err)
	}
	load := func(context.Context) (int, error) { return 0, nil }
	spanCtx, span := tp.Tracer("bench").Start(context.Background(), "request")
	defer span.End()
	for _, c := range []struct {
		name string
		call func(ctx context.Context, k int, fn func(context.Context) (int, error)) (int, bool, error)
		ctx  context.Context
	}{
		{"wrapper=none", m.LoadOrTryCompute, context.Background()},
		{"wrapper=traced/span=no", tm.LoadOrTryCompute, context.Background()},
		{"wrapper=traced/span=yes", tm.LoadOrTryCompute, spanCtx},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, loaded, _ := c.call(c.ctx, i&(keys-1), load); !loaded {
					b.Fatal("miss")
				}
			}
		})
	}
}
