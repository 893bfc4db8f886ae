package main

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/Yiling-J/theine-go"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// The cache workloads compare safemap's cache (package cache) with the
// bounded, expiring Go caches, on the rows issue 18 sets targets for: a
// hit, a LoadOrCompute mix whose misses evict, and the memory an entry
// costs. They are a group of their own: their rows are caches, not the
// maps of -impls (every cache runs whatever -impls says), and their keys
// are ints (-keytype string marks them unsupported). -workloads cache
// selects the three.

// cacheGroup is the -workloads name that selects every cache workload.
const cacheGroup = "cache"

// cacheTarget is the part of a cache the workloads drive.
type cacheTarget interface {
	// Load returns the value of a present, unexpired key without loading.
	Load(key int) (int, bool)
	// Store sets key's value.
	Store(key, value int)
	// LoadOrCompute returns key's value, computing and storing it on a
	// miss with the cache's own loading call, or the idiom its users write
	// where it has none (Get, then Set). The value function returns 1 and
	// captures nothing, so that no cache allocates a closure per call.
	LoadOrCompute(key int) int
	// Len is the number of entries held (counted by Load where the cache
	// keeps no exact count).
	Len() int
	// Close stops the cache's background goroutines, if any.
	Close()
}

// cacheImpl is one cache the cache workloads run.
type cacheImpl struct {
	name  string
	about string
	// new returns an empty cache bounded at maxEntries whose entries live
	// ttl after a write (0: no expiry).
	new func(maxEntries int, ttl time.Duration) cacheTarget
	// settle, when set, waits until writes and evictions the cache
	// buffers are applied.
	settle func(c cacheTarget)
}

// cacheImpls lists the caches, safemap's first (cache_ours.go adds it).
var cacheImpls = []*cacheImpl{
	{
		name:   "otter",
		about:  "github.com/maypok86/otter/v2: W-TinyLFU; Get with a loader (runs it under no lock, but concurrent Gets may run it twice: otter#152)",
		new:    newOtterTarget,
		settle: func(c cacheTarget) { c.(otterTarget).c.CleanUp() },
	},
	{
		name:   "ristretto",
		about:  "github.com/dgraph-io/ristretto/v2: TinyLFU admission, sampled LFU eviction, buffered Sets; no loader (Get, then Set)",
		new:    newRistrettoTarget,
		settle: func(c cacheTarget) { c.(*ristrettoTarget).c.Wait() },
	},
	{
		name:   "theine",
		about:  "github.com/Yiling-J/theine-go: W-TinyLFU; a LoadingCache whose loader is fixed when it is built",
		new:    newTheineTarget,
		settle: func(c cacheTarget) { c.(*theineTarget).c.Wait() },
	},
	{
		name:  "golang-lru",
		about: "github.com/hashicorp/golang-lru/v2 expirable LRU: one mutex; no loader (Get, then Add)",
		new:   newLRUTarget,
	},
}

// otterTarget adapts otter v2.
type otterTarget struct{ c *otter.Cache[int, int] }

func newOtterTarget(maxEntries int, ttl time.Duration) cacheTarget {
	o := &otter.Options[int, int]{MaximumSize: maxEntries}
	if ttl > 0 {
		o.ExpiryCalculator = otter.ExpiryWriting[int, int](ttl)
	}
	return otterTarget{otter.Must(o)}
}

var otterLoadOne = otter.LoaderFunc[int, int](func(context.Context, int) (int, error) { return 1, nil })

func (t otterTarget) Load(key int) (int, bool) { return t.c.GetIfPresent(key) }
func (t otterTarget) Store(key, value int)     { t.c.Set(key, value) }
func (t otterTarget) LoadOrCompute(key int) int {
	v, _ := t.c.Get(context.Background(), key, otterLoadOne)
	return v
}
func (t otterTarget) Len() int { return t.c.EstimatedSize() }
func (t otterTarget) Close()   { t.c.StopAllGoroutines() }

