// Package format writes mapbench's figures for people to read: one rule
// per kind of figure (a fraction as a percentage, a measurement, a ratio, a
// duration), so that the terminal tables, the HTML report, the progress
// lines and the advisor print the same figure the same way. Machine-read
// output (results.json, results.csv, bench.txt) keeps full precision and
// does not use it.
package format

import (
	"math"
	"strconv"
	"time"
)

// Percent formats a fraction as a percentage with up to three significant
// digits: 0.05 → "5 %", 0.995 → "99.5 %", 1.0/3 → "33.3 %". A fraction
// above 0 that would read as 0 reads "< 0.001 %".
func Percent(x float64) string {
	p := 100 * x
	if p > 0 && p < 0.001 {
		return "< 0.001 %"
	}
	return strconv.FormatFloat(p, 'g', 3, 64) + " %"
}

// Number formats a measurement to three significant digits, with an SI
// suffix from a thousand up: 0.512, 12.3, 987, 1.23k, 12.3M, 2G.
func Number(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	// Round first, so that 999.7 becomes 1k rather than 1e+03.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	a := math.Abs(r)
	for _, s := range [...]struct {
		scale  float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= s.scale {
			return strconv.FormatFloat(r/s.scale, 'g', 3, 64) + s.suffix
		}
	}
	if a != 0 && a < 1e-3 {
		return strconv.FormatFloat(r, 'g', 3, 64)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Ratio formats how many times one figure is another, with the precision
// its size deserves: 1 → "1.00×", 3.4 → "3.40×", 12.34 → "12.3×", 340.2 →
// "340×"; +Inf → "∞", NaN (no ratio) → "".
func Ratio(r float64) string {
	switch {
	case math.IsNaN(r):
		return ""
	case math.IsInf(r, 1):
		return "∞"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 0, 64) + "×"
}

// RoundDuration rounds d to three significant digits, the one rounding
// rule for durations people read: a loader's 5.606278ms reads 5.61ms, a
// run's 2m0.43s reads 2m0s, a progress line's 12.345s reads 12.3s.
func RoundDuration(d time.Duration) time.Duration {
	if d == 0 {
		return 0
	}
	a := d
	if a < 0 {
		a = -a // the minimum Duration stays negative, and is returned unrounded
	}
	unit := time.Duration(1)
	for a/unit >= 1000 {
		unit *= 10
	}
	return d.Round(unit)
}

// Duration formats d rounded by [RoundDuration]: "5.61ms", "2m0s".
func Duration(d time.Duration) string {
	return RoundDuration(d).String()
}
