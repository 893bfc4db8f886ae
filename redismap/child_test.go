package redismap_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// Multi-process tests re-execute the test binary as child processes; the
// environment variable childEnv names the child's role, and TestMain runs
// runChild instead of the tests. A child talks to its parent over its
// standard input (commands) and output (one line per event).

const childEnv = "REDISMAP_TEST_CHILD"

// stampedeReport is what a "stampede" child prints when it is done.
type stampedeReport struct {
	Calls  int64            // loader calls in this process
	Values map[string]int   // value returned → number of callers
	Errors map[string]int   // error text → number of callers
	Shared int              // errors that were *SharedError (from another process)
	Stats  redismap.Stats   // the child's Map's counters
	Tokens map[string]int64 // key → fencing token its loader ran with (if it did)
	Trips  int64            // round trips to Redis during the stampede
}

func runChild(role string) int {
	if err := child(role); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func child(role string) error {
	env := func(name string) string { return os.Getenv("REDISMAP_" + name) }
	num := func(name string) int { n, _ := strconv.Atoi(env(name)); return n }
	client := redis.NewClient(&redis.Options{Addr: env("ADDR")})
	defer client.Close()
	trips := new(redistest.RoundTrips)
	client.AddHook(trips)
	m, err := redismap.New(client, redismap.Options[string, string]{
		Prefix: env("PREFIX"), Lease: time.Duration(num("LEASE_MS")) * time.Millisecond,
		ErrorTTL: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)

	switch role {
	case "stampede":
		// KEYS keys, GOROUTINES goroutines asking for each key, all at once
		// after the parent says go; the loader takes LOAD_MS.
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.Ready(wctx)
		wcancel()
		if err != nil {
			return err
		}
		// Warm the server's script cache, so that round trips count no
		// EVALSHA-then-EVAL fallback.
		m.LoadOrTryCompute(ctx, "warm-up", func(context.Context) (string, error) { return "", nil })
		m.Store(ctx, "warm-up", "")
		m.Delete(ctx, "warm-up")
		fmt.Println("ready")
		if !in.Scan() {
			return errors.New("no go from the parent")
		}
		keys, goroutines := num("KEYS"), num("GOROUTINES")
		var calls atomic.Int64
		var mu sync.Mutex
		rep := stampedeReport{Values: map[string]int{}, Errors: map[string]int{}, Tokens: map[string]int64{}}
		var wg sync.WaitGroup
		start := trips.Load()
		for range goroutines {
			for i := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprint(i)
					v, _, err := m.LoadOrTryCompute(ctx, key, func(ctx context.Context) (string, error) {
						calls.Add(1)
						tok, _ := redismap.FencingToken(ctx)
						mu.Lock()
						rep.Tokens[key] = int64(tok)
						mu.Unlock()
						time.Sleep(time.Duration(num("LOAD_MS")) * time.Millisecond) // a slow backend
						if env("MODE") == "error" {
							return "", fmt.Errorf("backend down for %s", key)
						}
						return "value-" + key, nil
					})
					mu.Lock()
					if err != nil {
						rep.Errors[err.Error()]++
						var se *redismap.SharedError
						if errors.As(err, &se) {
							rep.Shared++
						}
					} else {
						rep.Values[v]++
					}
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		rep.Calls, rep.Stats, rep.Trips = calls.Load(), m.Stats(), trips.Load()-start
		return out.Encode(rep)

	case "hotkey":
		return hotKeyChild(ctx, client, in, out, num)

	case "batch":
		return batchChild(ctx, m, trips, in, out, num)

	case "holder":
		// Take KEY's lease, say "loading", and return "from-child" when
		// the parent says so (or never, if it kills this process).
		v, _, err := m.LoadOrTryCompute(ctx, env("KEY"), func(ctx context.Context) (string, error) {
			tok, _ := redismap.FencingToken(ctx)
			fmt.Println("loading", tok)
			if !in.Scan() {
				return "", errors.New("no finish from the parent")
			}
			return "from-child", nil
		})
		res := map[string]any{"value": v, "fenced": errors.Is(err, redismap.ErrFenced)}
		if err != nil {
			res["err"] = err.Error()
		}
		return out.Encode(res)
	}
	return fmt.Errorf("unknown role %q", role)
}

// childProc is a running child.
type childProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // the child's standard output, line by line
}

// startChild runs the test binary as a child in role, with REDISMAP_<k>=v
// for each entry of env. It is killed when the test ends.
func startChild(t testing.TB, role string, env map[string]string) *childProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	for k, v := range env {
		cmd.Env = append(cmd.Env, "REDISMAP_"+k+"="+v)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childProc{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// startChildren starts n children in role, the i-th with env(i), waits
// until each says "ready", then tells them all "go" at once.
func startChildren(t testing.TB, n int, role string, env func(i int) map[string]string) []*childProc {
	t.Helper()
	children := make([]*childProc, n)
	for i := range children {
		children[i] = startChild(t, role, env(i))
	}
	for _, c := range children {
		if l := c.line(); l != "ready" {
			t.Fatalf("child said %q; want ready", l)
		}
	}
	for _, c := range children {
		c.send("go")
	}
	return children
}

// line returns the child's next line of output (bounded wait).
func (c *childProc) line() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the child exited early")
		}
		return l
	case <-time.After(30 * time.Second):
		c.t.Fatal("timed out waiting for the child")
	}
	return ""
}

// send writes a line to the child's standard input.
func (c *childProc) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, s+"\n"); err != nil {
		c.t.Fatalf("writing to the child: %v", err)
	}
}

// wait waits for the child to exit successfully.
func (c *childProc) wait() {
	c.t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Fatalf("child: %v", err)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatal("the child did not exit")
	}
}
