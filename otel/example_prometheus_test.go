package safemapotel_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/safemap-go/safemap"
	safemapotel "github.com/safemap-go/safemap/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Exposing a map's metrics to Prometheus: the OpenTelemetry Prometheus
// exporter is a reader of the meter provider, and a Prometheus registry
// serves what it reads on /metrics.
func Example_prometheus() {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	users := safemap.NewProfile[int, string](safemap.New[int, string]())
	reg, err := safemapotel.RegisterProfile(mp, "users", users)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	load := func(ctx context.Context) (string, error) { return "Ada", nil }
	users.LoadOrTryCompute(ctx, 1, load) // a miss: loads
	users.LoadOrTryCompute(ctx, 1, load) // a hit
	users.LoadOrTryCompute(ctx, 1, load) // a hit

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	for _, line := range metricLines(resp.Body, "safemap_lookups_total", "safemap_loads_total") {
		fmt.Println(line)
	}
	// Output:
	// # TYPE safemap_loads_total counter
	// safemap_loads_total{safemap_name="users"} 1
	// # TYPE safemap_lookups_total counter
	// safemap_lookups_total{safemap_name="users",safemap_outcome="hit"} 2
	// safemap_lookups_total{safemap_name="users",safemap_outcome="miss"} 1
}

// metricLines returns the TYPE lines and samples of the named metrics in
// a Prometheus text exposition, without the labels every series carries
// (otel_scope_*), in the order they came.
func metricLines(r io.Reader, names ...string) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			if strings.HasPrefix(line, "# TYPE "+name+" ") || strings.HasPrefix(line, name+"{") {
				out = append(out, dropScopeLabels(line))
			}
		}
	}
	return out
}
