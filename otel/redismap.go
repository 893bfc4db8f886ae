package safemapotel

import (
	"github.com/safemap-go/safemap/redismap"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// RedisMapStatser is what RegisterRedisMap reads: a [redismap.Map] of any
// key and value types.
type RedisMapStatser interface {
	Stats() redismap.Stats
}

// RegisterRedisMap reports m's counters through mp's meter under name (the
// safemap.name attribute): lookups by outcome (hit, with safemap.source
// near or remote; miss, for Load; negative_hit), loads (loader calls,
// refreshes included) and load errors, waits for another process's lease,
// shared errors, refreshes and their failures, near-cache evictions (cause
// size), takeovers and commits by outcome (stored, fenced, lease_lost,
// error). docs/observability.md lists each instrument. A nil mp means the
// global meter provider (otel.GetMeterProvider).
//
// The instruments are observable: nothing is recorded while the map runs,
// and no Redis call is made to collect them. Each collection calls m.Stats
// once (atomic loads of m's counters), on the collecting goroutine, with
// no lock of this package held. The counters are per process: sum them
// over the processes (the instance label) for a service's totals.
//
// RegisterRedisMap is safe for concurrent use; it returns an error if name
// is empty or the meter refuses an instrument. Unregister the returned
// Registration to stop reporting; it does not close m.
func RegisterRedisMap(mp metric.MeterProvider, name string, m RedisMapStatser) (*Registration, error) {
	if isNil(m) {
		return nil, errNilSource("RegisterRedisMap")
	}
	hit := func(source string) []attribute.KeyValue {
		return []attribute.KeyValue{AttrOutcome.String("hit"), AttrSource.String(source)}
	}
	return register("RegisterRedisMap", mp, name, m.Stats, []series[redismap.Stats]{
		{inst: instLookups, attrs: hit("near"), int: func(s redismap.Stats) int64 { return s.NearHits }},
		{inst: instLookups, attrs: hit("remote"), int: func(s redismap.Stats) int64 { return s.RemoteHits }},
		{inst: instLookups, attrs: outcome("miss"), int: func(s redismap.Stats) int64 { return s.Misses }},
		{inst: instLookups, attrs: outcome("negative_hit"), int: func(s redismap.Stats) int64 { return s.NegativeHits }},
		{inst: instLoads, int: func(s redismap.Stats) int64 { return s.Loads }},
		{inst: instLoadErrors, attrs: outcome("error"), int: func(s redismap.Stats) int64 { return s.LoaderErrors }},
		{inst: instWaits, int: func(s redismap.Stats) int64 { return s.Waits }},
		{inst: instSharedErrors, int: func(s redismap.Stats) int64 { return s.SharedErrors }},
		{inst: instRefreshes, int: func(s redismap.Stats) int64 { return s.Refreshes }},
		{inst: instRefreshErrors, int: func(s redismap.Stats) int64 { return s.RefreshErrors }},
		{inst: instEvictions, attrs: cause("size"), int: func(s redismap.Stats) int64 { return s.NearEvictions }},
		{inst: instTakeovers, int: func(s redismap.Stats) int64 { return s.Takeovers }},
		{inst: instCommits, attrs: outcome("stored"), int: func(s redismap.Stats) int64 { return s.Commits }},
		{inst: instCommits, attrs: outcome("fenced"), int: func(s redismap.Stats) int64 { return s.FencedCommits }},
		{inst: instCommits, attrs: outcome("lease_lost"), int: func(s redismap.Stats) int64 { return s.LostCommits }},
		{inst: instCommits, attrs: outcome("error"), int: func(s redismap.Stats) int64 { return s.CommitErrors }},
	})
}
