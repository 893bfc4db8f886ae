package safemap_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/safemap-go/safemap"
)

// This file records random concurrent histories of int→int maps and checks
// with porcupine that each one is linearizable per key, the contract of
// ConcurrentMap. The sequential specification of one key is linModel; its
// state is linState.

// linOp names an operation of a recorded history.
type linOp uint8

const (
	linLoad linOp = iota
	linStore
	linLoadOrStore
	linLoadOrCompute
	linLoadOrTryCompute
	linComputeIncrement // Compute: old+1 if present, else the input value; UpdateOp
	linComputeDelete    // Compute: DeleteOp
	linComputeCancel    // Compute: CancelOp
	linSwap
	linCompareAndSwap
	linCompareAndDelete
	linLoadAndDelete
	linDelete
	linClear // applies to every key: per key it is a Delete
	numLinOps
)

var linOpNames = [numLinOps]string{
	linLoad:             "Load",
	linStore:            "Store",
	linLoadOrStore:      "LoadOrStore",
	linLoadOrCompute:    "LoadOrCompute",
	linLoadOrTryCompute: "LoadOrTryCompute",
	linComputeIncrement: "Compute/increment",
	linComputeDelete:    "Compute/delete",
	linComputeCancel:    "Compute/cancel",
	linSwap:             "Swap",
	linCompareAndSwap:   "CompareAndSwap",
	linCompareAndDelete: "CompareAndDelete",
	linLoadAndDelete:    "LoadAndDelete",
	linDelete:           "Delete",
	linClear:            "Clear",
}

func (op linOp) String() string { return linOpNames[op] }

// linInput is the input of one recorded operation.
type linInput struct {
	op   linOp
	key  int
	val  int  // value stored, computed (LoadOrCompute, LoadOrTryCompute, Compute when absent) or swapped in (CompareAndSwap's new)
	old  int  // CompareAndSwap's and CompareAndDelete's old
	fail bool // LoadOrTryCompute: fn returns errLinLoad instead of val
}

// linOutput is the output of one recorded operation. ok is whichever
// boolean the method returns (ok, loaded, swapped, deleted).
type linOutput struct {
	val int
	ok  bool
	err bool // LoadOrTryCompute returned errLinLoad
}

// linState is the sequential state of one key. An absent key always has
// val 0, so that == is the state equality.
type linState struct {
	present bool
	val     int
}

var errLinLoad = errors.New("linearizability test: load failed")

// linStep is the sequential specification of one key: it reports whether
// op could have produced out from state s, and the state after it.
func linStep(state, input, output any) (bool, any) {
	s := state.(linState)
	in := input.(linInput)
	out := output.(linOutput)
	absent := linState{}
	if out.err && in.op != linLoadOrTryCompute {
		return false, s
	}
	switch in.op {
	case linLoad:
		return out == linOutput{val: s.val, ok: s.present}, s
	case linStore:
		return true, linState{present: true, val: in.val}
	case linLoadOrStore, linLoadOrCompute:
		// LoadOrCompute is one atomic "if present return it, else insert
		// the computed value". A waiter that gets another caller's
		// computed value (or a value stored while fn ran) with loaded
		// true is a LoadOrCompute linearized just after that insert.
		if s.present {
			return out == linOutput{val: s.val, ok: true}, s
		}
		return out == linOutput{val: in.val}, linState{present: true, val: in.val}
	case linLoadOrTryCompute:
		if out.err {
			// A failed computation (its own or the one it waited on)
			// changes nothing, and can only happen while the key is absent.
			return !s.present, s
		}
		if s.present {
			return out == linOutput{val: s.val, ok: true}, s
		}
		if in.fail {
			return false, s // its own fn fails; absent, it must fail or wait
		}
		return out == linOutput{val: in.val}, linState{present: true, val: in.val}
	case linComputeIncrement:
		next := in.val
		if s.present {
			next = s.val + 1
		}
		return out == linOutput{val: next, ok: true}, linState{present: true, val: next}
	case linComputeDelete:
		return out == linOutput{}, absent
	case linComputeCancel:
		return out == linOutput{val: s.val, ok: s.present}, s
	case linSwap:
		return out == linOutput{val: s.val, ok: s.present}, linState{present: true, val: in.val}
	case linCompareAndSwap:
		if s.present && s.val == in.old {
			return out == linOutput{ok: true}, linState{present: true, val: in.val}
		}
		return out == linOutput{}, s
	case linCompareAndDelete:
		if s.present && s.val == in.old {
			return out == linOutput{ok: true}, absent
		}
		return out == linOutput{}, s
	case linLoadAndDelete:
		return out == linOutput{val: s.val, ok: s.present}, absent
	case linDelete, linClear:
		return true, absent
	}
	panic(fmt.Sprintf("linStep: unknown op %d", in.op))
}

