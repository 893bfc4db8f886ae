// Command redis-cache shows safemap's Redis tier (package redismap) doing
// what an in-process map cannot: several processes missing the same keys at
// once, with the loader running once per key for all of them.
//
// It starts -procs copies of itself. Each opens a redismap.Map on the Redis
// at -addr and has -goroutines goroutines ask for the same -keys keys at the
// same moment, through LoadOrTryCompute with a slow loader that counts its
// calls in Redis. Then every process asks for one key whose loader fails:
// the error is stored as a short-lived marker and reaches every process,
// and the failing backend is called once.
//
//	go run ./examples/redis-cache -addr 127.0.0.1:6379 -procs 4
//
// The address defaults to $REDIS_ADDR, or 127.0.0.1:6379. Every run uses a
// fresh key prefix, so runs do not see each other's entries.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// workerEnv, when set, makes the program a worker: it names the prefix.
const workerEnv = "REDIS_CACHE_WORKER_PREFIX"

func main() {
	var err error
	if prefix := os.Getenv(workerEnv); prefix != "" {
		err = worker(os.Args[1:], prefix, os.Stdin, os.Stdout)
	} else {
		err = run(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis-cache:", err)
		os.Exit(1)
	}
}

type config struct {
	addr                   string
	procs, goroutines, key int
	load                   time.Duration
}

func parse(args []string) (config, error) {
	fs := flag.NewFlagSet("redis-cache", flag.ContinueOnError)
	def := os.Getenv("REDIS_ADDR")
	if def == "" {
		def = "127.0.0.1:6379"
	}
	var c config
	fs.StringVar(&c.addr, "addr", def, "Redis address (default $REDIS_ADDR, or 127.0.0.1:6379)")
	fs.IntVar(&c.procs, "procs", 3, "processes")
	fs.IntVar(&c.goroutines, "goroutines", 10, "goroutines per process, per key")
	fs.IntVar(&c.key, "keys", 5, "keys every goroutine asks for")
	fs.DurationVar(&c.load, "load", 100*time.Millisecond, "how long the loader takes")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.procs < 1 || c.goroutines < 1 || c.key < 1 {
		return c, errors.New("-procs, -goroutines and -keys must be at least 1")
	}
	return c, nil
}

// run starts the workers, lets them go at once, and prints what happened.
func run(args []string, out io.Writer) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	client := redis.NewClient(&redis.Options{Addr: c.addr})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("no Redis at %s (start one, or pass -addr): %w", c.addr, err)
	}
	prefix := fmt.Sprintf("redis-cache-example:%d", time.Now().UnixNano())
	defer cleanup(client, prefix)

	self, err := os.Executable()
	if err != nil {
		return err
	}
	type proc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	procs := make([]proc, c.procs)
	for i := range procs {
		cmd := exec.Command(self, args...)
		cmd.Env = append(os.Environ(), workerEnv+"="+prefix)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		defer cmd.Process.Kill()
		procs[i] = proc{cmd, stdin, bufio.NewScanner(stdout)}
	}
	for i, p := range procs { // each worker says "ready" when its Map is up
		if !p.out.Scan() || p.out.Text() != "ready" {
			return fmt.Errorf("worker %d did not start", i)
		}
	}
	fmt.Fprintf(out, "%d processes × %d goroutines ask for the same %d keys at once (the loader takes %v)\n",
		c.procs, c.goroutines, c.key, c.load)
	for _, p := range procs {
		io.WriteString(p.stdin, "go\n")
	}
	for i, p := range procs {
		for p.out.Scan() {
			fmt.Fprintf(out, "  process %d: %s\n", i+1, p.out.Text())
		}
		if err := p.cmd.Wait(); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	calls, _ := client.Get(ctx, prefix+":loader-calls").Int()
	failures, _ := client.Get(ctx, prefix+":failing-calls").Int()
	fmt.Fprintf(out, "loader calls: %d for %d callers (one per key)\n", calls, c.procs*c.goroutines*c.key)
	fmt.Fprintf(out, "failing loader calls: %d for %d callers (its error was shared)\n", failures, c.procs*c.goroutines)
	return nil
}

// worker is one process: it waits for "go", asks for every key from many
// goroutines at once, then for the failing key, and prints a summary.
func worker(args []string, prefix string, in io.Reader, out io.Writer) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	client := redis.NewClient(&redis.Options{Addr: c.addr})
	defer client.Close()
	m, err := redismap.New(client, redismap.Options[string, string]{
		Prefix: prefix, TTL: time.Minute, Lease: 2 * time.Second, ErrorTTL: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Take traffic once notifications flow: waiters then wake at the
	// commit, not at the end of the lease.
	if err := m.Ready(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}

	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for k := range c.key {
		key := "product:" + strconv.Itoa(k)
		for range c.goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, _, err := m.LoadOrTryCompute(ctx, key, func(ctx context.Context) (string, error) {
					client.Incr(ctx, prefix+":loader-calls")
					time.Sleep(c.load) // a slow database
					return "details of " + key, nil
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					got["error: "+err.Error()]++
				} else {
					got[v]++
				}
			}()
		}
	}
	wg.Wait()
	var errs []string
	for g := range c.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := m.LoadOrTryCompute(ctx, "product:broken", func(ctx context.Context) (string, error) {
				client.Incr(ctx, prefix+":failing-calls")
				time.Sleep(c.load)
				return "", errors.New("database: connection reset")
			})
			if g == 0 {
				mu.Lock()
				errs = append(errs, fmt.Sprint(err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st := m.Stats()
	values := 0
	for v, n := range got {
		if strings.HasPrefix(v, "details of ") {
			values += n
		}
	}
	fmt.Fprintf(out, "%d values, loader ran %d times here, waited %d times for another process; the failing key said %q\n",
		values, st.Loads, st.Waits, errs[0])
	return nil
}

// cleanup deletes the run's keys.
func cleanup(client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The Map's keys start with "{", the prefix's length, ":", the prefix
	// and ":" (docs/redis.md); the example's own counters with the prefix.
	for _, pattern := range []string{prefix + ":*", fmt.Sprintf("{%d:%s:*", len(prefix), prefix)} {
		iter := client.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	}
}
