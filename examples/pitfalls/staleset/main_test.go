package main

import "testing"

const (
	keys    = 100
	lookups = 3
)

// Channels order every key's events (the load reads v1, the writer stores
// v2 and deletes the key, the load returns), so the counts are exact on
// every run, not bounds.

func TestBroken_EveryKeyServesTheStaleValueForever(t *testing.T) {
	for _, nc := range brokenCaches() {
		t.Run(nc.code, func(t *testing.T) {
			t.Cleanup(nc.c.Close)
			o := staleSet(nc.c, keys, lookups)
			if o.loadsReturnedOld != keys {
				t.Errorf("loads that returned v1 to their caller: got %d; want %d", o.loadsReturnedOld, keys)
			}
			if o.staleKeys != keys || o.staleLookups != keys*lookups {
				t.Errorf("stale: got %d keys, %d later lookups; want all %d keys, all %d lookups",
					o.staleKeys, o.staleLookups, keys, keys*lookups)
			}
			if o.loads != keys { // v1 stays a hit: the loader never runs again
				t.Errorf("loader calls: got %d; want %d, one per key", o.loads, keys)
			}
		})
	}
}

func TestFixed_NoKeyServesTheStaleValue(t *testing.T) {
	for _, nc := range fixedCaches() {
		t.Run(nc.code, func(t *testing.T) {
			t.Cleanup(nc.c.Close)
			o := staleSet(nc.c, keys, lookups)
			if o.loadsReturnedOld != keys { // the caller that ran the load still gets its value
				t.Errorf("loads that returned v1 to their caller: got %d; want %d", o.loadsReturnedOld, keys)
			}
			if o.staleKeys != 0 || o.staleLookups != 0 {
				t.Errorf("stale: got %d keys, %d later lookups; want 0, 0", o.staleKeys, o.staleLookups)
			}
			if o.loads != 2*keys { // v1 was not stored, so the first later lookup loads v2
				t.Errorf("loader calls: got %d; want %d, two per key", o.loads, 2*keys)
			}
		})
	}
}