// linStepLossy is linStep for a lossy map (mapRules.lossy), whose entries
// may vanish at any instant as if another goroutine deleted them: an
// operation on a present key may also be explained by a vanish just before
// it. Trying the state as it is first is complete: a present key allows
// every future that an absent one allows (it can vanish later).
func linStepLossy(state, input, output any) (bool, any) {
	if ok, next := linStep(state, input, output); ok {
		return true, next
	}
	if s := state.(linState); s.present {
		return linStep(linState{}, input, output)
	}
	return false, state
}

// linPartition splits a history by key. A Clear belongs to every key.
func linPartition(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[int][]porcupine.Operation{}
	var clears []porcupine.Operation
	for _, op := range history {
		in := op.Input.(linInput)
		if in.op == linClear {
			clears = append(clears, op)
			continue
		}
		byKey[in.key] = append(byKey[in.key], op)
	}
	keys := make([]int, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, append(byKey[k], clears...))
	}
	return parts
}

// linLossyModel is linModel for lossy maps.
var linLossyModel = func() porcupine.Model {
	m := linModel
	m.Step = linStepLossy
	return m
}()

var linModel = porcupine.Model{
	Partition: linPartition,
	Init:      func() any { return linState{} },
	Step:      linStep,
	Hash: func(state any) uint64 {
		s := state.(linState)
		if !s.present {
			return 0
		}
		return uint64(s.val)<<1 | 1
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linInput)
		out := output.(linOutput)
		switch in.op {
		case linLoad, linLoadAndDelete, linComputeCancel:
			return fmt.Sprintf("%v(%d) -> (%d, %t)", in.op, in.key, out.val, out.ok)
		case linStore:
			return fmt.Sprintf("Store(%d, %d)", in.key, in.val)
		case linDelete, linComputeDelete:
			return fmt.Sprintf("%v(%d)", in.op, in.key)
		case linClear:
			return "Clear()"
		case linLoadOrTryCompute:
			fn := fmt.Sprint(in.val)
			if in.fail {
				fn = "error"
			}
			if out.err {
				return fmt.Sprintf("LoadOrTryCompute(%d, fn→%s) -> error", in.key, fn)
			}
			return fmt.Sprintf("LoadOrTryCompute(%d, fn→%s) -> (%d, %t)", in.key, fn, out.val, out.ok)
		case linLoadOrCompute:
			return fmt.Sprintf("LoadOrCompute(%d, fn→%d) -> (%d, %t)", in.key, in.val, out.val, out.ok)
		case linComputeIncrement:
			return fmt.Sprintf("Compute(%d, old+1 or %d) -> (%d, %t)", in.key, in.val, out.val, out.ok)
		case linCompareAndSwap:
			return fmt.Sprintf("CompareAndSwap(%d, %d, %d) -> %t", in.key, in.old, in.val, out.ok)
		case linCompareAndDelete:
			return fmt.Sprintf("CompareAndDelete(%d, %d) -> %t", in.key, in.old, out.ok)
		default: // LoadOrStore, Swap
			return fmt.Sprintf("%v(%d, %d) -> (%d, %t)", in.op, in.key, in.val, out.val, out.ok)
		}
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		if !s.present {
			return "absent"
		}
		return fmt.Sprint(s.val)
	},
}

// linMix describes the workload of one kind of history.
type linMix struct {
	name             string
	minKeys, maxKeys int            // each history uses a key space of a size in this range
	weights          [numLinOps]int // relative frequency of each op
}

