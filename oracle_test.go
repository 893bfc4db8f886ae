package safemap_test

// The model oracle: one model of the ConcurrentMap contract (a built-in map
// plus the rules) that runs a sequence of operations against a map and
// checks every result, every argument a callback receives and how often it
// runs. Two drivers feed it: TestConcurrentMap_MatchesTheModel with seeded
// random sequences, and FuzzOps (fuzz_test.go) with sequences decoded from
// the fuzz input. Every entry of impls runs through both.
//
// An operation may carry nested operations, run from inside its callback:
// a LoadOrCompute function, a Range or All loop body (at the first entry
// visited), or a Compute function (Loads only, where the map allows it; see
// mapRules). The contract lets those callbacks call the map, and the model
// follows what they do while the outer call is in progress.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// mapRules says what a map under test may do where maps differ.
type mapRules struct {
	// lossy: any entry may vanish at any time, exactly as if another
	// goroutine had deleted it (a bounded cache evicts, an expiring one
	// expires). The model then holds every entry the map may hold, and:
	//
	//   - an observed absence of a key the model holds (Load, LoadOrStore,
	//     Swap or LoadAndDelete reporting it absent, Compute's fn told it
	//     is absent, CompareAndSwap or CompareAndDelete failing where the
	//     model's value matches, LoadOrCompute returning fn's value
	//     unloaded where an operation stored the key while fn ran, a full
	//     Range not visiting a key nothing touched during it) makes the
	//     model drop that key first, and the operation is then checked as
	//     on an absent key;
	//   - LoadOrCompute and LoadOrTryCompute may therefore call fn for a key
	//     the model holds: the model drops it, and takes fn's value as for
	//     any absent key;
	//   - a value returned, passed to fn or visited must always be the
	//     model's value for that key: never an older one, never one the
	//     model does not hold (a key the model lacks is never present);
	//   - Len may be lower than the model's count, never higher.
	lossy bool

	// computeMayLoad: Compute's fn may call Load of the same map (Map,
	// SyncMap, SnapshotMap); elsewhere Compute holds a lock that Load
	// would wait for, and a nested Load under Compute is skipped.
	computeMayLoad bool

	// remembersErrors: a failed LoadOrTryCompute is remembered (a cache
	// with ErrorTTL, which the suite never outlives): until a write,
	// Delete, LoadAndDelete or Clear of the key, LoadOrTryCompute returns
	// that error without calling fn, while Load, Range and Len see the key
	// absent and LoadOrCompute computes it. A load whose key a write
	// stored while fn failed returns that value; one an invalidation
	// discarded remembers nothing.
	remembersErrors bool
}

// opCode selects an operation. The numbering is FuzzOps' input format
// (fuzz_test.go): new codes go at the end.
type opCode uint8

const (
	opLoad opCode = iota
	opStore
	opLoadOrStore
	opLoadOrCompute
	opLoadOrTryCompute
	opComputeUpdate // fn returns old+v1 if present, else v1
	opComputeDelete
	opComputeCancel
	opSwap
	opCompareAndSwap
	opCompareAndDelete
	opLoadAndDelete
	opDelete
	opLen
	opClear
	opRange    // a full Range, then a full All
	opAllBreak // All, leaving the loop after max(v1, 1) entries
	opRangeBreak
	numOps
)

var opNames = [numOps]string{
	opLoad: "Load", opStore: "Store", opLoadOrStore: "LoadOrStore",
	opLoadOrCompute: "LoadOrCompute", opLoadOrTryCompute: "LoadOrTryCompute",
	opComputeUpdate: "Compute/update", opComputeDelete: "Compute/delete", opComputeCancel: "Compute/cancel",
	opSwap: "Swap", opCompareAndSwap: "CompareAndSwap", opCompareAndDelete: "CompareAndDelete",
	opLoadAndDelete: "LoadAndDelete", opDelete: "Delete", opLen: "Len", opClear: "Clear",
	opRange: "Range+All", opAllBreak: "All/break", opRangeBreak: "Range/break",
}

func (c opCode) String() string { return opNames[c] }

// op is one operation of a sequence. Keys are bytes, which the run's key
// function turns into keys of its type; values are small ints, so that
// stored zeros and matching CompareAndSwaps are common.
type op struct {
	code      opCode
	key       byte
	v1        int  // the value stored or computed; a break's limit
	v2        int  // the old value of CompareAndSwap and CompareAndDelete
	oldIsCur  bool // CompareAndSwap, CompareAndDelete: old is the model's current value instead of v2
	fail      bool // LoadOrTryCompute: fn returns errModelLoad
	cancelled bool // LoadOrTryCompute: on a key the model lacks, ctx has already ended
	nested    []op // run from inside this op's callback
}