// ristrettoTarget adapts ristretto v2: cost 1 per entry, so that MaxCost
// is the entry bound.
type ristrettoTarget struct {
	c   *ristretto.Cache[int, int]
	ttl time.Duration
}

func newRistrettoTarget(maxEntries int, ttl time.Duration) cacheTarget {
	c, err := ristretto.NewCache(&ristretto.Config[int, int]{
		NumCounters: 10 * int64(maxEntries), MaxCost: int64(maxEntries),
		BufferItems: 64, IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	return &ristrettoTarget{c: c, ttl: ttl}
}

func (t *ristrettoTarget) Load(key int) (int, bool) { return t.c.Get(key) }

// Store retries a Set ristretto dropped because its buffer was full, so
// that a fill leaves the cache filled.
func (t *ristrettoTarget) Store(key, value int) {
	for !t.c.SetWithTTL(key, value, 1, t.ttl) {
		t.c.Wait()
	}
}

func (t *ristrettoTarget) LoadOrCompute(key int) int {
	if v, ok := t.c.Get(key); ok {
		return v
	}
	t.c.SetWithTTL(key, 1, 1, t.ttl)
	return 1
}

// Len counts the keys ristretto holds of those the workloads use (it
// keeps no count without its metrics, which cost every operation).
func (t *ristrettoTarget) Len() int { return -1 }
func (t *ristrettoTarget) Close()   { t.c.Close() }

// theineTarget adapts theine's LoadingCache; the workloads Load only
// present keys, where its Get is a plain hit.
type theineTarget struct {
	c   *theine.LoadingCache[int, int]
	ttl time.Duration
}

func newTheineTarget(maxEntries int, ttl time.Duration) cacheTarget {
	c, err := theine.NewBuilder[int, int](int64(maxEntries)).BuildWithLoader(
		func(context.Context, int) (theine.Loaded[int], error) {
			return theine.Loaded[int]{Value: 1, Cost: 1, TTL: ttl}, nil
		})
	if err != nil {
		panic(err)
	}
	return &theineTarget{c: c, ttl: ttl}
}

func (t *theineTarget) Load(key int) (int, bool) {
	v, err := t.c.Get(context.Background(), key)
	return v, err == nil
}
func (t *theineTarget) Store(key, value int) { t.c.SetWithTTL(key, value, 1, t.ttl) }
func (t *theineTarget) LoadOrCompute(key int) int {
	v, _ := t.c.Get(context.Background(), key)
	return v
}
func (t *theineTarget) Len() int { return t.c.Len() }
func (t *theineTarget) Close()   { t.c.Close() }

// lruTarget adapts golang-lru v2's expirable LRU.
type lruTarget struct{ c *expirable.LRU[int, int] }

func newLRUTarget(maxEntries int, ttl time.Duration) cacheTarget {
	return lruTarget{expirable.NewLRU[int, int](maxEntries, nil, ttl)}
}

func (t lruTarget) Load(key int) (int, bool) { return t.c.Get(key) }
func (t lruTarget) Store(key, value int)     { t.c.Add(key, value) }
func (t lruTarget) LoadOrCompute(key int) int {
	if v, ok := t.c.Get(key); ok {
		return v
	}
	t.c.Add(key, 1)
	return 1
}
func (t lruTarget) Len() int { return t.c.Len() }

// Close does nothing: the expirable LRU's cleanup goroutine has no stop.
func (t lruTarget) Close() {}

// The shape of the cache workloads, after BENCHMARKING.md's comparison:
// -keys hot keys read with Zipf s = 1.01, a bound of twice that, and for
// LoadOrCompute 10 % of the calls on a cold range twice the bound.
const (
	cacheZipfS   = 1.01
	cacheColdPct = 10
	cacheSeqLen  = 1 << 16 // the key sequence each goroutine replays
)

var cacheWorkloads = []*workload{
	{
		name: "cache-hit",
		description: "Load of present keys on a cache bounded at 2 × -keys entries and pre-filled with -keys keys, " +
			"read with Zipf s = 1.01 (every read should hit; miss% says where one did not).",
		param: "bound", primary: "ns/op", concurrent: true,
		variants:   []variant{{name: "bound=2×keys", param: 2}},
		contenders: cacheContenders(cacheHitCase),
		sampleCost: 2,
	},
	{
		name: "cache-compute",
		description: "LoadOrCompute on a cache bounded at 2 × -keys entries, full when sampling starts: 90 % of the calls read -keys hot keys " +
			"with Zipf s = 1.01, 10 % pick a key uniformly from a cold range of 4 × -keys, so that most of them miss, compute and evict.",
		param: "hot %", primary: "ns/op", concurrent: true,
		variants:   []variant{{name: "hot=90%", param: 90}},
		contenders: cacheContenders(cacheComputeCase),
		sampleCost: 2,
	},
	{
		name: "cache-memory",
		description: "Stores -keys keys into an empty cache bounded at -keys entries with a TTL of an hour, on one goroutine; " +
			"B/entry is the live heap the cache holds afterwards (its policy's sketch and queues included) per entry held.",
		param: "entries", primary: "B/entry",
		contenders: cacheContenders(cacheMemoryCase),
		sampleCost: 4,
	},
}

// expandCacheGroup replaces the group name "cache" in a -workloads list
// with the names of its workloads.
func expandCacheGroup(list string) string {
	var out []string
	for _, w := range strings.Split(list, ",") {
		if strings.TrimSpace(w) == cacheGroup {
			for _, cw := range cacheWorkloads {
				out = append(out, cw.name)
			}
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, ",")
}

// cacheCaseFunc sets up one cache case and returns its sampler and the
// function that closes the cache it keeps (nil for none); n is -keys.
type cacheCaseFunc func(ci *cacheImpl, n int, st setting, d time.Duration) (sample func() results.Sample, closeFn func())

// cacheContenders makes one contender per cache for a cache workload.
func cacheContenders(setup cacheCaseFunc) func(r *runner, st setting) []contender {
	return func(r *runner, st setting) []contender {
		out := make([]contender, len(cacheImpls))
		for i, ci := range cacheImpls {
			out[i].name = ci.name
			if st.keyType != "int" {
				out[i].unsupported = "the cache workloads use int keys"
				continue
			}
			var closeFn func()
			out[i].start = func() (func() results.Sample, func() []string) {
				var sample func() results.Sample
				sample, closeFn = setup(ci, r.keys, st, r.duration)
				return sample, nil
			}
			out[i].release = func() {
				if closeFn != nil {
					closeFn()
					closeFn = nil
				}
			}
		}
		return out
	}
}

// fillCache stores keys 0..n-1 into c and waits until c has applied them.
func fillCache(ci *cacheImpl, c cacheTarget, n int) {
	for k := range n {
		c.Store(k, k)
	}
	if ci.settle != nil {
		ci.settle(c)
	}
}

// cacheLen is how many of keys 0..n-1 c holds.
func cacheLen(c cacheTarget, n int) int {
	if l := c.Len(); l >= 0 {
		return l
	}
	held := 0
	for k := range n {
		if _, ok := c.Load(k); ok {
			held++
		}
	}
	return held
}

// zipfSeqs returns one key sequence per goroutine, Zipf s = 1.01 over keys
// 0..n-1, the most frequent ranks mapped to random keys.
func zipfSeqs(goroutines, n int) [][]int32 {
	perm := rand.New(rand.NewPCG(8, 9)).Perm(n)
	seqs := make([][]int32, goroutines)
	for id := range seqs {
		z := rand.NewZipf(rand.New(rand.NewPCG(uint64(id), 10)), cacheZipfS, 1, uint64(max(n-1, 1)))
		seqs[id] = make([]int32, cacheSeqLen)
		for i := range seqs[id] {
			seqs[id][i] = int32(perm[min(int(z.Uint64()), n-1)])
		}
	}
	return seqs
}

// cacheHitCase: Zipf Loads of present keys.
func cacheHitCase(ci *cacheImpl, n int, st setting, d time.Duration) (func() results.Sample, func()) {
	c := ci.new(2*n, 0)
	fillCache(ci, c, n)
	seqs := zipfSeqs(st.goroutines, n)
	return func() results.Sample {
		misses := make([]int64, st.goroutines)
		s := measure(spec{goroutines: st.goroutines, duration: d}, func(w *worker, ops int) bool {
			seq, missed := seqs[w.id], int64(0)
			for range ops {
				if _, ok := c.Load(int(seq[w.next()>>48&(cacheSeqLen-1)])); !ok {
					missed++
				}
			}
			misses[w.id] += missed
			return true
		})
		var total int64
		for _, m := range misses {
			total += m
		}
		if s.Ops > 0 {
			s.Metrics["miss%"] = 100 * float64(total) / float64(s.Ops)
		}
		return s
	}, c.Close
}

// cacheComputeCase: 90 % Zipf hot keys, 10 % a cold range twice the bound.
func cacheComputeCase(ci *cacheImpl, n int, st setting, d time.Duration) (func() results.Sample, func()) {
	bound := 2 * n
	c := ci.new(bound, 0)
	fillCache(ci, c, n)
	for k := n; k < n+2*bound; k += 2 {
		c.LoadOrCompute(k) // half the cold range: full, evicting from here on
	}
	if ci.settle != nil {
		ci.settle(c)
	}
	seqs := zipfSeqs(st.goroutines, n)
	return func() results.Sample {
		return measure(spec{goroutines: st.goroutines, duration: d}, func(w *worker, ops int) bool {
			seq := seqs[w.id]
			for range ops {
				r := w.next()
				k := int(seq[r>>48&(cacheSeqLen-1)])
				if r%100 < cacheColdPct {
					k = n + int(r>>8%uint64(2*bound))
				}
				c.LoadOrCompute(k)
			}
			return true
		})
	}, c.Close
}

// cacheMemoryCase: bytes per entry of a cache bounded at n, TTL an hour.
func cacheMemoryCase(ci *cacheImpl, n int, _ setting, _ time.Duration) (func() results.Sample, func()) {
	return func() results.Sample {
		before := liveHeap()
		var msBefore, msAfter runtime.MemStats
		runtime.ReadMemStats(&msBefore)
		t0 := time.Now()
		c := ci.new(n, time.Hour)
		fillCache(ci, c, n)
		elapsed := time.Since(t0)
		runtime.ReadMemStats(&msAfter)
		s := sampleOf(int64(n), elapsed, &msBefore, &msAfter)
		after := liveHeap()
		held := cacheLen(c, n)
		c.Close()
		runtime.KeepAlive(c)
		s.Metrics["B/entry"] = (float64(after) - float64(before)) / float64(max(held, 1))
		s.Metrics["held%"] = 100 * float64(held) / float64(n)
		return s
	}, nil
}

// cacheListRows are the cache workloads' rows of mapbench list, and one
// row per cache.
func cacheListRows() (workloadRows, implRows [][3]string) {
	for _, w := range cacheWorkloads {
		var vs []string
		for _, v := range w.variants {
			vs = append(vs, v.name)
		}
		if len(vs) == 0 {
			vs = []string{"keys=<-keys>"}
		}
		workloadRows = append(workloadRows, [3]string{w.name, strings.Join(vs, " "), w.description})
	}
	for _, ci := range cacheImpls {
		implRows = append(implRows, [3]string{ci.name, "cache", ci.about})
	}
	return workloadRows, implRows
}