var (
	// linAllOps exercises every operation over a few keys.
	linAllOps = linMix{
		name:    "all-operations",
		minKeys: 2, maxKeys: 4,
		weights: [numLinOps]int{
			linLoad: 10, linStore: 8, linLoadOrStore: 6, linLoadOrCompute: 10,
			linLoadOrTryCompute: 8, linComputeIncrement: 6, linComputeDelete: 4,
			linComputeCancel: 3, linSwap: 6, linCompareAndSwap: 8,
			linCompareAndDelete: 6, linLoadAndDelete: 5, linDelete: 6, linClear: 1,
		},
	}
	// linComputeRaces makes LoadOrCompute and LoadOrTryCompute miss often,
	// and race with Store, Delete and Compute on the same keys while their
	// fn runs.
	linComputeRaces = linMix{
		name:    "load-or-compute-races",
		minKeys: 1, maxKeys: 2,
		weights: [numLinOps]int{
			linLoad: 8, linStore: 12, linLoadOrCompute: 30, linLoadOrTryCompute: 10,
			linComputeIncrement: 8, linComputeDelete: 8, linComputeCancel: 3,
			linLoadAndDelete: 4, linDelete: 16,
		},
	}
)

func (mix linMix) pick(rng *rand.Rand) linOp {
	total := 0
	for _, w := range mix.weights {
		total += w
	}
	n := rng.IntN(total)
	for op, w := range mix.weights {
		if n < w {
			return linOp(op)
		}
		n -= w
	}
	panic("unreachable")
}

// linSpin yields the processor n times, so that a callback stays running long
// enough for other goroutines to act on the same key, without sleeping.
func linSpin(n int) {
	for range n {
		runtime.Gosched()
	}
}

// linHistory runs clients goroutines of opsPerClient random operations of
// mix on keys 0..keys-1 of m, all starting together, and returns the recorded history.
// Timestamps come from one atomic counter read just before each call and
// just after each return, so real-time order between operations is exact.
func linHistory(t *testing.T, m safemap.ConcurrentMap[int, int], mix linMix, keys, clients, opsPerClient int, seed uint64) []porcupine.Operation {
	t.Helper()
	var (
		clock   atomic.Int64
		start   = make(chan struct{})
		wg      sync.WaitGroup
		perCli  = make([][]porcupine.Operation, clients)
		badErrs = make([]error, clients)
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			lastSeen := map[int]int{} // per key, the last value this client saw
			ops := make([]porcupine.Operation, 0, opsPerClient)
			<-start
			for i := range opsPerClient {
				in := linInput{op: mix.pick(rng), key: rng.IntN(keys)}
				// Values are unique per operation and far apart, so an
				// output names the operation that wrote it; an occasional
				// zero checks that a stored zero is present.
				in.val = (c*opsPerClient + i + 1) * 1000
				if rng.IntN(10) == 0 {
					in.val = 0
				}
				switch rng.IntN(4) {
				case 0:
					in.old = 0
				case 1:
					in.old = lastSeen[in.key] + 1 // matches after a Compute increment
				default:
					in.old = lastSeen[in.key]
				}
				in.fail = rng.IntN(3) == 0
				fnSpins := rng.IntN(40)
				computeSpins := rng.IntN(3)

				var out linOutput
				call := clock.Add(1)
				switch in.op {
				case linLoad:
					out.val, out.ok = m.Load(in.key)
				case linStore:
					m.Store(in.key, in.val)
				case linLoadOrStore:
					out.val, out.ok = m.LoadOrStore(in.key, in.val)
				case linLoadOrCompute:
					out.val, out.ok = m.LoadOrCompute(in.key, func() int {
						linSpin(fnSpins)
						return in.val
					})
				case linLoadOrTryCompute:
					var err error
					out.val, out.ok, err = m.LoadOrTryCompute(context.Background(), in.key, func(context.Context) (int, error) {
						linSpin(fnSpins)
						if in.fail {
							return 0, errLinLoad
						}
						return in.val, nil
					})
					switch {
					case errors.Is(err, errLinLoad):
						out = linOutput{err: true}
					case err != nil:
						badErrs[c] = err
					}
				case linComputeIncrement:
					out.val, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, safemap.ComputeOp) {
						linSpin(computeSpins)
						if loaded {
							return old + 1, safemap.UpdateOp
						}
						return in.val, safemap.UpdateOp
					})
				case linComputeDelete:
					out.val, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, safemap.ComputeOp) {
						linSpin(computeSpins)
						return -1, safemap.DeleteOp
					})
				case linComputeCancel:
					out.val, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, safemap.ComputeOp) {
						linSpin(computeSpins)
						return -1, safemap.CancelOp
					})
				case linSwap:
					out.val, out.ok = m.Swap(in.key, in.val)
				case linCompareAndSwap:
					out.ok = m.CompareAndSwap(in.key, in.old, in.val)
				case linCompareAndDelete:
					out.ok = m.CompareAndDelete(in.key, in.old)
				case linLoadAndDelete:
					out.val, out.ok = m.LoadAndDelete(in.key)
				case linDelete:
					m.Delete(in.key)
				case linClear:
					m.Clear()
				}
				ret := clock.Add(1)
				if out.ok && out.val != 0 {
					lastSeen[in.key] = out.val
				}
				ops = append(ops, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
			}
			perCli[c] = ops
		}()
	}
	close(start)
	wg.Wait()
	for c, err := range badErrs {
		if err != nil {
			t.Errorf("client %d: LoadOrTryCompute with context.Background() returned error %v; want nil or the error its fn returned", c, err)
		}
	}
	var history []porcupine.Operation
	for _, ops := range perCli {
		history = append(history, ops...)
	}
	return history
}

