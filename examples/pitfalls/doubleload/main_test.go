package main

import (
	"testing"

	"github.com/safemap-go/safemap"
)

const (
	goroutines = 8
	keys       = 100
)

func TestBroken_LoaderRunsMoreThanOncePerKey(t *testing.T) {
	o := stampede(&doubleCheckedCache{m: make(map[int]string)}, goroutines, keys)
	// The loader holds each key missing until every goroutine has asked
	// for it, so nearly all goroutines load every key (about 800 loads);
	// one extra load anywhere is enough to show the pitfall.
	if o.loads <= keys {
		t.Errorf("loads: got %d; want more than the %d keys", o.loads, keys)
	}
	if o.stored != keys {
		t.Errorf("keys stored: got %d; want %d", o.stored, keys)
	}
	if o.disagreed != 0 { // the second check keeps the first value stored
		t.Errorf("lookups that returned another value than the stored one: got %d; want 0", o.disagreed)
	}
	t.Logf("%d loads for %d keys, at most %d for one key", o.loads, keys, o.maxLoadsPerKey)
}

func TestFixed_LoaderRunsOncePerKey(t *testing.T) {
	o := stampede(safemapCache{safemap.New[int, string]()}, goroutines, keys)
	if o.loads != keys || o.maxLoadsPerKey != 1 {
		t.Errorf("loads: got %d, at most %d for one key; want %d, one per key", o.loads, o.maxLoadsPerKey, keys)
	}
	if o.stored != keys {
		t.Errorf("keys stored: got %d; want %d", o.stored, keys)
	}
	if o.disagreed != 0 {
		t.Errorf("lookups that returned another value than the stored one: got %d; want 0", o.disagreed)
	}
}
