package safemap_test

import (
	"testing"
)

// FuzzOps decodes its input into a sequence of operations and runs it
// through the model oracle (oracle_test.go) on every strategy, twice: with
// int8 keys, and with float64 keys that include +0, -0, ±Inf and NaN. The
// oracle checks every return value, every argument a callback receives and
// how often it runs, Len and the entries Range and All visit.
//
// Input format: three bytes per operation, [code, key, val]:
//   - (code&0x3f) % numOps selects the operation (opCode);
//   - code&0x80 runs the operation from inside the callback of the last
//     operation before it without that bit (a LoadOrCompute function, a
//     Range or All loop body, a Compute function: see op.hasCallback), or
//     right after that operation if it has no callback;
//   - code&0x40 makes CompareAndSwap and CompareAndDelete compare with the
//     key's current value instead of v2;
//   - key selects the key (intKey, floatKey);
//   - val&7 is the value stored or computed, or a break's limit (v1),
//     val>>5 the old value of CompareAndSwap and CompareAndDelete (v2),
//     val&0x10 makes LoadOrTryCompute's fn fail, and val&0x08 gives it an
//     ended context.
//
// The seeds in testdata/fuzz/FuzzOps predate the two high bits of code and
// opcodes 17 and up; they use neither, so they decode to the operations
// they always meant.
func FuzzOps(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := decodeOps(data)
		for _, im := range append(impls[:len(impls):len(impls)], lossyImpls...) {
			runOracle(t, im, ops, "fuzz input")
		}
	})
}

// maxFuzzOps bounds the work one input can ask for.
const maxFuzzOps = 1024

// Bits of a fuzz operation's code byte (see FuzzOps).
const (
	fuzzNested   = 0x80
	fuzzOldIsCur = 0x40
	fuzzCodeMask = 0x3f
)

func decodeOps(data []byte) []op {
	var ops []op
	for n := 0; len(data) >= 3 && n < maxFuzzOps; n++ {
		code, key, val := data[0], data[1], data[2]
		data = data[3:]
		x := op{
			code:      opCode((code & fuzzCodeMask) % byte(numOps)),
			key:       key,
			v1:        int(val & 7),
			v2:        int(val >> 5),
			oldIsCur:  code&fuzzOldIsCur != 0,
			fail:      val&0x10 != 0,
			cancelled: val&0x08 != 0,
		}
		if code&fuzzNested != 0 && len(ops) > 0 {
			last := &ops[len(ops)-1]
			last.nested = append(last.nested, x)
			continue
		}
		ops = append(ops, x)
	}
	return ops
}

// fuzzSeeds are the f.Add seeds; testdata/fuzz/FuzzOps holds more, in the
// file format, so that plain go test runs both.
var fuzzSeeds = [][]byte{
	{},
	// Every operation once on key 1, value 3, old value 0.
	fuzzBytes(
		opLoad, 1, 3, opStore, 1, 3, opLoadOrStore, 1, 4, opLoadOrCompute, 1, 5,
		opLoadOrTryCompute, 1, 6, opComputeUpdate, 1, 1, opComputeCancel, 1, 0,
		opSwap, 1, 2, opCompareAndSwap, 1, 0x40|1, opCompareAndDelete, 1, 0x20,
		opLoadAndDelete, 1, 0, opDelete, 1, 0, opLen, 0, 0, opRange, 0, 0,
	),
	// A stored zero is present: CompareAndSwap and CompareAndDelete from 0.
	fuzzBytes(
		opCompareAndSwap, 2, 5, opStore, 2, 0, opLoad, 2, 0, opCompareAndSwap, 2, 5,
		opCompareAndDelete, 2, 0xa0, opLoadOrCompute, 2, 0, opCompareAndDelete, 2, 0,
		opLen, 0, 0,
	),
	// LoadOrTryCompute: failure, cancelled context, then success.
	fuzzBytes(
		opLoadOrTryCompute, 3, 0x10|4, opLoad, 3, 0, opLoadOrTryCompute, 3, 0x08|4,
		opLen, 0, 0, opLoadOrTryCompute, 3, 4, opLoadOrTryCompute, 3, 0x18|5,
	),
	// Float keys: +0 and -0 (keys 0 and 1) are one key, NaN (key 7) piles up.
	fuzzBytes(
		opStore, 0, 1, opLoad, 1, 0, opSwap, 1, 2, opStore, 7, 3, opStore, 7, 4,
		opLoadOrCompute, 7, 5, opComputeUpdate, 7, 6, opLen, 0, 0, opRange, 0, 0,
		opAllBreak, 0, 2, opClear, 0, 0, opLen, 0, 0,
	),
	// Clear between writes to many keys.
	fuzzBytes(
		opStore, 0, 1, opStore, 1, 2, opStore, 2, 3, opStore, 0xff, 4, opClear, 0, 0,
		opLoad, 1, 0, opStore, 3, 5, opComputeDelete, 3, 0, opComputeUpdate, 4, 6,
		opAllBreak, 0, 1, opLen, 0, 0,
	),
	// Operations nested in a LoadOrCompute function: a Store of its own key
	// wins over fn's value; a Delete of it deletes nothing; a failing
	// loader's nested Store stays; a LoadOrCompute of the same key is
	// skipped (it would wait for itself), one of another key runs, and a
	// LoadOrTryCompute of the same key with an ended context returns.
	fuzzBytes(
		opLoadOrCompute, 1, 5, opStore|fuzzNested, 1, 2, opLoad|fuzzNested, 1, 0, opLen|fuzzNested, 0, 0,
		opLoadOrCompute, 2, 3, opDelete|fuzzNested, 2, 0, opRange|fuzzNested, 0, 0, opLoad|fuzzNested, 2, 0,
		opLoadOrTryCompute, 3, 0x10|1, opStore|fuzzNested, 3, 4,
		opLoadOrCompute, 4, 6, opLoadOrCompute|fuzzNested, 4, 1, opLoadOrCompute|fuzzNested, 5, 2,
		opLoadOrTryCompute|fuzzNested, 4, 0x08|3, opClear|fuzzNested, 0, 0,
		opLoadOrCompute, 7, 1, opStore|fuzzNested, 7, 2, opLoadOrCompute|fuzzNested, 7, 3,
		opRange, 0, 0,
	),
	// Operations nested in Range and All loop bodies (weakly consistent:
	// what they change may or may not be visited) and in a Compute
	// function (Loads, where the map allows them); CompareAndSwap and
	// CompareAndDelete against the current value.
	fuzzBytes(
		opStore, 0, 1, opStore, 1, 2, opStore, 2, 3, opStore, 7, 4,
		opRange, 0, 0, opStore|fuzzNested, 0, 5, opDelete|fuzzNested, 1, 0, opStore|fuzzNested, 3, 6, opStore|fuzzNested, 7, 7,
		opAllBreak, 0, 2, opSwap|fuzzNested, 2, 1, opRange|fuzzNested, 0, 0,
		opRangeBreak, 0, 7, opClear|fuzzNested, 0, 0, opStore|fuzzNested, 4, 1,
		opComputeUpdate, 4, 2, opLoad|fuzzNested, 4, 0, opLoad|fuzzNested, 5, 0,
		opCompareAndSwap|fuzzOldIsCur, 4, 5, opCompareAndDelete|fuzzOldIsCur, 4, 0,
		opLen, 0, 0,
	),
}

// fuzzBytes builds a fuzz input from (code, key, val) triples.
func fuzzBytes(triples ...opCode) []byte {
	b := make([]byte, len(triples))
	for i, x := range triples {
		b[i] = byte(x)
	}
	return b
}