// hasCallback reports whether nested operations can run inside op.
func (o op) hasCallback() bool {
	switch o.code {
	case opLoadOrCompute, opLoadOrTryCompute, opComputeUpdate, opComputeDelete, opComputeCancel,
		opRange, opAllBreak, opRangeBreak:
		return true
	}
	return false
}

func (o op) format(key string) string {
	var s string
	switch o.code {
	case opStore, opLoadOrStore, opSwap:
		s = fmt.Sprintf("%v(%s, %d)", o.code, key, o.v1)
	case opLoadOrCompute, opComputeUpdate:
		s = fmt.Sprintf("%v(%s, fn→%d)", o.code, key, o.v1)
	case opLoadOrTryCompute:
		s = fmt.Sprintf("%v(%s, fn→%d, fail=%t, cancelled=%t)", o.code, key, o.v1, o.fail, o.cancelled)
	case opCompareAndSwap:
		s = fmt.Sprintf("%v(%s, %s, %d)", o.code, key, o.oldString(), o.v1)
	case opCompareAndDelete:
		s = fmt.Sprintf("%v(%s, %s)", o.code, key, o.oldString())
	case opLen, opClear, opRange:
		s = o.code.String()
	case opAllBreak, opRangeBreak:
		s = fmt.Sprintf("%v after %d", o.code, o.limit())
	default:
		s = fmt.Sprintf("%v(%s)", o.code, key)
	}
	return s
}

func (o op) oldString() string {
	if o.oldIsCur {
		return "current"
	}
	return fmt.Sprint(o.v2)
}

// limit is how many entries a breaking pass visits at most.
func (o op) limit() int { return max(o.v1, 1) }

// errModelLoad is the error of the oracle's failing loaders.
var errModelLoad = errors.New("model: load failed")

// oracleFailure is what a failure panics with when the oracle runs under
// an oracle self-test (see oracle.fatalf).
type oracleFailure struct{ msg string }

// oracle runs operations on m and on the model, and checks every result.
type oracle[K comparable] struct {
	t     testing.TB
	m     safemap.ConcurrentMap[K, int]
	rules mapRules
	key   func(byte) K
	name  string // the impl, key type and driver, for messages
	// fatalf reports a failure and stops the run: t.Fatalf, or a panic
	// with an oracleFailure when the oracle tests itself.
	fatalf func(format string, args ...any)

	// The model: the entries of keys equal to themselves, and the values
	// stored under keys that are not (NaN), which nothing can find again.
	entries map[K]int
	errs    map[K]bool // keys with a remembered error (mapRules.remembersErrors)
	nans    []int
	loads   []*pendingLoad[K] // LoadOrComputes whose fn is running, innermost last
	history *passHistory[K]   // while a pass runs nested operations

	vanished int // entries a lossy map was seen to have lost

	ops    []op // the sequence, for the trail of a failure
	at     int  // index of the top-level op running
	nested *op  // the nested op running, if any, for messages
}

// callName prints as "Op(key)" in a failure message, formatted only then.
type callName[K comparable] struct {
	code opCode
	key  K
}

func (c callName[K]) String() string { return fmt.Sprintf("%v(%v)", c.code, c.key) }

// pendingLoad is a LoadOrCompute or LoadOrTryCompute whose fn is running.
type pendingLoad[K comparable] struct {
	key K
	// invalidated: a Delete, LoadAndDelete or Clear of the key ran while
	// fn ran, so that fn's value is not stored (see settle).
	invalidated bool
}

// newOracle returns an oracle over m.
func newOracle[K comparable](t testing.TB, m safemap.ConcurrentMap[K, int], rules mapRules, key func(byte) K, name string) *oracle[K] {
	o := &oracle[K]{t: t, m: m, rules: rules, key: key, name: name, entries: make(map[K]int), errs: make(map[K]bool)}
	o.fatalf = func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s", o.report(fmt.Sprintf(format, args...)))
	}
	return o
}

// report adds where the run is and the operations before it to msg.
func (o *oracle[K]) report(msg string) string {
	var trail []string
	for i := max(0, o.at-15); i <= o.at && i < len(o.ops); i++ {
		trail = append(trail, fmt.Sprintf("%4d %s", i, o.describe(o.ops[i])))
	}
	where := fmt.Sprintf("%s, op %d", o.name, o.at)
	if o.at == len(o.ops) {
		where = fmt.Sprintf("%s, after the last op", o.name)
	}
	if o.nested != nil {
		where += ", inside it " + o.nested.format(fmt.Sprint(o.key(o.nested.key)))
	}
	return fmt.Sprintf("%s: %s\nlast operations, oldest first:\n%s", where, msg, strings.Join(trail, "\n"))
}

