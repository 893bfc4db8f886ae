package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests build this program once with -race and once without, and run
// the builds as subprocesses: a data race or a fatal error in the test
// binary itself would fail or kill every test in it.

var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "checkinsert-test-")
	if err != nil {
		panic(err)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type build struct {
	path string
	skip string // why the build is not available, if it is not
	err  error
}

var (
	raceBuild  = sync.OnceValue(func() build { return buildProgram(true) })
	plainBuild = sync.OnceValue(func() build { return buildProgram(false) })
)

// buildProgram builds the package in the current directory (go test runs in
// it) into tmpDir.
func buildProgram(race bool) build {
	goTool, err := exec.LookPath("go") // go test puts $GOROOT/bin first in PATH
	if err != nil {
		return build{skip: "no go command in PATH: " + err.Error()}
	}
	name, args := "checkinsert", []string{"build"}
	if race {
		out, err := exec.Command(goTool, "env", "CGO_ENABLED").Output()
		if err != nil {
			return build{err: err}
		}
		if strings.TrimSpace(string(out)) != "1" {
			return build{skip: "the race detector needs cgo, and CGO_ENABLED is not 1"}
		}
		name, args = "checkinsert-race", append(args, "-race")
	}
	path := filepath.Join(tmpDir, name)
	cmd := exec.Command(goTool, append(args, "-o", path, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if race && bytes.Contains(out, []byte("-race")) { // e.g. "-race is not supported on ..."
			return build{skip: "the race detector is not available: " + strings.TrimSpace(string(out))}
		}
		return build{err: errors.New("go " + strings.Join(cmd.Args[1:], " ") + ": " + err.Error() + "\n" + string(out))}
	}
	return build{path: path}
}

func binary(t *testing.T, b build) string {
	t.Helper()
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

type result struct {
	exitCode       int
	stdout, stderr string
}

// run runs the program with args and returns its exit status and output.
func run(t *testing.T, path string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// A race-enabled program sleeps for GORACE's atexit_sleep_ms (1s by
	// default) before it exits, so that other goroutines can finish their
	// race reports; this program's goroutines are finished or blocked for
	// good by then.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish in time", filepath.Base(path), strings.Join(args, " "))
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.exitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
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
	r := run(t, binary(t, raceBuild()), "-variant", "broken")
	if r.exitCode != 66 {
		t.Errorf("exit status: got %d; want 66 (races found)\nstderr:\n%s", r.exitCode, r.stderr)
	}
	if !strings.Contains(r.stderr, "WARNING: DATA RACE") {
		t.Errorf("stderr has no race report:\n%s", r.stderr)
	}
}

func TestBroken_LosesValuesWithoutRaceDetector(t *testing.T) {
	t.Parallel()
	r := run(t, binary(t, plainBuild()), "-variant", "broken")
	if r.exitCode != 0 {
		t.Fatalf("exit status: got %d; want 0 (the broken variant fails silently)\nstderr:\n%s", r.exitCode, r.stderr)
	}
	if n := overwritten(t, r.stdout); n == 0 {
		t.Errorf("overwritten values: got 0; want > 0\n%s", r.stdout)
	}
}

func TestFixed_RunsCleanUnderRaceDetector(t *testing.T) {
	t.Parallel()
	r := run(t, binary(t, raceBuild()), "-variant", "fixed")
	if r.exitCode != 0 {
		t.Errorf("exit status: got %d; want 0\nstderr:\n%s", r.exitCode, r.stderr)
	}
	if strings.Contains(r.stderr, "DATA RACE") {
		t.Errorf("the fixed variant has a race report:\n%s", r.stderr)
	}
	if n := overwritten(t, r.stdout); n != 0 {
		t.Errorf("overwritten values: got %d; want 0\n%s", n, r.stdout)
	}
	if want := fmt.Sprintf("build ran %d times for %d keys", keys, keys); !strings.Contains(r.stdout, want) {
		t.Errorf("want build to run once per key:\n%s", r.stdout)
	}
}

func TestUnguarded_RuntimeKillsConcurrentMapWrites(t *testing.T) {
	t.Parallel()
	path := binary(t, plainBuild())
	// The runtime's check is best-effort: it fires when it catches two
	// writes overlapping, which in practice is on the first run.
	const attempts = 5
	for range attempts {
		r := run(t, path, "-variant", "unguarded")
		if r.exitCode == 0 {
			t.Logf("run got through unnoticed:\n%s", r.stdout)
			continue
		}
		if !strings.Contains(r.stderr, "fatal error: concurrent map writes") {
			t.Fatalf("exit status %d without the runtime's report; stderr:\n%s", r.exitCode, r.stderr)
		}
		return
	}
	t.Errorf("the runtime did not report concurrent map writes in %d runs", attempts)
}

func TestBadVariant_ExitsWithStatus2(t *testing.T) {
	t.Parallel()
	r := run(t, binary(t, plainBuild()), "-variant", "nope")
	if r.exitCode != 2 {
		t.Errorf("exit status: got %d; want 2", r.exitCode)
	}
	if want := `unknown -variant "nope"`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr: got %q; want it to contain %q", r.stderr, want)
	}
}
