package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// Chart geometry. Charts sit two to a row in the HTML, scaled to fit.
const (
	chartWidth      = 7 * vg.Inch
	lineChartHeight = 4.2 * vg.Inch
	barThickness    = 0.2 * vg.Inch
	barPitch        = 0.3 * vg.Inch // per implementation
	barChartMargin  = 1.1 * vg.Inch // title, axis and padding
)

// logSpan is the ratio of the largest to the smallest charted value above
// which a chart's value axis is logarithmic.
const logSpan = 20

// sansFont is the typeface of chart text; the HTML's style falls back to
// the reader's sans-serif font when Liberation Sans is not installed.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// palette is Matplotlib's "tab10": ten hues that stay apart on white. The
// run's implementations take them in order, so the default map (listed
// first) is blue in every chart.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
	color.RGBA{0xbc, 0xbd, 0x22, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff},
}

// Line widths: the default map and the best peer of a chart are drawn
// thick, the others thin, so that the comparison most readers want stands
// out of ten lines.
var (
	thinLine  = vg.Points(1.3)
	thickLine = vg.Points(3.2)
	peerDash  = []vg.Length{vg.Points(5), vg.Points(2.5)}
)

// chart is one section's chart, ready to draw.
type chart struct {
	plot    *plot.Plot
	legend  *plot.Legend // drawn to the right of the plot; nil for none
	w, h    vg.Length
	title   string // also drawn at the top of the chart
	caption string
	setting string // "key=int, goroutines=2"
}

// implStyles gives every implementation of the run the same colour and
// glyph in every chart: the run's configured order first, then any other
// implementation in the order it appears. It also knows each one's kind,
// to dash the peers' lines, and which is the default map.
type implStyles struct {
	index map[string]int
	kind  map[string]string
	def   string
}

