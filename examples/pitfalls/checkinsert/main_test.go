package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/examples/pitfalls/internal/subproc"
)

// The tests build this program once with -race and once without, and run
// the builds as subprocesses: a data race or a fatal error in the test
// binary itself would fail or kill every test in it.

var builds = subproc.NewBuilds("checkinsert")

func TestMain(m *testing.M) {
	code := m.Run()
	builds.Cleanup()
	os.Exit(code)
}

// run runs the program, built with the race detector or without, with args.
func run(t *testing.T, race bool, args ...string) subproc.Result {
	t.Helper()
	return subproc.Run(t, builds.Path(t, race), args...)
}

// overwritten reads "N built values were overwritten" from the output.
func overwritten(t *testing.T, stdout string) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) built values were overwritten`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no count of overwritten values in the output:\n%s", stdout)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestBroken_RaceDetectorReportsDataRace(t *testing.T) {
	t.Parallel()
	r := run(t, true, "-variant", "broken")
	if r.ExitCode != 66 {
		t.Errorf("exit status: got %d; want 66 (races found)\nstderr:\n%s", r.ExitCode, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "WARNING: DATA RACE") {
		t.Errorf("stderr has no race report:\n%s", r.Stderr)
	}
}

func TestBroken_LosesValuesWithoutRaceDetector(t *testing.T) {
	t.Parallel()
	r := run(t, false, "-variant", "broken")
	if r.ExitCode != 0 {
		t.Fatalf("exit status: got %d; want 0 (the broken variant fails silently)\nstderr:\n%s", r.ExitCode, r.Stderr)
	}
	if n := overwritten(t, r.Stdout); n == 0 {
		t.Errorf("overwritten values: got 0; want > 0\n%s", r.Stdout)
	}
}

func TestFixed_RunsCleanUnderRaceDetector(t *testing.T) {
	t.Parallel()
	r := run(t, true, "-variant", "fixed")
	if r.ExitCode != 0 {
		t.Errorf("exit status: got %d; want 0\nstderr:\n%s", r.ExitCode, r.Stderr)
	}
	if strings.Contains(r.Stderr, "DATA RACE") {
		t.Errorf("the fixed variant has a race report:\n%s", r.Stderr)
	}
	if n := overwritten(t, r.Stdout); n != 0 {
		t.Errorf("overwritten values: got %d; want 0\n%s", n, r.Stdout)
	}
	if want := fmt.Sprintf("build ran %d times for %d keys", keys, keys); !strings.Contains(r.Stdout, want) {
		t.Errorf("want build to run once per key:\n%s", r.Stdout)
	}
}

func TestUnguarded_RuntimeKillsConcurrentMapWrites(t *testing.T) {
	t.Parallel()
	path := builds.Path(t, false)
	// The runtime's check is best-effort: it fires when it catches two
	// writes overlapping, which in practice is on the first run.
	const attempts = 5
	for range attempts {
		r := subproc.Run(t, path, "-variant", "unguarded")
		if r.ExitCode == 0 {
			t.Logf("run got through unnoticed:\n%s", r.Stdout)
			continue
		}
		if !strings.Contains(r.Stderr, "fatal error: concurrent map writes") {
			t.Fatalf("exit status %d without the runtime's report; stderr:\n%s", r.ExitCode, r.Stderr)
		}
		return
	}
	t.Errorf("the runtime did not report concurrent map writes in %d runs", attempts)
}

func TestBadVariant_ExitsWithStatus2(t *testing.T) {
	t.Parallel()
	r := run(t, false, "-variant", "nope")
	if r.ExitCode != 2 {
		t.Errorf("exit status: got %d; want 2", r.ExitCode)
	}
	if want := `unknown -variant "nope"`; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr: got %q; want it to contain %q", r.Stderr, want)
	}
}