func (o *oracle[K]) describe(x op) string {
	s := x.format(fmt.Sprint(o.key(x.key)))
	if len(x.nested) > 0 {
		var in []string
		for _, n := range x.nested {
			in = append(in, n.format(fmt.Sprint(o.key(n.key))))
		}
		s += " { " + strings.Join(in, "; ") + " }"
	}
	return s
}

// run applies ops in order, then checks the map's whole contents.
func (o *oracle[K]) run(ops []op) {
	o.t.Helper()
	o.ops = ops
	for i, x := range ops {
		o.at = i
		o.do(x, nil)
	}
	o.at = len(ops)
	o.checkLen()
	o.pass("Range", o.m.Range, 0, nil)
	o.pass("All", o.all, 0, nil)
	for k, v := range o.entries {
		got, ok := o.m.Load(k)
		if mv, mok := o.observe(k, ok); got != mv || ok != mok {
			o.fatalf("Load(%v): got (%d, %t); want (%d, %t)", k, got, ok, v, true)
		}
	}
}

func (o *oracle[K]) all(yield func(K, int) bool) {
	for k, v := range o.m.All() {
		if !yield(k, v) {
			return
		}
	}
}

// The model's own operations.

func (o *oracle[K]) get(k K) (int, bool) {
	v, ok := o.entries[k] // never finds a key not equal to itself
	return v, ok
}

func (o *oracle[K]) set(k K, v int) {
	if k != k {
		o.nans = append(o.nans, v)
		if o.history != nil {
			o.history.addedNaNs = append(o.history.addedNaNs, v)
		}
	} else {
		o.entries[k] = v
		delete(o.errs, k)
	}
	o.note(k)
}

// remove is a Delete, LoadAndDelete or Clear of k, whether or not it is
// present: it invalidates the loads of k in progress.
func (o *oracle[K]) remove(k K) {
	delete(o.entries, k)
	delete(o.errs, k)
	for _, l := range o.loads {
		if l.key == k {
			l.invalidated = true
		}
	}
	o.note(k)
}

// drop deletes k from the model: a conditional delete that took effect, or
// an entry a lossy map lost.
func (o *oracle[K]) drop(k K) {
	delete(o.entries, k)
	delete(o.errs, k)
	o.note(k)
}

func (o *oracle[K]) clear() {
	clear(o.entries)
	clear(o.errs)
	o.nans = nil
	for _, l := range o.loads {
		// A key not equal to itself (NaN) is never reserved or registered,
		// so nothing can invalidate its load: it inserts.
		if l.key == l.key {
			l.invalidated = true
		}
	}
	if o.history != nil {
		o.history.cleared = true
	}
}

func (o *oracle[K]) size() int { return len(o.entries) + len(o.nans) }

// observe takes in what the map said about k's presence and returns the
// model's entry for k to check the operation against. A lossy map may have
// lost the entry: if it says k is absent, the model drops it (see
// mapRules.lossy). A strict map gets the model's entry as it is, and the
// caller's check reports the difference.
func (o *oracle[K]) observe(k K, present bool) (int, bool) {
	v, ok := o.get(k)
	if ok && !present && o.rules.lossy {
		o.drop(k) // vanished, as if another goroutine deleted it
		o.vanished++
		return 0, false
	}
	return v, ok
}

// settle is the model of LoadOrCompute and LoadOrTryCompute once their
// function has run (for a key that was absent when it was called): what
// the call returns and what the map holds afterwards. It is the one place
// that states these rules, so that a change of contract is one edit here:
//
//   - fn failed (err != nil): nothing is stored, the caller gets the error
//     (with rules.remembersErrors: a value stored while fn ran wins as
//     below, and otherwise the error is remembered unless invalidated);
//   - the key is present now (an operation stored it while fn ran, fn
//     itself perhaps): that value wins, and the caller gets it with
//     loaded set;
//   - a Delete, LoadAndDelete or Clear of the key ran while fn ran
//     (l.invalidated): invalidation wins, nothing is stored, and the
//     caller gets fn's value, loaded unset;
//   - otherwise fn's value is stored and returned, loaded unset.
func (o *oracle[K]) settle(l *pendingLoad[K], value int, err error) (actual int, loaded bool, _ error) {
	if err != nil && !o.rules.remembersErrors {
		return 0, false, err
	}
	if v, ok := o.get(l.key); ok {
		return v, true, nil
	}
	if err != nil {
		if !l.invalidated {
			o.errs[l.key] = true
		}
		return 0, false, err
	}
	if l.invalidated {
		return value, false, nil
	}
	o.set(l.key, value)
	return value, false, nil
}

