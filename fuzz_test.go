package safemap_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/safemap-go/safemap"
)

// FuzzOps decodes its input into a sequence of operations, applies it to
// every strategy and to a built-in map, and checks every return value, every
// argument a callback receives, and finally Len and the entries Range and All
// visit. Each sequence runs twice: with int8 keys, and with float64 keys that
// include +0, -0, ±Inf and NaN, where the built-in map is the specification
// ("+0.0 and -0.0 are the same key, a NaN key is never found").
//
// Input format: three bytes per operation, [code, key, val]:
//   - code % numFuzzOps selects the operation;
//   - key selects the key (fuzzIntKey, fuzzFloatKey);
//   - val&7 is the value stored or computed (v1), val>>5 the old value of
//     CompareAndSwap and CompareAndDelete (v2), val&0x10 makes
//     LoadOrTryCompute's fn fail, and val&0x08 gives it a cancelled context.
//
// Values are 0..7, so stored zeros and matching CompareAndSwap are common.
func FuzzOps(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := decodeFuzzOps(data)
		for _, im := range impls {
			runFuzzOps(t, im, ops, fuzzIntKey)
			runFuzzOps(t, im, ops, fuzzFloatKey)
		}
	})
}

type fuzzCode uint8

const (
	fuzzLoad fuzzCode = iota
	fuzzStore
	fuzzLoadOrStore
	fuzzLoadOrCompute
	fuzzLoadOrTryCompute
	fuzzComputeUpdate // old+v1 if present, else v1
	fuzzComputeDelete
	fuzzComputeCancel
	fuzzSwap
	fuzzCompareAndSwap
	fuzzCompareAndDelete
	fuzzLoadAndDelete
	fuzzDelete
	fuzzLen
	fuzzClear
	fuzzRange // compare every entry with the model
	fuzzAllBreak
	numFuzzOps
)

var fuzzCodeNames = [numFuzzOps]string{
	fuzzLoad:             "Load",
	fuzzStore:            "Store",
	fuzzLoadOrStore:      "LoadOrStore",
	fuzzLoadOrCompute:    "LoadOrCompute",
	fuzzLoadOrTryCompute: "LoadOrTryCompute",
	fuzzComputeUpdate:    "Compute/update",
	fuzzComputeDelete:    "Compute/delete",
	fuzzComputeCancel:    "Compute/cancel",
	fuzzSwap:             "Swap",
	fuzzCompareAndSwap:   "CompareAndSwap",
	fuzzCompareAndDelete: "CompareAndDelete",
	fuzzLoadAndDelete:    "LoadAndDelete",
	fuzzDelete:           "Delete",
	fuzzLen:              "Len",
	fuzzClear:            "Clear",
	fuzzRange:            "Range",
	fuzzAllBreak:         "All/break",
}

func (c fuzzCode) String() string { return fuzzCodeNames[c] }

// maxFuzzOps bounds the work one input can ask for.
const maxFuzzOps = 1024

type fuzzOp struct {
	code     fuzzCode
	key      byte
	v1, v2   int
	fail     bool // LoadOrTryCompute: fn returns errFuzzLoad
	canceled bool // LoadOrTryCompute: ctx is already cancelled
}

func decodeFuzzOps(data []byte) []fuzzOp {
	var ops []fuzzOp
	for len(data) >= 3 && len(ops) < maxFuzzOps {
		code, key, val := data[0], data[1], data[2]
		data = data[3:]
		ops = append(ops, fuzzOp{
			code:     fuzzCode(code % byte(numFuzzOps)),
			key:      key,
			v1:       int(val & 7),
			v2:       int(val >> 5),
			fail:     val&0x10 != 0,
			canceled: val&0x08 != 0,
		})
	}
	return ops
}

// fuzzIntKey maps a byte to one of 15 int8 keys, -7..7.
func fuzzIntKey(b byte) int8 { return int8(b) % 8 }

// fuzzFloatKeys are the float64 keys: -0 must find +0, and NaN never finds
// anything (every store of NaN adds an entry, as in a built-in map).
var fuzzFloatKeys = [8]float64{0, math.Copysign(0, -1), 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN()}

