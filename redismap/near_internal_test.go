package redismap

import (
	"context"
	"testing"
)

func TestNearFill_KeepsNothingForAKeyThatWasGoneWhenItsTTLWasRead(t *testing.T) {
	var stats counters
	n := newNotifier(context.Background(), nil, "", &stats)
	n.state.Store(3) // connected
	c := newNearCache[string](10, 1e12, n, &stats)
	defer c.close()
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
