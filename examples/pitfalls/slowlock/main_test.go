package main

import (
	"testing"
	"time"

	"github.com/safemap-go/safemap"
)

// testConfig is small: the assertions need only a clear gap, not precision,
// and the test runs under -race on a busy 2-core machine. Many short rounds,
// normal and slow windows alternating, keep noise from the rest of the
// machine out of the median; one reader leaves a P free for the goroutine
// that times the windows.
var testConfig = config{readers: 1, keys: 1000, slow: 5 * time.Millisecond, rounds: 21}

func TestBroken_OtherKeysStallWhileOneKeyLoads(t *testing.T) {
	r := measure(&lockedCache{m: make(map[int]string)}, testConfig)
	t.Logf("normal: %d lookups in %v; during slow loads: %d lookups in %v; ratios %.3f, median %.3f",
		r.normalOps, r.normalTime, r.slowOps, r.slowTime, r.ratios, r.ratio())
	if r.normalOps == 0 {
		t.Fatal("the readers made no lookups outside the slow loads")
	}
	// Every lookup waits for the write lock the loader holds: the readers
	// keep next to nothing of their throughput (0.00 in practice).
	if got := r.ratio(); got >= 0.1 {
		t.Errorf("throughput kept while one key loads: got %.3f; want < 0.1", got)
	}
}

func TestFixed_OtherKeysKeepTheirThroughput(t *testing.T) {
	r := measure(safemapCache{safemap.New[int, string]()}, testConfig)
	t.Logf("normal: %d lookups in %v; during slow loads: %d lookups in %v; ratios %.3f, median %.3f",
		r.normalOps, r.normalTime, r.slowOps, r.slowTime, r.ratios, r.ratio())
	// The ratio is about 1 in practice, but it is a speed, and speeds on a
	// shared machine belong in benchmarks. What this test proves is the
	// property: lookups of other keys go on while one key loads. The broken
	// cache makes none at all in any round; here, lookups must complete
	// during the slow load in most rounds (a reader descheduled for a whole
	// 5 ms window may miss one now and then).
	served := 0
	for _, ratio := range r.ratios {
		if ratio > 0 {
			served++
		}
	}
	if served*2 <= len(r.ratios) {
		t.Errorf("lookups of other keys went on during the slow load in %d of %d rounds; want most", served, len(r.ratios))
	}
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{{0, "0"}, {999.4, "999"}, {1000, "1,000"}, {57195663, "57,195,663"}} {
		if got := thousands(tc.x); got != tc.want {
			t.Errorf("thousands(%v): got %q; want %q", tc.x, got, tc.want)
		}
	}
}