// do runs x. parent is the op whose callback runs x, or nil.
func (o *oracle[K]) do(x op, parent *op) {
	o.t.Helper()
	k := o.key(x.key)
	m := o.m
	switch x.code {
	case opLoad:
		got, ok := m.Load(k)
		if mv, mok := o.observe(k, ok); got != mv || ok != mok {
			o.fatalf("Load(%v): got (%d, %t); want (%d, %t)", k, got, ok, mv, mok)
		}
	case opStore:
		m.Store(k, x.v1)
		o.set(k, x.v1)
	case opLoadOrStore:
		got, loaded := m.LoadOrStore(k, x.v1)
		mv, mok := o.observe(k, loaded)
		if want := cond(mok, mv, x.v1); got != want || loaded != mok {
			o.fatalf("LoadOrStore(%v, %d): got (%d, %t); want (%d, %t)", k, x.v1, got, loaded, want, mok)
		}
		if !mok {
			o.set(k, x.v1)
		}
	case opLoadOrCompute, opLoadOrTryCompute:
		o.loadOrCompute(x, k)
	case opComputeUpdate, opComputeDelete, opComputeCancel:
		o.compute(x, k)
	case opSwap:
		got, loaded := m.Swap(k, x.v1)
		if mv, mok := o.observe(k, loaded); got != mv || loaded != mok {
			o.fatalf("Swap(%v, %d): got (%d, %t); want (%d, %t)", k, x.v1, got, loaded, mv, mok)
		}
		o.set(k, x.v1)
	case opCompareAndSwap, opCompareAndDelete:
		mv, mok := o.get(k)
		old := cond(x.oldIsCur && mok, mv, x.v2)
		var done bool
		if x.code == opCompareAndSwap {
			done = m.CompareAndSwap(k, old, x.v1)
		} else {
			done = m.CompareAndDelete(k, old)
		}
		if !done && mok && mv == old && o.rules.lossy {
			mv, mok = o.observe(k, false)
		}
		if want := mok && mv == old; done != want {
			o.fatalf("%v(%v, %d) with the model holding (%d, %t): got %t; want %t", x.code, k, old, mv, mok, done, want)
		}
		switch {
		case done && x.code == opCompareAndSwap:
			o.set(k, x.v1)
		case done:
			o.drop(k)
		}
	case opLoadAndDelete:
		got, loaded := m.LoadAndDelete(k)
		if mv, mok := o.observe(k, loaded); got != mv || loaded != mok {
			o.fatalf("LoadAndDelete(%v): got (%d, %t); want (%d, %t)", k, got, loaded, mv, mok)
		}
		o.remove(k)
	case opDelete:
		m.Delete(k)
		o.remove(k)
	case opLen:
		o.checkLen()
	case opClear:
		m.Clear()
		o.clear()
	case opRange:
		o.pass("Range", m.Range, 0, x.nested)
		o.pass("All", o.all, 0, nil)
	case opAllBreak:
		o.pass("All", o.all, x.limit(), x.nested)
	case opRangeBreak:
		o.pass("Range", m.Range, x.limit(), x.nested)
	}
	if parent == nil && !x.hasCallback() {
		for _, n := range x.nested { // decoded after an op without a callback: they just follow it
			o.do(n, nil)
		}
	}
}

// cond returns a if c, else b.
func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func (o *oracle[K]) checkLen() {
	o.t.Helper()
	got, want := o.m.Len(), o.size()
	if o.rules.lossy {
		if got < 0 || got > want {
			o.fatalf("Len(): got %d; want 0 to %d (a lossy map may have lost entries, never gained any)", got, want)
		}
		return
	}
	if got != want {
		o.fatalf("Len(): got %d; want %d", got, want)
	}
}

// nest runs the operations nested in parent, from inside its callback.
func (o *oracle[K]) nest(parent op) {
	o.t.Helper()
	saved := o.nested
	defer func() { o.nested = saved }()
	for i, n := range parent.nested {
		k := o.key(n.key)
		switch parent.code {
		case opLoadOrCompute, opLoadOrTryCompute:
			// fn may call any method, but a LoadOrCompute of the key its
			// own caller computes would wait for itself forever if it
			// missed: skip it unless the key is surely present (stored by
			// an earlier nested operation, in a map that cannot lose it),
			// or it is a LoadOrTryCompute whose ctx has ended (it returns
			// at once on a miss), or an earlier nested operation
			// invalidated the load (the nested call then starts a load of
			// its own instead of joining the invalidated one).
			l := o.loads[len(o.loads)-1]
			_, present := o.get(k)
			mayMiss := !present || o.rules.lossy
			returnsAtOnce := n.code == opLoadOrTryCompute && n.cancelled && !present
			if k == l.key && (n.code == opLoadOrCompute || n.code == opLoadOrTryCompute) && mayMiss && !returnsAtOnce && !l.invalidated {
				continue
			}
		case opComputeUpdate, opComputeDelete, opComputeCancel:
			if n.code != opLoad || !o.rules.computeMayLoad {
				continue
			}
		}
		o.nested = &parent.nested[i]
		o.do(n, &parent)
	}
}