func fuzzFloatKey(b byte) float64 { return fuzzFloatKeys[b&7] }

var errFuzzLoad = errors.New("fuzz: load failed")

// runFuzzOps applies ops to a fresh map of strategy im and to a built-in
// map, failing t at the first difference.
func runFuzzOps[K comparable](t *testing.T, im impl, ops []fuzzOp, key func(byte) K) {
	t.Helper()
	m := newMap[K, int](t, im)
	model := map[K]int{}
	for i, op := range ops {
		k := key(op.key)
		where := func() string {
			return fmt.Sprintf("%v, %T keys, op %d: %v(key %v, v1 %d, v2 %d, fail %t, canceled %t)",
				im, k, i, op.code, k, op.v1, op.v2, op.fail, op.canceled)
		}
		mv, mok := model[k]
		switch op.code {
		case fuzzLoad:
			v, ok := m.Load(k)
			if v != mv || ok != mok {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, ok, mv, mok)
			}
		case fuzzStore:
			m.Store(k, op.v1)
			model[k] = op.v1
		case fuzzLoadOrStore:
			v, loaded := m.LoadOrStore(k, op.v1)
			want := op.v1
			if mok {
				want = mv
			} else {
				model[k] = op.v1
			}
			if v != want || loaded != mok {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, loaded, want, mok)
			}
		case fuzzLoadOrCompute:
			calls := 0
			v, loaded := m.LoadOrCompute(k, func() int {
				calls++
				return op.v1
			})
			want, wantCalls := op.v1, 1
			if mok {
				want, wantCalls = mv, 0
			} else {
				model[k] = op.v1
			}
			if v != want || loaded != mok {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, loaded, want, mok)
			}
			if calls != wantCalls {
				t.Fatalf("%s: fn called %d times; want %d", where(), calls, wantCalls)
			}
		case fuzzLoadOrTryCompute:
			ctx := context.Background()
			if op.canceled && !mok {
				// Only on a miss: the contract says a caller whose ctx
				// has ended returns ctx.Err() without calling fn when it
				// misses the key, and does not say what it does on a hit.
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			calls := 0
			v, loaded, err := m.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
				calls++
				if op.fail {
					return 0, errFuzzLoad
				}
				return op.v1, nil
			})
			switch {
			case mok:
				if v != mv || !loaded || err != nil {
					t.Fatalf("%s: got (%d, %t, %v); want (%d, true, <nil>)", where(), v, loaded, err, mv)
				}
				if calls != 0 {
					t.Fatalf("%s: fn called %d times on a present key; want 0", where(), calls)
				}
			case op.canceled:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s: got error %v; want %v", where(), err, context.Canceled)
				}
				if calls != 0 {
					t.Fatalf("%s: fn called %d times with a cancelled context; want 0", where(), calls)
				}
			case op.fail:
				if !errors.Is(err, errFuzzLoad) {
					t.Fatalf("%s: got error %v; want %v", where(), err, errFuzzLoad)
				}
				if calls != 1 {
					t.Fatalf("%s: fn called %d times; want 1", where(), calls)
				}
			default:
				if v != op.v1 || loaded || err != nil {
					t.Fatalf("%s: got (%d, %t, %v); want (%d, false, <nil>)", where(), v, loaded, err, op.v1)
				}
				if calls != 1 {
					t.Fatalf("%s: fn called %d times; want 1", where(), calls)
				}
				model[k] = op.v1
			}
		case fuzzComputeUpdate, fuzzComputeDelete, fuzzComputeCancel:
			calls := 0
			var badArgs string
			v, ok := m.Compute(k, func(old int, loaded bool) (int, safemap.ComputeOp) {
				calls++
				if old != mv || loaded != mok {
					badArgs = fmt.Sprintf("fn got (%d, %t); want (%d, %t)", old, loaded, mv, mok)
				}
				switch op.code {
				case fuzzComputeUpdate:
					if loaded {
						return old + op.v1, safemap.UpdateOp
					}
					return op.v1, safemap.UpdateOp
				case fuzzComputeDelete:
					return 99, safemap.DeleteOp
				default:
					return 99, safemap.CancelOp
				}
			})
			if calls == 0 {
				t.Fatalf("%s: fn was not called", where())
			}
			if badArgs != "" {
				t.Fatalf("%s: %s", where(), badArgs)
			}
			wantV, wantOK := mv, mok // CancelOp
			switch op.code {
			case fuzzComputeUpdate:
				wantV, wantOK = op.v1, true
				if mok {
					wantV = mv + op.v1
				}
				model[k] = wantV
			case fuzzComputeDelete:
				wantV, wantOK = 0, false
				delete(model, k)
			}
			if v != wantV || ok != wantOK {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, ok, wantV, wantOK)
			}
		case fuzzSwap:
			v, loaded := m.Swap(k, op.v1)
			model[k] = op.v1
			if v != mv || loaded != mok {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, loaded, mv, mok)
			}
		case fuzzCompareAndSwap:
			want := mok && mv == op.v2
			if want {
				model[k] = op.v1
			}
			if got := m.CompareAndSwap(k, op.v2, op.v1); got != want {
				t.Fatalf("%s: got %t; want %t", where(), got, want)
			}
		case fuzzCompareAndDelete:
			want := mok && mv == op.v2
			if want {
				delete(model, k)
			}
			if got := m.CompareAndDelete(k, op.v2); got != want {
				t.Fatalf("%s: got %t; want %t", where(), got, want)
			}
		case fuzzLoadAndDelete:
			v, loaded := m.LoadAndDelete(k)
			delete(model, k)
			if v != mv || loaded != mok {
				t.Fatalf("%s: got (%d, %t); want (%d, %t)", where(), v, loaded, mv, mok)
			}
		case fuzzDelete:
			m.Delete(k)
			delete(model, k)
		case fuzzLen:
			if got, want := m.Len(), len(model); got != want {
				t.Fatalf("%s: got Len %d; want %d", where(), got, want)
			}
		case fuzzClear:
			m.Clear()
			clear(model)
		case fuzzRange:
			checkFuzzContents(t, where(), m, model)
		case fuzzAllBreak:
			// Stop after max(v1, 1) entries: All must honour the break (the range
			// statement panics if the iterator goes on), and every entry
			// it yields must be in the model.
			limit := max(op.v1, 1)
			seen := 0
			for k, v := range m.All() {
				if mv, ok := model[k]; k == k && (!ok || mv != v) {
					t.Fatalf("%s: All yielded (%v, %d); model has (%d, %t)", where(), k, v, mv, ok)
				}
				if seen++; seen == limit {
					break
				}
			}
			if want := min(limit, len(model)); seen != want {
				t.Fatalf("%s: All yielded %d entries before the break; want %d", where(), seen, want)
			}
		}
	}
	end := fmt.Sprintf("%v, %T keys, after %d ops", im, *new(K), len(ops))
	if got, want := m.Len(), len(model); got != want {
		t.Fatalf("%s: got Len %d; want %d", end, got, want)
	}
	checkFuzzContents(t, end, m, model)
}

