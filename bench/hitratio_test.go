package bench_test

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/maypok86/otter/v2"
	"github.com/safemap-go/safemap/cache"
	"github.com/safemap-go/safemap/internal/tinylfu"
)

// The hit-ratio comparison replays access traces on one goroutine through each policy, the
// way docs/BENCHMARKING.md's hidden tests do: for every access, look the key up; on a miss,
// store it. The hit ratio is hits ÷ accesses. Because a replay is deterministic, the test
// may assert on it (it measures choices, not time):
//
//	go test -run 'TestHitRatio' -v ./bench            # full-size traces, prints the table
//	go test -run '^$' -bench 'HitRatio' -benchtime 1x ./bench   # the same as benchmark metrics
//
// Under -short the generated traces shrink tenfold.

// hitTrace is a named sequence of keys replayed at several cache sizes.
type hitTrace struct {
	name  string
	keys  func(size int) []uint64 // the trace may depend on the cache size (the loop does)
	sizes []int
	real  bool // a public trace: the deltas are reported, not asserted
}

// zipfKeys returns n draws of keys 0..space-1 with P(rank k) ∝ 1/(k+1)^s, for any s > 0
// (math/rand's Zipf needs s > 1), by inverting the cumulative distribution.
func zipfKeys(r *rand.Rand, space, n int, s float64) []uint64 {
	cdf := make([]float64, space)
	sum := 0.0
	for k := range cdf {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	keys := make([]uint64, n)
	for i := range keys {
		u := r.Float64() * sum
		keys[i] = uint64(sort.SearchFloat64s(cdf, u))
	}
	return keys
}

// recencyKeys returns n accesses with temporal locality but no lasting popularity: 60 %
// repeat a key seen a log-uniformly distributed number of accesses ago (up to space), the
// rest are new keys. LRU does well here and a frequency filter must widen its window to keep
// up: it exercises the adaptive window.
func recencyKeys(r *rand.Rand, space, n int) []uint64 {
	keys := make([]uint64, n)
	next := uint64(0)
	for i := range keys {
		if i > 0 && r.Float64() < 0.6 {
			d := int(math.Exp(r.Float64() * math.Log(float64(min(i, space)))))
			keys[i] = keys[i-max(d, 1)]
			continue
		}
		keys[i] = next
		next++
	}
	return keys
}

// generatedTraces are issue 18 §6's traces over a key space of space keys, with n accesses
// each, at cache sizes of 1 % and 10 % of the key space.
func generatedTraces(space, n int) []hitTrace {
	sizes := []int{space / 100, space / 10}
	zipf := func(s float64, seed uint64) func(int) []uint64 {
		return func(int) []uint64 { return zipfKeys(rand.New(rand.NewPCG(seed, 1)), space, n, s) }
	}
	return []hitTrace{
		{name: "zipf0.8", keys: zipf(0.8, 8), sizes: sizes},
		{name: "zipf1.0", keys: zipf(1.0, 10), sizes: sizes},
		{name: "zipf1.2", keys: zipf(1.2, 12), sizes: sizes},
		{name: "loop1.5x", sizes: sizes, keys: func(size int) []uint64 {
			// A loop over 1.5× the cache size: LRU gets nothing, a policy that keeps a
			// fixed subset gets about 2/3.
			keys := make([]uint64, n)
			period := size * 3 / 2
			for i := range keys {
				keys[i] = uint64(i % period)
			}
			return keys
		}},
		{name: "zipf+scan", sizes: sizes, keys: func(int) []uint64 {
			// Zipf 1.0 with a burst of one-time keys (a scan as long as the key space) in the
			// middle: a scan-resistant policy keeps the hot set through it.
			keys := zipfKeys(rand.New(rand.NewPCG(20, 1)), space, n, 1.0)
			scan := make([]uint64, space)
			for i := range scan {
				scan[i] = uint64(space + i)
			}
			mid := len(keys) / 2
			return append(keys[:mid:mid], append(scan, keys[mid:]...)...)
		}},
		{name: "recency", sizes: sizes, keys: func(int) []uint64 {
			return recencyKeys(rand.New(rand.NewPCG(40, 1)), space, n)
		}},
		{name: "phases", sizes: sizes, keys: func(size int) []uint64 {
			// Recency, then Zipf 1.0, then a loop 1.5× the cache, then recency again, each
			// a quarter of the trace on keys of its own: the window must move both ways.
			q := n / 4
			rec := recencyKeys(rand.New(rand.NewPCG(50, 1)), space, q)
			z := zipfKeys(rand.New(rand.NewPCG(51, 1)), space, q, 1.0)
			keys := make([]uint64, 0, 4*q)
			keys = append(keys, rec...)
			for _, k := range z {
				keys = append(keys, k+uint64(4*space))
			}
			for i := range q {
				keys = append(keys, uint64(8*space+i%(size*3/2)))
			}
			for _, k := range recencyKeys(rand.New(rand.NewPCG(52, 1)), space, q) {
				keys = append(keys, k+uint64(12*space))
			}
			return keys
		}},
		{name: "shift", sizes: sizes, keys: func(int) []uint64 {
			// Zipf 1.0 whose hot set moves to a disjoint range of keys halfway through.
			keys := zipfKeys(rand.New(rand.NewPCG(30, 1)), space, n, 1.0)
			for i := len(keys) / 2; i < len(keys); i++ {
				keys[i] += uint64(space)
			}
			return keys
		}},
	}
}

// realTraces are small public traces kept in testdata (see testdata/README.md for their
// sources and licences), each at sizes spread over its number of distinct keys.
func realTraces(t testing.TB) []hitTrace {
	var out []hitTrace
	for _, rt := range []struct {
		name  string
		file  string
		sizes []int
	}{
		{"gli", "testdata/gli.trace.gz", []int{250, 500, 1000}},
	} {
		keys := readTrace(t, rt.file)
		out = append(out, hitTrace{name: rt.name, sizes: rt.sizes, real: true,
			keys: func(int) []uint64 { return keys }})
	}
	return out
}

// readTrace reads a gzipped trace of one decimal key per line; lines that are not numbers
// (the LIRS format's "*" checkpoints) are skipped.
func readTrace(t testing.TB, path string) []uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var keys []uint64
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		k, err := strconv.ParseUint(strings.TrimSpace(sc.Text()), 10, 64)
		if err == nil {
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// replayCache is a cache under replay: get looks key up and stores it on a miss, reporting
// whether it hit.
type replayCache interface {
	get(key uint64) bool
	len() int
}

type replayImpl struct {
	name string
	new  func(size int) replayCache
}

var replayImpls = []replayImpl{
	{"cache", func(size int) replayCache { return newCacheReplay(size) }},
	{"otter", func(size int) replayCache { return newOtterReplay(size) }},
	{"tinylfu", func(size int) replayCache { return newPolicyReplay(size) }},
	{"s3fifo", func(size int) replayCache { return newS3FIFOReplay(size) }},
	{"sieve", func(size int) replayCache { return newSIEVEReplay(size) }},
	{"lru", func(size int) replayCache { return newLRUReplay(size) }},
}

// cacheReplay is safemap's cache.Cache bounded by MaxEntries, driven as a user would:
// Load, and Store on a miss.
type cacheReplay struct{ c *cache.Cache[uint64, uint64] }

func newCacheReplay(size int) *cacheReplay {
	c, err := cache.New(cache.Options[uint64, uint64]{MaxEntries: size})
	if err != nil {
		panic(err)
	}
	return &cacheReplay{c: c}
}

func (r *cacheReplay) get(key uint64) bool {
	if _, ok := r.c.Load(key); ok {
		return true
	}
	r.c.Store(key, key)
	return false
}

func (r *cacheReplay) len() int { return r.c.Len() }

// policyReplay drives tinylfu.Policy as the cache does: a table of key → entry; a hit
// only Touches the entry's node, a miss Adds one, and evicted nodes leave the table.
type policyReplay struct {
	p     *tinylfu.Policy
	table map[uint64]*replayEntry
	evict func(*tinylfu.Node)
}

// replayEntry embeds the node first, so a *Node converts back to its entry.
type replayEntry struct {
	node tinylfu.Node
	key  uint64
}

func newPolicyReplay(size int) *policyReplay {
	r := &policyReplay{p: tinylfu.New(uint64(size)), table: make(map[uint64]*replayEntry, size)}
	r.evict = func(n *tinylfu.Node) {
		// Safety: every node the policy holds is the first field of a replayEntry.
		e := (*replayEntry)(unsafe.Pointer(n))
		delete(r.table, e.key)
	}
	return r
}

func (r *policyReplay) get(key uint64) bool {
	if e, ok := r.table[key]; ok {
		tinylfu.Touch(&e.node, e.node.Word.Load())
		return true
	}
	e := &replayEntry{key: key}
	e.node.Init(hashKey(key), 1)
	r.table[key] = e
	r.p.Add(&e.node, r.evict)
	return false
}

func (r *policyReplay) len() int { return len(r.table) }

// hashKey mixes a key as the cache's table hash would (splitmix64's finaliser).
func hashKey(k uint64) uint64 {
	k += 0x9e3779b97f4a7c15
	k = (k ^ (k >> 30)) * 0xbf58476d1ce4e5b9
	k = (k ^ (k >> 27)) * 0x94d049bb133111eb
	return k ^ (k >> 31)
}

// otterReplay is otter v2.4.0 bounded by MaximumSize, with its maintenance run on the
// calling goroutine as its own simulator does (an asynchronous executor drops accesses
// during a single-goroutine replay and flatters the challenger).
type otterReplay struct{ c *otter.Cache[uint64, uint64] }

func newOtterReplay(size int) *otterReplay {
	return &otterReplay{c: otter.Must(&otter.Options[uint64, uint64]{
		MaximumSize: size,
		Executor:    func(fn func()) { fn() },
	})}
}

func (r *otterReplay) get(key uint64) bool {
	if _, ok := r.c.GetIfPresent(key); ok {
		return true
	}
	r.c.Set(key, key)
	return false
}

func (r *otterReplay) len() int { return r.c.EstimatedSize() }

// replay runs keys through c and returns the hit ratio in percent. Every 1000 accesses it
// checks that c holds at most size + max(1 %, 64) entries.
func replay(t testing.TB, c replayCache, keys []uint64, size int) float64 {
	t.Helper()
	slack := max(size/100, 64)
	hits := 0
	for i, k := range keys {
		if c.get(k) {
			hits++
		}
		if i%1000 == 0 && c.len() > size+slack {
			t.Fatalf("after %d accesses: %d entries; bound %d + %d", i, c.len(), size, slack)
		}
	}
	return 100 * float64(hits) / float64(len(keys))
}

// traceSpace returns the generated traces' key space and length: 100k keys and 1M accesses,
// a tenth of each under -short, and 10k keys and 20k accesses under the race detector (as
// CI runs every test: it only slows a single-goroutine replay down tenfold).
func traceSpace() (space, n int) {
	switch {
	case raceEnabled:
		return 10_000, 20_000
	case testing.Short():
		return 10_000, 100_000
	}
	return 100_000, 1_000_000
}

// TestHitRatio_AtLeastOttersOnGeneratedTraces replays issue 18 §6's traces and fails if
// the cache's hit ratio (or its policy's, driven directly) is more than half a point below
// otter's at any size. Real traces are replayed too; their deltas are logged, not asserted.
func TestHitRatio_AtLeastOttersOnGeneratedTraces(t *testing.T) {
	tolerance := 0.5 // points: issue 18's target
	if raceEnabled {
		// The traces are 50 times shorter, and otter's spread between runs grows to about
		// a point on them (the loop at 1000 entries).
		tolerance = 1.0
	}
	space, n := traceSpace()
	traces := append(generatedTraces(space, n), realTraces(t)...)
	t.Logf("%-10s %7s %8s %8s %8s %7s", "trace", "size", "cache", "tinylfu", "otter¹", "delta²")
	defer t.Log("¹ median of three runs (the cache's too, without -race); ² cache - otter, in points")
	for _, tr := range traces {
		sizes := tr.sizes
		if raceEnabled {
			sizes = sizes[len(sizes)-1:] // the largest only: CI's -race run stays in seconds
		}
		for _, size := range sizes {
			keys := tr.keys(size)
			policy := replay(t, newPolicyReplay(size), keys, size)
			// otter and the cache seed their hashes at random, so their ratios move
			// between runs (otter's by up to 2 points at 1 % of the key space, the
			// cache's by about half a point at 10 %): compare median with median of
			// three (under -race the cache's is logged only, so one run does).
			theirs := medianOfThree(func() float64 { return replay(t, newOtterReplay(size), keys, size) })
			var ours float64
			if raceEnabled {
				ours = replay(t, newCacheReplay(size), keys, size)
			} else {
				ours = medianOfThree(func() float64 { return replay(t, newCacheReplay(size), keys, size) })
			}
			t.Logf("%-10s %7d %7.2f%% %7.2f%% %7.2f%% %+7.2f", tr.name, size, ours, policy, theirs, ours-theirs)
			if tr.real {
				continue
			}
			asserted := []struct {
				name  string
				ratio float64
			}{{"tinylfu", policy}, {"cache", ours}}
			if raceEnabled {
				// The cache seeds its hashes at random too; on traces this short its
				// ratio moves by a point or more between runs. The policy, driven with
				// fixed hashes, is deterministic.
				asserted = asserted[:1]
			}
			for _, r := range asserted {
				if r.ratio < theirs-tolerance {
					t.Errorf("%s at size %d: %s's hit ratio %.2f%%; want at least otter's %.2f%% - %.1f",
						tr.name, size, r.name, r.ratio, theirs, tolerance)
				}
			}
		}
	}
}

// medianOfThree returns the median of three calls of ratio.
func medianOfThree(ratio func() float64) float64 {
	runs := []float64{ratio(), ratio(), ratio()}
	sort.Float64s(runs)
	return runs[1]
}

// BenchmarkHitRatio reports each implementation's hit ratio per trace and size as the
// metric hit%, so benchstat can tabulate it (run with -benchtime 1x: a replay is a
// deterministic measurement, more iterations only repeat it).
func BenchmarkHitRatio(b *testing.B) {
	space, n := traceSpace()
	traces := append(generatedTraces(space, n), realTraces(b)...)
	for _, tr := range traces {
		for _, size := range tr.sizes {
			keys := tr.keys(size)
			for _, impl := range replayImpls {
				b.Run(fmt.Sprintf("trace=%s/size=%d/impl=%s", tr.name, size, impl.name), func(b *testing.B) {
					var ratio float64
					for b.Loop() {
						ratio = replay(b, impl.new(size), keys, size)
					}
					b.ReportMetric(ratio, "hit%")
				})
			}
		}
	}
}
