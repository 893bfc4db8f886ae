package report

import (
	"bytes"
	"encoding/hex"
	"html"
	"image/color"
	"math"
	"regexp"
	"strconv"
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
			chs, err := workloadCharts(run, &run.Workloads[0], newImplStyles(run))
			if err != nil || len(chs) != 1 {
				t.Fatalf("workloadCharts = %d charts, %v; want 1", len(chs), err)
			}
			svg, err := chs[0].svg()
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

// barRect matches a filled rectangle as vgsvg writes it.
var barRect = regexp.MustCompile(`<path d="M([-0-9.e]+),([-0-9.e]+)L([-0-9.e]+),([-0-9.e]+)L([-0-9.e]+),([-0-9.e]+)L([-0-9.e]+),([-0-9.e]+)Z" style="fill:#([0-9A-F]{6})" />`)

// svgText matches a text element as vgsvg writes it: y is negated (the
// canvas is flipped).
var svgText = regexp.MustCompile(`(?s)<text x="([-0-9.e]+)" y="([-0-9.e]+)" transform="scale\(1, -1\)"[^>]*>([^<]*)</text>`)

func hexColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return strings.ToUpper(hex.EncodeToString([]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)}))
}

// TestChart_BarsSitInTheirRows draws the fixture's slowload chart, whose
// values span more than 20× (a log axis, where stacking each bar on a
// floor once drew every bar in the bottom row), and checks that every
// implementation's bar is drawn at the height of its own row label, in
// rank order, starting at the axis.
func TestChart_BarsSitInTheirRows(t *testing.T) {
	run := fixtureRun()
	wl := &run.Workloads[2]
	if wl.Name != "slowload" {
		t.Fatalf("fixture workload 2 is %s; want slowload", wl.Name)
	}
	styles := newImplStyles(run)
	chs, err := workloadCharts(run, wl, styles)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 {
		t.Fatalf("slowload has %d charts; want one per goroutine count, 2", len(chs))
	}
	for _, ch := range chs {
		svg, err := ch.svg()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(svg), "log scale") {
			t.Fatalf("%s: no log axis; the test needs one", ch.title)
		}
		labelY := map[string]float64{}
		for _, m := range svgText.FindAllStringSubmatch(string(svg), -1) {
			y, _ := strconv.ParseFloat(m[2], 64)
			labelY[html.UnescapeString(m[3])] = -y
		}
		type bar struct{ x0, x1, yMid float64 }
		bars := map[string]bar{}
		for _, m := range barRect.FindAllStringSubmatch(string(svg), -1) {
			x0, _ := strconv.ParseFloat(m[1], 64)
			y0, _ := strconv.ParseFloat(m[2], 64)
			x1, _ := strconv.ParseFloat(m[3], 64)
			y1, _ := strconv.ParseFloat(m[6], 64)
			bars[m[9]] = bar{x0, x1, (y0 + y1) / 2}
		}
		// Best first: Map (0.95), xsync (0.5, flagged), sync Map (0.015).
		rows := []struct{ impl, label string }{{"Map", "Map"}, {"xsync", "xsync !"}, {"sync Map", "sync Map"}}
		prevY := math.Inf(1)
		var left float64
		for i, r := range rows {
			b, ok := bars[hexColor(styles.color(r.impl))]
			if !ok {
				t.Fatalf("%s: no bar in %s's colour #%s", ch.title, r.impl, hexColor(styles.color(r.impl)))
			}
			ly, ok := labelY[r.label]
			if !ok {
				t.Fatalf("%s: no row label %q", ch.title, r.label)
			}
			if d := math.Abs(b.yMid - ly); d > float64(barPitch.Points())/3 {
				t.Errorf("%s: %s's bar is centred at y=%.1f, its row label at y=%.1f; want the same row (within %.1f)",
					ch.title, r.impl, b.yMid, ly, barPitch.Points()/3)
			}
			if b.yMid >= prevY {
				t.Errorf("%s: %s's bar (y=%.1f) is not below the better one's (y=%.1f)", ch.title, r.impl, b.yMid, prevY)
			}
			prevY = b.yMid
			if i == 0 {
				left = b.x0
			} else if math.Abs(b.x0-left) > 0.01 {
				t.Errorf("%s: %s's bar starts at x=%.2f, the first at x=%.2f; want one base", ch.title, r.impl, b.x0, left)
			}
			if b.x1 <= b.x0 {
				t.Errorf("%s: %s's bar has no length (x %.1f–%.1f)", ch.title, r.impl, b.x0, b.x1)
			}
		}
	}
}

// TestChart_EveryChartHasATitle checks every chart of the fixture names its
// workload, figure and setting in its title, drawn in the SVG.
func TestChart_EveryChartHasATitle(t *testing.T) {
	run := fixtureRun()
	styles := newImplStyles(run)
	n := 0
	for i := range run.Workloads {
		wl := &run.Workloads[i]
		chs, err := workloadCharts(run, wl, styles)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chs {
			n++
			want := wl.Name + ": " + primaryUnit(wl) + " by "
			if !strings.HasPrefix(ch.title, want) || !strings.HasSuffix(ch.title, ch.setting) || ch.setting == "" {
				t.Errorf("chart title %q; want it to start %q and end with its setting %q", ch.title, want, ch.setting)
			}
			svg, err := ch.svg()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(html.UnescapeString(string(svg)), ch.title) {
				t.Errorf("chart %q: the SVG does not draw its title", ch.title)
			}
		}
	}
	// load: 2 key types × 2 goroutine counts; mixed 1; slowload 2; memory 2.
	if n != 9 {
		t.Errorf("the fixture has %d charts; want 9 (one per workload, key type and goroutine count measured)", n)
	}
}

// TestChart_DefaultAndBestPeerStandOut checks that the default map and the
// best peer of a line chart are drawn thicker than the others, and that
// the peers' lines are dashed.
func TestChart_DefaultAndBestPeerStandOut(t *testing.T) {
	run := fixtureRun()
	styles := newImplStyles(run)
	secs := sectionsWithData(run, &run.Workloads[0])
	if got := bestPeer(secs[0], styles); got != "xsync" {
		t.Errorf("best peer of load, %s = %q; want xsync (builtin is a bound, not a peer)", captionSetting(secs[0].KeyType, secs[0].Goroutines), got)
	}
	chs, err := workloadCharts(run, &run.Workloads[0], styles)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := chs[0].svg()
	if err != nil {
		t.Fatal(err)
	}
	width := func(impl string) (w float64, dashed bool) {
		re := regexp.MustCompile(`style="fill:none;stroke:#` + hexColor(styles.color(impl)) + `;stroke-width:([0-9.]+)(;stroke-dasharray:[^;"]+)?`)
		m := re.FindStringSubmatch(string(svg))
		if m == nil {
			t.Fatalf("no line in %s's colour", impl)
		}
		w, _ = strconv.ParseFloat(m[1], 64)
		return w, m[2] != ""
	}
	wMap, dMap := width("Map")
	wX, dX := width("xsync")
	wC, dC := width("cmap")
	if wMap <= wC || wX <= wC {
		t.Errorf("line widths: Map %v, xsync (best peer) %v, cmap %v; want the first two thicker", wMap, wX, wC)
	}
	if dMap || !dX || !dC {
		t.Errorf("dashed: Map %v, xsync %v, cmap %v; want the peers dashed and safemap's map solid", dMap, dX, dC)
	}
	if !strings.Contains(string(svg), "Map (default)") || !strings.Contains(string(svg), "xsync (best peer)") {
		t.Errorf("the legend does not name the default map and the best peer")
	}
}
