package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// Chart geometry. The HTML scales charts down to the page width.
const (
	chartWidth      = 9 * vg.Inch
	lineChartHeight = 4 * vg.Inch
	barThickness    = 0.22 * vg.Inch
	barPitch        = 0.32 * vg.Inch // per implementation
	barChartMargin  = 0.9 * vg.Inch  // axis and padding
)

// logSpan is the ratio of the largest to the smallest charted value above
// which a chart's value axis is logarithmic.
const logSpan = 20

// sansFont is the typeface of chart text; the HTML's style falls back to
// the reader's sans-serif font when Liberation Sans is not installed.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// palette is Matplotlib's "tab10": ten hues that stay apart on white.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
	color.RGBA{0xbc, 0xbd, 0x22, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff},
}

// chart is one workload's chart, ready to draw.
type chart struct {
	plot    *plot.Plot
	legend  *plot.Legend // drawn to the right of the plot; nil for none
	w, h    vg.Length
	caption string
}

// implStyles gives every implementation of the run the same colour and
// glyph in every chart: the run's configured order first, then any other
// implementation in the order it appears.
type implStyles map[string]int

func newImplStyles(run *results.Run) implStyles {
	s := implStyles{}
	add := func(impl string) {
		if _, ok := s[impl]; !ok {
			s[impl] = len(s)
		}
	}
	for _, impl := range run.Config.Impls {
		add(impl)
	}
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			add(c.Impl)
		}
	}
	return s
}

func (s implStyles) color(impl string) color.Color { return palette[s[impl]%len(palette)] }
func (s implStyles) shape(impl string) draw.GlyphDrawer {
	return plotutil.Shape(s[impl])
}

// chartSetting is the key type and goroutine count a workload's chart
// shows: the run's first of each, or, if the workload never ran that
// setting, the setting of its first measured case.
func chartSetting(run *results.Run, wl *results.Workload) (keyType string, goroutines int) {
	has := func(kt string, g int) bool {
		return slices.ContainsFunc(wl.Cases, func(c results.Case) bool {
			return c.KeyType == kt && c.Goroutines == g && len(c.Samples) > 0
		})
	}
	if len(run.Config.KeyTypes) > 0 && len(run.Config.Goroutines) > 0 {
		kt, g := run.Config.KeyTypes[0], run.Config.Goroutines[0]
		if has(kt, g) {
			return kt, g
		}
	}
	for _, c := range wl.Cases {
		if len(c.Samples) > 0 {
			return c.KeyType, c.Goroutines
		}
	}
	if len(wl.Cases) > 0 {
		return wl.Cases[0].KeyType, wl.Cases[0].Goroutines
	}
	return "", 0
}

// distinctParams is the sorted distinct Param values of the workload's
// measured cases.
func distinctParams(wl *results.Workload) []float64 {
	var ps []float64
	for _, c := range wl.Cases {
		if len(c.Samples) > 0 && !slices.Contains(ps, c.Param) {
			ps = append(ps, c.Param)
		}
	}
	slices.Sort(ps)
	return ps
}

// workloadChart lays out the workload's one chart: the Primary figure against
// Param, a line per implementation, when the workload varies Param;
// otherwise a bar per implementation.
func workloadChart(run *results.Run, wl *results.Workload, styles implStyles) (chart, error) {
	kt, g := chartSetting(run, wl)
	if len(distinctParams(wl)) >= 2 {
		return lineChart(wl, kt, g, styles)
	}
	return barChart(wl, kt, g, styles)
}

// point is one charted median.
type point struct {
	impl, variant string
	x, y          float64
}

// chartPoints is the Primary median of every case of the workload measured
// with key type kt and g goroutines, in run order.
func chartPoints(wl *results.Workload, kt string, g int) []point {
	var pts []point
	for i := range wl.Cases {
		c := &wl.Cases[i]
		if c.KeyType != kt || c.Goroutines != g || c.Unsupported != "" {
			continue
		}
		st, ok := c.Figure(primaryUnit(wl))
		if !ok || math.IsNaN(st.Median) || math.IsInf(st.Median, 0) {
			continue
		}
		pts = append(pts, point{impl: c.Impl, variant: c.Variant, x: c.Param, y: st.Median})
	}
	return pts
}

// A valueScale places charted values on their axis: linearly, or, for
// values more than logSpan apart, logarithmically. A log axis charts log10
// of the values on a linear axis and labels its ticks with the values
// themselves, because gonum's plot.LogScale centres the axis label on the
// arithmetic middle of the range, which pushes the plot down.
type valueScale struct {
	log    bool
	lo, hi float64 // the smallest and largest value
}

