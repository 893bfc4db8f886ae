package report

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// csvHeader is the fixed head of results.csv's header; one column per
// metric unit found in the run follows, sorted, then "note".
var csvHeader = []string{
	"workload", "impl", "variant", "param", "key_type", "goroutines",
	"rep", "ops", "ns_per_op", "allocs_per_op", "bytes_per_op",
}

// CSV writes one row per sample: the case's setting, the repetition
// (counted from 1), the standard figures, then one column per metric unit
// found anywhere in the run, in sorted order, and a final note column. A
// case without samples (unsupported, or one that measured nothing) gets one
// row with empty numbers and the reason in the note; the note of a case
// that broke a guarantee lists its violations.
func CSV(w io.Writer, run *results.Run) error {
	units := metricUnits(run)
	cw := csv.NewWriter(w)
	header := slices.Concat(csvHeader, units, []string{"note"})
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, 0, len(header))
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			note := ""
			switch {
			case c.Unsupported != "":
				note = "unsupported: " + c.Unsupported
			case len(c.Samples) == 0:
				note = "no samples"
			}
			if len(c.Violations) > 0 {
				note = joinNonEmpty("; ", note, "violation: "+strings.Join(c.Violations, "; violation: "))
			}
			setting := []string{wl.Name, c.Impl, c.Variant, csvFloat(c.Param), c.KeyType, strconv.Itoa(c.Goroutines)}
			if len(c.Samples) == 0 {
				rec = append(rec[:0], setting...)
				rec = append(rec, make([]string, len(header)-len(setting)-1)...)
				if err := cw.Write(append(rec, note)); err != nil {
					return err
				}
				continue
			}
			for i, s := range c.Samples {
				rec = append(rec[:0], setting...)
				rec = append(rec,
					strconv.Itoa(i+1),
					strconv.FormatInt(s.Ops, 10),
					csvFloat(s.NsPerOp),
					csvFloat(s.AllocsPerOp),
					csvFloat(s.BytesPerOp),
				)
				for _, u := range units {
					v, ok := s.Metrics[u]
					if !ok {
						rec = append(rec, "")
						continue
					}
					rec = append(rec, csvFloat(v))
				}
				if err := cw.Write(append(rec, note)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// metricUnits is every metric unit that some sample of the run has, sorted.
func metricUnits(run *results.Run) []string {
	var units []string
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			for _, s := range c.Samples {
				for u := range s.Metrics {
					if !slices.Contains(units, u) {
						units = append(units, u)
					}
				}
			}
		}
	}
	slices.Sort(units)
	return units
}

// csvFloat formats x exactly, without an exponent.
func csvFloat(x float64) string {
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func joinNonEmpty(sep string, parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), sep)
}
