package safemapotel_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
	safemapotel "github.com/safemap-go/safemap/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkLoadHit measures what registering a tier's metrics costs a
// Load hit, for a Profile and a cache: nothing, since the instruments are
// observable and read the tier's Stats only when a reader collects. Run
// the four sub-benchmarks in rounds, alternating their order, and compare
// with benchstat (BENCHMARKS.md has the command):
//
//	benchstat -col /registered hit.txt
//
// The registered tier is collected once before the timed loop and once
// after it (checking that it counted the hits), as a reader would every
// scrape interval: a collection costs one Stats call, off the hot path.
func BenchmarkLoadHit(b *testing.B) {
	const keys = 1 << 10
	tiers := []struct {
		name  string
		build func(b *testing.B) (load func(int) bool, register func(mp *sdkmetric.MeterProvider) (*safemapotel.Registration, error))
	}{
		{"profile", func(b *testing.B) (func(int) bool, func(*sdkmetric.MeterProvider) (*safemapotel.Registration, error)) {
			p := safemap.NewProfile[int, int](safemap.New[int, int]())
			for k := range keys {
				p.Store(k, k)
			}
			return func(k int) bool { _, ok := p.Load(k); return ok },
				func(mp *sdkmetric.MeterProvider) (*safemapotel.Registration, error) {
					return safemapotel.RegisterProfile(mp, "bench", p)
				}
		}},
		{"cache", func(b *testing.B) (func(int) bool, func(*sdkmetric.MeterProvider) (*safemapotel.Registration, error)) {
			c, err := cache.New(cache.Options[int, int]{MaxEntries: 2 * keys})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			for k := range keys {
				c.Store(k, k)
			}
			return func(k int) bool { _, ok := c.Load(k); return ok },
				func(mp *sdkmetric.MeterProvider) (*safemapotel.Registration, error) {
					return safemapotel.RegisterCache(mp, "bench", c)
				}
		}},
	}
	for _, tier := range tiers {
		for _, registered := range []bool{false, true} {
			b.Run("tier="+tier.name+"/registered="+strconv.FormatBool(registered), func(b *testing.B) {
				load, register := tier.build(b)
				if registered {
					mp, r := newMeterProvider(b)
					reg, err := register(mp)
					if err != nil {
						b.Fatal(err)
					}
					defer reg.Unregister()
					before := collect(b, r).values["safemap.lookups{safemap.name=bench,safemap.outcome=hit}"]
					defer func() {
						if got := collect(b, r).values["safemap.lookups{safemap.name=bench,safemap.outcome=hit}"] - before; got < float64(b.N) {
							b.Errorf("collected %v hits; want at least %d", got, b.N)
						}
					}()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if !load(i & (keys - 1)) {
						b.Fatal("miss")
					}
				}
			})
		}
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
