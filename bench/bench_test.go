package bench_test

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"
)

// The benchmarks run every strategy, raw sync.Map and (for read-only
// workloads) a built-in map through one harness. Names follow
// Benchmark<Workload>/impl=<name>/<parameter>=<value> so that benchstat
// groups them, e.g.
//
//	go test -run '^$' -bench 'Load$' -count 10 . | tee new.txt
//	benchstat -col /impl new.txt

// benchMap is the part of a map the benchmarks drive.
type benchMap interface {
	Load(key int64) (int64, bool)
	LoadOrStore(key, value int64) (int64, bool)
	Delete(key int64)
}

type benchImpl struct {
	name     string
	new      func() benchMap
	readOnly bool // only Load is safe concurrently (the built-in map)
}

var benchImpls = []benchImpl{
	{name: "Map", new: func() benchMap { return safemap.New[int64, int64]() }},
	{name: "SyncMap", new: func() benchMap { return safemap.NewSyncMap[int64, int64]() }},
	{name: "RWMap", new: func() benchMap { return safemap.NewRWMap[int64, int64]() }},
	{name: "ShardedMap", new: func() benchMap { return safemap.NewShardedMap[int64, int64]() }},
	{name: "SnapshotMap", new: func() benchMap { return safemap.NewSnapshotMap[int64, int64]() }},
	{name: "sync.Map", new: func() benchMap { return new(rawSyncMap) }},
	// The fastest public peer (issue 3's yardstick); imported by tests only.
	{name: "xsync", new: func() benchMap { return xsync.NewMap[int64, int64]() }},
	{name: "builtin", new: func() benchMap { return builtinMap{} }, readOnly: true},
}

// rawSyncMap is sync.Map used as most code uses it: untyped, asserting on
// the way out.
type rawSyncMap struct{ m sync.Map }

func (r *rawSyncMap) Load(key int64) (int64, bool) {
	v, ok := r.m.Load(key)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}

func (r *rawSyncMap) LoadOrStore(key, value int64) (int64, bool) {
	v, loaded := r.m.LoadOrStore(key, value)
	return v.(int64), loaded
}

func (r *rawSyncMap) Delete(key int64) { r.m.Delete(key) }

// builtinMap is the lower bound for a lookup: a built-in map that is only
// read while the benchmark runs (concurrent reads need no lock).
type builtinMap map[int64]int64

func (m builtinMap) Load(key int64) (int64, bool) {
	v, ok := m[key]
	return v, ok
}

func (m builtinMap) LoadOrStore(key, value int64) (int64, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	m[key] = value // only during single-goroutine setup
	return value, false
}

func (m builtinMap) Delete(key int64) { delete(m, key) }

// fill stores keys 0..n-1, in one copy for a SnapshotMap.
func fill(m benchMap, n int) {
	if s, ok := m.(interface{ StoreAll(iter.Seq2[int64, int64]) }); ok {
		s.StoreAll(func(yield func(int64, int64) bool) {
			for i := range int64(n) {
				if !yield(i, i) {
					return
				}
			}
		})
		return
	}
	for i := range int64(n) {
		m.LoadOrStore(i, i)
	}
}

// probeKeys returns a fixed, random sequence of lookups in which missPct
// percent are keys in [n, 2n), never inserted, and the rest keys in [0, n).
// Walking a precomputed slice keeps random number generation out of the
// timed loop; it is a power of two long, and long enough (2n, up to 2M) that
// the probes spread over the whole map instead of a cached subset.
func probeKeys(n, missPct int) []int64 {
	r := rand.New(rand.NewPCG(1, uint64(missPct)))
	size := 1 << 16
	for size < 2*n && size < 1<<21 {
		size <<= 1
	}
	keys := make([]int64, size)
	for i := range keys {
		k := r.Int64N(int64(n))
		if r.IntN(100) < missPct {
			k += int64(n)
		}
		keys[i] = k
	}
	return keys
}

// runProbes runs load in parallel over keys, each goroutine starting at its
// own offset.
func runProbes(b *testing.B, keys []int64, op func(key int64)) {
	var offset atomic.Uint64
	mask := uint64(len(keys) - 1)
	b.RunParallel(func(pb *testing.PB) {
		i := offset.Add(7919)
		for pb.Next() {
			op(keys[i&mask])
			i++
		}
	})
}

var missRates = []int{0, 50, 99}

// BenchmarkLoad measures Load on a pre-filled map at several miss rates.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		for _, miss := range missRates {
			keys := probeKeys(n, miss)
			for _, im := range benchImpls {
				b.Run(fmt.Sprintf("impl=%s/keys=%d/miss=%d%%", im.name, n, miss), func(b *testing.B) {
					m := im.new()
					fill(m, n)
					b.ReportAllocs()
					b.ResetTimer()
					runProbes(b, keys, func(k int64) { m.Load(k) })
				})
			}
		}
	}
}

