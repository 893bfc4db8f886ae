package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelInstallHint says how to get redis-sentinel.
const SentinelInstallHint = "install it with `apt-get install redis-sentinel`"

// ErrNoSentinel reports that redis-sentinel is not on PATH.
var ErrNoSentinel = errors.New("redistest: redis-sentinel is not on PATH: " + SentinelInstallHint)

// Failover is a Sentinel deployment on loopback: a primary, one replica of
// it, and three redis-sentinel processes that monitor the primary under
// Name with a quorum of two. The sentinels declare a primary down after
// DownAfter without an answer, so a killed primary is replaced within a few
// seconds.
type Failover struct {
	Name      string
	Primary   *Server // the primary at the start; after a failover, a replica or dead
	Replica   *Server
	Sentinels []*Server
}

// DownAfter is the sentinels' down-after-milliseconds.
const DownAfter = 300 * time.Millisecond

// StartFailover starts a primary, its replica and three sentinels, and
// waits (at most 30 s) until the replica is in sync and every sentinel
// knows the replica and the two other sentinels, so that a failover can
// start at once. Stop them with [Failover.Stop].
func StartFailover() (*Failover, error) {
	sentinelBin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		return nil, ErrNoSentinel
	}
	f := &Failover{Name: "redistest"}
	// A primary waits repl-diskless-sync-delay (5 s by default) for more
	// replicas before it starts a full sync; with one replica, nothing is
	// gained by waiting. Both servers get the setting: either may be the
	// primary after a failover.
	noDelay := []string{"--repl-diskless-sync-delay", "0"}
	if f.Primary, err = Start(noDelay...); err != nil {
		return nil, err
	}
	if f.Replica, err = Start(append(noDelay, "--replicaof", "127.0.0.1", strconv.Itoa(f.Primary.Port()))...); err != nil {
		f.Stop()
		return nil, err
	}
	if err := f.startSentinels(sentinelBin); err != nil {
		f.Stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.waitReady(ctx); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// startSentinels starts the three sentinels. Each is told the others (and
// the replica) in its configuration, with run IDs fixed in advance, so
// that none waits for the others' hello messages (sent every 2 s) before a
// failover can start. The ports are picked before the processes start, so
// another process may take one meanwhile: then all three start again, on
// new ports.
func (f *Failover) startSentinels(bin string) error {
	var err error
	for range 5 {
		var ports [3]int
		for i := range ports {
			if ports[i], err = FreePort(); err != nil {
				return err
			}
		}
		id := func(i int) string { return fmt.Sprintf("%040x", i+1) }
		f.Sentinels = nil
		for i, port := range ports {
			conf := fmt.Sprintf("sentinel myid %s\n"+
				"sentinel monitor %[2]s 127.0.0.1 %[3]d 2\n"+
				"sentinel down-after-milliseconds %[2]s %[4]d\n"+
				"sentinel failover-timeout %[2]s 5000\n"+
				"sentinel parallel-syncs %[2]s 1\n"+
				"sentinel known-replica %[2]s 127.0.0.1 %[5]d\n",
				id(i), f.Name, f.Primary.Port(), DownAfter.Milliseconds(), f.Replica.Port())
			for j, other := range ports {
				if j != i {
					conf += fmt.Sprintf("sentinel known-sentinel %s 127.0.0.1 %d %s\n", f.Name, other, id(j))
				}
			}
			var s *Server
			if s, err = startIn(bin, conf, port, nil); err != nil {
				break
			}
			f.Sentinels = append(f.Sentinels, s)
		}
		if err == nil {
			return nil
		}
		for _, s := range f.Sentinels {
			s.Stop()
		}
	}
	f.Sentinels = nil
	return err
}

// RunFailover is StartFailover for a test: it skips the test if
// redis-server or redis-sentinel is not on PATH, except under CI=true,
// where that fails the test; it fails the test if the deployment does not
// start, and stops it when the test ends.
func RunFailover(t testing.TB) *Failover {
	t.Helper()
	Require(t)
	RequireSentinel(t)
	f, err := StartFailover()
	if err != nil {
		t.Fatalf("starting a Sentinel deployment: %v", err)
	}
	t.Cleanup(f.Stop)
	return f
}

// RequireSentinel skips t if redis-sentinel is not on PATH, or fails it
// under CI=true, where it must be installed.
func RequireSentinel(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-sentinel"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-sentinel is not on PATH, and CI=true requires it: %s", SentinelInstallHint)
		}
		t.Skipf("redis-sentinel is not on PATH: %s to run this test", SentinelInstallHint)
	}
}

// SentinelAddrs returns the sentinels' addresses, for
// redis.FailoverOptions.SentinelAddrs.
func (f *Failover) SentinelAddrs() []string {
	var addrs []string
	for _, s := range f.Sentinels {
		addrs = append(addrs, s.Addr())
	}
	return addrs
}

// MasterAddr returns the primary's address as the first sentinel that
// answers sees it.
func (f *Failover) MasterAddr(ctx context.Context) (string, error) {
	var err error
	for _, s := range f.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		var addr []string
		addr, err = c.GetMasterAddrByName(ctx, f.Name).Result()
		c.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1], nil
		}
	}
	return "", fmt.Errorf("redistest: no sentinel names the primary: %v", err)
}

// Stop stops every process of the deployment. It is safe to call more
// than once.
func (f *Failover) Stop() {
	for _, s := range f.Sentinels {
		s.Stop()
	}
	for _, s := range []*Server{f.Primary, f.Replica} {
		if s != nil {
			s.Stop()
		}
	}
}

// waitReady polls (bounded by ctx) until the replica's link is up and
// every sentinel sees one replica and two other sentinels.
func (f *Failover) waitReady(ctx context.Context) error {
	replica := redis.NewClient(&redis.Options{Addr: f.Replica.Addr()})
	defer replica.Close()
	for {
		info, err := replica.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("redistest: the replica did not sync: %v %q", err, info)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's state
	}
	for _, s := range f.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		for {
			replicas, err1 := c.Replicas(ctx, f.Name).Result()
			sentinels, err2 := c.Sentinels(ctx, f.Name).Result()
			if err1 == nil && err2 == nil && len(replicas) == 1 && len(sentinels) == 2 {
				break
			}
			if ctx.Err() != nil {
				c.Close()
				return fmt.Errorf("redistest: sentinel %s sees %d replicas and %d other sentinels; want 1 and 2", s.Addr(), len(replicas), len(sentinels))
			}
			time.Sleep(50 * time.Millisecond) // polling another process's state
		}
		c.Close()
	}
	return nil
}
