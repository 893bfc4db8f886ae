package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// JSON writes the run as indented JSON, the results.json layout. Started is
// written in UTC, so ReadJSON gives back exactly what was written.
func JSON(w io.Writer, run *results.Run) error {
	r := *run
	r.Started = r.Started.UTC() // also drops the monotonic clock reading
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadJSON reads a run that JSON wrote. It rejects input that is not one
// JSON object, and any results.Version but the one this program writes.
func ReadJSON(r io.Reader) (*results.Run, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("not a mapbench results file: %w", err)
	}
	switch {
	case head.Version == nil:
		return nil, errors.New("not a mapbench results file: no version field")
	case *head.Version != results.Version:
		return nil, fmt.Errorf("results file has version %d; this mapbench reads version %d", *head.Version, results.Version)
	}
	var run results.Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	run.Started = run.Started.UTC()
	return &run, nil
}