func (o *oracle[K]) loadOrCompute(x op, k K) {
	o.t.Helper()
	ctx := context.Background()
	_, present := o.get(k)
	if x.code == opLoadOrTryCompute && o.errs[k] {
		// The remembered error, without fn, whatever ctx is.
		_, _, err := o.m.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
			o.fatalf("LoadOrTryCompute(%v) called fn for a key whose error is remembered", k)
			return 0, nil
		})
		if !errors.Is(err, errModelLoad) {
			o.fatalf("LoadOrTryCompute(%v) of a key whose error is remembered: got error %v; want one matching %v", k, err, errModelLoad)
		}
		return
	}
	if x.code == opLoadOrTryCompute && x.cancelled && !present {
		// Only on a miss: a caller whose ctx has ended returns ctx.Err()
		// without calling fn when it misses the key; the contract does not
		// say what it does on a hit.
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	calls := 0
	var l *pendingLoad[K]
	var heldAtCall bool
	var heldValue int
	fn := func() int {
		calls++
		if calls > 1 {
			return x.v1 // reported below
		}
		heldValue, heldAtCall = o.observe(k, false)
		l = &pendingLoad[K]{key: k}
		o.loads = append(o.loads, l)
		defer func() { o.loads = o.loads[:len(o.loads)-1] }()
		o.nest(x)
		return x.v1
	}
	var got int
	var loaded bool
	var err error
	call := callName[K]{x.code, k}
	if x.code == opLoadOrCompute {
		got, loaded = o.m.LoadOrCompute(k, fn)
	} else {
		got, loaded, err = o.m.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
			v := fn()
			if x.fail {
				return 0, errModelLoad
			}
			return v, nil
		})
	}
	switch {
	case ctx.Err() != nil: // the model lacked the key: fn must not run
		if calls != 0 || got != 0 || loaded || !errors.Is(err, context.Canceled) {
			o.fatalf("%s with an ended context on a missing key: got (%d, %t, %v) with %d calls of fn; want (0, false, %v) with none",
				call, got, loaded, err, calls, context.Canceled)
		}
	case calls > 1:
		o.fatalf("%s: fn called %d times; want at most 1", call, calls)
	case calls == 1 && heldAtCall:
		o.fatalf("%s: fn called for a key the model holds with %d; want no call and (%d, true)", call, heldValue, heldValue)
	case calls == 1:
		if !(x.code == opLoadOrTryCompute && x.fail) {
			o.observe(k, loaded) // unloaded: absent when fn's value landed
		}
		want, wantLoaded, wantErr := o.settle(l, x.v1, cond[error](x.code == opLoadOrTryCompute && x.fail, errModelLoad, nil))
		if got != want || loaded != wantLoaded || !errors.Is(err, wantErr) || err != nil && wantErr == nil {
			o.fatalf("%s with fn→%d: got (%d, %t, %v); want (%d, %t, %v)", call, x.v1, got, loaded, err, want, wantLoaded, wantErr)
		}
	default: // fn did not run: the key was present
		mv, mok := o.observe(k, true)
		if !mok || got != mv || !loaded || err != nil {
			o.fatalf("%s: got (%d, %t, %v) without calling fn; want fn called, as the model lacks the key", call, got, loaded, err)
		}
	}
}

func (o *oracle[K]) compute(x op, k K) {
	o.t.Helper()
	calls := 0
	var mv int
	var mok bool
	var badArgs string
	got, ok := o.m.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) {
		calls++
		if calls == 1 {
			mv, mok = o.observe(k, loaded)
			if old != mv || loaded != mok {
				badArgs = fmt.Sprintf("fn got (%d, %t); want (%d, %t)", old, loaded, mv, mok)
			}
			o.nest(x)
		}
		switch x.code {
		case opComputeUpdate:
			return cond(loaded, old+x.v1, x.v1), safemap.UpdateOp
		case opComputeDelete:
			return 99, safemap.DeleteOp // the value must be ignored
		}
		return 99, safemap.CancelOp
	})
	call := callName[K]{x.code, k}
	switch {
	case calls != 1:
		o.fatalf("%s: fn called %d times; want 1", call, calls)
	case badArgs != "":
		o.fatalf("%s: %s", call, badArgs)
	}
	wantV, wantOK := mv, mok // CancelOp
	switch x.code {
	case opComputeUpdate:
		wantV, wantOK = cond(mok, mv+x.v1, x.v1), true
		o.set(k, wantV)
	case opComputeDelete:
		wantV, wantOK = 0, false
		o.drop(k)
	}
	if got != wantV || ok != wantOK {
		o.fatalf("%s: got (%d, %t); want (%d, %t)", call, got, ok, wantV, wantOK)
	}
}

