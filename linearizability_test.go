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
//
// Invalidation wins: a LoadOrCompute whose value a Delete, LoadAndDelete or
// Clear of its key discarded returns fn's value with loaded false and
// stores nothing. The specification takes it effect at a moment the key
// was absent, as though it stored its value there and the invalidation
// deleted it, with nobody able to see the value in between: the model is
// nondeterministic (porcupine.NondeterministicModel). A LoadOrCompute that
// returns its own value unloaded either stored it, or stored nothing and
// leaves a phantom of it in the state: a debt that only an invalidation of
// the key that overlaps it in real time (called before it returned) and
// is linearized after it pays. Until then, a goroutine that waited on that
// load may return the phantom's value as loaded (it joined before the
// invalidation); every other operation sees the key as the state has it.
// Each key's history ends with linEnd, which accepts only a state with no
// debt left.

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
	linEnd   // added after each key's history by linPartition: no debt is left
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
	linEnd:              "end",
}

func (op linOp) String() string { return linOpNames[op] }

// linInput is the input of one recorded operation.
type linInput struct {
	op   linOp
	key  int
	val  int  // value stored, computed (LoadOrCompute, LoadOrTryCompute, Compute when absent) or swapped in (CompareAndSwap's new)
	old  int  // CompareAndSwap's and CompareAndDelete's old
	fail bool // LoadOrTryCompute: fn returns errLinLoad instead of val
	// The operation's call and return times (as in its porcupine.Operation),
	// which the model needs to tell whether an invalidation overlapped a
	// load.
	call, ret int64
	// LoadOrCompute and LoadOrTryCompute whose caller ran fn: when fn was
	// called and when it returned (0 if it did not run).
	fnStart, fnEnd int64
	// discarded, set by linPartition: an invalidation of the key was called
	// after fn started and returned before fn did, so it came between the
	// caller's claim and its land: invalidation wins, and the load cannot
	// have stored its value.
	discarded bool
	// mayDiscard, set by linPartition: an invalidation of the key overlaps
	// the call, so it may have discarded the load. Without one, a load
	// that returns its own value unloaded stored it.
	mayDiscard bool
	// payBy, set with mayDiscard: the latest return of those
	// invalidations. An operation called after it is linearized after all
	// of them, so a debt still owed then is never paid.
	payBy int64
}

// linOutput is the output of one recorded operation. ok is whichever
// boolean the method returns (ok, loaded, swapped, deleted).
type linOutput struct {
	val int
	ok  bool
	err bool // LoadOrTryCompute returned errLinLoad
}

// linState is the sequential state of one key. An absent key always has
// val 0, and phantoms are kept sorted, so that == is the state equality.
type linState struct {
	present bool
	val     int
	// The loads that stored nothing and still owe an invalidation (see
	// the file comment), phantoms[:owed], sorted.
	owed     int
	phantoms [linMaxPhantoms]linPhantom
}

// linPhantom is a load that returned val unloaded, stored nothing, and
// returned at time ret: an invalidation called before ret pays it.
type linPhantom struct {
	val   int
	ret   int64
	payBy int64 // see linInput.payBy
}

// linMaxPhantoms bounds the debts of one state: more loads than that in
// flight at once on one key (one per client) cannot happen.
const linMaxPhantoms = 8

// withPhantom returns s with a phantom of a load that returned val at ret,
// and whether it had room for it.
func (s linState) withPhantom(val int, ret, payBy int64) (linState, bool) {
	if s.owed == linMaxPhantoms {
		return s, false
	}
	p := linPhantom{val, ret, payBy}
	i := s.owed
	for i > 0 && (s.phantoms[i-1].ret > ret || s.phantoms[i-1].ret == ret && s.phantoms[i-1].val > val) {
		s.phantoms[i] = s.phantoms[i-1]
		i--
	}
	s.phantoms[i] = p
	s.owed++
	return s, true
}

// invalidated returns s after an invalidation called at time call: the key
// is absent and every phantom of a load that returned after call is paid.
func (s linState) invalidated(call int64) linState {
	next := linState{}
	for _, p := range s.phantoms[:s.owed] {
		if p.ret < call {
			next.phantoms[next.owed] = p // not overlapped: still owed
			next.owed++
		}
	}
	return next
}

