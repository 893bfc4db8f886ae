package safemapotel_test

import (
	"context"
	"fmt"
	"log"

	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// One call registers a map's metrics; a reader collects them when it
// likes (here a manual one, once).
func ExampleRegisterProfile() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	users := safemap.NewProfile[int, string](safemap.New[int, string]())
	reg, err := safemapotel.RegisterProfile(mp, "users", users)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	users.Store(1, "Ada")
	users.Load(1)
	users.Load(2)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "safemap.lookups" {
			continue
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			outcome, _ := dp.Attributes.Value(safemapotel.AttrOutcome)
			fmt.Printf("%s %s %d\n", m.Name, outcome.AsString(), dp.Value)
		}
	}
	// Unordered output:
	// safemap.lookups hit 1
	// safemap.lookups miss 1
}

// Trace wraps a map: a miss's loader call is one span, a hit makes none.
func ExampleTrace() {
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	defer tp.Shutdown(context.Background())

	users, err := safemapotel.Trace[int, string](safemap.New[int, string](), "users", safemapotel.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	ctx, request := tp.Tracer("app").Start(context.Background(), "GET /users/1")
	load := func(ctx context.Context) (string, error) { return "Ada", nil }
	users.LoadOrTryCompute(ctx, 1, load) // a miss: one span
	users.LoadOrTryCompute(ctx, 1, load) // a hit: none
	request.End()

	for _, s := range recorder.Ended() {
		outcome := ""
		for _, a := range s.Attributes() {
			if a.Key == safemapotel.AttrOutcome {
				outcome = a.Value.AsString()
			}
		}
		fmt.Println(s.Name(), outcome)
	}
	// Output:
	// safemap.load loaded
	// GET /users/1
}