// passHistory records, while a pass runs nested operations, which keys
// they wrote and every value each key held, so that what the pass visited
// can be checked against any moment of the pass: Range is only weakly
// consistent with the writes its own callback makes.
type passHistory[K comparable] struct {
	held      map[K][]int // every value a key held during the pass
	touched   map[K]bool  // keys written (or found gone) during the pass
	cleared   bool        // a Clear ran: every key was gone for a moment
	addedNaNs []int       // values stored under NaN keys during the pass
}

// note records in the history of a running pass that k was written.
func (o *oracle[K]) note(k K) {
	h := o.history
	if h == nil {
		return
	}
	h.touched[k] = true
	if v, ok := o.entries[k]; ok && !slices.Contains(h.held[k], v) {
		h.held[k] = append(h.held[k], v)
	}
}

// pass runs one pass of a Range-like method (stopping after limit entries
// if limit > 0), running nested at the first entry, and checks what it
// visits: each key at most once, each value the model's (or, with nested
// operations, one the key held during the pass), and, if the pass was not
// stopped early, every entry that nothing touched during it. A lossy map's
// untouched entries that a full pass did not visit are dropped.
func (o *oracle[K]) pass(method string, visit func(yield func(K, int) bool), limit int, nested []op) {
	o.t.Helper()
	before := maps.Clone(o.entries)
	nansBefore := slices.Clone(o.nans)
	var h *passHistory[K]
	if len(nested) > 0 {
		h = &passHistory[K]{held: map[K][]int{}, touched: map[K]bool{}}
		for k, v := range o.entries {
			h.held[k] = []int{v}
		}
		saved := o.history
		o.history = h
		defer func() { o.history = saved }()
	}
	seen := make(map[K]int)
	var seenNaNs []int
	visits := 0
	visit(func(k K, v int) bool {
		visits++
		if k != k {
			seenNaNs = append(seenNaNs, v)
		} else {
			if prev, dup := seen[k]; dup {
				o.fatalf("%s visited key %v twice (values %d and %d)", method, k, prev, v)
			}
			seen[k] = v
			if h == nil {
				if mv, ok := o.entries[k]; !ok || mv != v {
					o.fatalf("%s visited (%v, %d); the model has (%d, %t)", method, k, v, mv, ok)
				}
			} else if !slices.Contains(h.held[k], v) {
				o.fatalf("%s visited (%v, %d); the key held only %v during the pass", method, k, v, h.held[k])
			}
		}
		if visits == 1 && h != nil {
			o.nest(op{code: opRange, nested: nested})
		}
		return limit == 0 || visits < limit
	})
	touched := func(k K) bool { return h != nil && (h.cleared || h.touched[k]) }
	// NaN entries: a multiset, never looked up.
	available := nansBefore
	if h != nil {
		available = append(slices.Clone(nansBefore), h.addedNaNs...)
	}
	if !subMultiset(seenNaNs, available) {
		o.fatalf("%s visited NaN keys with values %v; the model has %v", method, sorted(seenNaNs), sorted(available))
	}
	if limit > 0 && visits >= limit {
		return // stopped early: which entries it saw is up to the map
	}
	for k, v := range before {
		if _, ok := seen[k]; ok || touched(k) {
			continue
		}
		if !o.rules.lossy {
			o.fatalf("%s did not visit (%v, %d), present throughout; visited %d entries of the model's %d", method, k, v, visits, o.size())
		}
		o.drop(k) // vanished before the pass reached it
		o.vanished++
	}
	if h != nil && (h.cleared || len(h.addedNaNs) > 0) {
		return
	}
	if !o.rules.lossy && len(seenNaNs) != len(nansBefore) {
		o.fatalf("%s visited NaN keys with values %v; want %v", method, sorted(seenNaNs), sorted(nansBefore))
	}
	if o.rules.lossy {
		o.nans = seenNaNs
	}
}

func sorted(s []int) []int { return slices.Sorted(slices.Values(s)) }

// subMultiset reports whether every value of a is in b, as often.
func subMultiset(a, b []int) bool {
	count := map[int]int{}
	for _, v := range b {
		count[v]++
	}
	for _, v := range a {
		if count[v]--; count[v] < 0 {
			return false
		}
	}
	return true
}

// intKey and floatKey turn an op's key byte into a key. intKey gives 15
// int8 keys, -7 to 7; floatKey 8 float64 keys, among them +0 and -0 (one
// key, as in a built-in map), ±Inf and NaN (never found: every store of
// NaN adds an entry).
func intKey(b byte) int8 { return int8(b) % 8 }

var floatKeys = [8]float64{0, math.Copysign(0, -1), 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN()}

func floatKey(b byte) float64 { return floatKeys[b&7] }

