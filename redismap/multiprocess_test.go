package redismap_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// runStampede runs procs children, each with goroutines goroutines asking
// for the same keys keys at once, and returns their reports.
func runStampede(t *testing.T, srv *server, procs, goroutines, keys int, mode string) []stampedeReport {
	t.Helper()
	env := map[string]string{
		"ADDR": srv.addr(), "PREFIX": prefix(t), "KEYS": strconv.Itoa(keys),
		"GOROUTINES": strconv.Itoa(goroutines), "LEASE_MS": "1000", "LOAD_MS": "200", "MODE": mode,
	}
	children := startChildren(t, procs, "stampede", env)
	reports := make([]stampedeReport, procs)
	for i, c := range children {
		if err := json.Unmarshal([]byte(c.line()), &reports[i]); err != nil {
			t.Fatal(err)
		}
		c.wait()
	}
	return reports
}

func TestMultiProcess_LoaderRunsOncePerKeyAcrossProcesses(t *testing.T) {
	t.Parallel()
	const procs, goroutines, keys = 4, 8, 5
	reports := runStampede(t, shared(t), procs, goroutines, keys, "value")
	var calls int64
	values := map[string]int{}
	for _, r := range reports {
		calls += r.Calls
		for v, n := range r.Values {
			values[v] += n
		}
		if len(r.Errors) > 0 {
			t.Errorf("a child got errors: %v", r.Errors)
		}
		// At most 3 round trips per process per miss: one acquire, then a
		// commit (holder) or one more acquire after the wake-up (waiter).
		if r.Trips > 3*keys {
			t.Errorf("a child made %d round trips for %d missed keys; want at most %d (stats %+v)", r.Trips, keys, 3*keys, r.Stats)
		}
	}
	if calls != keys {
		t.Errorf("loader calls = %d across %d processes; want %d, one per key (one lease epoch each)", calls, procs, keys)
	}
	for i := range keys {
		v := fmt.Sprint("value-", i)
		if values[v] != procs*goroutines {
			t.Errorf("%d callers got %q; want all %d", values[v], v, procs*goroutines)
		}
	}
}

func TestMultiProcess_LoaderErrorsAreSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	const procs, goroutines, keys = 3, 4, 3
	reports := runStampede(t, shared(t), procs, goroutines, keys, "error")
	var calls int64
	shared, failed := 0, 0
	for _, r := range reports {
		calls += r.Calls
		shared += r.Shared
		for msg, n := range r.Errors {
			if !strings.Contains(msg, "backend down for ") {
				t.Errorf("error %q does not carry the loader's message", msg)
			}
			failed += n
		}
		if len(r.Values) > 0 {
			t.Errorf("a child got values %v; want only errors", r.Values)
		}
	}
	if calls != keys {
		t.Errorf("loader calls = %d; want %d: a failing backend called once per key, not once per waiter", calls, keys)
	}
	if failed != procs*goroutines*keys {
		t.Errorf("%d callers got the error; want all %d", failed, procs*goroutines*keys)
	}
	// Every caller in a process other than the loader's got it as a
	// *SharedError.
	if want := (procs - 1) * goroutines * keys; shared < want {
		t.Errorf("%d callers got a *SharedError; want at least %d", shared, want)
	}
}
