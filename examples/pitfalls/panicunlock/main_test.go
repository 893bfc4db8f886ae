package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run this program as a subprocess: the broken variant leaves a
// goroutine blocked forever on a locked mutex, which is fine in a process
// that exits but not in the test binary.

var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "panicunlock-test-")
	if err != nil {
		panic(err)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// program builds the package in the current directory (go test runs in it)
// once, and returns the path of the binary. It builds with -race if the test
// binary was built with it, so that the build reuses the packages go test
// has just compiled.
var program = sync.OnceValues(func() (string, error) {
	goTool, err := exec.LookPath("go") // go test puts $GOROOT/bin first in PATH
	if err != nil {
		return "", err
	}
	args := []string{"build"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	path := filepath.Join(tmpDir, "panicunlock")
	cmd := exec.Command(goTool, append(args, "-o", path, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go " + strings.Join(cmd.Args[1:], " ") + ": " + err.Error() + "\n" + string(out))
	}
	return path, nil
})

// run runs the program with args and returns its exit status and output.
func run(t *testing.T, args ...string) (exitCode int, stdout, stderr string) {
	t.Helper()
	path, err := program()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// A race-enabled program sleeps for GORACE's atexit_sleep_ms (1s by
	// default) before it exits, so that other goroutines can finish their
	// race reports; this program's goroutines are finished or blocked for
	// good by then.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("panicunlock %s did not finish in time", strings.Join(args, " "))
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		exitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return exitCode, outBuf.String(), errBuf.String()
}

func TestBroken_NextCallDeadlocksAfterRecoveredPanic(t *testing.T) {
	t.Parallel()
	// The program gives up on a request after -timeout; a deadlocked one
	// never finishes, so a short timeout only shortens the test.
	code, stdout, stderr := run(t, "-variant", "broken", "-timeout", "200ms")
	if code != 0 {
		t.Fatalf("exit status: got %d; want 0\nstderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`request 1, "user:1": the loader panicked and the request recovered`,
		`request 2, "user:2": still blocked after 200ms`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestFixed_MapStaysUsableAndRetryComputes(t *testing.T) {
	t.Parallel()
	// The timeout is long so that a slow machine cannot pass for a deadlock;
	// the requests finish in microseconds.
	code, stdout, stderr := run(t, "-variant", "fixed", "-timeout", "10s")
	if code != 0 {
		t.Fatalf("exit status: got %d; want 0\nstderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`request 1, "user:1": the loader panicked and the request recovered`,
		`request 2, "user:2": returned "row for user:2", computed by this call`,
		`request 3, "user:1": returned "row for user:1", computed by this call`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "blocked") {
		t.Errorf("a request blocked:\n%s", stdout)
	}
}

func TestBadVariant_ExitsWithStatus2(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, "-variant", "nope")
	if code != 2 {
		t.Errorf("exit status: got %d; want 2", code)
	}
	if want := `unknown -variant "nope"`; !strings.Contains(stderr, want) {
		t.Errorf("stderr: got %q; want it to contain %q", stderr, want)
	}
}
