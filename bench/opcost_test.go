package bench_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// TestOpCost is a measurement driver, not a check: it runs only when
// SAFEMAP_OPCOST is set, and is meant to run under callgrind, which counts
// the instructions executed inside costRun (and what it calls) and nothing
// else: the set-up, the garbage collector's background work and sysmon
// stay out of the count. Running the same operation kind N and 2N times,
// (count at 2N − count at N) / N is the cost of one operation, with the
// loop's fixed costs cancelled. docs/design.md ("Where the mixed row's
// time goes") quotes it, with the script that runs it
// (bench/opcost.sh).
//
//	SAFEMAP_OPCOST=<impl>:<op>:<n>   impl is map or xsync; n operations
//
// The int64 kinds run on the state BenchmarkMixed's 90/9/1 row settles
// in (settle): about 90 % of the 100k keys present. The keys each kind
// uses are drawn before costRun starts:
//
//	load-hit, load-miss    Load of a present / an absent key
//	los-hit, los-insert    LoadOrStore of a present key / an absent one (a
//	                       re-insert, usually into a slot a delete emptied)
//	delete-hit             Delete of a present key
//	delete-miss            Delete of an absent key
//	loc-hit                LoadOrCompute of a present key
//	mixed                  the 90/9/1 mix itself, keys and kinds drawn as
//	                       BenchmarkMixed draws them
//	string-hit             Load of one of 100k stored keys of 17-22 bytes
//	                       (BenchmarkLoadLongString's), all hits
//	los-grow50             BenchmarkLoadOrStore's new=50% on one goroutine,
//	                       from an empty map
//	loc-grow50             BenchmarkLoadOrComputeFromEmpty's new=50% on
//	                       one goroutine, from an empty map
//
// For example (bench/opcost.sh runs them all):
//
//	go test -c -o /tmp/bench.test ./bench
//	SAFEMAP_OPCOST=map:load-hit:20000 GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOGC=off \
//	    valgrind --tool=callgrind --toggle-collect='*costRun*' /tmp/bench.test -test.run TestOpCost
func TestOpCost(t *testing.T) {
	spec := os.Getenv("SAFEMAP_OPCOST")
	if spec == "" {
		t.Skip("a measurement: set SAFEMAP_OPCOST=<impl>:<op>:<n> to run it")
	}
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		t.Fatalf("SAFEMAP_OPCOST=%q: want <impl>:<op>:<n>", spec)
	}
	impl, op := parts[0], parts[1]
	n, err := strconv.Atoi(parts[2])
	if err != nil || n <= 0 {
		t.Fatalf("SAFEMAP_OPCOST=%q: n must be a positive integer", spec)
	}
	var ops costOps
	switch impl {
	case "map":
		ops = mapCostOps(0)
	case "xsync":
		ops = xsyncCostOps(0)
	default:
		t.Fatalf("SAFEMAP_OPCOST=%q: impl must be map or xsync", spec)
	}
	var run func()
	switch op {
	case "load-hit", "load-miss", "los-hit", "los-insert", "delete-hit", "delete-miss", "loc-hit", "mixed":
		present, absent := ops.settle()
		t.Logf("settled: %d keys present, %d absent; %s", len(present), len(absent), ops.shape())
		keys := present
		if op == "load-miss" || op == "los-insert" || op == "delete-miss" {
			keys = absent
		}
		if op != "mixed" && n > len(keys) {
			t.Fatalf("%s: n = %d, but only %d keys of that kind", op, n, len(keys))
		}
		keys = keys[:min(n, len(keys))]
		switch op {
		case "load-hit", "load-miss":
			run = func() { sink.Add(ops.load(keys)) }
		case "los-hit", "los-insert":
			run = func() { sink.Add(ops.loadOrStore(keys)) }
		case "delete-hit", "delete-miss":
			run = func() { ops.delete(keys) }
		case "loc-hit":
			run = func() { sink.Add(ops.loadOrCompute(keys)) }
		case "mixed":
			mix := mixedOps(n)
			run = func() { sink.Add(ops.mixed(mix)) }
		}
	case "string-hit":
		const stored = 100_000
		keys := longStringKeys(2 * stored)
		ops.storeStrings(keys[:stored])
		r := rand.New(rand.NewPCG(3, 4))
		probes := make([]string, n)
		for i := range probes {
			probes[i] = keys[r.IntN(stored)]
		}
		run = func() { sink.Add(ops.loadStrings(probes)) }
	case "los-grow50":
		keys := growthKeys(n, 50, false)
		run = func() { sink.Add(ops.loadOrStore(keys)) }
	case "loc-grow50":
		keys := growthKeys(n, 50, true)
		run = func() { sink.Add(ops.loadOrCompute(keys)) }
	default:
		t.Fatalf("SAFEMAP_OPCOST=%q: unknown op %q", spec, op)
	}
	growStack(64 << 10)
	costRun(run)
}