func newValueScale(pts []point) valueScale {
	s := valueScale{lo: math.Inf(1), hi: math.Inf(-1)}
	for _, p := range pts {
		s.lo, s.hi = min(s.lo, p.y), max(s.hi, p.y)
	}
	s.log = len(pts) > 0 && s.lo > 0 && s.hi/s.lo > logSpan
	return s
}

// pos is where v sits on the axis.
func (s valueScale) pos(v float64) float64 {
	if s.log {
		return math.Log10(v)
	}
	return v
}

// fit sets the axis range and ticks: from zero on a linear scale, from the
// power of ten below the smallest value on a log scale, with room above the
// largest value for its label.
func (s valueScale) fit(a *plot.Axis) {
	switch {
	case math.IsInf(s.lo, 0):
		return // nothing to chart
	case s.log:
		a.Min = math.Floor(math.Log10(s.lo))
		a.Max = math.Log10(s.hi * 1.3)
		a.Tick.Marker = logTicks{}
		return
	}
	a.Tick.Marker = linearTicks{}
	a.Min = min(0, s.lo)
	a.Max = s.hi * 1.1
	if a.Max <= a.Min {
		a.Max = a.Min + 1
	}
}

func (s valueScale) label(wl *results.Workload) string {
	l := primaryUnit(wl) + " (" + betterText(wl)
	if s.log {
		l += ", log scale"
	}
	return l + ")"
}

func captionSetting(kt string, g int) string {
	return "key=" + kt + ", goroutines=" + strconv.Itoa(g)
}

func lineChart(wl *results.Workload, kt string, g int, styles implStyles) (chart, error) {
	pts := chartPoints(wl, kt, g)
	scale := newValueScale(pts)
	p := newPlot()
	p.X.Label.Text = wl.Param
	if p.X.Label.Text == "" {
		p.X.Label.Text = "param"
	}
	p.Y.Label.Text = scale.label(wl)
	p.Add(gridLines())

	legend := newLegend()
	var impls []string
	for _, pt := range pts {
		if !slices.Contains(impls, pt.impl) {
			impls = append(impls, pt.impl)
		}
	}
	for _, impl := range impls {
		var xys plotter.XYs
		for _, pt := range pts {
			if pt.impl == impl {
				xys = append(xys, plotter.XY{X: pt.x, Y: scale.pos(pt.y)})
			}
		}
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, glyphs, err := plotter.NewLinePoints(xys)
		if err != nil {
			return chart{}, err
		}
		line.Color = styles.color(impl)
		line.Width = vg.Points(1.5)
		glyphs.Color = styles.color(impl)
		glyphs.Shape = styles.shape(impl)
		glyphs.Radius = vg.Points(3)
		p.Add(line, glyphs)
		legend.Add(impl, line, glyphs)
	}

	var params []float64
	for _, pt := range pts {
		if !slices.Contains(params, pt.x) {
			params = append(params, pt.x)
		}
	}
	slices.Sort(params)
	if len(params) <= 12 {
		ticks := make(plot.ConstantTicks, len(params))
		for i, x := range params {
			ticks[i] = plot.Tick{Value: x, Label: compact(x)}
		}
		p.X.Tick.Marker = ticks
	} else {
		p.X.Tick.Marker = linearTicks{}
	}
	scale.fit(&p.Y)

	ch := chart{plot: p, w: chartWidth, h: lineChartHeight}
	if len(impls) > 0 {
		ch.legend = &legend
	}
	ch.caption = fmt.Sprintf("%s against %s, one line per implementation, for %s. Each point is the median over the repetitions; the table has every setting.",
		primaryUnit(wl), p.X.Label.Text, captionSetting(kt, g))
	return ch, nil
}