// hasPhantom reports whether a load that stored nothing returned val and
// is still owed: a goroutine that waited on it may return val as loaded.
func (s linState) hasPhantom(val int) bool {
	for _, p := range s.phantoms[:s.owed] {
		if p.val == val {
			return true
		}
	}
	return false
}

var errLinLoad = errors.New("linearizability test: load failed")

// linStep is the sequential specification of one key: it returns every
// state that op could leave after producing out from state s (none if it
// could not produce out).
func linStep(state, input, output any) []any {
	s := state.(linState)
	in := input.(linInput)
	out := output.(linOutput)
	absent := linState{owed: s.owed, phantoms: s.phantoms} // the key deleted, the debts kept
	one := func(ok bool, next linState) []any {
		if ok {
			return []any{next}
		}
		return nil
	}
	if out.err && in.op != linLoadOrTryCompute {
		return nil
	}
	for _, p := range s.phantoms[:s.owed] {
		if in.call > p.payBy {
			return nil // every invalidation that could pay p came before: a dead end
		}
	}
	switch in.op {
	case linLoad:
		return one(out == linOutput{val: s.val, ok: s.present}, s)
	case linStore:
		next := s
		next.present, next.val = true, in.val
		return one(true, next)
	case linLoadOrStore:
		if s.present {
			return one(out == linOutput{val: s.val, ok: true}, s)
		}
		next := s
		next.present, next.val = true, in.val
		return one(out == linOutput{val: in.val}, next)
	case linLoadOrCompute, linLoadOrTryCompute:
		if out.err {
			// A failed computation (its own or the one it waited on)
			// changes nothing, and can only happen while the key is absent.
			return one(!s.present, s)
		}
		if s.present {
			// A hit, or a waiter that got another caller's computed value
			// (or a value stored while fn ran): a LoadOrCompute linearized
			// just after that insert.
			return one(out == linOutput{val: s.val, ok: true}, s)
		}
		if out.ok {
			// A waiter of a load that an invalidation discarded, linearized
			// before that invalidation.
			return one(s.hasPhantom(out.val), s)
		}
		if in.op == linLoadOrTryCompute && in.fail {
			return nil // its own fn fails; absent, it must fail or wait
		}
		if out.val != in.val {
			return nil
		}
		// It stored its value (unless an invalidation surely came while
		// fn ran), or an invalidation discarded it: a debt.
		var states []any
		if !in.discarded {
			stored := s
			stored.present, stored.val = true, in.val
			states = append(states, stored)
		}
		if in.mayDiscard {
			if phantom, ok := s.withPhantom(in.val, in.ret, in.payBy); ok {
				states = append(states, phantom)
			}
		}
		return states
	case linComputeIncrement:
		next := s
		next.present, next.val = true, in.val
		if s.present {
			next.val = s.val + 1
		}
		return one(out == linOutput{val: next.val, ok: true}, next)
	case linComputeDelete:
		return one(out == linOutput{}, absent)
	case linComputeCancel:
		return one(out == linOutput{val: s.val, ok: s.present}, s)
	case linSwap:
		next := s
		next.present, next.val = true, in.val
		return one(out == linOutput{val: s.val, ok: s.present}, next)
	case linCompareAndSwap:
		if s.present && s.val == in.old {
			next := s
			next.val = in.val
			return one(out == linOutput{ok: true}, next)
		}
		return one(out == linOutput{}, s)
	case linCompareAndDelete:
		if s.present && s.val == in.old {
			return one(out == linOutput{ok: true}, absent)
		}
		return one(out == linOutput{}, s)
	case linLoadAndDelete:
		return one(out == linOutput{val: s.val, ok: s.present}, s.invalidated(in.call))
	case linDelete, linClear:
		return one(true, s.invalidated(in.call))
	case linEnd:
		return one(s.owed == 0, s)
	}
	panic(fmt.Sprintf("linStep: unknown op %d", in.op))
}

