package report

import (
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// HTML writes the run as one self-contained HTML page: no external style
// sheet, script or font. A header describes the machine and the
// configuration; then every workload has its description, exactly one chart
// (inline SVG, in a <figure class="chart" data-workload="name">), the same
// data as a table, and its violations and notes.
//
// A workload that varies its parameter is charted as its Primary figure
// against the parameter, one line per implementation; one that does not,
// as a bar per implementation. Either chart shows the run's first key type
// and goroutine count, and its caption says so. A value axis is
// logarithmic when the values span more than 20×.
func HTML(w io.Writer, run *results.Run) error {
	page := htmlPage{
		Run:     run,
		CPU:     cpuName(run),
		Started: run.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		Elapsed: roundDuration(run.Elapsed).String(),
	}
	styles := newImplStyles(run)
	for i := range run.Workloads {
		page.Workloads = append(page.Workloads, newHTMLWorkload(run, &run.Workloads[i], styles))
	}
	return pageTemplate.Execute(w, page)
}

// roundDuration rounds d to a precision worth reading: seconds from a
// second up, milliseconds below.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

type htmlPage struct {
	Run       *results.Run
	CPU       string
	Started   string
	Elapsed   string
	Workloads []htmlWorkload
}

type htmlWorkload struct {
	*results.Workload
	Unit, Better string
	Chart        template.HTML // the <svg> element
	ChartError   string        // why there is no chart
	Caption      string
	Columns      []string // figures after the Primary one and its spread
	Sections     []htmlSection
	Violations   []string
}

type htmlSection struct {
	Setting string
	Rows    []htmlRow
}

type htmlRow struct {
	Variant   string // on a group's first row only
	Impl      string
	Class     string // "best", "violation", both or neither
	Violation bool
	Missing   string // why the row has no figures
	Primary   string
	Spread    string
	Figures   []string // one per htmlWorkload.Columns
	Ratio     string
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
	ch, err := workloadChart(run, wl, styles)
	if err == nil {
		hw.Caption = ch.caption
		var svg []byte
		svg, err = ch.svg()
		hw.Chart = template.HTML(svg) // drawn by gonum/plot, which escapes text
	}
	if err != nil {
		hw.ChartError = err.Error()
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

	for _, sec := range sections(wl) {
		hs := htmlSection{Setting: "key=" + sec.KeyType + ", goroutines=" + strconv.Itoa(sec.Goroutines)}
		for _, g := range sec.Groups {
			for i, r := range g.Rows {
				c := r.Case
				hr := htmlRow{Impl: c.Impl, Violation: len(c.Violations) > 0}
				if i == 0 {
					hr.Variant = g.Variant
				}
				for _, v := range c.Violations {
					hw.Violations = append(hw.Violations, violationText(c, v))
				}
				switch {
				case c.Unsupported != "":
					hr.Missing = "unsupported: " + c.Unsupported
				case !r.HasPrimary:
					hr.Missing = "no " + hw.Unit + " measured"
				default:
					if r.Ratio == 1 {
						hr.Class = "best"
					}
					hr.Primary, hr.Spread = compact(r.Primary.Median), spreadText(r.Primary)
					for _, u := range hw.Columns {
						hr.Figures = append(hr.Figures, figureText(c, u))
					}
					hr.Ratio = ratioText(r.Ratio)
				}
				if hr.Violation {
					hr.Class = strings.TrimSpace(hr.Class + " violation")
				}
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
figure.chart { margin: 1rem 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { color: #555; font-size: .9rem; }
.chart-error { color: #a00; }
table { border-collapse: collapse; font-size: .9rem; margin: 1rem 0; }
th, td { padding: .2rem .6rem; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
thead th { border-bottom: 2px solid #999; }
tbody th.setting { text-align: left; background: #f0f0f0; }
tr.best td { font-weight: 600; }
tr.violation td:nth-child(2) { color: #a00; }
td.missing { text-align: left; color: #777; font-style: italic; white-space: normal; }
ul.violations li { color: #a00; }
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
<dt>Config</dt><dd>keys={{.Run.Config.Keys}}, goroutines={{joinInt .Run.Config.Goroutines ","}}, duration={{.Run.Config.Duration}}, reps={{.Run.Config.Reps}}, key types={{join .Run.Config.KeyTypes ","}}</dd>
<dt>Implementations</dt><dd>{{join .Run.Config.Impls ", "}}</dd>
</dl>
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
<figure class="chart" data-workload="{{.Name}}">
{{- if .ChartError}}
<p class="chart-error">The chart could not be drawn: {{.ChartError}}</p>
{{- else}}
{{.Chart}}
{{- end}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- $w := .}}
<table>
<thead><tr><th>variant</th><th>impl</th><th>{{.Unit}}</th><th>min–max</th>{{range .Columns}}<th>{{.}}</th>{{end}}<th>vs best</th></tr></thead>
{{- range .Sections}}
<tbody>
<tr><th class="setting" colspan="{{add (len $w.Columns) 5}}" scope="colgroup">{{.Setting}}</th></tr>
{{- range .Rows}}
<tr{{with .Class}} class="{{.}}"{{end}}><td>{{.Variant}}</td><td>{{.Impl}}{{if .Violation}} !{{end}}</td>
{{- if .Missing}}<td class="missing" colspan="{{add (len $w.Columns) 3}}">{{.Missing}}</td>
{{- else}}<td>{{.Primary}}</td><td>{{.Spread}}</td>{{range .Figures}}<td>{{.}}</td>{{end}}<td>{{.Ratio}}</td>
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
