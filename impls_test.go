package safemap_test

import (
	"testing"
	"time"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/cache"
)

// impl names one way of building a map under test. Every conformance,
// linearizability and fuzz test runs once per entry of impls; newMap
// builds it. A new strategy joins every suite with an entry here, a case
// in newMap, and the rules it keeps: a bounded or expiring cache, whose
// entries may vanish, is lossy (see mapRules in oracle_test.go).
type impl struct {
	name string
	// zero builds the map as a zero value (new(T)) instead of via its
	// constructor, proving the zero value is ready for use.
	zero bool
	// badHash builds the map with a deliberately poor hash function
	// (see export_test.go), proving correctness does not depend on it.
	badHash bool
	// variant picks a configuration of a strategy that has several (the
	// cache's options); "" is the default one.
	variant string
	// rules says what the map may do where maps differ, for the oracle.
	rules mapRules
}

func (im impl) String() string {
	s := im.name
	if im.zero {
		s += "/zero"
	}
	if im.badHash {
		s += "/badhash"
	}
	if im.variant != "" {
		s += "/" + im.variant
	}
	return s
}

// impls lists every strategy and variant the shared suite covers.
var impls = []impl{
	{name: "Map", rules: computeMayLoad},
	{name: "Map", zero: true, rules: computeMayLoad},
	{name: "Map", badHash: true, rules: computeMayLoad},
	{name: "SyncMap", rules: computeMayLoad},
	{name: "SyncMap", zero: true, rules: computeMayLoad},
	{name: "RWMap"},
	{name: "RWMap", zero: true},
	{name: "ShardedMap"},
	{name: "ShardedMap", zero: true},
	{name: "ShardedMap", badHash: true},
	{name: "SnapshotMap", rules: computeMayLoad},
	{name: "SnapshotMap", zero: true, rules: computeMayLoad},
	{name: "Profile", rules: computeMayLoad}, // a Profile wrapping New keeps the whole contract
	// The cache with zero Options is exactly a Map; with a bound and a TTL
	// that nothing in the suite reaches, its maintenance runs on every
	// write and must change nothing visible.
	{name: "Cache", rules: computeMayLoad},
	{name: "Cache", variant: "maintained", rules: computeMayLoad},
	// The loaders of issue 19: ErrorTTL (the model remembers errors too),
	// RefreshAfter (every entry carries a refresh timestamp; no refresh is
	// reached, as one replaces a value behind the caller's back, which the
	// model cannot state) and NegativeTTL (the suite's loaders fail with
	// their own error, never ErrNotFound). The cache package's own tests
	// (cache/loaders_test.go) cover reached refreshes and ErrNotFound.
	{name: "Cache", variant: "loaders", rules: mapRules{computeMayLoad: true, remembersErrors: true}},
}

// lossyImpls are the strategies whose entries may vanish: the cache with a
// tiny bound, and with a TTL of a few milliseconds. Only the suites that
// know the lossy rules run them: the model oracle (its random driver and
// FuzzOps) and the linearizability checks (with linLossyModel). The cache
// package's own tests cover the rest of their behaviour.
var lossyImpls = []impl{
	{name: "Cache", variant: "small", rules: mapRules{lossy: true, computeMayLoad: true}},
	{name: "Cache", variant: "ttl", rules: mapRules{lossy: true, computeMayLoad: true}},
}

// newCache builds the cache variant im names.
func newCache[K comparable, V any](t testing.TB, im impl) *cache.Cache[K, V] {
	t.Helper()
	var opts cache.Options[K, V]
	switch im.variant {
	case "":
	case "maintained":
		opts = cache.Options[K, V]{MaxEntries: 1 << 20, TTL: time.Hour}
	case "loaders":
		opts = cache.Options[K, V]{MaxEntries: 1 << 20, TTL: 2 * time.Hour, RefreshAfter: time.Hour, NegativeTTL: time.Hour, ErrorTTL: time.Hour}
	case "small":
		opts = cache.Options[K, V]{MaxEntries: 3}
	case "ttl":
		opts = cache.Options[K, V]{TTL: 2 * time.Millisecond}
	default:
		t.Fatalf("unknown cache variant %q", im.variant)
	}
	c, err := cache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// computeMayLoad is the rules of the maps whose Compute lets fn call Load
// (each says so in its Compute's documentation).
var computeMayLoad = mapRules{computeMayLoad: true}

// newMap builds an empty map of strategy im with key type K and value type V.
// Generic functions cannot be passed as values, so this dispatcher stands in
// for "a constructor" in the suite.
func newMap[K comparable, V any](t testing.TB, im impl) safemap.ConcurrentMap[K, V] {
	t.Helper()
	switch im.name {
	case "Map":
		if im.zero {
			return new(safemap.Map[K, V])
		}
		if im.badHash {
			return safemap.New[K, V](safemap.WithBadHash())
		}
		return safemap.New[K, V]()
	case "SyncMap":
		if im.zero {
			return new(safemap.SyncMap[K, V])
		}
		return safemap.NewSyncMap[K, V]()
	case "RWMap":
		if im.zero {
			return new(safemap.RWMap[K, V])
		}
		return safemap.NewRWMap[K, V]()
	case "ShardedMap":
		if im.zero {
			return new(safemap.ShardedMap[K, V])
		}
		if im.badHash {
			return safemap.NewShardedMap[K, V](safemap.WithBadHash())
		}
		return safemap.NewShardedMap[K, V]()
	case "SnapshotMap":
		if im.zero {
			return new(safemap.SnapshotMap[K, V])
		}
		return safemap.NewSnapshotMap[K, V]()
	case "Profile":
		return safemap.NewProfile[K, V](safemap.New[K, V]())
	case "Cache":
		return newCache[K, V](t, im)
	}
	t.Fatalf("unknown impl %q", im.name)
	return nil
}

// forEachImplAndLossy runs f as a subtest for every entry of impls and of
// lossyImpls.
func forEachImplAndLossy(t *testing.T, f func(t *testing.T, im impl)) {
	t.Helper()
	for _, im := range append(impls[:len(impls):len(impls)], lossyImpls...) {
		t.Run(im.String(), func(t *testing.T) {
			f(t, im)
		})
	}
}

// forEachImpl runs f as a subtest for every entry of impls.
func forEachImpl(t *testing.T, f func(t *testing.T, im impl)) {
	t.Helper()
	for _, im := range impls {
		t.Run(im.String(), func(t *testing.T) {
			f(t, im)
		})
	}
}