// linStepLossy is linStep for a lossy map (mapRules.lossy), whose entries
// may vanish at any instant as if another goroutine deleted them: an
// operation on a present key may also be explained by a vanish just before
// it.
func linStepLossy(state, input, output any) []any {
	next := linStep(state, input, output)
	if s := state.(linState); s.present {
		// Vanished: the key deleted, the debts of discarded loads kept.
		next = append(next, linStep(linState{owed: s.owed, phantoms: s.phantoms}, input, output)...)
	}
	return next
}

// linPartition splits a history by key. A Clear belongs to every key.
// Each key's part ends with linEnd, and each of its loads that ran fn
// while an invalidation of the key ran from start to end is marked
// discarded.
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
	var last int64
	for _, op := range history {
		last = max(last, op.Return)
	}
	parts := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		part := append(byKey[k], clears...)
		markDiscarded(part)
		part = append(part, porcupine.Operation{ // after everything: no debt may be left
			ClientId: -1, Input: linInput{op: linEnd, key: k}, Call: last + 1, Output: linOutput{}, Return: last + 2,
		})
		parts = append(parts, part)
	}
	return parts
}

// markDiscarded marks discarded each load of part, one key's history,
// whose fn ran while an invalidation of the key ran from its call to its
// return, and mayDiscard each load that an invalidation overlaps.
func markDiscarded(part []porcupine.Operation) {
	for i, op := range part {
		in := op.Input.(linInput)
		if in.op != linLoadOrCompute && in.op != linLoadOrTryCompute {
			continue
		}
		for _, inv := range part {
			switch inv.Input.(linInput).op {
			case linDelete, linLoadAndDelete, linClear:
				if inv.Call > in.fnStart && inv.Return < in.fnEnd {
					in.discarded = true
				}
				if inv.Call < op.Return && inv.Return > op.Call {
					in.mayDiscard = true
					in.payBy = max(in.payBy, inv.Return)
				}
			}
		}
		part[i].Input = in
	}
}

// linNondeterministic is the sequential specification of one key; see
// linModel and linLossyModel.
var linNondeterministic = porcupine.NondeterministicModel{
	Partition: linPartition,
	Init:      func() []any { return []any{linState{}} },
	Step:      linStep,
	Hash: func(state any) uint64 {
		s := state.(linState)
		h := uint64(s.owed)
		if s.present {
			h = h*31 + uint64(s.val)<<1 | 1
		}
		for _, p := range s.phantoms[:s.owed] {
			h = h*31 + uint64(p.val)*7 + uint64(p.ret)
		}
		return h
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
		case linEnd:
			return "end of history (no load may still owe an invalidation)"
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
		d := "absent"
		if s.present {
			d = fmt.Sprint(s.val)
		}
		for _, p := range s.phantoms[:s.owed] {
			d += fmt.Sprintf(" +phantom %d owed by t%d", p.val, p.ret)
		}
		return d
	},
}

var linModel = linNondeterministic.ToModel()

// linLossyModel is linModel for lossy maps.
var linLossyModel = func() porcupine.Model {
	m := linNondeterministic
	m.Step = linStepLossy
	return m.ToModel()
}()

// linMix describes the workload of one kind of history.
type linMix struct {
	name             string
	histories, ops   int            // histories per strategy, operations per client in each
	minKeys, maxKeys int            // each history uses a key space of a size in this range
	weights          [numLinOps]int // relative frequency of each op
}