// growStack uses about n bytes of stack, so that the goroutine's stack has
// grown before costRun starts: a stack copy in the middle of the counted run
// confuses callgrind's view of calls and returns, which ends the count early.
// (GOGC=off: no collection shrinks the stack again.)
//
//go:noinline
func growStack(n int) byte {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n <= len(pad) {
		return pad[0]
	}
	return growStack(n-len(pad)) + pad[n%len(pad)]
}

// costRun runs f: the function callgrind's --toggle-collect names, so that
// only what f executes is counted.
//
//go:noinline
func costRun(f func()) { f() }

// costOps are one map's operation loops. Each loop calls the map's
// methods directly (no interface), so that the count is the map's own.
type costOps struct {
	load          func(keys []int64) int64
	loadOrStore   func(keys []int64) int64
	loadOrCompute func(keys []int64) int64
	delete        func(keys []int64)
	mixed         func(ops []mixedOp) int64
	// mixedDrawn makes n calls of the mix drawn from r as BenchmarkMixed
	// draws them (loadPct 90; 100 for Loads only).
	mixedDrawn   func(r *rand.Rand, n, loadPct int) int64
	storeStrings func(keys []string)
	loadStrings  func(keys []string) int64
	has          func(key int64) bool
	shape        func() string // the int64 table's shape, for the log
}

// mapCostOps returns Map's loops; presize, if not 0, is the int64 map's
// WithCapacity.
func mapCostOps(presize int) costOps {
	m := safemap.New[int64, int64]()
	if presize > 0 {
		m = safemap.New[int64, int64](safemap.WithCapacity(presize))
	}
	s := safemap.New[string, int64]()
	return costOps{
		has:   func(key int64) bool { _, ok := m.Load(key); return ok },
		shape: func() string { return fmt.Sprintf("%d entries", m.Len()) },
		load: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.Load(k)
				sum += v
			}
			return sum
		},
		loadOrStore: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.LoadOrStore(k, k)
				sum += v
			}
			return sum
		},
		loadOrCompute: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.LoadOrCompute(k, computeOne)
				sum += v
			}
			return sum
		},
		delete: func(keys []int64) {
			for _, k := range keys {
				m.Delete(k)
			}
		},
		mixed: func(ops []mixedOp) (sum int64) {
			for _, o := range ops {
				switch o.kind {
				case opLoad:
					v, _ := m.Load(o.key)
					sum += v
				case opLoadOrStore:
					v, _ := m.LoadOrStore(o.key, o.key)
					sum += v
				default:
					m.Delete(o.key)
				}
			}
			return sum
		},
		mixedDrawn: func(r *rand.Rand, n, loadPct int) (sum int64) {
			for range n {
				k := r.Int64N(100_000)
				switch p := r.IntN(100); {
				case p < loadPct:
					v, _ := m.Load(k)
					sum += v
				case p < 99:
					v, _ := m.LoadOrStore(k, k)
					sum += v
				default:
					m.Delete(k)
				}
			}
			return sum
		},
		storeStrings: func(keys []string) {
			for i, k := range keys {
				s.Store(k, int64(i))
			}
		},
		loadStrings: func(keys []string) (sum int64) {
			for _, k := range keys {
				v, _ := s.Load(k)
				sum += v
			}
			return sum
		},
	}
}

