package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromium returns the path of a Chromium binary. Without one the test is
// skipped with a message saying how to install it, except under CI=true
// (.ci/run installs it), where a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true requires the browser test: apt-get install chromium")
	}
	t.Skip("chromium is not installed: apt-get install chromium (Debian) to check that the report renders in a real browser")
	return ""
}

// runChromium runs headless Chromium on page with the extra flags and
// returns what it printed on stdout.
func runChromium(t *testing.T, bin, page string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
	}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(flags, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestHTML_RendersInChromium loads the fixture's report in headless
// Chromium: the DOM the browser builds has every chart as an SVG with its
// title, and a screenshot shows the charts (pixels in the colours of the
// default map and the other implementations), not a blank page.
func TestHTML_RendersInChromium(t *testing.T) {
	bin := chromium(t)
	run := fixtureRun()
	var buf bytes.Buffer
	if err := HTML(&buf, run); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, err := html.Parse(bytes.NewReader(runChromium(t, bin, page, "--dump-dom")))
	if err != nil {
		t.Fatalf("parsing Chromium's DOM: %v", err)
	}
	figs := find(dom, func(n *html.Node) bool { return n.Data == "figure" && hasClass(n, "chart") })
	if len(figs) != 9 {
		t.Errorf("Chromium's DOM has %d charts; want the fixture's 9", len(figs))
	}
	for _, fig := range figs {
		setting, _ := attr(fig, "data-setting")
		svgs := find(fig, byTag("svg"))
		if len(svgs) != 1 || !strings.Contains(textOf(svgs[0]), setting) {
			t.Errorf("chart %q: %d SVGs in Chromium's DOM, or no title naming its setting", setting, len(svgs))
		}
	}

	shot := filepath.Join(dir, "report.png")
	runChromium(t, bin, page, "--screenshot="+shot, "--window-size=1400,3000")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 3000 {
		t.Errorf("screenshot is %v; want 1400×3000", b)
	}
	styles := newImplStyles(run)
	for _, impl := range []string{"Map", "xsync", "cmap"} {
		if n := countNear(img, styles.color(impl)); n < 200 {
			t.Errorf("the screenshot has %d pixels of %s's colour; want its lines and glyphs drawn (at least 200)", n, impl)
		}
	}
}

// countNear counts the pixels of img within a few levels of c.
func countNear(img image.Image, c color.Color) int {
	cr, cg, cb, _ := c.RGBA()
	near := func(a, b uint32) bool { d := int(a>>8) - int(b>>8); return d > -12 && d < 12 }
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, cr) && near(g, cg) && near(bl, cb) {
				n++
			}
		}
	}
	return n
}
