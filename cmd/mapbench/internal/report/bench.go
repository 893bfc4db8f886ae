package report

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// benchPkg is the pkg: line of bench.txt.
const benchPkg = "github.com/safemap-go/safemap/cmd/mapbench"

// BenchText writes the run in the Go benchmark format, so that benchstat
// compares two runs ("benchstat old/bench.txt new/bench.txt") or the
// implementations of one ("benchstat -col /impl bench.txt").
//
// A header of configuration lines (goos, goarch, pkg, cpu when known, go)
// is followed by one line per sample, named
//
//	Benchmark<Workload>/impl=<impl>/<variant>/key=<key type>/goroutines=<n>-<GOMAXPROCS>
//
// with the sample's operations as the iteration count, then ns/op, B/op,
// allocs/op and the sample's metrics by unit. Characters the format cannot
// carry in a name are replaced: white space by "_", and "/" inside an
// element (mix=90/9/1) by ":". Unsupported cases have no line. A "Unit"
// line tells benchstat which Primary figures are better when higher.
func BenchText(w io.Writer, run *results.Run) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("goos: " + run.GOOS + "\n")
	bw.WriteString("goarch: " + run.GOARCH + "\n")
	bw.WriteString("pkg: " + benchPkg + "\n")
	if cpu := cpuName(run); cpu != "" {
		bw.WriteString("cpu: " + cpu + "\n")
	}
	bw.WriteString("go: " + run.GoVersion + "\n")

	var higher []string
	for _, wl := range run.Workloads {
		if u := primaryUnit(&wl); wl.HigherIsBetter && !slices.Contains(higher, u) {
			higher = append(higher, u)
		}
	}
	for _, u := range higher {
		bw.WriteString("Unit " + benchUnit(u) + " better=higher\n")
	}

	var line []byte
	for _, wl := range run.Workloads {
		for _, c := range wl.Cases {
			if c.Unsupported != "" {
				continue
			}
			name := benchName(run, &wl, &c)
			for _, s := range c.Samples {
				line = append(line[:0], name...)
				line = append(line, '\t')
				line = strconv.AppendInt(line, s.Ops, 10)
				line = appendValue(line, s.NsPerOp, "ns/op")
				line = appendValue(line, s.BytesPerOp, "B/op")
				line = appendValue(line, s.AllocsPerOp, "allocs/op")
				units := make([]string, 0, len(s.Metrics))
				for u := range s.Metrics {
					units = append(units, u)
				}
				slices.Sort(units)
				for _, u := range units {
					line = appendValue(line, s.Metrics[u], benchUnit(u))
				}
				bw.Write(append(line, '\n'))
			}
		}
	}
	return bw.Flush()
}

// benchName is the benchmark name of a case's samples.
func benchName(run *results.Run, wl *results.Workload, c *results.Case) string {
	parts := []string{"Benchmark" + titleCase(wl.Name), "impl=" + benchElem(c.Impl)}
	if c.Variant != "" {
		parts = append(parts, benchElem(c.Variant))
	}
	parts = append(parts, "key="+benchElem(c.KeyType), "goroutines="+strconv.Itoa(c.Goroutines))
	name := strings.Join(parts, "/")
	if run.GOMAXPROCS > 0 {
		name += "-" + strconv.Itoa(run.GOMAXPROCS)
	}
	return name
}

// appendValue appends a tab and a "value unit" pair, as go test does. A
// value that is not a number has no place in the format and is left out.
func appendValue(line []byte, v float64, unit string) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return line
	}
	line = append(line, '\t')
	line = strconv.AppendFloat(line, v, 'f', -1, 64)
	line = append(line, ' ')
	return append(line, unit...)
}

// benchElem makes s safe as one element of a benchmark name: no white
// space, and no "/", which would split it in two.
func benchElem(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r) || !unicode.IsPrint(r):
			return '_'
		case r == '/':
			return ':'
		}
		return r
	}, s)
}

// benchUnit makes a metric unit one field: no white space.
func benchUnit(u string) string {
	if u == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return '-'
		}
		return r
	}, u)
}

// titleCase turns a workload name into a benchmark name: "load" → "Load",
// "slow-load" → "SlowLoad".
func titleCase(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Mapbench"
	}
	return b.String()
}

// cpuName is the processor's model name for the cpu: line; "" when the
// run did not record one.
func cpuName(run *results.Run) string { return run.CPU }
