package redismap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// BenchmarkRemoteHit compares a hit that goes to Redis with a plain
// go-redis GET of the same entry on the same client, interleaved in rounds
// of 10 as BENCHMARKING.md asks: each iteration times 10 GETs and 10 hits
// (the order alternates), and x-GET is the hits' time over the GETs'. The
// noise of a shared host reaches both halves of a round alike.
//
//	go test -run '^$' -bench RemoteHit -benchtime 300x -count 6 ./redismap/ > hit.txt
//	benchstat -col /impl hit.txt
//
// The rows: the acquire script alone (what a hit cost when LoadOrTryCompute
// ran it first); LoadOrTryCompute's hit and Load's; a bare go-redis
// pipeline of GET and PTTL; and LoadOrTryCompute with a near cache that
// misses, two ways: reading the value's remaining TTL with a pipelined
// PTTL (as before values carried their expiry, and as a cluster client
// still reads), and with one GET, the value's stored expiry bounding the
// near-cache entry (a TIME rides along once a second).
func BenchmarkRemoteHit(b *testing.B) {
	srv := redistest.Run(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	m, err := New(client, Options[string, string]{Prefix: "bench-hit"})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	nearMap := func(prefix string) *Map[string, string] {
		mm, err := New(client, Options[string, string]{Prefix: prefix, NearCache: NearCacheOptions{Size: 10}})
		if err != nil {
			b.Fatal(err)
		}
		return mm
	}
	near, nearPTTL := nearMap("bench-hit-near"), nearMap("bench-hit-near-pttl")
	defer near.Close()
	defer nearPTTL.Close()
	nearPTTL.clock.usable.Store(false) // reads the TTL with PTTL, as a cluster client does
	const key = "user:42"
	for _, mm := range []*Map[string, string]{m, near, nearPTTL} {
		if err := mm.Store(ctx, key, "value"); err != nil {
			b.Fatal(err)
		}
	}
	for _, mm := range []*Map[string, string]{near, nearPTTL} {
		if err := mm.Ready(ctx); err != nil {
			b.Fatal(err)
		}
	}
	keys := m.keys(key)
	loader := func(context.Context) (string, error) { return "", fmt.Errorf("the loader ran on a hit") }
	check := func(b *testing.B, v string, ok bool, err error) {
		if err != nil || !ok || v != "value" {
			b.Fatalf("got (%q, %v, %v); want the stored value", v, ok, err)
		}
	}
	// The near cache must miss every time: drop its entry after each call
	// (and check that the call had filled it).
	nearMiss := func(mm *Map[string, string]) {
		if _, _, ok := mm.near.get(key); !ok {
			b.Fatal("a near-cache miss did not fill the near cache")
		}
		mm.near.invalidate(key)
	}
	get := func() {
		v, err := client.Get(ctx, keys.value).Result()
		// The stored form: a header, then the value.
		check(b, "value", strings.HasSuffix(v, "value"), err)
	}
	nearMissPTTL := func() {
		v, loaded, err := nearPTTL.LoadOrTryCompute(ctx, key, loader)
		check(b, v, loaded, err)
		nearMiss(nearPTTL)
	}
	nearMissGET := func() {
		v, loaded, err := near.LoadOrTryCompute(ctx, key, loader)
		check(b, v, loaded, err)
		nearMiss(near)
	}
	rows := []struct {
		impl string
		hit  func()
	}{
		{"acquire-script", func() {
			r, err := runAcquire(ctx, client, keys, "5000", "60000")
			check(b, "value", r.outcome == acquiredEntry, err)
		}},
		{"redismap-LoadOrTryCompute", func() {
			v, loaded, err := m.LoadOrTryCompute(ctx, key, loader)
			check(b, v, loaded, err)
		}},
		{"redismap-Load", func() {
			v, ok, err := m.Load(ctx, key)
			check(b, v, ok, err)
		}},
		{"bare-pipeline-GET-PTTL", func() {
			var v *redis.StringCmd
			_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
				v = p.Get(ctx, keys.value)
				p.PTTL(ctx, keys.value)
				return nil
			})
			check(b, "value", strings.HasSuffix(v.Val(), "value"), err)
		}},
		{"redismap-near-miss-PTTL-LoadOrTryCompute", nearMissPTTL},
		{"redismap-near-miss-GET-LoadOrTryCompute", nearMissGET},
	}
	for _, r := range rows {
		b.Run("impl="+r.impl, func(b *testing.B) { interleaved(b, r.hit, get, "GET") })
	}
	// Before and after in one stream: the near-cache miss that reads the
	// stored expiry against the one that pipelines a PTTL.
	b.Run("impl=redismap-near-miss-GET-vs-PTTL", func(b *testing.B) { interleaved(b, nearMissGET, nearMissPTTL, "PTTL-path") })
}

// interleaved times rounds of 10 calls of hit and 10 of base, alternating
// which goes first, and reports hit's time over base's as x-<baseName>.
func interleaved(b *testing.B, hit, base func(), baseName string) {
	const round = 10
	timed := func(f func()) time.Duration {
		start := time.Now()
		for range round {
			f()
		}
		return time.Since(start)
	}
	var tBase, tHit time.Duration
	i := 0
	for b.Loop() {
		if i++; i%2 == 0 {
			tBase += timed(base)
			tHit += timed(hit)
		} else {
			tHit += timed(hit)
			tBase += timed(base)
		}
	}
	n := float64(b.N * round)
	b.ReportMetric(float64(tHit)/float64(tBase), "x-"+baseName)
	b.ReportMetric(float64(tHit.Nanoseconds())/n, "hit-ns")
	b.ReportMetric(float64(tBase.Nanoseconds())/n, baseName+"-ns")
}
