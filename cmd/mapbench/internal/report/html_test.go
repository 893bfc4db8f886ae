package report

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// renderHTML renders run and parses it as an HTML5 parser does.
func renderHTML(t *testing.T, run *results.Run) (*html.Node, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := HTML(&buf, run); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parsing the HTML: %v", err)
	}
	return doc, buf.String()
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

// find returns every element under n that match reports true for.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var found []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			found = append(found, d)
		}
	}
	return found
}

func byTag(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// TestHTML_OneChartPerSetting checks that every workload gets one chart
// per key type and goroutine count it measured, each an SVG with text,
// titled, and labelled with its setting.
func TestHTML_OneChartPerSetting(t *testing.T) {
	run := fixtureRun()
	doc, _ := renderHTML(t, run)
	charts := map[string][]string{}
	for _, fig := range find(doc, func(n *html.Node) bool { return n.Data == "figure" && hasClass(n, "chart") }) {
		name, _ := attr(fig, "data-workload")
		setting, _ := attr(fig, "data-setting")
		charts[name] = append(charts[name], setting)
		svgs := find(fig, byTag("svg"))
		if len(svgs) != 1 {
			t.Errorf("chart of %q holds %d <svg> elements; want 1", name, len(svgs))
			continue
		}
		if text := textOf(svgs[0]); !strings.Contains(text, name+": ") || !strings.Contains(text, setting) {
			t.Errorf("chart of %q, %s has no title naming both: %q", name, setting, text)
		}
	}
	want := map[string][]string{
		"load":     {"key=int, goroutines=2", "key=string, goroutines=2", "key=int, goroutines=8", "key=string, goroutines=8"},
		"mixed":    {"key=int, goroutines=2"},
		"slowload": {"key=int, goroutines=2", "key=int, goroutines=8"},
		"memory":   {"key=int, goroutines=2", "key=int, goroutines=8"},
	}
	for name, settings := range want {
		if !slices.Equal(charts[name], settings) {
			t.Errorf("workload %q has charts for %q; want %q", name, charts[name], settings)
		}
	}
	if len(charts) != len(run.Workloads) {
		t.Errorf("charts for %v; want them for each of the %d workloads", charts, len(run.Workloads))
	}
}

func TestHTML_ChartKinds(t *testing.T) {
	run := fixtureRun()
	doc, _ := renderHTML(t, run)
	for _, fig := range find(doc, func(n *html.Node) bool { return n.Data == "figure" && hasClass(n, "chart") }) {
		name, _ := attr(fig, "data-workload")
		setting, _ := attr(fig, "data-setting")
		caption := textOf(find(fig, byTag("figcaption"))[0])
		svgText := textOf(find(fig, byTag("svg"))[0])
		switch {
		case name == "load" && strings.HasSuffix(setting, "goroutines=2"):
			// Three miss rates: a line per implementation with a legend, on a
			// log axis since the built-in map is far below the others.
			for _, s := range []string{"Map (default)", "xsync (best peer)", "cmap", "builtin", "miss %", "log scale"} {
				if !strings.Contains(svgText, s) {
					t.Errorf("load chart, %s lacks %q; has %q", setting, s, svgText)
				}
			}
			if !strings.Contains(caption, "one line per implementation") || !strings.Contains(caption, setting) {
				t.Errorf("load caption = %q; want a line chart for %s", caption, setting)
			}
		case name == "load":
			// Without the built-in map, the values are less than 20x apart.
			if strings.Contains(svgText, "builtin") || strings.Contains(svgText, "log scale") {
				t.Errorf("load chart, %s has the built-in map or a log axis: %q", setting, svgText)
			}
		case name == "slowload":
			if !strings.Contains(caption, "per implementation") || !strings.Contains(caption, setting) {
				t.Errorf("%s caption = %q; want a bar chart for %s", name, caption, setting)
			}
			if !strings.Contains(svgText, "log scale") || !strings.Contains(svgText, "1 = untouched") || !strings.Contains(svgText, "xsync !") {
				t.Errorf("slowload chart lacks its log axis, the line at 1 or the flag on xsync: %q", svgText)
			}
		case name == "memory":
			if strings.Contains(svgText, "log scale") {
				t.Errorf("%s chart has a log axis for values less than 20x apart", name)
			}
		}
	}
}

func TestHTML_MachineHeaderAndTables(t *testing.T) {
	run := fixtureRun()
	doc, _ := renderHTML(t, run)
	dls := find(doc, func(n *html.Node) bool { return n.Data == "dl" && hasClass(n, "machine") })
	if len(dls) != 1 {
		t.Fatalf("found %d machine headers; want 1", len(dls))
	}
	header := textOf(dls[0])
	for _, s := range []string{"go1.26.8", "linux/amd64", "GOMAXPROCS", "2026-05-01 12:30:00 UTC", "1000 keys", "goroutines=2,8", "6–12 samples per case", "precision 5 %"} {
		if !strings.Contains(header, s) {
			t.Errorf("machine header lacks %q: %q", s, header)
		}
	}
	for _, class := range []string{"noise", "legend"} {
		ps := find(doc, func(n *html.Node) bool { return n.Data == "p" && hasClass(n, class) })
		if len(ps) != 1 {
			t.Errorf("found %d <p class=%q>; want 1", len(ps), class)
		}
	}
	if ps := find(doc, func(n *html.Node) bool { return n.Data == "p" && hasClass(n, "noise") }); len(ps) == 1 &&
		(!strings.Contains(textOf(ps[0]), "very noisy") || !hasClass(ps[0], "very-noisy")) {
		t.Errorf("noise paragraph %q does not call the fixture's machine very noisy", textOf(ps[0]))
	}
	sections := find(doc, func(n *html.Node) bool { return n.Data == "section" && hasClass(n, "workload") })
	if len(sections) != len(run.Workloads) {
		t.Fatalf("found %d workload sections; want %d", len(sections), len(run.Workloads))
	}
	for i, sec := range sections {
		wl := run.Workloads[i]
		if n := len(find(sec, byTag("table"))); n != 1 {
			t.Errorf("workload %q has %d tables; want 1", wl.Name, n)
		}
		text := textOf(sec)
		for _, c := range wl.Cases {
			if !strings.Contains(text, c.Impl) {
				t.Errorf("workload %q lacks implementation %q", wl.Name, c.Impl)
			}
			if c.Unsupported != "" && !strings.Contains(text, c.Unsupported) {
				t.Errorf("workload %q lacks the reason %q", wl.Name, c.Unsupported)
			}
			for _, v := range c.Violations {
				if !strings.Contains(text, v) {
					t.Errorf("workload %q lacks the violation %q", wl.Name, v)
				}
			}
		}
		for _, n := range wl.Notes {
			if !strings.Contains(text, n) {
				t.Errorf("workload %q lacks the note %q", wl.Name, n)
			}
		}
	}
}

func TestHTML_SelfContainedAndEscaped(t *testing.T) {
	run := fixtureRun()
	run.Workloads[0].Description = `<script>alert("x")</script> & <b>bold</b>`
	run.Workloads[0].Cases[0].Impl = "<img src=x>"
	doc, _ := renderHTML(t, run)
	for _, tag := range []string{"script", "link", "img", "b", "iframe"} {
		if n := len(find(doc, byTag(tag))); n != 0 {
			t.Errorf("found %d <%s> elements; want none", n, tag)
		}
	}
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) {
				t.Errorf("<%s %s=%q> loads something from outside the file", n.Data, a.Key, a.Val)
			}
		}
	}
	for _, st := range find(doc, byTag("style")) {
		if s := textOf(st); strings.Contains(s, "url(") || strings.Contains(s, "@import") {
			t.Errorf("style loads something from outside the file")
		}
	}
	if !strings.Contains(textOf(doc), `<script>alert("x")</script> & <b>bold</b>`) {
		t.Errorf("the description did not survive as text")
	}
}

