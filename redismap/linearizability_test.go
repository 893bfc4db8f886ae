package redismap_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// Porcupine checks that random concurrent histories of one key are
// linearizable, where the guarantee allows it: several Maps on separate
// clients (as separate processes would be) without near caches, and one
// Map with a near cache (near caches of other processes are only
// eventually consistent: see the package documentation). Leases are long,
// so that no takeover (which the guarantee lets run a second loader)
// happens.

type linOp uint8

const (
	linLoad linOp = iota
	linStore
	linDelete
	linLoadOrTryCompute
)

type linInput struct {
	op   linOp
	val  int  // stored, or computed by LoadOrTryCompute's fn
	fail bool // LoadOrTryCompute: fn fails
}

type linOutput struct {
	val    int
	ok     bool // Load's ok, LoadOrTryCompute's loaded
	err    bool // LoadOrTryCompute returned a loader error (its own or shared)
	fenced bool // LoadOrTryCompute's commit was fenced: val is its own, not stored
}

type linState struct {
	present bool
	val     int
}

func linStep(state, input, output any) (bool, any) {
	s, in, out := state.(linState), input.(linInput), output.(linOutput)
	switch in.op {
	case linLoad:
		return out == linOutput{val: s.val, ok: s.present}, s
	case linStore:
		return true, linState{true, in.val}
	case linDelete:
		return true, linState{}
	}
	switch {
	case out.fenced:
		// Nothing stored: the caller got its own value, which no state
		// needs to hold.
		return out.val == in.val, s
	case out.err:
		// A loader error (its own, one it waited on, or a marker that is
		// still alive) stores nothing, and is seen only while absent.
		return !s.present, s
	case s.present:
		return out == linOutput{val: s.val, ok: true}, s
	case in.fail:
		return false, s
	}
	return out == linOutput{val: in.val}, linState{true, in.val}
}

var linModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: linStep,
	Equal: func(a, b any) bool {
		return a.(linState) == b.(linState)
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		return fmt.Sprintf("%d(%d,fail=%v) -> %+v", in.op, in.val, in.fail, out)
	},
}

// recordHistory runs goroutines on maps (round robin), each doing ops
// random operations on one key, and returns the history.
func recordHistory(t *testing.T, maps []*redismap.Map[string, int], goroutines, ops int, seed uint64) []porcupine.Operation {
	t.Helper()
	ctx := testContext(t)
	errLoad := errors.New("load failed")
	var next atomic.Int64
	var mu sync.Mutex
	var history []porcupine.Operation
	start := time.Now()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := maps[g%len(maps)]
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for range ops {
				in := linInput{op: linOp(rng.IntN(4)), val: int(next.Add(1))}
				if in.op == linLoadOrTryCompute {
					in.fail = rng.IntN(8) == 0
				}
				if in.op == linStore && rng.IntN(2) == 0 {
					in.op = linLoadOrTryCompute // weigh the missing-key path
				}
				var out linOutput
				call := time.Since(start)
				switch in.op {
				case linLoad:
					v, ok, err := m.Load(ctx, "k")
					if err != nil {
						t.Errorf("Load: %v", err)
					}
					out = linOutput{val: v, ok: ok}
				case linStore:
					if err := m.Store(ctx, "k", in.val); err != nil {
						t.Errorf("Store: %v", err)
					}
				case linDelete:
					if err := m.Delete(ctx, "k"); err != nil {
						t.Errorf("Delete: %v", err)
					}
				case linLoadOrTryCompute:
					v, loaded, err := m.LoadOrTryCompute(ctx, "k", func(context.Context) (int, error) {
						if rng.IntN(2) == 0 {
							time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond) // a loader of some duration
						}
						if in.fail {
							return 0, errLoad
						}
						return in.val, nil
					})
					var shared *redismap.SharedError
					switch {
					case errors.Is(err, redismap.ErrFenced):
						out = linOutput{val: v, fenced: true}
					case errors.Is(err, errLoad), errors.As(err, &shared):
						out = linOutput{err: true}
					case err != nil:
						t.Errorf("LoadOrTryCompute: %v", err)
					default:
						out = linOutput{val: v, ok: loaded}
					}
				}
				ret := time.Since(start)
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: g, Input: in, Output: out, Call: int64(call), Return: int64(ret)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return history
}

func checkHistory(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(linModel, history, 30*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		f, err := os.CreateTemp("", "redismap-linearizability-*.html")
		if err == nil {
			porcupine.Visualize(linModel, info, f)
			f.Close()
		}
		if os.Getenv("REDISMAP_DUMP") != "" {
			sort.Slice(history, func(i, j int) bool { return history[i].Call < history[j].Call })
			for _, op := range history {
				t.Logf("c%d [%8d,%8d] %s", op.ClientId, op.Call/1000, op.Return/1000, linModel.DescribeOperation(op.Input, op.Output))
			}
		}
		t.Fatalf("history of %d operations is not linearizable (visualisation: %s)", len(history), f.Name())
	default:
		t.Logf("porcupine timed out on %d operations; inconclusive", len(history))
	}
}

func TestLinearizability_OneKeyAcrossMapsWithoutNearCaches(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	rounds, ops := 4, 40
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		opts := redismap.Options[string, int]{Prefix: prefix(t), Lease: 10 * time.Second, ErrorTTL: 5 * time.Millisecond}
		var maps []*redismap.Map[string, int]
		for range 3 {
			maps = append(maps, newMap(t, redis.UniversalClient(srv.client(t)), opts))
		}
		checkHistory(t, recordHistory(t, maps, 6, ops, uint64(round)))
	}
}

func TestLinearizability_OneKeyInOneMapWithANearCache(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	rounds, ops := 4, 40
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		opts := redismap.Options[string, int]{
			Prefix: prefix(t), Lease: 10 * time.Second, ErrorTTL: 5 * time.Millisecond,
			NearCache: redismap.NearCacheOptions{Size: 10},
		}
		m := newMap(t, redis.UniversalClient(srv.client(t)), opts)
		waitConnected(t, m)
		checkHistory(t, recordHistory(t, []*redismap.Map[string, int]{m}, 4, ops, uint64(100+round)))
	}
}
