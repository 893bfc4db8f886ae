package stampede

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// The hot-key workload: P processes × G goroutines read one key through
// several TTL periods, with a slow loader, with refresh before expiry
// (redismap's RefreshAfter) or without. Without it every expiry makes
// every caller wait for the reload; with it, after the first fill, no
// caller should. Each round reads a fresh key: the first fill (a cold
// stampede) happens before the round's reads start and is not measured.

// HotKeyShape is the hot-key workload's shape.
type HotKeyShape struct {
	TTL     time.Duration // the value's TTL (no jitter)
	Periods int           // how many TTLs the reads last
	Pace    time.Duration // each goroutine reads once per Pace
	Refresh bool          // RefreshAfter = 80 % of TTL; else no refresh
}

// apply sets the options the shape asks for.
func (s *HotKeyShape) apply(o *redismap.Options[string, string]) {
	o.TTL, o.TTLJitter = s.TTL, -1
	if s.Refresh {
		o.RefreshAfter = s.TTL * 8 / 10
	}
}

// HotKeySummary condenses hot-key rounds.
type HotKeySummary struct {
	Rounds          int
	LoadsPerPeriod  float64       // loader calls per TTL period (target about 1)
	P50, P99, Max   time.Duration // the reads' latency
	WaitedReads     float64       // reads per round that took at least 80 % of the loader's time
	ReadsPerRound   float64
	ErrorsPerRound  float64
	LoaderCallTotal int64
}

// SummarizeHotKey condenses the hot-key rounds of cfg.
func SummarizeHotKey(cfg Config, results []RoundResult) HotKeySummary {
	s := HotKeySummary{Rounds: len(results)}
	if len(results) == 0 || cfg.HotKey == nil {
		return s
	}
	var reads redistest.Latencies
	var errs int
	for _, r := range results {
		reads.Merge(r.Reads)
		s.LoaderCallTotal += r.LoaderCalls
		errs += r.Errors
	}
	n := float64(len(results))
	s.LoadsPerPeriod = float64(s.LoaderCallTotal) / n / float64(cfg.HotKey.Periods)
	s.P50, s.P99, s.Max = reads.Quantile(0.5), reads.Quantile(0.99), reads.Max
	s.WaitedReads = float64(reads.CountAbove(cfg.Load*8/10)) / n
	s.ReadsPerRound = float64(reads.N) / n
	s.ErrorsPerRound = float64(errs) / n
	return s
}

// hotKeyRound runs one round: every worker fills the round's key, then,
// all together, reads it.
func (r *Runner) hotKeyRound() (RoundResult, error) {
	if err := r.tell(fmt.Sprint(r.round)); err != nil {
		return RoundResult{}, err
	}
	for i, w := range r.workers {
		if !w.out.Scan() || w.out.Text() != "filled" {
			return RoundResult{}, fmt.Errorf("stampede: worker %d did not fill the key: %v", i, w.out.Err())
		}
	}
	if err := r.tell("go"); err != nil {
		return RoundResult{}, err
	}
	return r.collect()
}

// hotKeyWorker is a worker's side of the hot-key rounds: for each round
// it fills the round's key, says "filled", waits for "go" and reads the
// key for the shape's periods.
func hotKeyWorker(ctx context.Context, wc workerConfig, m *redismap.Map[string, string], r io.Reader, w io.Writer) error {
	in, out := bufio.NewScanner(r), json.NewEncoder(w)
	var calls atomic.Int64
	loader := func(ctx context.Context) (string, error) {
		calls.Add(1)
		select {
		case <-time.After(wc.Load): // the slow backend the cache protects
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "value", nil
	}
	for in.Scan() {
		key := wc.Prefix + ":hot:" + in.Text()
		read := func(ctx context.Context) error {
			v, _, err := m.LoadOrTryCompute(ctx, key, loader)
			if err == nil && v != "value" {
				err = fmt.Errorf("got %q", v)
			}
			return err
		}
		if err := read(ctx); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w, "filled"); err != nil {
			return err
		}
		if !in.Scan() || in.Text() != "go" {
			return errors.New("stampede: no go from the harness")
		}
		calls.Store(0)
		d := time.Duration(wc.HotKey.Periods) * wc.HotKey.TTL
		reads, errs := redistest.ReadHotKey(ctx, wc.Goroutines, d, wc.HotKey.Pace, read)
		if err := out.Encode(workerResult{Calls: calls.Load(), Errors: int(errs), Reads: reads}); err != nil {
			return err
		}
	}
	return in.Err()
}
