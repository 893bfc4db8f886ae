// Package stampede measures what happens when P processes × G goroutines
// miss the same K keys of a Redis-backed cache at once: how often the
// loader runs, how long the callers wait, and how many Redis commands and
// round trips each miss costs. It compares a plain cache-aside on go-redis,
// go-redis/cache's Once, and safemap's Redis tier (redismap).
//
// The processes are real: the harness starts P copies of a binary whose
// main (or TestMain) calls [MaybeWorker] first. Each round uses fresh keys,
// so every round is a cold stampede.
package stampede

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// The implementations compared, by the names used in benchmark names.
const (
	CacheAside  = "cache-aside"         // GET; on a miss, load and SET
	GoRedisOnce = "go-redis-cache-once" // go-redis/cache's Once: singleflight in each process
	Redismap    = "redismap"            // safemap's Redis tier
	// RedismapBatch is redismap's LoadOrTryComputeAll, for the batch
	// workload only (batch.go); the other implementations resolve a batch
	// with one call per key, all at once.
	RedismapBatch = "redismap-batch"
)

// Impls lists the implementations in the order they are reported.
var Impls = []string{CacheAside, GoRedisOnce, Redismap}

// Config describes one stampede.
type Config struct {
	Addr       string        // the Redis server
	Impl       string        // one of Impls
	Procs      int           // processes
	Goroutines int           // goroutines per process per key
	Keys       int           // keys every goroutine misses
	Load       time.Duration // how long the loader takes
	// HotKey, if set, makes each round the hot-key workload instead of a
	// cold stampede (see hotkey.go); Impl must be Redismap and Keys is 1.
	HotKey *HotKeyShape
	// Batch, if set, makes each round the batch workload (see batch.go);
	// Impl is RedismapBatch, Redismap or GoRedisOnce, and Keys is 1.
	Batch *BatchShape
	// Command returns a command that runs a binary calling MaybeWorker
	// first (the harness adds the worker's environment).
	Command func() *exec.Cmd
}

// RoundResult is what one stampede did.
type RoundResult struct {
	LoaderCalls int64           // loader calls, across processes
	Latencies   []time.Duration // every caller's time from its call to its answer
	Commands    int64           // commands the server ran (INFO commandstats, scripts' inner commands included)
	RoundTrips  int64           // round trips the processes made, together
	Errors      int             // callers that got an error
	// Reads holds the hot-key workload's read latencies (Latencies is
	// empty then: a hot-key round makes far more calls than a stampede).
	Reads redistest.Latencies
	// Loaded lists every key the batch workload's loaders loaded (a key
	// loaded twice is listed twice); Latencies are its batches' then.
	Loaded []string
}

// Runner runs stampedes against one set of worker processes.
type Runner struct {
	cfg     Config
	admin   *redis.Client
	workers []*workerProc
	round   int
	prefix  string
}

type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// workerEnv carries the worker's configuration, as JSON.
const workerEnv = "SAFEMAP_STAMPEDE_WORKER"

// workerConfig is the worker's side of Config.
type workerConfig struct {
	Addr       string
	Impl       string
	Goroutines int
	Keys       int
	Load       time.Duration
	Prefix     string
	HotKey     *HotKeyShape
	Batch      *BatchShape
}

// Start starts cfg.Procs worker processes and waits until each is ready.
func Start(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.Batch != nil {
		if !slices.Contains(BatchImpls, cfg.Impl) {
			return nil, fmt.Errorf("stampede: unknown batch implementation %q (want one of %v)", cfg.Impl, BatchImpls)
		}
	} else if !slices.Contains(Impls, cfg.Impl) {
		return nil, fmt.Errorf("stampede: unknown implementation %q (want one of %v)", cfg.Impl, Impls)
	}
	if cfg.Procs < 1 || cfg.Goroutines < 1 || cfg.Keys < 1 {
		return nil, errors.New("stampede: Procs, Goroutines and Keys must be at least 1")
	}
	if cfg.HotKey != nil && (cfg.Impl != Redismap || cfg.Keys != 1) {
		return nil, errors.New("stampede: the hot-key workload runs redismap on one key")
	}
	r := &Runner{
		cfg:    cfg,
		admin:  redis.NewClient(&redis.Options{Addr: cfg.Addr}),
		prefix: fmt.Sprintf("stampede:%s:%d", cfg.Impl, time.Now().UnixNano()),
	}
	if err := r.admin.Ping(ctx).Err(); err != nil {
		r.admin.Close()
		return nil, fmt.Errorf("stampede: no Redis at %s: %w", cfg.Addr, err)
	}
	wc, _ := json.Marshal(workerConfig{cfg.Addr, cfg.Impl, cfg.Goroutines, cfg.Keys, cfg.Load, r.prefix, cfg.HotKey, cfg.Batch})
	for range cfg.Procs {
		cmd := cfg.Command()
		cmd.Env = append(os.Environ(), workerEnv+"="+string(wc))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			r.Close()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			r.Close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			r.Close()
			return nil, err
		}
		out := bufio.NewScanner(stdout)
		out.Buffer(nil, 64<<20)
		r.workers = append(r.workers, &workerProc{cmd, stdin, out})
	}
	for i, w := range r.workers {
		if !w.out.Scan() || w.out.Text() != "ready" {
			r.Close()
			return nil, fmt.Errorf("stampede: worker %d did not start: %v", i, w.out.Err())
		}
	}
	return r, nil
}

