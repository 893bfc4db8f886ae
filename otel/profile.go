package safemapotel

import (
	"github.com/safemap-go/safemap"
	"go.opentelemetry.io/otel/metric"
)

// ProfileStatser is what RegisterProfile reads: a [safemap.Profile] of any
// key and value types.
type ProfileStatser interface {
	Stats() safemap.ProfileStats
}

// RegisterProfile reports p's counts through mp's meter under name (the
// safemap.name attribute): lookups by outcome (hit, miss), loads (value
// function calls of LoadOrCompute and LoadOrTryCompute), load errors by
// outcome (error, panic), the time spent in loads, waits and the number
// of entries (the wrapped map's Len). docs/observability.md lists each
// instrument. A nil mp means the global meter provider
// (otel.GetMeterProvider).
//
// The instruments are observable: nothing is recorded while the map runs.
// Each collection calls p.Stats once, on the collecting goroutine, with no
// lock of this package held (Stats sums striped counters and calls the
// wrapped map's Len). The values are those of one Stats snapshot, so they
// carry its consistency: eventually exact once operations have returned.
// After p.Reset the counters start again from zero, which an OpenTelemetry
// reader (and Prometheus's rate) treats as a counter reset.
//
// RegisterProfile is safe for concurrent use; it returns an error if name
// is empty or the meter refuses an instrument. Unregister the returned
// Registration to stop reporting.
func RegisterProfile(mp metric.MeterProvider, name string, p ProfileStatser) (*Registration, error) {
	if isNil(p) {
		return nil, errNilSource("RegisterProfile")
	}
	return register("RegisterProfile", mp, name, p.Stats, []series[safemap.ProfileStats]{
		{inst: instLookups, attrs: outcome("hit"), int: func(s safemap.ProfileStats) int64 { return s.Hits }},
		{inst: instLookups, attrs: outcome("miss"), int: func(s safemap.ProfileStats) int64 { return s.Misses }},
		{inst: instLoads, int: func(s safemap.ProfileStats) int64 { return s.Computes }},
		{inst: instLoadErrors, attrs: outcome("error"), int: func(s safemap.ProfileStats) int64 { return s.ComputeErrors }},
		{inst: instLoadErrors, attrs: outcome("panic"), int: func(s safemap.ProfileStats) int64 { return s.ComputePanics }},
		{inst: instLoadTime, float: func(s safemap.ProfileStats) float64 { return s.ComputeTime.Seconds() }},
		{inst: instWaits, int: func(s safemap.ProfileStats) int64 { return s.Waiters }},
		{inst: instEntries, int: func(s safemap.ProfileStats) int64 { return int64(s.Len) }},
	})
}