// xsyncCostOps returns xsync's loops; presize, if not 0, is the int64
// map's WithPresize.
func xsyncCostOps(presize int) costOps {
	m := xsync.NewMap[int64, int64]()
	if presize > 0 {
		m = xsync.NewMap[int64, int64](xsync.WithPresize(presize))
	}
	s := xsync.NewMap[string, int64]()
	return costOps{
		has: func(key int64) bool { _, ok := m.Load(key); return ok },
		shape: func() string {
			st := m.Stats()
			return fmt.Sprintf("%d root buckets, %d buckets in all, %d entries", st.RootBuckets, st.TotalBuckets, st.Size)
		},
		load: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.Load(k)
				sum += v
			}
			return sum
		},
		loadOrStore: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.LoadOrStore(k, k)
				sum += v
			}
			return sum
		},
		loadOrCompute: func(keys []int64) (sum int64) {
			for _, k := range keys {
				v, _ := m.LoadOrCompute(k, xsyncComputeOne)
				sum += v
			}
			return sum
		},
		delete: func(keys []int64) {
			for _, k := range keys {
				m.Delete(k)
			}
		},
		mixed: func(ops []mixedOp) (sum int64) {
			for _, o := range ops {
				switch o.kind {
				case opLoad:
					v, _ := m.Load(o.key)
					sum += v
				case opLoadOrStore:
					v, _ := m.LoadOrStore(o.key, o.key)
					sum += v
				default:
					m.Delete(o.key)
				}
			}
			return sum
		},
		mixedDrawn: func(r *rand.Rand, n, loadPct int) (sum int64) {
			for range n {
				k := r.Int64N(100_000)
				switch p := r.IntN(100); {
				case p < loadPct:
					v, _ := m.Load(k)
					sum += v
				case p < 99:
					v, _ := m.LoadOrStore(k, k)
					sum += v
				default:
					m.Delete(k)
				}
			}
			return sum
		},
		storeStrings: func(keys []string) {
			for i, k := range keys {
				s.Store(k, int64(i))
			}
		},
		loadStrings: func(keys []string) (sum int64) {
			for _, k := range keys {
				v, _ := s.Load(k)
				sum += v
			}
			return sum
		},
	}
}

// xsyncComputeOne is computeOne in xsync's form (the second result cancels).
func xsyncComputeOne() (int64, bool) { return 1, false }

// settle brings the int64 map to the state BenchmarkMixed's 90/9/1 row
// settles in, and returns its present and absent keys, each in a random
// order. The row starts from keys 0..49999 (fill); each call then inserts
// an absent key with probability 9 % and deletes a present one with 1 %,
// so the share of the 100k keys present tends to 90 % with a time constant
// of 1M calls, and a benchmark run of a second (tens of millions of calls)
// spends nearly all its time there. Loads do not change the state, so
// settle skips them: 2.2M writes drawn as the mix draws them are 22M calls
// of the mix, and leave 90k keys (±1 %) present.
func (o costOps) settle() (present, absent []int64) {
	const n = 100_000
	keys := make([]int64, n/2)
	for i := range keys {
		keys[i] = int64(i)
	}
	o.loadOrStore(keys)
	r := rand.New(rand.NewPCG(1, 1))
	writes := make([]mixedOp, 2_200_000)
	for i := range writes {
		writes[i] = mixedOp{opLoadOrStore, r.Int64N(n)}
		if r.IntN(10) == 0 {
			writes[i].kind = opDelete
		}
	}
	o.mixed(writes)
	for k := range int64(n) {
		if o.has(k) {
			present = append(present, k)
		} else {
			absent = append(absent, k)
		}
	}
	r = rand.New(rand.NewPCG(5, 6))
	r.Shuffle(len(present), func(i, j int) { present[i], present[j] = present[j], present[i] })
	r.Shuffle(len(absent), func(i, j int) { absent[i], absent[j] = absent[j], absent[i] })
	return present, absent
}

const (
	opLoad = iota
	opLoadOrStore
	opDelete
)

// mixedOp is one call of the 90/9/1 mix.
type mixedOp struct {
	kind int
	key  int64
}

// mixedOps returns n calls of BenchmarkMixed's 90/9/1 mix over 100k keys,
// drawn as one of its goroutines draws them.
func mixedOps(n int) []mixedOp {
	r := rand.New(rand.NewPCG(1, 1))
	ops := make([]mixedOp, n)
	for i := range ops {
		k := r.Int64N(100_000)
		switch p := r.IntN(100); {
		case p < 90:
			ops[i] = mixedOp{opLoad, k}
		case p < 99:
			ops[i] = mixedOp{opLoadOrStore, k}
		default:
			ops[i] = mixedOp{opDelete, k}
		}
	}
	return ops
}

// growthKeys returns n keys in the order one goroutine of
// BenchmarkLoadOrStore (spread false) or BenchmarkLoadOrComputeFromEmpty
// (spread true) uses them at newPct percent new keys.
func growthKeys(n, newPct int, spreadKeys bool) []int64 {
	r := rand.New(rand.NewPCG(1, 13))
	base, inserted := uint64(1)<<40, uint64(1)
	keys := make([]int64, 0, n+1)
	keys = append(keys, int64(base))
	for range n {
		i := base + r.Uint64N(inserted)
		if r.IntN(100) < newPct {
			i = base + inserted
			inserted++
		}
		keys = append(keys, int64(i))
	}
	if spreadKeys {
		for i, k := range keys {
			keys[i] = spread(uint64(k))
		}
	}
	return keys
}