// checkFuzzContents fails t unless Range and All each visit exactly the
// entries of model, each key once. NaN keys cannot be looked up, so their
// values are compared as a multiset.
func checkFuzzContents[K comparable](t *testing.T, where string, m safemap.ConcurrentMap[K, int], model map[K]int) {
	t.Helper()
	var wantNaN []int
	for k, v := range model {
		if k != k {
			wantNaN = append(wantNaN, v)
		}
	}
	slices.Sort(wantNaN)
	check := func(method string, visit func(yield func(K, int) bool)) {
		t.Helper()
		seen := map[K]int{}
		var gotNaN []int
		visit(func(k K, v int) bool {
			if k != k {
				gotNaN = append(gotNaN, v)
				return true
			}
			if prev, dup := seen[k]; dup {
				t.Fatalf("%s: %s visited key %v twice (values %d and %d)", where, method, k, prev, v)
			}
			seen[k] = v
			if mv, ok := model[k]; !ok || mv != v {
				t.Fatalf("%s: %s visited (%v, %d); model has (%d, %t)", where, method, k, v, mv, ok)
			}
			return true
		})
		if got, want := len(seen)+len(gotNaN), len(model); got != want {
			t.Fatalf("%s: %s visited %d entries; want %d", where, method, got, want)
		}
		slices.Sort(gotNaN)
		if !slices.Equal(gotNaN, wantNaN) {
			t.Fatalf("%s: %s visited NaN keys with values %v; want %v", where, method, gotNaN, wantNaN)
		}
	}
	check("Range", m.Range)
	check("All", func(yield func(K, int) bool) {
		for k, v := range m.All() {
			if !yield(k, v) {
				return
			}
		}
	})
}

