package safemap_test

import (
	"testing"

	"github.com/safemap-go/safemap"
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
	}
	t.Fatalf("unknown impl %q", im.name)
	return nil
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
