// Package subproc builds a pitfall program and runs it as a subprocess, for
// the tests whose broken variant must not run inside the test binary: a
// data race, a fatal error or a goroutine blocked forever would fail or
// kill every test in it.
package subproc

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

// Builds builds the package in the current directory (go test runs in it)
// at most once per mode, into one temporary directory per test binary.
type Builds struct {
	name  string
	dir   string
	once  [2]sync.Once
	built [2]build
}

type build struct {
	path string
	skip string // why the build is not available, if it is not
	err  error
}

// NewBuilds returns the builds of the program called name. Remove the
// directory they go to with Cleanup, from TestMain, after m.Run.
func NewBuilds(name string) *Builds {
	dir, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		panic(err)
	}
	return &Builds{name: name, dir: dir}
}

// Cleanup removes the built programs.
func (b *Builds) Cleanup() { os.RemoveAll(b.dir) }

// Path returns the program built with the race detector (race) or without,
// building it on first use. It skips the test if the race detector is not
// available (no cgo, or an unsupported platform).
func (b *Builds) Path(t *testing.T, race bool) string {
	t.Helper()
	i := 0
	if race {
		i = 1
	}
	b.once[i].Do(func() { b.built[i] = b.build(race) })
	bl := b.built[i]
	if bl.skip != "" {
		t.Skip(bl.skip)
	}
	if bl.err != nil {
		t.Fatal(bl.err)
	}
	return bl.path
}

// LikeTest returns the program built as the test binary is: with -race if
// the test binary has the race detector, so that the build reuses the
// packages go test has just compiled.
func (b *Builds) LikeTest(t *testing.T) string {
	t.Helper()
	race := false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			race = race || (s.Key == "-race" && s.Value == "true")
		}
	}
	return b.Path(t, race)
}

func (b *Builds) build(race bool) build {
	goTool, err := exec.LookPath("go") // go test puts $GOROOT/bin first in PATH
	if err != nil {
		return build{skip: "no go command in PATH: " + err.Error()}
	}
	name, args := b.name, []string{"build"}
	if race {
		out, err := exec.Command(goTool, "env", "CGO_ENABLED").Output()
		if err != nil {
			return build{err: err}
		}
		if strings.TrimSpace(string(out)) != "1" {
			return build{skip: "the race detector needs cgo, and CGO_ENABLED is not 1"}
		}
		name, args = name+"-race", append(args, "-race")
	}
	path := filepath.Join(b.dir, name)
	cmd := exec.Command(goTool, append(args, "-o", path, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if race && bytes.Contains(out, []byte("-race")) { // e.g. "-race is not supported on ..."
			return build{skip: "the race detector is not available: " + strings.TrimSpace(string(out))}
		}
		return build{err: errors.New("go " + strings.Join(cmd.Args[1:], " ") + ": " + err.Error() + "\n" + string(out))}
	}
	return build{path: path}
}

// Result is how a run ended.
type Result struct {
	ExitCode       int
	Stdout, Stderr string
}

// Run runs the program at path with args, failing the test if it does not
// finish within 30 seconds, and returns its exit status and output.
func Run(t *testing.T, path string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// A race-enabled program sleeps for GORACE's atexit_sleep_ms (1s by
	// default) before it exits, so that other goroutines can finish their
	// race reports; the pitfall programs' goroutines are finished or
	// blocked for good by then.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish in time", filepath.Base(path), strings.Join(args, " "))
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}
