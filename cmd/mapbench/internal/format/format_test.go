package format

import (
	"math"
	"testing"
	"time"
)

func TestPercent_ThreeSignificantDigitsAndATinyFloor(t *testing.T) {
	for x, want := range map[float64]string{
		0.9: "90 %", 0.05: "5 %", 0.995: "99.5 %", 0.001: "0.1 %", 1: "100 %", 0: "0 %",
		1e-9: "< 0.001 %", 1.0 / 3: "33.3 %",
	} {
		if got := Percent(x); got != want {
			t.Errorf("Percent(%v) = %q; want %q", x, got, want)
		}
	}
}

func TestNumber_ThreeSignificantDigitsWithAnSISuffix(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.5, "0.5"}, {0.25, "0.25"}, {12.34, "12.3"}, {41.23, "41.2"},
		{123.4, "123"}, {999.7, "1k"}, {999.9, "1k"}, {1234, "1.23k"}, {1234.5, "1.23k"},
		{496844, "497k"}, {12_345_678, "12.3M"}, {2e9, "2G"}, {0.000123, "0.000123"},
		{0.0000123, "1.23e-05"}, {-1500, "-1.5k"}, {math.Inf(1), "+Inf"},
	} {
		if got := Number(tt.x); got != tt.want {
			t.Errorf("Number(%v) = %q; want %q", tt.x, got, tt.want)
		}
	}
}

func TestRatio_PrecisionFollowsSize(t *testing.T) {
	for _, tt := range []struct {
		r    float64
		want string
	}{
		{1, "1.00×"}, {1.805, "1.80×"}, {1.81, "1.81×"}, {3.4, "3.40×"}, {12.34, "12.3×"},
		{340.2, "340×"}, {math.Inf(1), "∞"}, {math.NaN(), ""},
	} {
		if got := Ratio(tt.r); got != tt.want {
			t.Errorf("Ratio(%v) = %q; want %q", tt.r, got, tt.want)
		}
	}
}

func TestRoundDuration_ThreeSignificantDigits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5606278 * time.Nanosecond:    "5.61ms",
		999 * time.Nanosecond:        "999ns",
		1234567 * time.Microsecond:   "1.23s",
		12345 * time.Nanosecond:      "12.3µs",
		97*time.Second + 432*1e6:     "1m37.4s",
		2*time.Minute + 400*1e6:      "2m0s",
		-5606278 * time.Nanosecond:   "-5.61ms",
		0:                            "0s",
		time.Duration(math.MinInt64): time.Duration(math.MinInt64).String(),
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %s; want %s", time.Duration(d), got, want)
		}
	}
}
