package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/safemap-go/safemap/redismap/redistest"
)

func TestMain(m *testing.M) {
	// The program starts copies of itself; in a test, the test binary.
	if prefix := os.Getenv(workerEnv); prefix != "" {
		if err := worker(os.Args[1:], prefix, os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRun_LoaderRunsOncePerKeyAcrossProcessesAndTheErrorIsShared(t *testing.T) {
	srv := redistest.Run(t) // its own server on a free port, never 6379
	var out bytes.Buffer
	if err := run([]string{"-addr", srv.Addr(), "-procs", "3", "-goroutines", "4", "-keys", "3", "-load", "50ms"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"loader calls: 3 for 36 callers",
		"failing loader calls: 1 for 12 callers",
		"12 values",
		"database: connection reset",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRun_ReportsAMissingRedisClearly(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	err = run([]string{"-addr", "127.0.0.1:" + strconv.Itoa(port)}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "no Redis at") {
		t.Errorf("got %v; want an error saying there is no Redis", err)
	}
}
