package redismap_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// runStampede runs procs children, each with goroutines goroutines asking
// for the same keys keys at once, and returns their reports.
func runStampede(t *testing.T, srv *server, procs, goroutines, keys int, mode string) []stampedeReport {
	t.Helper()
	env := map[string]string{
		"ADDR": srv.addr(), "PREFIX": prefix(t), "KEYS": strconv.Itoa(keys),
		"GOROUTINES": strconv.Itoa(goroutines), "LEASE_MS": "1000", "LOAD_MS": "200", "MODE": mode,
	}
	children := startChildren(t, procs, "stampede", func(int) map[string]string { return env })
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

// batchReport is what a "batch" child prints when it is done.
type batchReport struct {
	Loaded   map[string]int // key → times this process's loader loaded it
	Calls    int            // loader calls
	Trips    []int64        // round trips of each batch
	Missing  int            // keys a batch returned no value for
	Errors   []string
	Batches  int
	Takeover int64
}

// batchChild resolves BATCHES batches of BATCH random keys of KEYS (seeded
// by SEED), one after another, through LoadOrTryComputeAll.
func batchChild(ctx context.Context, m *redismap.Map[string, string], trips *redistest.RoundTrips, in *bufio.Scanner, out *json.Encoder, num func(string) int) error {
	if err := m.Ready(ctx); err != nil {
		return err
	}
	m.LoadOrTryComputeAll(ctx, []string{"warm-up"}, func(context.Context, []string) (map[string]string, error) { return nil, nil })
	fmt.Println("ready")
	if !in.Scan() {
		return errors.New("no go from the parent")
	}
	rep := batchReport{Loaded: map[string]int{}}
	var mu sync.Mutex
	load := func(ctx context.Context, missing []string) (map[string]string, error) {
		mu.Lock()
		rep.Calls++
		for _, k := range missing {
			rep.Loaded[k]++
		}
		mu.Unlock()
		time.Sleep(5*time.Millisecond + time.Duration(len(missing))*10*time.Microsecond) // a batched query
		vals := make(map[string]string, len(missing))
		for _, k := range missing {
			vals[k] = "v-" + k
		}
		return vals, nil
	}
	r := rand.New(rand.NewPCG(uint64(num("SEED")), 7))
	for range num("BATCHES") {
		keys := make([]string, num("BATCH"))
		for i := range keys {
			keys[i] = fmt.Sprint("k", r.IntN(num("KEYS")))
		}
		before := trips.Load()
		got, err := m.LoadOrTryComputeAll(ctx, keys, load)
		rep.Trips = append(rep.Trips, trips.Load()-before)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
		for _, k := range keys {
			if got[k] != "v-"+k {
				rep.Missing++
			}
		}
		rep.Batches++
	}
	rep.Takeover = m.Stats().Takeovers
	return out.Encode(rep)
}

func TestMultiProcess_OverlappingBatchesLoadEachKeyOnceInAtMostThreeRoundTrips(t *testing.T) {
	t.Parallel()
	const procs, batches = 4, 5
	srv := shared(t)
	env := map[string]string{"ADDR": srv.addr(), "PREFIX": prefix(t), "LEASE_MS": "5000",
		"KEYS": "1000", "BATCH": "100", "BATCHES": strconv.Itoa(batches)}
	children := startChildren(t, procs, "batch", func(i int) map[string]string {
		e := maps.Clone(env)
		e["SEED"] = strconv.Itoa(i + 1)
		return e
	})
	loaded := map[string]int{}
	for i, c := range children {
		var r batchReport
		if err := json.Unmarshal([]byte(c.line()), &r); err != nil {
			t.Fatal(err)
		}
		c.wait()
		for k, n := range r.Loaded {
			loaded[k] += n
		}
		if len(r.Errors) > 0 || r.Missing > 0 {
			t.Errorf("process %d: %d keys without a value, errors %v", i, r.Missing, r.Errors)
		}
		for b, n := range r.Trips {
			if n > 3 {
				t.Errorf("process %d, batch %d: %d round trips; want at most 3", i, b, n)
			}
		}
		t.Logf("process %d: %d loader calls for %d batches, round trips per batch %v, takeovers %d", i, r.Calls, r.Batches, r.Trips, r.Takeover)
		if r.Calls > r.Batches+int(r.Takeover) {
			t.Errorf("process %d: %d loader calls for %d batches; want at most one per batch (and per takeover)", i, r.Calls, r.Batches)
		}
	}
	for k, n := range loaded {
		if n != 1 {
			t.Errorf("key %q loaded %d times across processes; want once", k, n)
		}
	}
}
