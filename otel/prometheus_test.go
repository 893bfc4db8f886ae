package safemapotel_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// scopeLabel matches the labels the exporter adds to every series.
var scopeLabel = regexp.MustCompile(`otel_scope_[a-z_]+="[^"]*",?`)

// dropScopeLabels removes the otel_scope_* labels from a sample line.
func dropScopeLabels(line string) string {
	line = scopeLabel.ReplaceAllString(line, "")
	line = strings.Replace(line, ",}", "}", 1)
	return strings.Replace(line, "{}", "", 1)
}

// scrape is one scrape of /metrics: each sample's value by its name and
// labels (scope labels dropped), and each metric family's type.
type scrape struct {
	samples map[string]float64
	types   map[string]string
}

// serveMetrics serves registry's metrics on /metrics of a real listener
// on 127.0.0.1 (a free port), closed when the test ends, and returns the
// URL.
func serveMetrics(t *testing.T, registry *prometheus.Registry) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/metrics"
}

// scrapeMetrics GETs url and parses the text exposition.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	s := scrape{samples: map[string]float64{}, types: map[string]string{}}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.types[f[2]] = f[3]
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		line = dropScopeLabels(line)
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		s.samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrometheus_AScrapeOverHTTPShowsTheSeriesTheirTypesAndValues(t *testing.T) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	p := safemap.NewProfile[string, int](safemap.New[string, int]())
	reg, err := safemapotel.RegisterProfile(mp, "users", p)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	tm, err := safemapotel.Trace[string, int](p, "users", safemapotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	url := serveMetrics(t, registry)

	// The workload: 3 keys loaded (one fails), then 5 hits.
	ctx := context.Background()
	boom := errors.New("boom")
	for _, k := range []string{"a", "b", "c", "a", "b", "a", "b", "a"} {
		tm.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
			if k == "c" {
				return 0, boom
			}
			return len(k), nil
		})
	}
	// c failed and was tried again by none: 3 misses, 5 hits.
	s := scrapeMetrics(t, url)
	for name, want := range map[string]string{
		"safemap_lookups_total": "counter", "safemap_loads_total": "counter", "safemap_load_errors_total": "counter",
		"safemap_load_time_seconds_total": "counter", "safemap_waits_total": "counter", "safemap_entries": "gauge",
		"safemap_load_duration_seconds": "histogram",
	} {
		if got := s.types[name]; got != want {
			t.Errorf("# TYPE %s is %q; want %s", name, got, want)
		}
	}
	for series, want := range map[string]float64{
		`safemap_lookups_total{safemap_name="users",safemap_outcome="hit"}`:                             5,
		`safemap_lookups_total{safemap_name="users",safemap_outcome="miss"}`:                            3,
		`safemap_loads_total{safemap_name="users"}`:                                                     3,
		`safemap_load_errors_total{safemap_name="users",safemap_outcome="error"}`:                       1,
		`safemap_load_errors_total{safemap_name="users",safemap_outcome="panic"}`:                       0,
		`safemap_waits_total{safemap_name="users"}`:                                                     0,
		`safemap_entries{safemap_name="users"}`:                                                         2,
		`safemap_load_duration_seconds_count{safemap_name="users",safemap_outcome="loaded"}`:            2,
		`safemap_load_duration_seconds_count{safemap_name="users",safemap_outcome="error"}`:             1,
		`safemap_load_duration_seconds_bucket{safemap_name="users",safemap_outcome="loaded",le="+Inf"}`: 2,
		`safemap_load_duration_seconds_bucket{safemap_name="users",safemap_outcome="loaded",le="60"}`:   2,
	} {
		if got, ok := s.samples[series]; !ok {
			t.Errorf("no series %s in the scrape", series)
		} else if got != want {
			t.Errorf("%s = %v; want %v", series, got, want)
		}
	}
	if got := s.samples[`safemap_load_time_seconds_total{safemap_name="users"}`]; got <= 0 {
		t.Errorf("safemap_load_time_seconds_total = %v; want > 0", got)
	}
	for series := range s.samples {
		if strings.Contains(series, `"a"`) || strings.Contains(series, `"b"`) {
			t.Errorf("series %s carries a key of the map as a label value", series)
		}
	}

	// After Unregister, the registered map's series are gone.
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	s = scrapeMetrics(t, url)
	if _, ok := s.samples[`safemap_lookups_total{safemap_name="users",safemap_outcome="hit"}`]; ok {
		t.Error("safemap_lookups_total still scraped after Unregister")
	}
}
