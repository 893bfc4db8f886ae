package main

import (
	"hash/maphash"
	"iter"
	"sync"

	"github.com/alphadose/haxmap"
	cmap "github.com/orcaman/concurrent-map/v2"
	"github.com/puzpuzpuz/xsync/v4"
	"github.com/safemap-go/safemap"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// target is the part of a map the workloads drive. Keys are int or string;
// values are int. Every safemap strategy satisfies it as it is; peers get
// a small adapter each.
type target[K comparable] interface {
	Load(key K) (int, bool)
	Store(key K, value int)
	LoadOrStore(key K, value int) (int, bool)
	// LoadOrCompute returns the value for key, calling fn to create it if
	// the key is missing. Peers without a native compute-once operation
	// implement it with the idiom their users write, and their impl.about
	// says which; the workloads count how often fn really runs.
	LoadOrCompute(key K, fn func() int) (int, bool)
	Delete(key K)
	Len() int
}

// filler is implemented by maps that fill faster in one batch than one key
// at a time: the copy-on-write SnapshotMap copies itself on every Store, so
// it is filled with StoreAll.
type filler[K comparable] interface {
	StoreAll(entries iter.Seq2[K, int])
}

// impl is one implementation mapbench can measure.
type impl struct {
	// name is how tables, charts and bench.txt name it: safemap's
	// strategies by their type ("safemap.Map"), the peers by theirs
	// ("sync.Map", "xsync.Map") or their module ("cmap", "haxmap"), so that
	// safemap.SyncMap and sync.Map are not confused.
	name string
	// alias is a shorter name -impls also accepts ("Map", "xsync").
	alias     string
	about     string // one line for -list and the report notes
	peer      bool   // not part of safemap
	isDefault bool   // the map safemap.New returns
	// readOnly marks the built-in map: it may only be read concurrently, so
	// it runs the read-only workloads and is "unsupported" elsewhere.
	readOnly bool
	// computeNote is set when LoadOrCompute is an emulation that may call
	// fn more than once or while holding a lock; reports repeat it.
	computeNote string
	newInt      func() target[int]
	newString   func() target[string]
}

// newTarget returns a fresh, empty map of im for key type K.
func newTarget[K comparable](im *impl) target[K] {
	var zero K
	switch any(zero).(type) {
	case int:
		return any(im.newInt()).(target[K])
	case string:
		return any(im.newString()).(target[K])
	}
	panic("mapbench: unsupported key type")
}

// impls lists every implementation in report order: safemap's strategies
// first, then the peers, then the built-in lower bound.
var impls = []*impl{
	{
		name:      "safemap.Map",
		alias:     "Map",
		isDefault: true,
		about:     "safemap.New: the default map (lock-free reads, inline entries, compute-once without locks)",
		newInt:    func() target[int] { return safemap.New[int, int]() },
		newString: func() target[string] { return safemap.New[string, int]() },
	},
	{
		name:      "safemap.SyncMap",
		alias:     "SyncMap",
		about:     "safemap.NewSyncMap: typed sync.Map with compute-once",
		newInt:    func() target[int] { return safemap.NewSyncMap[int, int]() },
		newString: func() target[string] { return safemap.NewSyncMap[string, int]() },
	},
	{
		name:      "safemap.RWMap",
		alias:     "RWMap",
		about:     "safemap.NewRWMap: a built-in map behind one sync.RWMutex",
		newInt:    func() target[int] { return safemap.NewRWMap[int, int]() },
		newString: func() target[string] { return safemap.NewRWMap[string, int]() },
	},
	{
		name:      "safemap.ShardedMap",
		alias:     "ShardedMap",
		about:     "safemap.NewShardedMap: built-in maps behind per-shard RWMutexes",
		newInt:    func() target[int] { return safemap.NewShardedMap[int, int]() },
		newString: func() target[string] { return safemap.NewShardedMap[string, int]() },
	},
	{
		name:      "safemap.SnapshotMap",
		alias:     "SnapshotMap",
		about:     "safemap.NewSnapshotMap: copy-on-write snapshot, O(1) reads and O(n) writes",
		newInt:    func() target[int] { return safemap.NewSnapshotMap[int, int]() },
		newString: func() target[string] { return safemap.NewSnapshotMap[string, int]() },
	},
	{
		name:        "sync.Map",
		about:       "sync.Map used as most code uses it (untyped; a hash trie since Go 1.24)",
		peer:        true,
		computeNote: "no LoadOrCompute: measured as Load, then LoadOrStore(key, fn()), which runs fn once per caller that misses",
		newInt:      func() target[int] { return new(syncMapTarget[int]) },
		newString:   func() target[string] { return new(syncMapTarget[string]) },
	},
	{
		name:        "xsync.Map",
		alias:       "xsync",
		about:       "github.com/puzpuzpuz/xsync/v4 Map",
		peer:        true,
		computeNote: "LoadOrCompute runs fn while holding a bucket lock (other keys in the bucket and resizes wait)",
		newInt:      func() target[int] { return xsyncTarget[int]{xsync.NewMap[int, int]()} },
		newString:   func() target[string] { return xsyncTarget[string]{xsync.NewMap[string, int]()} },
	},
	{
		name:        "cmap",
		about:       "github.com/orcaman/concurrent-map/v2: 32 shards of built-in maps behind RWMutexes",
		peer:        true,
		computeNote: "no LoadOrCompute: measured as Get, then Upsert, whose callback runs fn while holding the shard lock",
		newInt:      func() target[int] { return newCmapTarget[int]() },
		newString:   func() target[string] { return newCmapTarget[string]() },
	},
	{
		name:        "haxmap",
		about:       "github.com/alphadose/haxmap: lock-free sorted linked list with an index",
		peer:        true,
		computeNote: "GetOrCompute calls fn in every caller that misses and may return a value that was not stored",
		newInt:      func() target[int] { return haxmapTarget[int]{haxmap.New[int, int]()} },
		newString:   func() target[string] { return haxmapTarget[string]{haxmap.New[string, int]()} },
	},
	{
		name:      "builtin",
		about:     "a built-in map read without a lock: the lower bound for a lookup (read-only workloads only)",
		peer:      true,
		readOnly:  true,
		newInt:    func() target[int] { return builtinTarget[int]{} },
		newString: func() target[string] { return builtinTarget[string]{} },
	},
}

// syncMapTarget is a raw sync.Map, asserting values on the way out.
type syncMapTarget[K comparable] struct{ m sync.Map }

func (t *syncMapTarget[K]) Load(key K) (int, bool) {
	v, ok := t.m.Load(key)
	if !ok {
		return 0, false
	}
	return v.(int), true
}

func (t *syncMapTarget[K]) Store(key K, value int) { t.m.Store(key, value) }

func (t *syncMapTarget[K]) LoadOrStore(key K, value int) (int, bool) {
	v, loaded := t.m.LoadOrStore(key, value)
	return v.(int), loaded
}

func (t *syncMapTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	if v, ok := t.m.Load(key); ok {
		return v.(int), true
	}
	v, loaded := t.m.LoadOrStore(key, fn())
	return v.(int), loaded
}

func (t *syncMapTarget[K]) Delete(key K) { t.m.Delete(key) }

func (t *syncMapTarget[K]) Len() int {
	n := 0
	for range t.m.Range {
		n++
	}
	return n
}

// xsyncTarget adapts xsync's names (Size, a cancellable LoadOrCompute).
type xsyncTarget[K comparable] struct{ *xsync.Map[K, int] }

func (t xsyncTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	return t.Map.LoadOrCompute(key, func() (int, bool) { return fn(), false })
}

func (t xsyncTarget[K]) Len() int { return t.Size() }

// cmapTarget adapts concurrent-map, whose non-string keys need a sharding
// function; it is given a seeded maphash, as fair as our own.
type cmapTarget[K comparable] struct{ m cmap.ConcurrentMap[K, int] }

func newCmapTarget[K comparable]() cmapTarget[K] {
	seed := maphash.MakeSeed()
	return cmapTarget[K]{cmap.NewWithCustomShardingFunction[K, int](func(key K) uint32 {
		return uint32(maphash.Comparable(seed, key))
	})}
}

func (t cmapTarget[K]) Load(key K) (int, bool)       { return t.m.Get(key) }
func (t cmapTarget[K]) Store(key K, value int)       { t.m.Set(key, value) }
func (t cmapTarget[K]) Delete(key K)                 { t.m.Remove(key) }
func (t cmapTarget[K]) Len() int                     { return t.m.Count() }
func (t cmapTarget[K]) StoreAll(e iter.Seq2[K, int]) { t.m.MSet(mapOf(e)) }

func (t cmapTarget[K]) LoadOrStore(key K, value int) (int, bool) {
	loaded := false
	v := t.m.Upsert(key, value, func(exist bool, old, new int) int {
		loaded = exist
		if exist {
			return old
		}
		return new
	})
	return v, loaded
}

func (t cmapTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	if v, ok := t.m.Get(key); ok {
		return v, true
	}
	loaded := false
	v := t.m.Upsert(key, 0, func(exist bool, old, _ int) int {
		loaded = exist
		if exist {
			return old
		}
		return fn()
	})
	return v, loaded
}

// haxmapTarget adapts haxmap's names.
type haxmapTarget[K interface{ int | string }] struct{ m *haxmap.Map[K, int] }

func (t haxmapTarget[K]) Load(key K) (int, bool) { return t.m.Get(key) }
func (t haxmapTarget[K]) Store(key K, value int) { t.m.Set(key, value) }
func (t haxmapTarget[K]) Delete(key K)           { t.m.Del(key) }
func (t haxmapTarget[K]) Len() int               { return int(t.m.Len()) }

func (t haxmapTarget[K]) LoadOrStore(key K, value int) (int, bool) {
	return t.m.GetOrSet(key, value)
}

func (t haxmapTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	return t.m.GetOrCompute(key, fn)
}

// builtinTarget is a built-in map. Only Load is safe concurrently; the
// runner fills it before any goroutine starts and never writes during a
// measurement.
type builtinTarget[K comparable] map[K]int

func (t builtinTarget[K]) Load(key K) (int, bool) {
	v, ok := t[key]
	return v, ok
}

func (t builtinTarget[K]) Store(key K, value int) { t[key] = value }
func (t builtinTarget[K]) Delete(key K)           { delete(t, key) }
func (t builtinTarget[K]) Len() int               { return len(t) }

func (t builtinTarget[K]) LoadOrStore(key K, value int) (int, bool) {
	if v, ok := t[key]; ok {
		return v, true
	}
	t[key] = value
	return value, false
}

func (t builtinTarget[K]) LoadOrCompute(key K, fn func() int) (int, bool) {
	if v, ok := t[key]; ok {
		return v, true
	}
	v := fn()
	t[key] = v
	return v, false
}

func mapOf[K comparable](e iter.Seq2[K, int]) map[K]int {
	m := make(map[K]int)
	for k, v := range e {
		m[k] = v
	}
	return m
}

// fillTarget stores every entry of e in t, in one batch where t can.
func fillTarget[K comparable](t target[K], e iter.Seq2[K, int]) {
	if f, ok := t.(filler[K]); ok {
		f.StoreAll(e)
		return
	}
	for k, v := range e {
		t.Store(k, v)
	}
}

// findImpl returns the implementation called name (or by its alias), or
// nil.
func findImpl(name string) *impl {
	for _, im := range impls {
		if im.name == name || im.alias != "" && im.alias == name {
			return im
		}
	}
	return nil
}

// kind is the implementation's results kind.
func (im *impl) kind() string {
	switch {
	case im.readOnly:
		return results.KindBound
	case im.peer:
		return results.KindPeer
	}
	return results.KindSafemap
}