func barChart(wl *results.Workload, kt string, g int, styles implStyles) (chart, error) {
	pts := chartPoints(wl, kt, g)
	// One bar per implementation: the first variant the run measured.
	variant := ""
	for _, c := range wl.Cases {
		if c.KeyType == kt && c.Goroutines == g && len(c.Samples) > 0 {
			variant = c.Variant
			break
		}
	}
	var bars []point
	for _, pt := range pts {
		if pt.variant == variant && !slices.ContainsFunc(bars, func(b point) bool { return b.impl == pt.impl }) {
			bars = append(bars, pt)
		}
	}
	// Best at the top: the last category is drawn highest.
	slices.SortStableFunc(bars, func(a, b point) int {
		if wl.HigherIsBetter {
			return cmp.Compare(a.y, b.y)
		}
		return cmp.Compare(b.y, a.y)
	})
	scale := newValueScale(bars)

	p := newPlot()
	p.X.Label.Text = scale.label(wl)
	p.Add(verticalGridLines())
	scale.fit(&p.X)
	base := 0.0 // where the bars start
	if scale.log {
		base = p.X.Min
	}
	names := make([]string, len(bars))
	labels := plotter.XYLabels{}
	for i, b := range bars {
		names[i] = b.impl
		bc, err := plotter.NewBarChart(plotter.Values{scale.pos(b.y) - base}, barThickness)
		if err != nil {
			return chart{}, err
		}
		bc.Horizontal = true
		bc.XMin = float64(i)
		bc.Color = styles.color(b.impl)
		bc.LineStyle.Width = 0
		if base != 0 {
			floor, err := plotter.NewBarChart(plotter.Values{base}, barThickness)
			if err != nil {
				return chart{}, err
			}
			bc.StackOn(floor)
		}
		p.Add(bc)
		labels.XYs = append(labels.XYs, plotter.XY{X: scale.pos(b.y), Y: float64(i)})
		labels.Labels = append(labels.Labels, compact(b.y))
	}
	if len(bars) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return chart{}, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font = font.From(sansFont, 9)
			l.TextStyle[i].YAlign = draw.YCenter
		}
		l.Offset = vg.Point{X: vg.Points(4)}
		p.Add(l)
		p.NominalY(names...)
		p.Y.Tick.Label.Font = font.From(sansFont, 10)
	} else {
		p.HideAxes()
		p.Title.Text = "nothing measured for " + captionSetting(kt, g)
	}
	scale.fit(&p.X) // again: adding the bars widened the axis to hold them
	h := barChartMargin + barPitch*vg.Length(max(len(bars), 2))
	what := captionSetting(kt, g)
	if variant != "" {
		what = variant + ", " + what
	}
	caption := fmt.Sprintf("%s per implementation for %s, best at the top. Each bar is the median over the repetitions; the table has every setting.",
		primaryUnit(wl), what)
	return chart{plot: p, w: chartWidth, h: h, caption: caption}, nil
}

func newPlot() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 11)
		a.Tick.Label.Font = font.From(sansFont, 10)
	}
	return p
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sansFont, 10)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	return l
}

var gridColor = color.Gray{Y: 0xdd}

func gridLines() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = gridColor
	return g
}

func verticalGridLines() *plotter.Grid {
	g := plotter.NewGrid()
	g.Horizontal.Color = nil
	g.Vertical.Color = gridColor
	return g
}

// draw draws the chart on c, with the legend to the right of the plot
// rather than over the data.
func (ch *chart) draw(c draw.Canvas) (err error) {
	defer func() {
		// gonum/plot reports some impossible layouts by panicking.
		if e := recover(); e != nil {
			err = fmt.Errorf("drawing chart: %v", e)
		}
	}()
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	const gap = 12
	c = draw.Crop(c, 4, -4, 2, -4) // keep text off the edges
	legendWidth := vg.Length(0)
	if ch.legend != nil {
		r := ch.legend.Rectangle(c)
		legendWidth = r.Max.X - r.Min.X + 2*gap
	}
	ch.plot.Draw(draw.Crop(c, 0, -legendWidth, 0, 0))
	if ch.legend != nil {
		ch.legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-legendWidth+gap, -gap, 0, -gap))
	}
	return nil
}

// svg draws the chart as an <svg> element, without an XML prolog, for
// inclusion in HTML.
func (ch *chart) svg() ([]byte, error) {
	c := vgsvg.New(ch.w, ch.h)
	if err := ch.draw(draw.New(c)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte("<svg"))
	if i < 0 {
		return nil, fmt.Errorf("drawing chart: no <svg> element in the output")
	}
	return b[i:], nil
}

// linearTicks are gonum's default ticks, labelled compactly ("20k").
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = compact(ts[i].Value)
		}
	}
	return ts
}

// logTicks are the ticks of a log axis, which charts log10 of the values:
// 1…9 × every power of ten in range, labelled with the value at powers of
// ten, and at 2× and 5× them when the range spans few decades.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Floor(lo), math.Ceil(hi)
	few := last-first <= 2
	var ts []plot.Tick
	for e := first; e <= last; e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			pos := math.Log10(v)
			if pos < lo-1e-9 || pos > hi+1e-9 {
				continue
			}
			t := plot.Tick{Value: pos}
			if m == 1 || few && (m == 2 || m == 5) {
				t.Label = compact(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}
