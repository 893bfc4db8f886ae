// Package safemapotel reports safemap's maps, caches and redismaps to
// OpenTelemetry: metrics read from their Stats when a reader collects, and
// a span per loader call, linked to the callers that waited for it.
//
// Metrics cost nothing on the hot path: one call registers a map under a
// name, with observable instruments whose single callback reads the map's
// Stats once per collection.
//
//	reg, err := safemapotel.RegisterProfile(meterProvider, "users", profile)
//	reg, err := safemapotel.RegisterCache(meterProvider, "sessions", c)
//	reg, err := safemapotel.RegisterRedisMap(meterProvider, "accounts", m)
//	defer reg.Unregister()
//
// Loads are traced by wrapping the map ([Trace]) or a loader
// ([TraceLoader]). A hit makes no span.
//
//	users, err := safemapotel.Trace(m, "users", safemapotel.WithTracerProvider(tp))
//	u, loaded, err := users.LoadOrTryCompute(ctx, id, loadUser)
//
// docs/observability.md in the repository lists every instrument (name,
// unit, what it counts, which tier has it), shows how to expose them to
// Prometheus, and gives PromQL for the hit ratio and the loader's p99.
//
// This package is a module of its own (github.com/safemap-go/safemap/otel),
// so the library and redismap do not depend on OpenTelemetry. Every
// function and method of the package is safe for concurrent use.
package safemapotel
