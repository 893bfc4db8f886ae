package cache_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap/cache"
)

func TestNew_InvalidOptionsNameEveryBadField(t *testing.T) {
	weigh := func(string, int) uint32 { return 1 }
	cases := []struct {
		name string
		o    cache.Options[string, int]
		want []string
	}{
		{"negatives", cache.Options[string, int]{MaxEntries: -1, TTL: -time.Second, RefreshAfter: -1, NegativeTTL: -1, ErrorTTL: -1, MaxBatch: -1, RefreshTimeout: -1},
			[]string{"MaxEntries", "TTL", "RefreshAfter", "NegativeTTL", "ErrorTTL", "MaxBatch", "RefreshTimeout"}},
		{"MaxWeight without Weigher", cache.Options[string, int]{MaxWeight: 10}, []string{"MaxWeight"}},
		{"Weigher without MaxWeight", cache.Options[string, int]{Weigher: weigh}, []string{"Weigher"}},
		{"both bounds", cache.Options[string, int]{MaxEntries: 5, MaxWeight: 10, Weigher: weigh}, []string{"MaxEntries and MaxWeight"}},
		{"refresh after expiry", cache.Options[string, int]{TTL: time.Second, RefreshAfter: 2 * time.Second}, []string{"RefreshAfter"}},
	}
	for _, c := range cases {
		_, err := cache.New(c.o)
		if !errors.Is(err, cache.ErrInvalidOptions) {
			t.Fatalf("%s: New: got %v; want an error matching ErrInvalidOptions", c.name, err)
		}
		var oe *cache.OptionsError
		if !errors.As(err, &oe) || len(oe.Problems) != len(c.want) {
			t.Fatalf("%s: New: got %v; want one problem for each of %v", c.name, err, c.want)
		}
		for _, field := range c.want {
			if !strings.Contains(err.Error(), field) {
				t.Errorf("%s: New: got %q; want it to name %s", c.name, err, field)
			}
		}
	}
}

func TestNew_ValidOptionsAreAccepted(t *testing.T) {
	for _, o := range []cache.Options[string, int]{
		{},
		{MaxEntries: 10, TTL: time.Minute, RefreshAfter: time.Second},
		{MaxWeight: 100, Weigher: func(string, int) uint32 { return 2 }, TTLFunc: func(string, int) time.Duration { return time.Second }},
		{NegativeTTL: time.Second, ErrorTTL: time.Second, MaxBatch: 10},
	} {
		c, err := cache.New(o)
		if err != nil {
			t.Fatalf("New(%+v): %v", o, err)
		}
		c.Close()
	}
}

func TestEvictCause_StringNamesEachCause(t *testing.T) {
	for c, want := range map[cache.EvictCause]string{cache.EvictSize: "EvictSize", cache.EvictExpired: "EvictExpired", 9: "EvictCause(9)"} {
		if got := c.String(); got != want {
			t.Errorf("EvictCause(%d).String() = %q; want %q", int(c), got, want)
		}
	}
}
