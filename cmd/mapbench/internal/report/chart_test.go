package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// TestChart_LogAxisOnlyBeyond20x draws a bar chart and a line chart with
// values 10× and 100× apart: only the second gets a log axis.
func TestChart_LogAxisOnlyBeyond20x(t *testing.T) {
	for _, tt := range []struct {
		name   string
		params []float64
		ratio  float64
		log    bool
	}{
		{"bars 10x", []float64{1}, 10, false},
		{"bars 100x", []float64{1}, 100, true},
		{"lines 10x", []float64{1, 2}, 10, false},
		{"lines 100x", []float64{1, 2}, 100, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wl := results.Workload{Name: "memory", Param: "entries", Primary: "B/entry"}
			for _, p := range tt.params {
				for impl, v := range map[string]float64{"small": 3, "big": 3 * tt.ratio} {
					wl.Cases = append(wl.Cases, results.Case{
						Impl: impl, Param: p, KeyType: "int", Goroutines: 1,
						Samples: []results.Sample{{NsPerOp: 1, Metrics: map[string]float64{"B/entry": v}}},
					})
				}
			}
			run := &results.Run{Workloads: []results.Workload{wl}}
			ch, err := workloadChart(run, &run.Workloads[0], newImplStyles(run))
			if err != nil {
				t.Fatal(err)
			}
			svg, err := ch.svg()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(svg, []byte("<svg")) {
				t.Errorf("chart starts %q; want an <svg> element", svg[:min(len(svg), 20)])
			}
			if got := strings.Contains(string(svg), "log scale"); got != tt.log {
				t.Errorf("log axis = %v; want %v", got, tt.log)
			}
		})
	}
}
