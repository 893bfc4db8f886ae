package redismap

import (
	"context"
	"testing"
)

// connectedNearCache returns a near cache of size entries whose notifier
// reads as subscribed, with no Redis behind it, closed when t ends.
func connectedNearCache(t testing.TB, size int, stats *counters) *nearCache[string] {
	n := newNotifier(context.Background(), nil, "", stats)
	n.state.Store(3) // generation 1, connected
	c := newNearCache[string](size, 1e12, n, stats)
	t.Cleanup(c.close)
	return c
}

func TestNearFill_KeepsNothingForAKeyThatWasGoneWhenItsTTLWasRead(t *testing.T) {
	c := connectedNearCache(t, 10, new(counters))
	for _, tc := range []struct {
		pttl int64
		want bool
	}{{-2, false}, {-1, true}, {0, false}, {1000, true}} {
		p := c.reserve("k")
		c.fill("k", p, "v", monotime(), tc.pttl, -1)
		if _, _, ok := c.get("k"); ok != tc.want {
			t.Errorf("after a fill with PTTL %d: cached = %v; want %v", tc.pttl, ok, tc.want)
		}
		c.invalidate("k")
	}
}
