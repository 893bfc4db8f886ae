// Package report draws a mapbench run: terminal tables (Text), a
// self-contained HTML page with one chart per workload (HTML), the raw
// results (JSON, read back by ReadJSON), one CSV row per sample (CSV) and
// the Go benchmark format that benchstat compares (BenchText).
//
// Every report is drawn from a results.Run alone, so a results.json written
// on one machine can be redrawn on another.
package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// WriteDir writes report.html, results.json, results.csv and bench.txt into
// dir, creating it if needed. It renders every file before writing any, so
// a failure leaves no half-written report behind.
func WriteDir(dir string, run *results.Run) error {
	files := []struct {
		name  string
		write func(io.Writer, *results.Run) error
	}{
		{"report.html", HTML},
		{"results.json", JSON},
		{"results.csv", CSV},
		{"bench.txt", BenchText},
	}
	bufs := make([]bytes.Buffer, len(files))
	for i, f := range files {
		if err := f.write(&bufs[i], run); err != nil {
			return fmt.Errorf("rendering %s: %w", f.name, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), bufs[i].Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