// Round runs one stampede on fresh keys: every worker's goroutines miss
// them at once.
func (r *Runner) Round(ctx context.Context) (RoundResult, error) {
	r.round++
	if r.cfg.HotKey != nil {
		return r.hotKeyRound()
	}
	if r.cfg.Batch != nil {
		if err := r.tell(fmt.Sprint(r.round)); err != nil {
			return RoundResult{}, err
		}
		return r.collect()
	}
	before, err := commandCount(ctx, r.admin)
	if err != nil {
		return RoundResult{}, err
	}
	if err := r.tell(fmt.Sprint(r.round)); err != nil {
		return RoundResult{}, err
	}
	res, err := r.collect()
	if err != nil {
		return res, err
	}
	after, err := commandCount(ctx, r.admin)
	if err != nil {
		return res, err
	}
	res.Commands = after - before
	return res, nil
}

// tell sends line to every worker.
func (r *Runner) tell(line string) error {
	for _, w := range r.workers {
		if _, err := fmt.Fprintln(w.stdin, line); err != nil {
			return fmt.Errorf("stampede: telling the workers %q: %w", line, err)
		}
	}
	return nil
}

// collect reads every worker's report of a round and adds them up.
func (r *Runner) collect() (RoundResult, error) {
	var res RoundResult
	for i, w := range r.workers {
		if !w.out.Scan() {
			return res, fmt.Errorf("stampede: worker %d stopped: %v", i, w.out.Err())
		}
		var wr workerResult
		if err := json.Unmarshal(w.out.Bytes(), &wr); err != nil {
			return res, fmt.Errorf("stampede: worker %d: %w", i, err)
		}
		res.LoaderCalls += wr.Calls
		res.RoundTrips += wr.Trips
		res.Errors += wr.Errors
		for _, l := range wr.Latencies {
			res.Latencies = append(res.Latencies, time.Duration(l))
		}
		res.Reads.Merge(wr.Reads)
		res.Loaded = append(res.Loaded, wr.Loaded...)
	}
	return res, nil
}

// Close stops the workers and deletes the keys the stampedes wrote.
func (r *Runner) Close() error {
	for _, w := range r.workers {
		w.stdin.Close()
	}
	for _, w := range r.workers {
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// redismap's keys start with "{", the prefix's length, ":", the
	// prefix and ":" (docs/redis.md); the other implementations' keys with
	// the prefix.
	for _, pattern := range []string{r.prefix + "*", fmt.Sprintf("{%d:%s:*", len(r.prefix), r.prefix)} {
		iter := r.admin.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			r.admin.Del(ctx, iter.Val())
		}
	}
	return r.admin.Close()
}