// runOracle runs ops on a fresh map of im, with int8 keys and then float64
// keys, failing t at the first difference from the model.
func runOracle(t testing.TB, im impl, ops []op, driver string) {
	t.Helper()
	newOracle(t, newMap[int8, int](t, im), im.rules, intKey, fmt.Sprintf("%v, int8 keys, %s", im, driver)).run(ops)
	newOracle(t, newMap[float64, int](t, im), im.rules, floatKey, fmt.Sprintf("%v, float64 keys, %s", im, driver)).run(ops)
}

// randomOps returns n random operations on the key bytes 0 to 7 (int8
// keys 0 to 7; float64 keys with ±0 and NaN), mixed as opWeights says,
// with one or two nested operations in one callback in eight, half of
// them on the key of the operation whose callback runs them.
func randomOps(r *rand.Rand, n int) []op {
	ops := make([]op, n)
	for i := range ops {
		ops[i] = randomOp(r)
		if ops[i].hasCallback() && r.IntN(8) == 0 {
			for range 1 + r.IntN(2) {
				x := randomOp(r)
				if r.IntN(2) == 0 {
					x.key = ops[i].key
				}
				ops[i].nested = append(ops[i].nested, x)
			}
		}
	}
	return ops
}

// opWeights is how often randomOp picks each operation, out of their sum
// (the mix of the model test the oracle replaced): mostly single-key
// operations on a key space small enough that most of them hit.
var opWeights = [numOps]int{
	opLoad: 3, opStore: 3, opLoadOrStore: 2, opLoadOrCompute: 2, opLoadOrTryCompute: 2,
	opComputeUpdate: 1, opComputeDelete: 1, opComputeCancel: 1, opSwap: 1,
	opCompareAndSwap: 2, opCompareAndDelete: 2, opLoadAndDelete: 1, opDelete: 2,
	opLen: 4, opClear: 1, opRange: 1, opAllBreak: 1, opRangeBreak: 1,
}

func randomOp(r *rand.Rand) op {
	x := op{key: byte(r.IntN(8)), v1: r.IntN(4), v2: r.IntN(4), oldIsCur: r.IntN(2) == 0}
	total := 0
	for _, w := range opWeights {
		total += w
	}
	c := r.IntN(total)
	for x.code = 0; c >= opWeights[x.code]; x.code++ {
		c -= opWeights[x.code]
	}
	switch x.code {
	case opLoadOrTryCompute:
		x.fail, x.cancelled = r.IntN(3) == 0, r.IntN(5) == 0
	case opAllBreak, opRangeBreak:
		x.v1 = 1 + r.IntN(8)
	}
	return x
}

// TestConcurrentMap_MatchesTheModel is the oracle's random driver: seeded
// sequences of every operation, with operations nested in callbacks, on
// every strategy, with int8 and float64 keys.
func TestConcurrentMap_MatchesTheModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	n := testkit.ShortOr(400, 2000)
	if testing.Short() {
		seeds = seeds[:1]
	}
	forEachImplAndLossy(t, func(t *testing.T, im impl) {
		for _, seed := range seeds {
			runOracle(t, im, randomOps(rand.New(rand.NewPCG(seed, 0x5afe)), n), fmt.Sprintf("seed %d", seed))
		}
	})
}

// lossyMap wraps a map and deletes entries behind the oracle's back, as a
// bounded or expiring cache evicts: before each call and inside each
// callback, now and then, it deletes a random entry or clears the map. It
// keeps the contract of a lossy map (mapRules.lossy); bug breaks it on
// purpose, to prove the lossy rules still catch what they must.
type lossyMap[K comparable] struct {
	inner safemap.ConcurrentMap[K, int]
	r     *rand.Rand
	bug   string // "", "resurrect", "len+1" or "stale update"
	gone  map[K]int
	// inCompute is set while a Compute function runs: the inner map may
	// hold a lock that evicting would wait for (a Load from the function
	// must not evict).
	inCompute bool
}

func (m *lossyMap[K]) evict() {
	if m.inCompute {
		return
	}
	switch m.r.IntN(24) {
	case 0:
		m.inner.Clear()
	case 1, 2, 3, 4, 5:
		var keys []K
		m.inner.Range(func(k K, _ int) bool { keys = append(keys, k); return true })
		if len(keys) > 0 {
			k := keys[m.r.IntN(len(keys))]
			if v, ok := m.inner.LoadAndDelete(k); ok {
				m.gone[k] = v
			}
		}
	}
}

func (m *lossyMap[K]) Load(key K) (int, bool) {
	m.evict()
	v, ok := m.inner.Load(key)
	if gv, gone := m.gone[key]; !ok && gone && m.bug == "resurrect" && m.r.IntN(2) == 0 {
		return gv, true // an entry it lost, back from the dead
	}
	return v, ok
}