// BenchmarkLoadOrStore measures LoadOrStore on a map that starts empty,
// where newPct percent of the calls insert a new key and the rest hit a key
// the same goroutine inserted before.
func BenchmarkLoadOrStore(b *testing.B) {
	for _, newPct := range []int{0, 50, 99} {
		for _, im := range benchImpls {
			if im.readOnly || im.name == "SnapshotMap" {
				continue // SnapshotMap copies the map per insert: O(n²)
			}
			b.Run(fmt.Sprintf("impl=%s/new=%d%%", im.name, newPct), func(b *testing.B) {
				m := im.new()
				var goroutine atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					g := goroutine.Add(1)
					r := newGoroutineRand(uint64(g), 0)
					base, inserted := g<<40, int64(1)
					m.LoadOrStore(base, base)
					for pb.Next() {
						k := base + r.Int64N(inserted)
						if r.IntN(100) < newPct {
							k = base + inserted
							inserted++
						}
						m.LoadOrStore(k, k)
					}
				})
			})
		}
	}
}

// BenchmarkMixed measures read-mostly mixes of Load, LoadOrStore and Delete
// over a fixed key space, pre-filled to half.
func BenchmarkMixed(b *testing.B) {
	const n = 100_000
	mixes := []struct {
		name                string
		loadPct, insertPerc int // the rest deletes
	}{
		{"90/9/1", 90, 9},
		{"99/0.9/0.1", 990, 9}, // per mille
	}
	for _, mix := range mixes {
		scale := 100
		if mix.loadPct > 100 {
			scale = 1000
		}
		for _, im := range benchImpls {
			if im.readOnly {
				continue
			}
			b.Run(fmt.Sprintf("impl=%s/mix=%s", im.name, mix.name), func(b *testing.B) {
				m := im.new()
				fill(m, n/2)
				var goroutine atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					r := newGoroutineRand(uint64(goroutine.Add(1)), 1)
					for pb.Next() {
						k := r.Int64N(n)
						switch p := r.IntN(scale); {
						case p < mix.loadPct:
							m.Load(k)
						case p < mix.loadPct+mix.insertPerc:
							m.LoadOrStore(k, k)
						default:
							m.Delete(k)
						}
					}
				})
			})
		}
	}
}