// commandCount returns how many commands the server has run, from INFO
// commandstats, leaving out what the harness and connection upkeep send.
func commandCount(ctx context.Context, c *redis.Client) (int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("stampede: INFO commandstats: %w", err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		switch strings.TrimPrefix(name, "cmdstat_") {
		case "info", "ping", "hello", "client|setinfo", "client|setname", "client", "scan", "del", "subscribe", "select":
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		v, _ := strconv.ParseInt(calls, 10, 64)
		n += v
	}
	return n, nil
}

// Summary condenses the rounds of one configuration.
type Summary struct {
	Rounds          int
	LoaderCalls     float64       // per round (the target for redismap: Keys)
	P50, P99        time.Duration // callers' latency
	CommandsPerMiss float64       // server commands per missed key
	TripsPerProcKey float64       // round trips per process per missed key
	Errors          int
}

// Summarize condenses results of cfg's rounds.
func Summarize(cfg Config, results []RoundResult) Summary {
	s := Summary{Rounds: len(results)}
	if len(results) == 0 {
		return s
	}
	var lat []time.Duration
	var calls, cmds, trips int64
	for _, r := range results {
		calls += r.LoaderCalls
		cmds += r.Commands
		trips += r.RoundTrips
		s.Errors += r.Errors
		lat = append(lat, r.Latencies...)
	}
	slices.Sort(lat)
	n := float64(len(results))
	s.LoaderCalls = float64(calls) / n
	s.CommandsPerMiss = float64(cmds) / n / float64(cfg.Keys)
	s.TripsPerProcKey = float64(trips) / n / float64(cfg.Keys*cfg.Procs)
	if len(lat) > 0 {
		s.P50 = lat[len(lat)*50/100]
		s.P99 = lat[min(len(lat)*99/100, len(lat)-1)]
	}
	return s
}

// MaybeWorker runs this process as a stampede worker and exits, if the
// harness started it; otherwise it returns at once. Call it first in main
// (or TestMain) of the binary that Config.Command runs.
func MaybeWorker() {
	spec := os.Getenv(workerEnv)
	if spec == "" {
		return
	}
	var wc workerConfig
	if err := json.Unmarshal([]byte(spec), &wc); err != nil {
		fmt.Fprintln(os.Stderr, "stampede worker:", err)
		os.Exit(2)
	}
	if err := work(wc, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stampede worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// workerResult is a worker's report of one round.
type workerResult struct {
	Calls     int64
	Trips     int64
	Errors    int
	Latencies []int64             // ns
	Reads     redistest.Latencies // the hot-key workload's
	Loaded    []string            // the batch workload's: every key the loader loaded
	Batches   int                 // the batch workload's: batches resolved
}

// load is how a worker asks for one key: it returns the value.
type load func(ctx context.Context, key string, loader func(ctx context.Context) (string, error)) (string, error)

func work(wc workerConfig, in io.Reader, out io.Writer) error {
	client := redis.NewClient(&redis.Options{Addr: wc.Addr, PoolSize: 64})
	defer client.Close()
	trips := new(redistest.RoundTrips)
	client.AddHook(trips)
	ctx := context.Background()

	var get load
	var getAll loadAll
	switch wc.Impl {
	case CacheAside:
		get = func(ctx context.Context, key string, loader func(context.Context) (string, error)) (string, error) {
			v, err := client.Get(ctx, key).Result()
			if err == nil {
				return v, nil
			}
			if err != redis.Nil {
				return "", err
			}
			if v, err = loader(ctx); err != nil {
				return "", err
			}
			return v, client.Set(ctx, key, v, time.Hour).Err()
		}
	case GoRedisOnce:
		c := cache.New(&cache.Options{Redis: client})
		get = func(ctx context.Context, key string, loader func(context.Context) (string, error)) (string, error) {
			var v string
			err := c.Once(&cache.Item{
				Ctx: ctx, Key: key, Value: &v, TTL: time.Hour,
				Do: func(item *cache.Item) (any, error) { return loader(item.Ctx) },
			})
			return v, err
		}
	case Redismap, RedismapBatch:
		opts := redismap.Options[string, string]{Prefix: wc.Prefix, Lease: 5 * time.Second}
		if wc.HotKey != nil {
			wc.HotKey.apply(&opts)
		}
		m, err := redismap.New(client, opts)
		if err != nil {
			return err
		}
		defer m.Close()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = m.Ready(rctx)
		cancel()
		if err != nil {
			return err
		}
		// Warm the server's script cache so that rounds count no
		// EVALSHA-then-EVAL fallback.
		m.LoadOrTryCompute(ctx, "warm-up", func(context.Context) (string, error) { return "", nil })
		m.Delete(ctx, "warm-up")
		if wc.HotKey != nil {
			fmt.Fprintln(out, "ready")
			return hotKeyWorker(ctx, wc, m, in, out)
		}
		get = func(ctx context.Context, key string, loader func(context.Context) (string, error)) (string, error) {
			v, _, err := m.LoadOrTryCompute(ctx, key, loader)
			return v, err
		}
		if wc.Impl == RedismapBatch {
			getAll = m.LoadOrTryComputeAll
		}
	}
	fmt.Fprintln(out, "ready")
	if wc.Batch != nil {
		return batchWorker(ctx, wc, get, getAll, trips, in, out)
	}

	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		round := sc.Text()
		var calls atomic.Int64
		loader := func(ctx context.Context) (string, error) {
			calls.Add(1)
			time.Sleep(wc.Load) // the slow backend the cache protects
			return "value", nil
		}
		n := wc.Goroutines * wc.Keys
		lat := make([]int64, n)
		errs := make([]bool, n)
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		for i := range n {
			key := fmt.Sprintf("%s:%s:%d", wc.Prefix, round, i%wc.Keys)
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				begin := time.Now()
				v, err := get(ctx, key, loader)
				lat[i] = int64(time.Since(begin))
				errs[i] = err != nil || v != "value"
			}()
		}
		ready.Wait()
		before := trips.Load()
		close(start)
		done.Wait()
		res := workerResult{Calls: calls.Load(), Trips: trips.Load() - before, Latencies: lat}
		for _, e := range errs {
			if e {
				res.Errors++
			}
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	return sc.Err()
}