func (m *lossyMap[K]) Store(key K, value int) {
	m.evict()
	if m.bug == "stale update" {
		m.inner.LoadOrStore(key, value) // keeps an older value
		return
	}
	m.inner.Store(key, value)
}

func (m *lossyMap[K]) LoadOrStore(key K, value int) (int, bool) {
	m.evict()
	return m.inner.LoadOrStore(key, value)
}

func (m *lossyMap[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	m.evict()
	return m.inner.LoadOrCompute(key, func() int { m.evict(); return fn() })
}

func (m *lossyMap[K]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (int, error)) (int, bool, error) {
	m.evict()
	return m.inner.LoadOrTryCompute(ctx, key, func(ctx context.Context) (int, error) { m.evict(); return fn(ctx) })
}

func (m *lossyMap[K]) Compute(key K, fn func(old int, loaded bool) (int, safemap.ComputeOp)) (int, bool) {
	m.evict()
	return m.inner.Compute(key, func(old int, loaded bool) (int, safemap.ComputeOp) {
		m.inCompute = true
		defer func() { m.inCompute = false }()
		return fn(old, loaded)
	})
}

func (m *lossyMap[K]) Swap(key K, value int) (int, bool) {
	m.evict()
	return m.inner.Swap(key, value)
}

func (m *lossyMap[K]) CompareAndSwap(key K, old, new int) bool {
	m.evict()
	return m.inner.CompareAndSwap(key, old, new)
}

func (m *lossyMap[K]) CompareAndDelete(key K, old int) bool {
	m.evict()
	return m.inner.CompareAndDelete(key, old)
}

func (m *lossyMap[K]) LoadAndDelete(key K) (int, bool) {
	m.evict()
	return m.inner.LoadAndDelete(key)
}

func (m *lossyMap[K]) Delete(key K) {
	m.evict()
	m.inner.Delete(key)
}

func (m *lossyMap[K]) Range(fn func(K, int) bool) {
	m.evict()
	m.inner.Range(func(k K, v int) bool { m.evict(); return fn(k, v) })
}

func (m *lossyMap[K]) All() iter.Seq2[K, int] { return m.Range }

func (m *lossyMap[K]) Len() int {
	m.evict()
	if m.bug == "len+1" {
		return m.inner.Len() + 1
	}
	return m.inner.Len()
}

func (m *lossyMap[K]) Clear() {
	m.evict()
	m.inner.Clear()
}

// TestOracle_LossyRulesAllowEvictionsAndNothingElse runs the oracle's
// random sequences against a map that loses entries at random: its lossy
// rules must accept it, its strict rules must reject it, and its lossy
// rules must still reject such a map that brings a lost entry back, reports
// a Len above the model's, or keeps an older value over a Store.
func TestOracle_LossyRulesAllowEvictionsAndNothingElse(t *testing.T) {
	cases := []struct {
		bug   string
		rules mapRules
		pass  bool
	}{
		{"", mapRules{lossy: true, computeMayLoad: true}, true},
		{"", mapRules{computeMayLoad: true}, false},
		{"resurrect", mapRules{lossy: true}, false},
		{"len+1", mapRules{lossy: true}, false},
		{"stale update", mapRules{lossy: true}, false},
	}
	n := testkit.ShortOr(400, 2000)
	for _, c := range cases {
		t.Run(fmt.Sprintf("bug=%q/lossy=%t", c.bug, c.rules.lossy), func(t *testing.T) {
			for seed := range uint64(4) {
				r := rand.New(rand.NewPCG(seed, 1))
				m := &lossyMap[float64]{inner: safemap.New[float64, int](), r: r, bug: c.bug, gone: map[float64]int{}}
				o := newOracle[float64](t, m, c.rules, floatKey, fmt.Sprintf("lossyMap, seed %d", seed))
				o.fatalf = func(format string, args ...any) {
					panic(oracleFailure{o.report(fmt.Sprintf(format, args...))})
				}
				r2, failed := testkit.CatchPanic(func() { o.run(randomOps(rand.New(rand.NewPCG(seed, 0x5afe)), n)) })
				if _, ok := r2.(oracleFailure); failed && !ok {
					panic(r2)
				}
				switch {
				case c.pass && failed:
					t.Fatalf("the oracle rejected a map that only loses entries: %s", r2.(oracleFailure).msg)
				case c.pass && o.vanished < n/20:
					t.Fatalf("the model saw %d entries vanish in %d operations; want more, or the test proves little", o.vanished, n)
				case !c.pass && !failed:
					t.Fatalf("the oracle accepted %d operations of a map that breaks its rules", n)
				case !c.pass:
					t.Logf("rejected, as it must be: %s", strings.SplitN(r2.(oracleFailure).msg, "\n", 2)[0])
					return
				}
			}
		})
	}
}