// checkLinearizable fails t if history is not linearizable per key, writing
// porcupine's visualization of the failure to a file kept after the test.
func checkLinearizable(t *testing.T, history []porcupine.Operation, seed uint64) {
	t.Helper()
	checkLinearizableBy(t, linModel, history, seed)
}

// checkLinearizableBy is checkLinearizable against model (linModel or
// linLossyModel).
func checkLinearizableBy(t *testing.T, linModel porcupine.Model, history []porcupine.Operation, seed uint64) {
	t.Helper()
	const timeout = 20 * time.Second
	switch porcupine.CheckOperationsTimeout(linModel, history, timeout) {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Logf("seed %d: linearizability check timed out after %v; history of %d operations not checked", seed, timeout, len(history))
		return
	}
	// Illegal: check again, verbosely, to draw the partial linearizations.
	_, info := porcupine.CheckOperationsVerbose(linModel, history, timeout)
	f, err := os.CreateTemp("", "safemap-linearizability-*.html")
	if err != nil {
		t.Fatalf("seed %d: history of %d operations is not linearizable per key (and no visualization: %v)", seed, len(history), err)
	}
	path := f.Name()
	f.Close()
	if err := porcupine.VisualizePath(linModel, info, path); err != nil {
		t.Fatalf("seed %d: history of %d operations is not linearizable per key (and no visualization: %v)", seed, len(history), err)
	}
	t.Fatalf("seed %d: history of %d operations is not linearizable per key; visualization in %s", seed, len(history), path)
}

// overlappingWrites counts the LoadOrCompute and LoadOrTryCompute calls in
// history whose interval overlaps a Store, Delete or Compute of the same
// key, to show that the races the test is about really happened.
func overlappingWrites(history []porcupine.Operation) int {
	n := 0
	for _, a := range history {
		ain := a.Input.(linInput)
		if ain.op != linLoadOrCompute && ain.op != linLoadOrTryCompute {
			continue
		}
		for _, b := range history {
			bin := b.Input.(linInput)
			switch bin.op {
			case linStore, linDelete, linComputeIncrement, linComputeDelete:
			default:
				continue
			}
			if bin.key == ain.key && b.Call < a.Return && a.Call < b.Return {
				n++
				break
			}
		}
	}
	return n
}

func runLinearizability(t *testing.T, mix linMix) {
	t.Helper()
	histories, clients, opsPerClient := 30, 4, 200
	if testing.Short() {
		histories, clients, opsPerClient = 4, 3, 100
	}
	forEachImplAndLossy(t, func(t *testing.T, im impl) {
		model := linModel
		if im.rules.lossy {
			model = linLossyModel
		}
		overlaps := 0
		for h := range histories {
			seed := rand.Uint64()
			keys := mix.minKeys + h%(mix.maxKeys-mix.minKeys+1)
			m := newMap[int, int](t, im)
			history := linHistory(t, m, mix, keys, clients, opsPerClient, seed)
			checkLinearizableBy(t, model, history, seed)
			overlaps += overlappingWrites(history)
		}
		t.Logf("%d histories of %d×%d operations are linearizable; %d LoadOrCompute/LoadOrTryCompute calls overlapped a write of the same key",
			histories, clients, opsPerClient, overlaps)
	})
}

