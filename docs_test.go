package safemap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDesignDoc_FileMapNamesEveryFile keeps docs/design.md's file map true:
// every non-test Go file of the root package is named there (by name or by
// a glob), every test file is either named for a source file (it starts
// with the source file's name, as hashmap_resize_test.go does) or named
// there, and every name there is a file that exists.
func TestDesignDoc_FileMapNamesEveryFile(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## Files")
	if start < 0 {
		t.Fatal(`docs/design.md has no "## Files" section`)
	}
	section := text[start+len("## Files"):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var patterns []string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1] // the file column
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			patterns = append(patterns, m[1])
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patterns {
		if m, _ := filepath.Glob(p); len(m) == 0 {
			t.Errorf("docs/design.md's file map names %s; no such file", p)
		}
	}
	var sources []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			sources = append(sources, strings.TrimSuffix(f, ".go"))
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") && slices.ContainsFunc(sources, func(s string) bool {
			return strings.HasPrefix(f, s+"_")
		}) {
			continue // named for the source file it covers
		}
		named := false
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, f); ok {
				named = true
				break
			}
		}
		if !named {
			t.Errorf("%s is not in docs/design.md's file map", f)
		}
	}
}

// TestDocs_RelativeLinksPointAtFilesThatExist checks every relative link
// of the repository's Markdown files (README, BENCHMARKS, docs/, every
// module's) against the working tree: results and files move (docs/bench
// became bench/results when the tools got their own module), and a link
// left behind is a dead end for a reader. The linked files of nested
// modules are not in the library's module zip, so the test runs only in a
// checkout (where the bench module is).
func TestDocs_RelativeLinksPointAtFilesThatExist(t *testing.T) {
	if _, err := os.Stat(filepath.Join("bench", "go.mod")); err != nil {
		t.Skip("not a checkout of the repository (no bench module): the linked files of the other modules are not here")
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || path == filepath.Join("bench", "results")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			checked++
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), filepath.FromSlash(target))); err != nil {
				t.Errorf("%s links to %s, which does not exist", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no relative link to check: the pattern is broken")
	}
}
