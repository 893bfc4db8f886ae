package safemapotel

import (
	"fmt"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/metric"
)

// CacheStatser is what RegisterCache reads: a cache.Cache of any key and
// value types, whose Stats method returns a cache.Stats.
type CacheStatser[S any] interface {
	Stats() S
}

// cacheFields are the fields of cache.Stats that RegisterCache reads, by
// name: each is an integer (signed or not).
var cacheFields = []string{
	"Hits", "Misses", "Loads", "LoadErrors", "Evictions", "Expirations",
	"Refreshes", "RefreshFailures", "Entries", "Weight",
}

// RegisterCache reports c's counters through mp's meter under name (the
// safemap.name attribute): lookups by outcome (hit, miss), loads and load
// errors, refreshes and their failures, evictions by cause (size, or
// expired for an entry whose TTL ran out), and the entries and total
// weight held. docs/observability.md lists each instrument. A nil mp
// means the global meter provider (otel.GetMeterProvider).
//
// S is cache.Stats, inferred from c (RegisterCache(mp, "sessions", c)).
// RegisterCache reads its fields by name (Hits, Misses, Loads,
// LoadErrors, Evictions, Expirations, Refreshes, RefreshFailures, Entries,
// Weight), so that this module builds against any version of the cache
// package that has them; it returns an error naming each field that S
// lacks or that is not an integer.
//
// The instruments are observable: nothing is recorded while the cache
// runs. Each collection calls c.Stats once, on the collecting goroutine,
// with no lock of this package held, and reads the fields with
// reflection (off the hot path). RegisterCache is safe for concurrent use;
// it returns an error if name is empty or the meter refuses an
// instrument. Unregister the returned Registration to stop reporting; it
// does not close c.
func RegisterCache[S any](mp metric.MeterProvider, name string, c CacheStatser[S]) (*Registration, error) {
	if isNil(c) {
		return nil, errNilSource("RegisterCache")
	}
	field, err := cacheFieldReader[S]()
	if err != nil {
		return nil, err
	}
	read := func(fieldName string) func(S) int64 {
		return func(s S) int64 { return field(s, fieldName) }
	}
	return register("RegisterCache", mp, name, c.Stats, []series[S]{
		{inst: instLookups, attrs: outcome("hit"), int: read("Hits")},
		{inst: instLookups, attrs: outcome("miss"), int: read("Misses")},
		{inst: instLoads, int: read("Loads")},
		{inst: instLoadErrors, attrs: outcome("error"), int: read("LoadErrors")},
		{inst: instRefreshes, int: read("Refreshes")},
		{inst: instRefreshErrors, int: read("RefreshFailures")},
		{inst: instEvictions, attrs: cause("size"), int: read("Evictions")},
		{inst: instEvictions, attrs: cause("expired"), int: read("Expirations")},
		{inst: instEntries, int: read("Entries")},
		{inst: instWeight, int: read("Weight")},
	})
}

// cacheFieldReader checks that S is a struct with every field of
// cacheFields, each an integer, and returns a function that reads one of
// them by name as an int64 (an unsigned count above MaxInt64 saturates).
func cacheFieldReader[S any]() (func(s S, name string) int64, error) {
	typ := reflect.TypeFor[S]()
	if typ.Kind() != reflect.Struct {
		return nil, fmt.Errorf("safemapotel: RegisterCache: Stats returns a %v; want the cache.Stats struct", typ)
	}
	index := make(map[string]int, len(cacheFields))
	var bad []string
	for _, name := range cacheFields {
		f, ok := typ.FieldByName(name)
		switch {
		case !ok:
			bad = append(bad, name+" is missing")
		case len(f.Index) != 1:
			bad = append(bad, name+" is promoted from an embedded struct")
		default:
			switch f.Type.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				index[name] = f.Index[0]
			default:
				bad = append(bad, fmt.Sprintf("%s is a %v, not an integer", name, f.Type))
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("safemapotel: RegisterCache: %v is not a cache.Stats: %s", typ, strings.Join(bad, "; "))
	}
	return func(s S, name string) int64 {
		v := reflect.ValueOf(s).Field(index[name])
		if v.CanInt() {
			return v.Int()
		}
		return int64(min(v.Uint(), 1<<63-1))
	}, nil
}