func TestConcurrentHistories_AreLinearizablePerKey(t *testing.T) {
	runLinearizability(t, linAllOps)
}

func TestLoadOrCompute_RacingWithStoreDeleteAndComputeIsLinearizable(t *testing.T) {
	runLinearizability(t, linComputeRaces)
}

// TestLinearizabilityChecker_RejectsAWrongHistory guards the model: a
// checker that accepts everything would make the tests above pass vacuously.
func TestLinearizabilityChecker_RejectsAWrongHistory(t *testing.T) {
	op := func(client int, in linInput, call int64, out linOutput, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{
			name: "a load after a completed store sees it",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoad, key: 1}, 2, linOutput{val: 5, ok: true}, 3),
			},
			want: true,
		},
		{
			name: "a load after a completed store cannot miss it",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoad, key: 1}, 2, linOutput{}, 3),
			},
			want: false,
		},
		{
			name: "a stored zero is present, so CompareAndSwap from zero succeeds",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 0}, 0, linOutput{}, 1),
				op(0, linInput{op: linCompareAndSwap, key: 1, old: 0, val: 7}, 2, linOutput{ok: true}, 3),
			},
			want: true,
		},
		{
			name: "CompareAndSwap from zero fails on an absent key",
			history: []porcupine.Operation{
				op(0, linInput{op: linCompareAndSwap, key: 1, old: 0, val: 7}, 0, linOutput{ok: true}, 1),
			},
			want: false,
		},
		{
			name: "two overlapping LoadOrComputes cannot both insert",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 3),
				op(1, linInput{op: linLoadOrCompute, key: 1, val: 2000}, 1, linOutput{val: 2000}, 2),
			},
			want: false,
		},
		{
			name: "a waiter returns the computed value as loaded",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 3),
				op(1, linInput{op: linLoadOrCompute, key: 1, val: 2000}, 1, linOutput{val: 1000, ok: true}, 4),
			},
			want: true,
		},
		{
			name: "a store during the computation wins",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 7, ok: true}, 3),
				op(1, linInput{op: linStore, key: 1, val: 7}, 1, linOutput{}, 2),
			},
			want: true,
		},
		{
			name: "a failed LoadOrTryCompute cannot happen while the key is present",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 7}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoadOrTryCompute, key: 1, fail: true}, 2, linOutput{err: true}, 3),
			},
			want: false,
		},
		{
			name: "keys are independent, and Clear deletes every key",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 7}, 0, linOutput{}, 1),
				op(0, linInput{op: linStore, key: 2, val: 8}, 2, linOutput{}, 3),
				op(1, linInput{op: linClear}, 4, linOutput{}, 5),
				op(0, linInput{op: linLoad, key: 2}, 6, linOutput{val: 8, ok: true}, 7),
			},
			want: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(linModel, tt.history); got != tt.want {
				t.Errorf("CheckOperations = %v; want %v", got, tt.want)
			}
		})
	}
	// The lossy model lets any entry vanish, and nothing more.
	lossy := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{
			name: "lossy: a load after a completed store may miss it",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoad, key: 1}, 2, linOutput{}, 3),
			},
			want: true,
		},
		{
			name: "lossy: a vanished entry does not come back",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoad, key: 1}, 2, linOutput{}, 3),
				op(1, linInput{op: linLoad, key: 1}, 4, linOutput{val: 5, ok: true}, 5),
			},
			want: false,
		},
		{
			name: "lossy: a load never sees an older value",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(0, linInput{op: linStore, key: 1, val: 6}, 2, linOutput{}, 3),
				op(1, linInput{op: linLoad, key: 1}, 4, linOutput{val: 5, ok: true}, 5),
			},
			want: false,
		},
		{
			name: "lossy: LoadOrCompute after a vanish inserts again",
			history: []porcupine.Operation{
				op(0, linInput{op: linStore, key: 1, val: 5}, 0, linOutput{}, 1),
				op(1, linInput{op: linLoadOrCompute, key: 1, val: 9}, 2, linOutput{val: 9}, 3),
				op(1, linInput{op: linLoad, key: 1}, 4, linOutput{val: 9, ok: true}, 5),
			},
			want: true,
		},
	}
	for _, tt := range lossy {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(linLossyModel, tt.history); got != tt.want {
				t.Errorf("CheckOperations = %v; want %v", got, tt.want)
			}
		})
	}
}