// TestHTML_NothingToChart checks that a workload without a single
// measurement still gets its chart, and a run without workloads its page.
func TestHTML_NothingToChart(t *testing.T) {
	run := &results.Run{Version: results.Version, Workloads: []results.Workload{{
		Name: "grow", Primary: "ns/op",
		Cases: []results.Case{{Impl: "cmap", KeyType: "int", Goroutines: 1, Unsupported: "no LoadOrCompute"}},
	}}}
	doc, _ := renderHTML(t, run)
	figs := find(doc, func(n *html.Node) bool { return n.Data == "figure" && hasClass(n, "chart") })
	if len(figs) != 1 || len(find(figs[0], byTag("svg"))) != 1 {
		t.Errorf("got %d charts; want 1 with an <svg>", len(figs))
	}
	renderHTML(t, &results.Run{})
}

// TestHTML_WriteFixture writes the fixture's report where a person can look
// at it:
//
//	MAPBENCH_REPORT_FIXTURE=/tmp/report-fixture.html go test -run HTML_WriteFixture
func TestHTML_WriteFixture(t *testing.T) {
	path := os.Getenv("MAPBENCH_REPORT_FIXTURE")
	if path == "" {
		t.Skip("set MAPBENCH_REPORT_FIXTURE=/tmp/report-fixture.html to write the fixture's report")
	}
	_, s := renderHTML(t, fixtureRun())
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