var (
	// linAllOps exercises every operation over a few keys.
	linAllOps = linMix{
		name:      "all-operations",
		histories: 30, ops: 200,
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
		// Short histories: on one or two keys, long ones with loads that
		// an invalidation may have discarded take the checker seconds.
		name:      "load-or-compute-races",
		histories: 60, ops: 60,
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
						in.fnStart = clock.Add(1)
						linSpin(fnSpins)
						in.fnEnd = clock.Add(1)
						return in.val
					})
				case linLoadOrTryCompute:
					var err error
					out.val, out.ok, err = m.LoadOrTryCompute(context.Background(), in.key, func(context.Context) (int, error) {
						in.fnStart = clock.Add(1)
						linSpin(fnSpins)
						in.fnEnd = clock.Add(1)
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
				in.call, in.ret = call, ret
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
	const timeout = 5 * time.Second
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
	histories, clients, opsPerClient := mix.histories, 4, mix.ops
	if testing.Short() {
		histories, clients, opsPerClient = 4, 3, min(mix.ops, 100)
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

// TestLinearizabilityChecker_RejectsWrongHistoriesAndAcceptsRightOnes guards the model: a
// checker that accepts everything would make the tests above pass vacuously.
func TestLinearizabilityChecker_RejectsWrongHistoriesAndAcceptsRightOnes(t *testing.T) {
	op := func(client int, in linInput, call int64, out linOutput, ret int64) porcupine.Operation {
		in.call, in.ret = call, ret
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
			name: "a load that a Delete overlapped returns its value and stores nothing",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 5),
				op(1, linInput{op: linDelete, key: 1}, 1, linOutput{}, 2),
				op(1, linInput{op: linLoad, key: 1}, 3, linOutput{}, 4),
				op(1, linInput{op: linLoad, key: 1}, 6, linOutput{}, 7),
			},
			want: true,
		},
		{
			name: "a waiter that joined before the invalidation gets the discarded value",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 6),
				op(1, linInput{op: linLoadOrTryCompute, key: 1, val: 2000}, 1, linOutput{val: 1000, ok: true}, 7),
				op(2, linInput{op: linLoadAndDelete, key: 1}, 2, linOutput{}, 3),
				op(2, linInput{op: linLoad, key: 1}, 8, linOutput{}, 9),
			},
			want: true,
		},
		{
			name: "a Clear invalidates a load too",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 5),
				op(1, linInput{op: linClear}, 1, linOutput{}, 2),
				op(1, linInput{op: linLoad, key: 1}, 6, linOutput{}, 7),
			},
			want: true,
		},
		{
			name: "a caller that comes after the invalidation cannot get the old load's value",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000, fnStart: 1, fnEnd: 9}, 0, linOutput{val: 1000}, 10),
				op(1, linInput{op: linDelete, key: 1}, 2, linOutput{}, 3),
				op(2, linInput{op: linLoadOrCompute, key: 1, val: 2000}, 4, linOutput{val: 1000, ok: true}, 11),
			},
			want: false,
		},
		{
			name: "a caller that comes after the invalidation computes its own value",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000, fnStart: 1, fnEnd: 9}, 0, linOutput{val: 1000}, 10),
				op(1, linInput{op: linDelete, key: 1}, 2, linOutput{}, 3),
				op(2, linInput{op: linLoadOrCompute, key: 1, val: 2000, fnStart: 5, fnEnd: 6}, 4, linOutput{val: 2000}, 7),
				op(2, linInput{op: linLoad, key: 1}, 11, linOutput{val: 2000, ok: true}, 12),
			},
			want: true,
		},
		{
			name: "without fn's times a Delete may have come before the claim: then the load stores",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 5),
				op(1, linInput{op: linDelete, key: 1}, 1, linOutput{}, 2),
				op(1, linInput{op: linLoad, key: 1}, 6, linOutput{val: 1000, ok: true}, 7),
			},
			want: true,
		},
		{
			name: "a load that stored nothing, with no invalidation, is lost",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 3),
				op(1, linInput{op: linLoad, key: 1}, 4, linOutput{}, 5),
			},
			want: false,
		},
		{
			name: "a Delete called after the load returned cannot excuse it",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000}, 0, linOutput{val: 1000}, 3),
				op(1, linInput{op: linLoad, key: 1}, 4, linOutput{}, 5),
				op(1, linInput{op: linDelete, key: 1}, 6, linOutput{}, 7),
			},
			want: false,
		},
		{
			name: "an invalidated load stores nothing: a later Load cannot see its value",
			history: []porcupine.Operation{
				op(0, linInput{op: linLoadOrCompute, key: 1, val: 1000, fnStart: 1, fnEnd: 4}, 0, linOutput{val: 1000}, 5),
				op(1, linInput{op: linDelete, key: 1}, 2, linOutput{}, 3),
				op(1, linInput{op: linLoad, key: 1}, 6, linOutput{val: 1000, ok: true}, 7),
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
