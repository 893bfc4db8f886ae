package safemapotel

import (
	"github.com/safemap-go/safemap/cache"
	"go.opentelemetry.io/otel/metric"
)

// CacheStatser is what RegisterCache reads: a [cache.Cache] of any key
// and value types.
type CacheStatser interface {
	Stats() cache.Stats
}

// RegisterCache reports c's counters through mp's meter under name (the
// safemap.name attribute): lookups by outcome (hit, miss), loads (a batch
// counts once per key) and load errors, refreshes (successful and failed)
// and their failures, evictions by cause (size; expired, for an entry
// whose time to live ran out), and the entries and total weight held.
// docs/observability.md lists each instrument. A nil mp means the global
// meter provider (otel.GetMeterProvider).
//
// The instruments are observable: nothing is recorded while the cache
// runs. Each collection calls c.Stats once, on the collecting goroutine,
// with no lock of this package held. RegisterCache is safe for concurrent
// use; it returns an error if name is empty, c is nil or the meter
// refuses an instrument. Unregister the returned Registration to stop
// reporting; it does not close c.
func RegisterCache(mp metric.MeterProvider, name string, c CacheStatser) (*Registration, error) {
	if isNil(c) {
		return nil, errNilSource("RegisterCache")
	}
	return register("RegisterCache", mp, name, c.Stats, []series[cache.Stats]{
		{inst: instLookups, attrs: outcome("hit"), int: func(s cache.Stats) int64 { return count(s.Hits) }},
		{inst: instLookups, attrs: outcome("miss"), int: func(s cache.Stats) int64 { return count(s.Misses) }},
		{inst: instLoads, int: func(s cache.Stats) int64 { return count(s.Loads) }},
		{inst: instLoadErrors, attrs: outcome("error"), int: func(s cache.Stats) int64 { return count(s.LoadErrors) }},
		// Stats counts successful and failed refreshes apart; the
		// instrument counts them all, as redismap's does. A sum of two
		// counters never goes back, as a difference could.
		{inst: instRefreshes, int: func(s cache.Stats) int64 { return count(s.Refreshes) + count(s.RefreshFailures) }},
		{inst: instRefreshErrors, int: func(s cache.Stats) int64 { return count(s.RefreshFailures) }},
		{inst: instEvictions, attrs: cause("size"), int: func(s cache.Stats) int64 { return count(s.Evictions) }},
		{inst: instEvictions, attrs: cause("expired"), int: func(s cache.Stats) int64 { return count(s.Expirations) }},
		{inst: instEntries, int: func(s cache.Stats) int64 { return int64(s.Entries) }},
		{inst: instWeight, int: func(s cache.Stats) int64 { return count(s.Weight) }},
	})
}

// count is an unsigned count as an int64, saturating at MaxInt64.
func count(n uint64) int64 { return int64(min(n, 1<<63-1)) }