// fuzzSeeds are the f.Add seeds; testdata/fuzz/FuzzOps holds more, in the
// file format, so that plain go test runs both.
var fuzzSeeds = [][]byte{
	{},
	// Every operation once on key 1, value 3, old value 0.
	fuzzBytes(
		fuzzLoad, 1, 3, fuzzStore, 1, 3, fuzzLoadOrStore, 1, 4, fuzzLoadOrCompute, 1, 5,
		fuzzLoadOrTryCompute, 1, 6, fuzzComputeUpdate, 1, 1, fuzzComputeCancel, 1, 0,
		fuzzSwap, 1, 2, fuzzCompareAndSwap, 1, 0x40|1, fuzzCompareAndDelete, 1, 0x20,
		fuzzLoadAndDelete, 1, 0, fuzzDelete, 1, 0, fuzzLen, 0, 0, fuzzRange, 0, 0,
	),
	// A stored zero is present: CompareAndSwap and CompareAndDelete from 0.
	fuzzBytes(
		fuzzCompareAndSwap, 2, 5, fuzzStore, 2, 0, fuzzLoad, 2, 0, fuzzCompareAndSwap, 2, 5,
		fuzzCompareAndDelete, 2, 0xa0, fuzzLoadOrCompute, 2, 0, fuzzCompareAndDelete, 2, 0,
		fuzzLen, 0, 0,
	),
	// LoadOrTryCompute: failure, cancelled context, then success.
	fuzzBytes(
		fuzzLoadOrTryCompute, 3, 0x10|4, fuzzLoad, 3, 0, fuzzLoadOrTryCompute, 3, 0x08|4,
		fuzzLen, 0, 0, fuzzLoadOrTryCompute, 3, 4, fuzzLoadOrTryCompute, 3, 0x18|5,
	),
	// Float keys: +0 and -0 (keys 0 and 1) are one key, NaN (key 7) piles up.
	fuzzBytes(
		fuzzStore, 0, 1, fuzzLoad, 1, 0, fuzzSwap, 1, 2, fuzzStore, 7, 3, fuzzStore, 7, 4,
		fuzzLoadOrCompute, 7, 5, fuzzComputeUpdate, 7, 6, fuzzLen, 0, 0, fuzzRange, 0, 0,
		fuzzAllBreak, 0, 2, fuzzClear, 0, 0, fuzzLen, 0, 0,
	),
	// Clear between writes to many keys.
	fuzzBytes(
		fuzzStore, 0, 1, fuzzStore, 1, 2, fuzzStore, 2, 3, fuzzStore, 0xff, 4, fuzzClear, 0, 0,
		fuzzLoad, 1, 0, fuzzStore, 3, 5, fuzzComputeDelete, 3, 0, fuzzComputeUpdate, 4, 6,
		fuzzAllBreak, 0, 1, fuzzLen, 0, 0,
	),
}

// fuzzBytes builds a fuzz input from (code, key, val) triples.
func fuzzBytes(triples ...fuzzCode) []byte {
	b := make([]byte, len(triples))
	for i, x := range triples {
		b[i] = byte(x)
	}
	return b
}
