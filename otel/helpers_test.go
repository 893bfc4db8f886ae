package safemapotel_test

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newMeterProvider returns a meter provider with a manual reader, shut
// down when the test ends.
func newMeterProvider(t testing.TB) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, r
}

// points is one collection: each data point's value by "name{k=v,...}"
// (attributes sorted; a histogram's point is its count), and each
// instrument's kind ("counter", "gauge", "histogram", "updown").
type points struct {
	values map[string]float64
	kinds  map[string]string
	units  map[string]string
}

// collect collects r once.
func collect(t testing.TB, r *sdkmetric.ManualReader) points {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	p := points{values: map[string]float64{}, kinds: map[string]string{}, units: map[string]string{}}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			p.units[m.Name] = m.Unit
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				p.kinds[m.Name] = sumKind(d.IsMonotonic)
				for _, dp := range d.DataPoints {
					p.values[key(m.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Sum[float64]:
				p.kinds[m.Name] = sumKind(d.IsMonotonic)
				for _, dp := range d.DataPoints {
					p.values[key(m.Name, dp.Attributes)] = dp.Value
				}
			case metricdata.Gauge[int64]:
				p.kinds[m.Name] = "gauge"
				for _, dp := range d.DataPoints {
					p.values[key(m.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Histogram[float64]:
				p.kinds[m.Name] = "histogram"
				for _, dp := range d.DataPoints {
					p.values[key(m.Name, dp.Attributes)] = float64(dp.Count)
				}
			default:
				t.Fatalf("%s: unexpected data type %T", m.Name, m.Data)
			}
		}
	}
	return p
}

func sumKind(monotonic bool) string {
	if monotonic {
		return "counter"
	}
	return "updown"
}

func key(name string, set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, fmt.Sprintf("%s=%s", a.Key, a.Value.String()))
	}
	slices.Sort(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

// checkPoints checks that got has exactly the points of want whose name
// is want's (others are ignored), with want's values.
func checkPoints(t testing.TB, got points, want map[string]float64) {
	t.Helper()
	names := map[string]bool{}
	for k, v := range want {
		names[k[:strings.Index(k, "{")]] = true
		if g, ok := got.values[k]; !ok {
			t.Errorf("no point %s; want %v", k, v)
		} else if g != v {
			t.Errorf("%s = %v; want %v", k, g, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got.values)) {
		if _, ok := want[k]; !ok && names[k[:strings.Index(k, "{")]] {
			t.Errorf("unexpected point %s = %v", k, got.values[k])
		}
	}
}

// checkNoGoroutineOf fails t if a goroutine is running code of this
// package once the others have had a moment to exit.
func checkNoGoroutineOf(t testing.TB, pkg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, pkg) && !strings.Contains(g, "checkNoGoroutineOf") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines of %s left:\n%s", pkg, strings.Join(left, "\n\n"))
		}
		runtime.Gosched()
	}
}
