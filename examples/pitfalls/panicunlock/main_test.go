package main

import (
	"os"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/examples/pitfalls/internal/subproc"
)

// The tests run this program as a subprocess: the broken variant leaves a
// goroutine blocked forever on a locked mutex, which is fine in a process
// that exits but not in the test binary.

var builds = subproc.NewBuilds("panicunlock")

func TestMain(m *testing.M) {
	code := m.Run()
	builds.Cleanup()
	os.Exit(code)
}

// run runs the program, built as the test binary is, with args.
func run(t *testing.T, args ...string) (exitCode int, stdout, stderr string) {
	t.Helper()
	r := subproc.Run(t, builds.LikeTest(t), args...)
	return r.ExitCode, r.Stdout, r.Stderr
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
