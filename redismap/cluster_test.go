package redismap_test

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
)

// startCluster starts three redis-server nodes with cluster mode on, on
// free loopback ports (and free cluster-bus ports), joins them with
// redis-cli --cluster create, and waits (bounded) until the cluster is ok.
func startCluster(t *testing.T) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		redisServerPath(t) // skip or fail as for redis-server
		t.Fatalf("redis-cli is not on PATH: install it with `apt-get install redis-tools`")
	}
	var addrs []string
	for range 3 {
		bus, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				c.Close()
				t.Fatalf("node %s: cluster not ok within 60s: %v %q", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond) // polling the cluster's convergence
		}
		c.Close()
	}
	return addrs
}

func TestCluster_ScriptsRunOnTheEntrysSlotAndWaitersAreWokenAcrossNodes(t *testing.T) {
	t.Parallel()
	addrs := startCluster(t)
	newClient := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx := testContext(t)
	client := newClient()
	if err := client.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: 5 * time.Second}
	m := newMap(t, client, opts)

	// Keys spread over the nodes; each entry's keys share one slot, and
	// every operation works on every node.
	nodes := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprint("user:", i)
		v, loaded, err := m.LoadOrTryCompute(ctx, key, func(context.Context) (string, error) { return "v" + key, nil })
		if err != nil || loaded || v != "v"+key {
			t.Fatalf("LoadOrTryCompute(%q) = (%q, %v, %v)", key, v, loaded, err)
		}
		if err := m.Store(ctx, key, "s"+key); err != nil {
			t.Fatalf("Store(%q): %v", key, err)
		}
		if got, ok, err := m.Load(ctx, key); !ok || err != nil || got != "s"+key {
			t.Fatalf("Load(%q) = (%q, %v, %v)", key, got, ok, err)
		}
		vk, lk, fk, _ := m.KeyNames(key)
		slot := client.ClusterKeySlot(ctx, vk).Val()
		if l, f := client.ClusterKeySlot(ctx, lk).Val(), client.ClusterKeySlot(ctx, fk).Val(); l != slot || f != slot {
			t.Errorf("key %q: slots %d %d %d; want one slot", key, slot, l, f)
		}
		// The fence key exists, on the node that owns the slot.
		if n := client.Exists(ctx, fk).Val(); n != 1 {
			t.Errorf("key %q: fence key missing", key)
		}
		node, err := client.MasterForKey(ctx, vk)
		if err != nil {
			t.Fatal(err)
		}
		nodes[node.Options().Addr] = true
		if err := m.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
	}
	if len(nodes) < 2 {
		t.Errorf("30 keys landed on %d node(s); want them spread", len(nodes))
	}

	// A holder and a waiter on separate cluster clients: the commit's
	// notification, published on the entry's node, reaches the waiter's
	// subscription through the cluster bus.
	holder, waiter, waiting := holderAndWaiter(t, newClient(), newClient(), opts)
	started, finish := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		holder.LoadOrTryCompute(ctx, "hot", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "from-holder", nil
		})
	}()
	<-started
	got := loadFromWaiter(ctx, waiter, "hot")
	receive(t, waiting, "the waiter to wait")
	begin := time.Now()
	close(finish)
	if v := receive(t, got, "the waiter's value"); v != "from-holder" {
		t.Errorf("the waiter got %q; want the holder's value", v)
	}
	if d := time.Since(begin); d > 2*time.Second || waiter.Stats().WakeUps != 1 {
		t.Errorf("the waiter took %v with %d wake-ups; want a notification, not the 5 s lease", d, waiter.Stats().WakeUps)
	}
	wg.Wait()

	// Issue 20's parts on the same cluster: batches pipeline one script per
	// slot group to the nodes in parallel (one pipeline for acquire, one for
	// commit).
	exerciseEveryPart(t, func() redis.UniversalClient { return newClient() }, 2)
}