func newImplStyles(run *results.Run) implStyles {
	s := implStyles{index: map[string]int{}, kind: map[string]string{}}
	add := func(impl string) {
		if _, ok := s.index[impl]; !ok {
			s.index[impl] = len(s.index)
		}
	}
	for _, im := range run.Impls {
		add(im.Name)
		s.kind[im.Name] = im.Kind
		if im.Default {
			s.def = im.Name
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
	if s.def == "" {
		for impl := range s.index {
			if impl == "safemap.Map" || impl == "Map" {
				s.def = impl
			}
		}
	}
	return s
}

func (s implStyles) color(impl string) color.Color { return palette[s.index[impl]%len(palette)] }
func (s implStyles) shape(impl string) draw.GlyphDrawer {
	return plotutil.Shape(s.index[impl])
}

// kindOf is "safemap", "peer" or "bound" (the built-in map): as the run
// recorded it, or guessed from the name for a run that did not.
func (s implStyles) kindOf(impl string) string {
	if k, ok := s.kind[impl]; ok && k != "" {
		return k
	}
	switch {
	case strings.HasPrefix(impl, "safemap.") || impl == "Map":
		return results.KindSafemap
	case impl == "builtin":
		return results.KindBound
	}
	return results.KindPeer
}

// sectionsWithData are the sections of the workload that measured
// something, each of which gets a chart.
func sectionsWithData(run *results.Run, wl *results.Workload) []section {
	var out []section
	for _, sec := range sections(run, wl) {
		if slices.ContainsFunc(sec.Groups, func(g group) bool {
			return slices.ContainsFunc(g.Rows, func(r row) bool { return r.HasPrimary })
		}) {
			out = append(out, sec)
		}
	}
	return out
}

// workloadCharts lays out one chart per section of the workload (key type
// and goroutine count): the Primary figure against Param, a line per
// implementation, when the workload varies Param; otherwise a bar per
// implementation. A workload that measured nothing gets one empty chart
// saying so.
func workloadCharts(run *results.Run, wl *results.Workload, styles implStyles) ([]chart, error) {
	secs := sectionsWithData(run, wl)
	if len(secs) == 0 {
		return []chart{emptyChart(wl)}, nil
	}
	var out []chart
	for _, sec := range secs {
		var ch chart
		var err error
		if len(sec.Groups) >= 2 {
			ch, err = lineChart(wl, sec, styles)
		} else {
			ch, err = barChart(wl, sec, styles)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// emptyChart is the chart of a workload without a single measurement.
func emptyChart(wl *results.Workload) chart {
	p := newPlot()
	p.HideAxes()
	title := wl.Name + ": nothing measured"
	p.Title.Text = title
	return chart{plot: p, w: chartWidth, h: barChartMargin + 2*barPitch, title: title,
		caption: "No implementation measured this workload; the table says why."}
}

// point is one charted median with its confidence interval.
type point struct {
	impl   string
	x, y   float64
	lo, hi float64 // the interval; infinite when unknown
	broken bool    // the case broke a guarantee
}

// sectionPoints is the Primary summary of every measured row of the
// section, in group order.
func sectionPoints(sec section) []point {
	var pts []point
	for _, g := range sec.Groups {
		for _, r := range g.Rows {
			if !r.HasPrimary || math.IsNaN(r.Primary.Median) || math.IsInf(r.Primary.Median, 0) {
				continue
			}
			pts = append(pts, point{impl: r.Case.Impl, x: g.Param, y: r.Primary.Median,
				lo: r.Primary.Lo, hi: r.Primary.Hi, broken: len(r.Case.Violations) > 0})
		}
	}
	return pts
}

// bestPeer is the peer (not a safemap strategy, nor the built-in bound)
// whose medians are best across the section: the lowest geometric mean of
// its ratios to each group's best. "" if no peer was measured.
func bestPeer(sec section, styles implStyles) string {
	score := map[string]float64{}
	count := map[string]int{}
	for _, g := range sec.Groups {
		for _, r := range g.Rows {
			if r.HasPrimary && styles.kindOf(r.Case.Impl) == results.KindPeer && !math.IsInf(r.Ratio, 0) && r.Ratio > 0 {
				score[r.Case.Impl] += math.Log(r.Ratio)
				count[r.Case.Impl]++
			}
		}
	}
	best, bestScore := "", math.Inf(1)
	for impl, n := range count {
		if sc := score[impl] / float64(n); sc < bestScore || sc == bestScore && impl < best {
			best, bestScore = impl, sc
		}
	}
	return best
}

// A valueScale places charted values on their axis: linearly, or, for
// values more than logSpan apart, logarithmically. A log axis charts log10
// of the values on a linear axis and labels its ticks with the values
// themselves, because gonum's plot.LogScale centres the axis label on the
// arithmetic middle of the range, which pushes the plot down.
type valueScale struct {
	log    bool
	lo, hi float64 // the smallest and largest value
	// labelRoom makes room above hi for value labels: the axis ends at
	// hi × (1 + labelRoom) on a linear scale, and labelRoom × 2 decades
	// above it on a log scale.
	labelRoom float64
}

func newValueScale(pts []point) valueScale {
	s := valueScale{lo: math.Inf(1), hi: math.Inf(-1), labelRoom: 0.25}
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

// bounds are the axis range: from zero on a linear scale, from the power
// of ten below the smallest value on a log scale, with room above the
// largest value for its label.
func (s valueScale) bounds() (lo, hi float64) {
	switch {
	case math.IsInf(s.lo, 0):
		return 0, 1 // nothing to chart
	case s.log:
		return math.Floor(math.Log10(s.lo)), math.Log10(s.hi) + 2*s.labelRoom*0.4
	}
	lo, hi = min(0, s.lo), s.hi*(1+s.labelRoom)
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

// clip returns the interval [lo, hi] on the axis, within the axis range;
// ok is false when it is unknown (infinite).
func (s valueScale) clip(lo, hi float64) (a, b float64, ok bool) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return 0, 0, false
	}
	min0, max0 := s.bounds()
	if s.log {
		if lo <= 0 {
			lo = math.Pow(10, min0)
		}
		return max(math.Log10(lo), min0), min(math.Log10(hi), max0), true
	}
	return max(lo, min0), min(hi, max0), true
}

// fit sets the axis range and ticks.
func (s valueScale) fit(a *plot.Axis) {
	a.Min, a.Max = s.bounds()
	if s.log {
		a.Tick.Marker = logTicks{}
	} else {
		a.Tick.Marker = linearTicks{}
	}
}

func (s valueScale) label(wl *results.Workload) string {
	l := primaryUnit(wl) + ", median and 95 % interval (" + betterText(wl)
	if s.log {
		l += ", log scale"
	}
	return l + ")"
}

func captionSetting(kt string, g int) string {
	return "key=" + kt + ", goroutines=" + strconv.Itoa(g)
}

// legendName is an implementation's name in a legend: marked "(default)"
// or "(best peer)" where it is drawn thick, and "!" where it broke a
// guarantee.
func legendName(impl string, styles implStyles, best string, broken bool) string {
	s := impl
	switch impl {
	case styles.def:
		s += " (default)"
	case best:
		s += " (best peer)"
	}
	if broken {
		s += " !"
	}
	return s
}

func lineChart(wl *results.Workload, sec section, styles implStyles) (chart, error) {
	pts := sectionPoints(sec)
	scale := newValueScale(pts)
	best := bestPeer(sec, styles)
	setting := captionSetting(sec.KeyType, sec.Goroutines)
	p := newPlot()
	p.X.Label.Text = wl.Param
	if p.X.Label.Text == "" {
		p.X.Label.Text = "param"
	}
	title := fmt.Sprintf("%s: %s by %s, %s", wl.Name, primaryUnit(wl), p.X.Label.Text, setting)
	p.Title.Text = title
	p.Y.Label.Text = scale.label(wl)
	p.Add(gridLines())

	legend := newLegend()
	var impls []string
	for _, pt := range pts {
		if !slices.Contains(impls, pt.impl) {
			impls = append(impls, pt.impl)
		}
	}
	// Draw the thick lines last, on top of the others.
	thick := func(impl string) bool { return impl == styles.def || impl == best }
	drawOrder := slices.Clone(impls)
	slices.SortStableFunc(drawOrder, func(a, b string) int { return cmp.Compare(b2i(thick(a)), b2i(thick(b))) })
	legendEntries := map[string][]plot.Thumbnailer{}
	brokenImpl := map[string]bool{}
	for _, impl := range drawOrder {
		var xys plotter.XYs
		var bars []whisker
		for _, pt := range pts {
			if pt.impl != impl {
				continue
			}
			xys = append(xys, plotter.XY{X: pt.x, Y: scale.pos(pt.y)})
			if lo, hi, ok := scale.clip(pt.lo, pt.hi); ok {
				bars = append(bars, whisker{at: pt.x, lo: lo, hi: hi})
			}
			brokenImpl[impl] = brokenImpl[impl] || pt.broken
		}
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, glyphs, err := plotter.NewLinePoints(xys)
		if err != nil {
			return chart{}, err
		}
		col := styles.color(impl)
		line.Color, glyphs.Color = col, col
		line.Width = thinLine
		glyphs.Shape = styles.shape(impl)
		glyphs.Radius = vg.Points(3)
		if thick(impl) {
			line.Width = thickLine
			glyphs.Radius = vg.Points(4.5)
		}
		if styles.kindOf(impl) != results.KindSafemap {
			line.Dashes = peerDash
		}
		p.Add(&whiskers{bars: bars, vertical: true, color: col, width: vg.Points(1)}, line, glyphs)
		legendEntries[impl] = []plot.Thumbnailer{line, glyphs}
	}
	// The legend lists the implementations in the run's order (safemap's
	// first), the same in every chart.
	legendOrder := slices.Clone(impls)
	slices.SortStableFunc(legendOrder, func(a, b string) int { return cmp.Compare(styles.index[a], styles.index[b]) })
	for _, impl := range legendOrder {
		legend.Add(legendName(impl, styles, best, brokenImpl[impl]), legendEntries[impl]...)
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
			ticks[i] = plot.Tick{Value: x, Label: format.Number(x)}
		}
		p.X.Tick.Marker = ticks
		if len(params) > 0 {
			pad := (params[len(params)-1] - params[0]) * 0.04
			p.X.Min, p.X.Max = params[0]-pad, params[len(params)-1]+pad
		}
	} else {
		p.X.Tick.Marker = linearTicks{}
	}
	scale.fit(&p.Y)

	ch := chart{plot: p, w: chartWidth, h: lineChartHeight, title: title, setting: setting}
	if len(impls) > 0 {
		ch.legend = &legend
	}
	ch.caption = fmt.Sprintf("%s against %s for %s: one line per implementation (safemap's solid, peers' dashed; the default map and the best peer thick), "+
		"each point the median over the samples, its bar the 95 %% confidence interval of the median.", primaryUnit(wl), p.X.Label.Text, setting)
	return ch, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func barChart(wl *results.Workload, sec section, styles implStyles) (chart, error) {
	g := sec.Groups[0]
	setting := captionSetting(sec.KeyType, sec.Goroutines)
	best := bestPeer(sec, styles)
	var bars []point
	for _, pt := range sectionPoints(section{Groups: []group{g}}) {
		if !slices.ContainsFunc(bars, func(b point) bool { return b.impl == pt.impl }) {
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
	// Room for the whiskers and the labels right of them.
	for _, b := range bars {
		if !math.IsInf(b.hi, 0) && !math.IsNaN(b.hi) {
			scale.hi = max(scale.hi, b.hi)
		}
	}
	scale.labelRoom = 0.6
	what := setting
	if g.Variant != "" {
		what = g.Variant + ", " + setting
	}
	title := fmt.Sprintf("%s: %s by implementation, %s", wl.Name, primaryUnit(wl), what)

	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = scale.label(wl)
	p.Add(verticalGridLines())
	lo, _ := scale.bounds()
	hb := &hbars{base: lo, thickness: barThickness}
	names := make([]string, len(bars))
	for i, b := range bars {
		names[i] = b.impl
		if b.broken {
			names[i] += " !"
		}
		bar := hbar{row: float64(i), value: scale.pos(b.y), color: styles.color(b.impl),
			label: format.Number(b.y), outline: b.impl == styles.def || b.impl == best}
		if l, h, ok := scale.clip(b.lo, b.hi); ok {
			bar.lo, bar.hi, bar.hasInterval = l, h, true
			bar.label += " " + intervalText(stats.Summary{Median: b.y, Lo: b.lo, Hi: b.hi, N: stats.MinSamplesForCI})
		}
		hb.bars = append(hb.bars, bar)
	}
	if len(bars) > 0 {
		if wl.HigherIsBetter && primaryUnit(wl) == "isolation" {
			// Isolation 1 is a loader that costs the others nothing; above
			// it is noise.
			p.Add(&refLine{at: scale.pos(1), label: "1 = untouched"})
		}
		p.Add(hb)
		p.NominalY(names...)
		p.Y.Tick.Label.Font = font.From(sansFont, 11)
	}
	scale.fit(&p.X)
	h := barChartMargin + barPitch*vg.Length(max(len(bars), 2))
	caption := fmt.Sprintf("%s per implementation for %s, best at the top: each bar is the median over the samples, its whisker the 95 %% confidence interval; "+
		"the default map and the best peer are outlined. The table has every setting.", primaryUnit(wl), what)
	return chart{plot: p, w: chartWidth, h: h, title: title, caption: caption, setting: setting}, nil
}

// hbar is one horizontal bar of an hbars plotter.
type hbar struct {
	row         float64 // the category (y) it is drawn at
	value       float64 // its end on the value axis
	lo, hi      float64 // its interval on the value axis, if hasInterval
	hasInterval bool
	color       color.Color
	label       string // drawn right of the bar (or of its interval)
	outline     bool   // drawn with a dark outline, to stand out
}

// hbars draws horizontal bars from a common base, each at its own row,
// with a whisker for its interval and a value label. gonum's BarChart
// cannot start bars at the base of a log axis by itself: stacking each bar
// on a floor bar (StackOn) also copies the floor's row to it, which drew
// every bar in the bottom row.
type hbars struct {
	base      float64
	thickness vg.Length
	bars      []hbar
}

func (h *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	f := font.From(sansFont, 9)
	sty := draw.TextStyle{Color: color.Black, Font: f, XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
	for _, b := range h.bars {
		y := trY(b.row)
		x0, x1 := trX(h.base), trX(b.value)
		rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y - h.thickness/2}, Max: vg.Point{X: x1, Y: y + h.thickness/2}}
		c.SetColor(b.color)
		c.Fill(rect.Path())
		if b.outline {
			c.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 0x20}, Width: vg.Points(1.5)})
			c.Stroke(rect.Path())
		}
		end := x1
		if b.hasInterval {
			wl, wh := trX(b.lo), trX(b.hi)
			ls := draw.LineStyle{Color: color.Gray{Y: 0x30}, Width: vg.Points(1)}
			c.StrokeLine2(ls, wl, y, wh, y)
			c.StrokeLine2(ls, wl, y-h.thickness/4, wl, y+h.thickness/4)
			c.StrokeLine2(ls, wh, y-h.thickness/4, wh, y+h.thickness/4)
			end = max(end, wh)
		}
		c.FillText(sty, vg.Point{X: end + vg.Points(4), Y: y}, b.label)
	}
}

// DataRange covers every bar and interval, and half a row around them.
func (h *hbars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = h.base, h.base
	for _, b := range h.bars {
		xmax = max(xmax, b.value)
		if b.hasInterval {
			xmax = max(xmax, b.hi)
		}
	}
	return xmin, xmax, -0.5, float64(len(h.bars)) - 0.5
}

// whisker is one interval of a whiskers plotter.
type whisker struct{ at, lo, hi float64 }

// whiskers draws intervals as bars with caps: vertical ones at x = at, or
// horizontal ones at y = at.
type whiskers struct {
	bars     []whisker
	vertical bool
	color    color.Color
	width    vg.Length
}

func (w *whiskers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ls := draw.LineStyle{Color: w.color, Width: w.width}
	const capHalf = 3
	for _, b := range w.bars {
		if w.vertical {
			x := trX(b.at)
			c.StrokeLine2(ls, x, trY(b.lo), x, trY(b.hi))
			c.StrokeLine2(ls, x-capHalf, trY(b.lo), x+capHalf, trY(b.lo))
			c.StrokeLine2(ls, x-capHalf, trY(b.hi), x+capHalf, trY(b.hi))
			continue
		}
		y := trY(b.at)
		c.StrokeLine2(ls, trX(b.lo), y, trX(b.hi), y)
	}
}

// refLine is a dashed vertical line across the plot at x = at, labelled at
// its top.
type refLine struct {
	at    float64
	label string
}

func (r *refLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(r.at)
	ls := draw.LineStyle{Color: color.Gray{Y: 0x60}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
	c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
	sty := draw.TextStyle{Color: color.Gray{Y: 0x40}, Font: font.From(sansFont, 8), XAlign: draw.XLeft, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	c.FillText(sty, vg.Point{X: x + vg.Points(2), Y: c.Max.Y}, r.label)
}

// DataRange keeps the line's position in view.
func (r *refLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	return r.at, r.at, 0, 0
}

func newPlot() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}, 13)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 11)
		a.Tick.Label.Font = font.From(sansFont, 11)
	}
	return p
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sansFont, 10.5)
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
			ts[i].Label = format.Number(ts[i].Value)
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
				t.Label = format.Number(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}
