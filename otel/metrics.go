package safemapotel

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of every meter and tracer this
// package creates: the package's import path.
const ScopeName = "github.com/safemap-go/safemap/otel"

// Attribute keys. The registered name is on every measurement and span;
// the outcome, source and cause only where the instrument table in
// docs/observability.md says. No attribute ever carries a key of the map:
// keys have unbounded cardinality.
const (
	// AttrName is the name a map, cache or redismap was registered (or a
	// loader traced) under.
	AttrName = attribute.Key("safemap.name")
	// AttrOutcome is what a lookup, load, commit or traced load ended in.
	AttrOutcome = attribute.Key("safemap.outcome")
	// AttrSource is where a redismap hit was served from: "near" (the
	// in-process near cache) or "remote" (Redis).
	AttrSource = attribute.Key("safemap.source")
	// AttrCause is why an entry left a cache: "size" or "expired".
	AttrCause = attribute.Key("safemap.cause")
	// AttrBatchSize is the number of keys a traced batch load was given.
	AttrBatchSize = attribute.Key("safemap.batch.size")
)

// kind is the kind of an observable instrument.
type kind uint8

const (
	intCounter kind = iota
	floatCounter
	intGauge
)

// instrument is one observable instrument of the table in
// docs/observability.md.
type instrument struct {
	name, unit, description string
	kind                    kind
}

// The observable instruments, one per row of docs/observability.md's
// table (the loader-duration histogram, which is not observable, is in
// loads.go).
var (
	instLookups = instrument{"safemap.lookups", "{lookup}",
		"Lookups of a key, by outcome: hit, miss, or negative_hit (a cached not-found answer).", intCounter}
	instLoads = instrument{"safemap.loads", "{load}",
		"Loader calls: a missing key's value function ran (refreshes included for redismap).", intCounter}
	instLoadErrors = instrument{"safemap.load.errors", "{load}",
		"Loader calls that failed, by outcome: error or panic.", intCounter}
	instLoadTime = instrument{"safemap.load.time", "s",
		"Total time spent in loader calls.", floatCounter}
	instWaits = instrument{"safemap.waits", "{call}",
		"Calls that missed a key and waited for another caller's load instead of loading.", intCounter}
	instSharedErrors = instrument{"safemap.shared_errors", "{error}",
		"Loader errors returned to callers that did not run the loader.", intCounter}
	instRefreshes = instrument{"safemap.refreshes", "{refresh}",
		"Background reloads of a value before it expired.", intCounter}
	instRefreshErrors = instrument{"safemap.refresh.errors", "{refresh}",
		"Refreshes that failed (the value was kept).", intCounter}
	instEvictions = instrument{"safemap.evictions", "{entry}",
		"Entries removed by the cache itself, by cause: size or expired.", intCounter}
	instTakeovers = instrument{"safemap.takeovers", "{lease}",
		"Leases taken over from a holder whose lease ended with nothing stored.", intCounter}
	instCommits = instrument{"safemap.commits", "{commit}",
		"Loader results committed to Redis, by outcome: stored, fenced, lease_lost, error.", intCounter}
	instEntries = instrument{"safemap.entries", "{entry}",
		"Entries held now.", intGauge}
	instWeight = instrument{"safemap.weight", "{weight}",
		"Total weight held now, in the Weigher's units (bytes if it returns bytes).", intGauge}
)

// series is one measurement a registration reports at each collection: an
// instrument, the attributes besides the registered name, and how to read
// its value from a Stats snapshot S.
type series[S any] struct {
	inst  instrument
	attrs []attribute.KeyValue
	int   func(S) int64   // for intCounter and intGauge
	float func(S) float64 // for floatCounter
}

// A Registration is one map, cache or redismap registered with a meter
// provider by RegisterProfile, RegisterCache or RegisterRedisMap, which
// create every Registration (the zero one registers nothing and must not
// be used). Register each map under a name of its own: two registrations
// with one name on one meter provider observe the same series, and a
// reader keeps one of their values. Its methods are safe for concurrent
// use.
type Registration struct {
	reg  metric.Registration
	once sync.Once
	err  error
}

// Unregister stops reporting the registered map's measurements: after it
// returns, no collection calls its Stats method and the registration holds
// no reference to it. It starts and leaves no goroutine. Calling it again
// does nothing and returns the first call's error.
func (r *Registration) Unregister() error {
	r.once.Do(func() { r.err = r.reg.Unregister() })
	return r.err
}

// register creates the instruments of list on mp's meter and registers one
// callback that calls read once per collection and observes every series
// with the attribute safemap.name=name. caller names the exported function
// in errors.
func register[S any](caller string, mp metric.MeterProvider, name string, read func() S, list []series[S]) (*Registration, error) {
	if name == "" {
		return nil, fmt.Errorf("safemapotel: %s: name is empty", caller)
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)

	type observed struct {
		int   metric.Int64Observable
		float metric.Float64Observable
		opt   metric.ObserveOption
		s     series[S]
	}
	created := make(map[string]metric.Observable)
	var obs []observed
	var insts []metric.Observable
	var errs []error
	for _, s := range list {
		inst, ok := created[s.inst.name]
		if !ok {
			var err error
			desc, unit := metric.WithDescription(s.inst.description), metric.WithUnit(s.inst.unit)
			switch s.inst.kind {
			case intCounter:
				inst, err = meter.Int64ObservableCounter(s.inst.name, desc, unit)
			case floatCounter:
				inst, err = meter.Float64ObservableCounter(s.inst.name, desc, unit)
			case intGauge:
				inst, err = meter.Int64ObservableGauge(s.inst.name, desc, unit)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			created[s.inst.name] = inst
			insts = append(insts, inst)
		}
		o := observed{s: s, opt: metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{AttrName.String(name)}, s.attrs...)...))}
		switch inst := inst.(type) {
		case metric.Int64Observable:
			o.int = inst
		case metric.Float64Observable:
			o.float = inst
		}
		obs = append(obs, o)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("safemapotel: %s: creating instruments: %w", caller, errors.Join(errs...))
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := read()
		for _, x := range obs {
			if x.int != nil {
				o.ObserveInt64(x.int, x.s.int(st), x.opt)
			} else {
				o.ObserveFloat64(x.float, x.s.float(st), x.opt)
			}
		}
		return nil
	}, insts...)
	if err != nil {
		return nil, fmt.Errorf("safemapotel: %s: registering the callback: %w", caller, err)
	}
	return &Registration{reg: reg}, nil
}

// outcome, source and cause are the attributes of one series.
func outcome(v string) []attribute.KeyValue { return []attribute.KeyValue{AttrOutcome.String(v)} }
func cause(v string) []attribute.KeyValue   { return []attribute.KeyValue{AttrCause.String(v)} }

// isNil reports whether v is nil or a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// errNilSource is the error of a Register function given a nil source.
func errNilSource(caller string) error {
	return fmt.Errorf("safemapotel: %s: the map is nil", caller)
}