// BenchmarkMemory reports the live heap per entry of a map holding 1M
// int64→int64 entries (B/entry), measured after a full GC.
func BenchmarkMemory(b *testing.B) {
	const n = 1_000_000
	for _, im := range benchImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			var perEntry float64
			for range b.N {
				before := liveHeap()
				m := im.new()
				fill(m, n)
				perEntry = float64(liveHeap()-before) / n
				runtime.KeepAlive(m)
			}
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

// BenchmarkGC measures one full garbage collection while a map of 1M
// int64→int64 entries is live: the collector's cost of the map's layout,
// which every program holding the map pays on every cycle.
func BenchmarkGC(b *testing.B) {
	const n = 1_000_000
	for _, im := range benchImpls {
		if im.name == "SnapshotMap" {
			continue // filling it copies the map per insert
		}
		b.Run("impl="+im.name, func(b *testing.B) {
			m := im.new()
			fill(m, n)
			runtime.GC()
			b.ResetTimer()
			for range b.N {
				runtime.GC()
			}
			b.StopTimer()
			runtime.KeepAlive(m)
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapAlloc
}

// BenchmarkLoadString measures Load with string keys on a pre-filled map
// of 100k keys.
func BenchmarkLoadString(b *testing.B) {
	const n = 100_000
	keys := make([]string, 2*n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%08d", i)
	}
	benchStringLoads(b, n, keys, []stringImpl{
		{"Map", func() stringMap { return safemap.New[string, int64]() }},
		{"SyncMap", func() stringMap { return safemap.NewSyncMap[string, int64]() }},
		{"RWMap", func() stringMap { return safemap.NewRWMap[string, int64]() }},
		{"ShardedMap", func() stringMap { return safemap.NewShardedMap[string, int64]() }},
		{"xsync", func() stringMap { return xsync.NewMap[string, int64]() }},
	})
}

// computeMap is what BenchmarkInsertDuringSlowCompute drives.
type computeMap interface {
	LoadOrStore(key, value int64) (int64, bool)
	LoadOrCompute(key int64, fn func() int64) (int64, bool)
}

// computeImpl is a map that the LoadOrCompute benchmarks drive.
type computeImpl struct {
	name string
	new  func() computeMap
}

// computeImpls are the compute-once maps both LoadOrCompute benchmarks run.
var computeImpls = []computeImpl{
	{"Map", func() computeMap { return safemap.New[int64, int64]() }},
	{"SyncMap", func() computeMap { return safemap.NewSyncMap[int64, int64]() }},
	{"ShardedMap", func() computeMap { return safemap.NewShardedMap[int64, int64]() }},
	{"xsync", func() computeMap { return xsyncCompute{xsync.NewMap[int64, int64]()} }},
}

// xsyncCompute adapts xsync's LoadOrCompute, whose function can cancel.
type xsyncCompute struct{ *xsync.Map[int64, int64] }

func (x xsyncCompute) LoadOrCompute(key int64, fn func() int64) (int64, bool) {
	return x.Map.LoadOrCompute(key, func() (int64, bool) { return fn(), false })
}

// BenchmarkInsertDuringSlowCompute measures the insert throughput of
// GOMAXPROCS goroutines while, with slow=on, another goroutine keeps a 1 ms
// LoadOrCompute function in flight on keys of the same map. The ratio of
// on to off is how much a slow loader costs everyone else.
func BenchmarkInsertDuringSlowCompute(b *testing.B) {
	impls := computeImpls
	for _, im := range impls {
		for _, slow := range []bool{false, true} {
			name := fmt.Sprintf("impl=%s/slow=off", im.name)
			if slow {
				name = fmt.Sprintf("impl=%s/slow=on", im.name)
			}
			b.Run(name, func(b *testing.B) {
				m := im.new()
				stop := make(chan struct{})
				var loader sync.WaitGroup
				if slow {
					loader.Add(1)
					go func() {
						defer loader.Done()
						for k := int64(-1); ; k-- {
							select {
							case <-stop:
								return
							default:
							}
							m.LoadOrCompute(k, func() int64 {
								time.Sleep(time.Millisecond) // the slow loader being measured
								return k
							})
						}
					}()
				}
				var goroutine atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					k := goroutine.Add(1) << 40
					for pb.Next() {
						m.LoadOrStore(k, k)
						k++
					}
				})
				b.StopTimer()
				close(stop)
				loader.Wait()
			})
		}
	}
}

// BenchmarkLoadOrCompute measures LoadOrCompute on a map pre-filled with
// 1024 keys, where newPct percent of the calls compute a new key (each
// goroutine its own, so no two goroutines ever miss the same key) and the
// rest hit a key the same goroutine computed before or one of the warm
// keys. It is the compute-once path's miss cost against xsync's, which
// runs fn under a bucket lock, and against each map's plain insert path
// (impl=LoadOrStore-*, not compute-once). The map grows with b.N, so
// compare runs of a fixed size, e.g. 50k-100k keys:
//
//	go test -run '^$' -bench 'LoadOrCompute' -benchtime 100000x -count 10 . | tee new.txt
//	benchstat -col /impl new.txt
func BenchmarkLoadOrCompute(b *testing.B) {
	const warm = 1024
	impls := append(computeImpls[:len(computeImpls):len(computeImpls)],
		// Not compute-once: Load, then LoadOrStore of fn's value. The
		// floor that each map's own insert path sets.
		computeImpl{"LoadOrStore-Map", func() computeMap { return loadThenStore{safemap.New[int64, int64]()} }},
		computeImpl{"LoadOrStore-xsync", func() computeMap { return loadThenStore{xsync.NewMap[int64, int64]()} }},
	)
	for _, newPct := range []int{0, 50, 99} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("impl=%s/new=%d%%", im.name, newPct), func(b *testing.B) {
				m := im.new()
				for k := range int64(warm) {
					m.LoadOrStore(k, k)
				}
				var goroutine atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					g := goroutine.Add(1)
					r := newGoroutineRand(uint64(g), 2)
					base, inserted := g<<40, int64(0)
					for pb.Next() {
						var k int64
						if r.IntN(100) < newPct {
							k = base + inserted
							inserted++
						} else if i := r.Int64N(warm + inserted); i < warm {
							k = i
						} else {
							k = base + i - warm
						}
						m.LoadOrCompute(k, computeOne)
					}
				})
			})
		}
	}
}

// loadThenStore is LoadOrCompute without its guarantee: fn runs on every
// miss, racing callers each run it, and LoadOrStore keeps the first value.
type loadThenStore struct {
	m interface {
		Load(key int64) (int64, bool)
		LoadOrStore(key, value int64) (int64, bool)
	}
}

func (l loadThenStore) LoadOrStore(key, value int64) (int64, bool) {
	return l.m.LoadOrStore(key, value)
}

func (l loadThenStore) LoadOrCompute(key int64, fn func() int64) (int64, bool) {
	if v, ok := l.m.Load(key); ok {
		return v, true
	}
	return l.m.LoadOrStore(key, fn())
}

// computeOne is BenchmarkLoadOrCompute's value function: it captures
// nothing, so that the benchmark itself allocates no closure per call.
func computeOne() int64 { return 1 }
