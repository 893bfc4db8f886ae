package redismap_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// Pairs of (Prefix, key) that read alike when the prefix and the key are
// joined with the separator: each pair must still name two entries.
var concatenatingAlike = [][2]struct{ prefix, key string }{
	{{"P", "sub:1"}, {"P:sub", "1"}},
	{{"a", ":b"}, {"a:", "b"}},
	{{"a", "b:c:d"}, {"a:b:c", "d"}},
	{{"x", "1:x:1"}, {"1", "x:1"}}, // a prefix that looks like a length
}

func TestKeyNames_DistinctPrefixAndKeyPairsNeverShareAKey(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	owner := map[string]string{} // Redis key → the (Prefix, key) pair that named it
	for _, pair := range concatenatingAlike {
		for _, pk := range pair {
			m, err := redismap.New(client, redismap.Options[string, string]{Prefix: pk.prefix})
			if err != nil {
				t.Fatal(err)
			}
			v, l, f, err := m.KeyNames(pk.key)
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			who := fmt.Sprintf("(Prefix %q, key %q)", pk.prefix, pk.key)
			for _, name := range []string{v, l, f} {
				if other, ok := owner[name]; ok {
					t.Errorf("%s and %s both name the Redis key %q; want distinct keys", other, who, name)
				}
				owner[name] = who
			}
		}
	}
	// Every prefix and key of up to 3 characters from an alphabet of the
	// separator, a digit, a letter and a brace.
	var short []string
	var grow func(s string)
	grow = func(s string) {
		short = append(short, s)
		if len(s) < 3 {
			for _, c := range []string{":", "1", "a", "}"} {
				grow(s + c)
			}
		}
	}
	grow("")
	owner = map[string]string{}
	for _, p := range short {
		if p == "" || strings.Contains(p, "}") {
			continue // the default prefix, and prefixes New rejects
		}
		m, err := redismap.New(client, redismap.Options[string, string]{Prefix: p})
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range short {
			v, _, _, _ := m.KeyNames(key)
			who := fmt.Sprintf("(Prefix %q, key %q)", p, key)
			if other, ok := owner[v]; ok {
				t.Errorf("%s and %s both name the Redis key %q; want distinct keys", other, who, v)
			}
			owner[v] = who
		}
		m.Close()
	}
}

// The collision an outside test found: Prefix "P" with key "sub:1" and
// Prefix "P:sub" with key "1" were one Redis key, so Map B read Map A's
// value and never called its own loader.
func TestMap_PrefixesThatConcatenateAlikeShareNoEntry(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	ctx := testContext(t)
	base := prefix(t)
	a := newMap(t, srv.client(t), redismap.Options[string, string]{Prefix: base})
	b := newMap(t, srv.client(t), redismap.Options[string, string]{Prefix: base + ":sub"})
	if err := a.Store(ctx, "sub:1", "A's value"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Load(ctx, "1"); ok || err != nil {
		t.Errorf("B.Load(1) = (%q, %v, %v); want absent: A's entry is not B's", v, ok, err)
	}
	calls := 0
	v, loaded, err := b.LoadOrTryCompute(ctx, "1", func(context.Context) (string, error) {
		calls++
		return "B's value", nil
	})
	if err != nil || loaded || v != "B's value" || calls != 1 {
		t.Errorf("B.LoadOrTryCompute(1) = (%q, %v, %v) with %d loader calls; want B's own value from one call", v, loaded, err, calls)
	}
	if v, _, err := a.Load(ctx, "sub:1"); err != nil || v != "A's value" {
		t.Errorf("A.Load(sub:1) = (%q, %v); want A's value untouched", v, err)
	}
}
