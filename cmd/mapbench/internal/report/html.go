package report

import (
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// HTML writes the run as one self-contained HTML page: no external style
// sheet, script or font. A header describes the machine, the
// configuration, how noisy the machine was and, for an interrupted run,
// that it is incomplete; then every workload has its description, one
// titled chart per key type and goroutine count (inline SVG, each in a
// <figure class="chart" data-workload="name" data-setting="key=int,
// goroutines=2">), the same data as a ranked table, and its violations and
// notes.
//
// A workload that varies its parameter is charted as its Primary figure
// against the parameter, one line per implementation with the confidence
// interval of every median; one that does not, as a bar per
// implementation with its interval. The default map and the best peer of
// each chart are drawn thick (or outlined), safemap's strategies solid and
// the peers dashed; every implementation keeps one colour and glyph across
// the page. A value axis is logarithmic when the values span more than 20×.
func HTML(w io.Writer, run *results.Run) error {
	page := htmlPage{
		Run:        run,
		CPU:        cpuName(run),
		Started:    run.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		Elapsed:    format.Duration(run.Elapsed),
		Config:     configText(run),
		Legend:     legendText(run),
		Incomplete: run.Incomplete,
	}
	if n := noise(run); n.N > 0 {
		page.Noise, page.NoiseClass = n.text(), strings.ReplaceAll(n.verdict(), " ", "-")
	}
	styles := newImplStyles(run)
	for i := range run.Workloads {
		page.Workloads = append(page.Workloads, newHTMLWorkload(run, &run.Workloads[i], styles))
	}
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Run               *results.Run
	CPU               string
	Started           string
	Elapsed           string
	Config            string
	Legend            string
	Noise, NoiseClass string
	Incomplete        string
	Workloads         []htmlWorkload
}

type htmlWorkload struct {
	*results.Workload
	Unit, Better string
	Charts       []htmlChart
	ChartError   string   // why there are no charts
	Columns      []string // figures after the Primary one and its interval
	Sections     []htmlSection
	Violations   []string
}

type htmlChart struct {
	SVG     template.HTML // the <svg> element
	Error   string        // why this chart could not be drawn
	Title   string
	Caption string
	Setting string
}

type htmlSection struct {
	Setting string
	Rows    []htmlRow
}

type htmlRow struct {
	Variant   string // on a group's first row only
	Rank      string
	Impl      string
	Class     string // "best", "violation", "noisy", or several
	Violation bool
	Missing   string // why the row has no figures
	Primary   string
	Interval  string
	Figures   []string // one per htmlWorkload.Columns
	VsBest    string
	N         int
}

func newHTMLWorkload(run *results.Run, wl *results.Workload, styles implStyles) htmlWorkload {
	hw := htmlWorkload{
		Workload: wl,
		Unit:     primaryUnit(wl),
		Better:   betterText(wl),
		Columns:  figureColumns(wl),
	}
	// A chart that cannot be drawn must not cost the user the rest of the
	// report: the page says why instead.
	charts, err := workloadCharts(run, wl, styles)
	if err != nil {
		hw.ChartError = err.Error()
	}
	for _, ch := range charts {
		hc := htmlChart{Title: ch.title, Caption: ch.caption, Setting: ch.setting}
		svg, err := ch.svg()
		if err != nil {
			hc.Error = err.Error()
		}
		hc.SVG = template.HTML(svg) // drawn by gonum/plot, which escapes text
		hw.Charts = append(hw.Charts, hc)
	}
	// Other metrics the workload measured.
	for i := range wl.Cases {
		for _, s := range wl.Cases[i].Samples {
			for u := range s.Metrics {
				if u != hw.Unit && !slices.Contains(hw.Columns, u) {
					hw.Columns = append(hw.Columns, u)
				}
			}
		}
	}
	if std := len(figureColumns(wl)); len(hw.Columns) > std {
		slices.Sort(hw.Columns[std:])
	}

	for _, sec := range sections(run, wl) {
		hs := htmlSection{Setting: "key=" + sec.KeyType + ", goroutines=" + strconv.Itoa(sec.Goroutines)}
		for _, g := range sec.Groups {
			for i, r := range g.Rows {
				c := r.Case
				hr := htmlRow{Impl: c.Impl, Violation: len(c.Violations) > 0, Rank: rankText(r)}
				if i == 0 {
					hr.Variant = g.Variant
				}
				for _, v := range c.Violations {
					hw.Violations = append(hw.Violations, violationText(c, v))
				}
				var classes []string
				switch {
				case c.Unsupported != "":
					hr.Missing = "unsupported: " + c.Unsupported
				case !r.HasPrimary:
					hr.Missing = "no " + hw.Unit + " measured"
				default:
					if r.TiedWithBest {
						classes = append(classes, "best")
					}
					if r.Primary.Noisy() {
						classes = append(classes, "noisy")
					}
					hr.Primary, hr.Interval = format.Number(r.Primary.Median), intervalText(r.Primary)
					for _, u := range hw.Columns {
						hr.Figures = append(hr.Figures, figureText(c, u))
					}
					hr.VsBest, hr.N = vsBestText(r), r.Primary.N
				}
				if hr.Violation {
					classes = append(classes, "violation")
				}
				hr.Class = strings.Join(classes, " ")
				hs.Rows = append(hs.Rows, hr)
			}
		}
		hw.Sections = append(hw.Sections, hs)
	}
	return hw
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":    strings.Join,
	"joinInt": joinInts,
	"add":     func(a, b int) int { return a + b },
}).Parse(pageHTML))

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mapbench report: {{.Run.GoVersion}} {{.Run.GOOS}}/{{.Run.GOARCH}}, {{.Started}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; color: #222; margin: 0 auto; padding: 0 1.5rem 3rem; max-width: 72rem; line-height: 1.45; }
h1 { margin-bottom: .2rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
dl.machine { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .5rem 0 1rem; }
dl.machine dt { font-weight: 600; }
dl.machine dd { margin: 0; }
nav ul { padding-left: 1.2rem; columns: 2; }
.meta { color: #555; }
div.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(32rem, 1fr)); gap: 1rem; }
figure.chart { margin: 1rem 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { color: #555; font-size: .9rem; }
.chart-error { color: #a00; }
table { border-collapse: collapse; font-size: .9rem; margin: 1rem 0; }
th, td { padding: .2rem .6rem; text-align: right; white-space: nowrap; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
thead th { border-bottom: 2px solid #999; }
tbody th.setting { text-align: left; background: #f0f0f0; }
tr.best td { font-weight: 600; }
tr.violation td:nth-child(3) { color: #a00; }
td.missing { text-align: left; color: #777; font-style: italic; white-space: normal; }
ul.violations li { color: #a00; }
tr.noisy td:nth-child(5) { color: #a60; }
p.noise, p.legend { max-width: 60rem; }
p.noise.very-noisy, p.incomplete { color: #a00; font-weight: 600; }
</style>
</head>
<body>
<header>
<h1>mapbench report</h1>
<dl class="machine">
<dt>Go</dt><dd>{{.Run.GoVersion}}</dd>
<dt>OS/arch</dt><dd>{{.Run.GOOS}}/{{.Run.GOARCH}}</dd>
{{- if .CPU}}
<dt>CPU</dt><dd>{{.CPU}}</dd>
{{- end}}
<dt>CPUs</dt><dd>{{.Run.CPUs}}</dd>
<dt>GOMAXPROCS</dt><dd>{{.Run.GOMAXPROCS}}</dd>
<dt>Started</dt><dd>{{.Started}} (took {{.Elapsed}})</dd>
<dt>Config</dt><dd>{{.Config}}; goroutines={{joinInt .Run.Config.Goroutines ","}}, key types={{join .Run.Config.KeyTypes ","}}</dd>
<dt>Implementations</dt><dd>{{join .Run.Config.Impls ", "}}</dd>
</dl>
{{- if .Incomplete}}
<p class="incomplete">INCOMPLETE: {{.Incomplete}}.</p>
{{- end}}
{{- if .Noise}}
<p class="noise {{.NoiseClass}}">Machine noise: {{.Noise}}</p>
{{- end}}
<p class="legend">{{.Legend}}</p>
</header>
<nav><ul>
{{- range .Workloads}}
<li><a href="#w-{{.Name}}">{{.Name}}</a></li>
{{- end}}
</ul></nav>
<main>
{{- range .Workloads}}
<section class="workload" id="w-{{.Name}}">
<h2>{{.Name}}</h2>
{{- if .Description}}
<p>{{.Description}}</p>
{{- end}}
<p class="meta">{{if .Param}}Varied: {{.Param}}. {{end}}Ranked by {{.Unit}} ({{.Better}}).</p>
<div class="charts">
{{- if .ChartError}}
<p class="chart-error">The charts could not be drawn: {{.ChartError}}</p>
{{- end}}
{{- $name := .Name}}
{{- range .Charts}}
<figure class="chart" data-workload="{{$name}}" data-setting="{{.Setting}}">
{{- if .Error}}
<p class="chart-error">The chart “{{.Title}}” could not be drawn: {{.Error}}</p>
{{- else}}
{{.SVG}}
{{- end}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- end}}
</div>
{{- $w := .}}
<table>
<thead><tr><th>variant</th><th>rank</th><th>impl</th><th>{{.Unit}}</th><th>±95%</th>{{range .Columns}}<th>{{.}}</th>{{end}}<th>vs best</th><th>n</th></tr></thead>
{{- range .Sections}}
<tbody>
<tr><th class="setting" colspan="{{add (len $w.Columns) 7}}" scope="colgroup">{{.Setting}}</th></tr>
{{- range .Rows}}
<tr{{with .Class}} class="{{.}}"{{end}}><td>{{.Variant}}</td><td>{{.Rank}}</td><td>{{.Impl}}{{if .Violation}} !{{end}}</td>
{{- if .Missing}}<td class="missing" colspan="{{add (len $w.Columns) 4}}">{{.Missing}}</td>
{{- else}}<td>{{.Primary}}</td><td>{{.Interval}}</td>{{range .Figures}}<td>{{.}}</td>{{end}}<td>{{.VsBest}}</td><td>{{.N}}</td>
{{- end}}</tr>
{{- end}}
</tbody>
{{- end}}
</table>
{{- if .Violations}}
<ul class="violations">
{{- range .Violations}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Notes}}
<ul class="notes">
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
</section>
{{- end}}
</main>
</body>
</html>
`
