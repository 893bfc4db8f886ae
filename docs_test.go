package safemap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDesignDoc_FileMapNamesEveryFile keeps docs/design.md's file map true:
// every non-test Go file of the root package is named there (by name or by
// a glob), and every name there is a file that exists.
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
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		if m, _ := filepath.Glob(p); len(m) == 0 {
			t.Errorf("docs/design.md's file map names %s; no such file", p)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
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
