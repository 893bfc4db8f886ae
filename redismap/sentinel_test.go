package redismap_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// Failover on real Sentinels: a primary, a replica and three
// redis-sentinel processes (redistest.Failover), reached through
// go-redis's failover client. Each test names its fault (SENTINEL FAILOVER
// while a load is in flight; kill -9 of the primary) and checks what the
// guarantee promises: no caller hangs past its context or MaxLoad, no
// caller gets a value that was never loaded or stored, the tier works
// against the new primary within a bound (logged; docs/redis.md has the
// measured figures), and the documented weakening (a second loader, a
// commit that is fenced, lost or fails in transit) is counted in Stats.

const sentinelLease = time.Second

// failoverClient returns a go-redis failover client of f, closed when the
// test ends.
func failoverClient(t testing.TB, f *redistest.Failover) *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: f.Name, SentinelAddrs: f.SentinelAddrs()})
	t.Cleanup(func() { c.Close() })
	return c
}

// loadInBackground starts m.LoadOrTryCompute(ctx, key) with a loader that
// closes started (if not nil), waits for finish (if not nil) and returns
// value; the channel receives its outcome.
func loadInBackground(ctx context.Context, m *redismap.Map[string, string], key, value string, started chan<- struct{}, finish <-chan struct{}) <-chan outcome {
	res := make(chan outcome, 1)
	go func() {
		var at time.Time
		v, loaded, err := m.LoadOrTryCompute(ctx, key, func(context.Context) (string, error) {
			at = time.Now()
			if started != nil {
				close(started)
			}
			if finish != nil {
				<-finish
			}
			return value, nil
		})
		res <- outcome{v, loaded, err, at}
	}()
	return res
}

// checkOutcome fails t if o is a value no loader returned, or an error
// other than the ones a failover may cause (a fenced or lost commit
// returns the caller's own value; a request that failed in transit, or a
// caller's ctx, returns an error).
func checkOutcome(t *testing.T, who string, o outcome, loadedValues map[string]bool) {
	t.Helper()
	switch {
	case o.err == nil && loadedValues[o.v]:
	case errors.Is(o.err, redismap.ErrFenced) || errors.Is(o.err, redismap.ErrLeaseLost):
		if !loadedValues[o.v] {
			t.Errorf("%s got %q with %v; want its own loaded value", who, o.v, o.err)
		}
	case o.err != nil && o.v == "":
		t.Logf("%s got an error, as a failover allows: %v", who, o.err)
	case o.err != nil && !o.loadedAt.IsZero() && loadedValues[o.v]:
		t.Logf("%s got its own value with an error, as a failed commit allows: %v", who, o.err)
	default:
		t.Errorf("%s got (%q, %v); want a loaded value, or an error", who, o.v, o.err)
	}
}

// recoveryTimes is when, after a fault, the replica was promoted and the
// tier first completed a load that began on the promoted replica.
type recoveryTimes struct {
	promoted time.Duration // the replica first answered ROLE as a primary
	works    time.Duration // a load begun after that completed
	failed   int           // loads that failed meanwhile (errors, not hangs)
	longest  time.Duration // the longest single load meanwhile
}

// probeRecovery watches a failover from its fault, at since: one goroutine
// polls the replica's ROLE until it is a primary, and another loads fresh
// keys through m, one after another (each bounded), until a load that
// began after the promotion succeeds. The channel receives the times, or
// promoted < 0 if that did not happen within 30 s.
func probeRecovery(ctx context.Context, f *redistest.Failover, m *redismap.Map[string, string], since time.Time) <-chan recoveryTimes {
	res := make(chan recoveryTimes, 1)
	promoted := make(chan time.Time, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: f.Replica.Addr(), MaxRetries: -1})
		defer c.Close()
		for time.Since(since) < 30*time.Second {
			if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
				promoted <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond) // polling the replica's role
		}
	}()
	go func() {
		r := recoveryTimes{promoted: -1}
		var promotedAt time.Time
		for i := 0; time.Since(since) < 30*time.Second; i++ {
			if promotedAt.IsZero() {
				select {
				case promotedAt = <-promoted:
					r.promoted = promotedAt.Sub(since)
				default:
				}
			}
			begin := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			v, _, err := m.LoadOrTryCompute(cctx, fmt.Sprint("probe-", i), func(context.Context) (string, error) { return "fresh", nil })
			cancel()
			r.longest = max(r.longest, time.Since(begin))
			if err != nil || v != "fresh" {
				r.failed++
			} else if !promotedAt.IsZero() && !begin.Before(promotedAt) {
				r.works = time.Since(since)
				res <- r
				return
			}
			time.Sleep(5 * time.Millisecond) // one probe every few milliseconds: a steady trickle of loads
		}
		res <- recoveryTimes{promoted: -1}
	}()
	return res
}

// recovery waits for probeRecovery's answer and fails t if the tier did
// not work against the promoted replica within 30 s.
func recovery(t *testing.T, times <-chan recoveryTimes) recoveryTimes {
	t.Helper()
	r := receive(t, times, "the tier to work again")
	if r.promoted < 0 {
		t.Fatal("the tier did not work against the promoted replica within 30s")
	}
	return r
}

// waitForPrimary waits (bounded) until the sentinels name addr as the
// primary.
func waitForPrimary(t *testing.T, ctx context.Context, f *redistest.Failover, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if got, err := f.MasterAddr(ctx); err == nil && got == addr {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinels did not promote %s within 30s", addr)
		}
		time.Sleep(20 * time.Millisecond) // polling the sentinels
	}
}

// loadInFlight is the scene of a Sentinel fault test: a holder Map whose
// load of "k" is in flight (until finish is closed), a waiter Map waiting
// for it, each on a failover client of its own, and a probe Map on a third.
type loadInFlight struct {
	holder, waiter, probe  *redismap.Map[string, string]
	finish                 chan struct{}
	holderDone, waiterDone <-chan outcome
}

// startLoadInFlight sets the scene, and waits until the lease and the fence
// have reached the replica, as they usually have by the time a fault comes.
func startLoadInFlight(t *testing.T, ctx context.Context, f *redistest.Failover) loadInFlight {
	t.Helper()
	opts := redismap.Options[string, string]{Prefix: prefix(t), Lease: sentinelLease, MaxLoad: 10 * time.Second}
	holder, waiter, waiting := holderAndWaiter(t, failoverClient(t, f), failoverClient(t, f), opts)
	l := loadInFlight{holder: holder, waiter: waiter, finish: make(chan struct{})}
	started := make(chan struct{})
	l.holderDone = loadInBackground(ctx, holder, "k", "from-holder", started, l.finish)
	<-started
	l.waiterDone = loadInBackground(ctx, waiter, "k", "from-waiter", nil, nil)
	receive(t, waiting, "the waiter to wait")
	admin := failoverClient(t, f)
	if err := admin.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}
	l.probe = newMap(t, admin, opts)
	return l
}

func TestSentinel_ForcedFailoverDuringALoadKeepsTheGuarantees(t *testing.T) {
	t.Parallel()
	f := redistest.RunFailover(t)
	ctx := testContext(t)
	l := startLoadInFlight(t, ctx, f)
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: f.Sentinels[0].Addr()})
	defer sentinel.Close()
	failedOver := time.Now()
	if err := sentinel.Failover(ctx, f.Name).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	recovered := probeRecovery(ctx, f, l.probe, failedOver)
	waitForPrimary(t, ctx, f, f.Replica.Addr())
	close(l.finish) // the holder commits after the switch
	rh := receive(t, l.holderDone, "the holder")
	rw := receive(t, l.waiterDone, "the waiter")
	took := recovery(t, recovered)
	t.Logf("SENTINEL FAILOVER: replica promoted after %v, a load on it done after %v (%d loads failed meanwhile, the longest took %v); holder (%q, %v), waiter (%q, %v)",
		took.promoted, took.works, took.failed, took.longest, rh.v, rh.err, rw.v, rw.err)

	loadedValues := map[string]bool{"from-holder": true}
	if !rw.loadedAt.IsZero() {
		loadedValues["from-waiter"] = true
	}
	checkOutcome(t, "the holder", rh, loadedValues)
	checkOutcome(t, "the waiter", rw, loadedValues)
	checkStatsAccountForTheWeakening(t, []outcome{rh, rw}, l.holder.Stats(), l.waiter.Stats(), l.probe.Stats())
	// What the new primary holds is a loaded value, or nothing.
	if v, ok, err := l.holder.Load(ctx, "k"); err != nil || (ok && !loadedValues[v]) {
		t.Errorf("the new primary holds (%q, %v, %v); want a loaded value or none", v, ok, err)
	}
}

func TestSentinel_Kill9OfThePrimaryDuringALoadKeepsTheGuarantees(t *testing.T) {
	t.Parallel()
	f := redistest.RunFailover(t)
	ctx := testContext(t)
	l := startLoadInFlight(t, ctx, f)
	killed := time.Now()
	f.Primary.Kill() // kill -9, with the load in flight
	recovered := probeRecovery(ctx, f, l.probe, killed)
	close(l.finish) // the holder commits while the sentinels elect a new primary
	rh := receive(t, l.holderDone, "the holder")
	rw := receive(t, l.waiterDone, "the waiter")
	took := recovery(t, recovered)
	t.Logf("kill -9 of the primary: replica promoted after %v, a load on it done after %v (%d loads failed meanwhile, the longest took %v); holder (%q, %v), waiter (%q, %v)",
		took.promoted, took.works, took.failed, took.longest, rh.v, rh.err, rw.v, rw.err)

	// The key works again: a loaded value, or a new load once the lease
	// (replicated with the primary's last writes) has run out.
	loadedValues := map[string]bool{"from-holder": true, "from-waiter": true, "after": true}
	again := loadInBackground(ctx, l.waiter, "k", "after", nil, nil)
	ra := receive(t, again, "a load after the failover")
	if ra.err != nil || !loadedValues[ra.v] {
		t.Errorf("after the failover the key gave (%q, %v); want a loaded value", ra.v, ra.err)
	}
	if rw.loadedAt.IsZero() {
		delete(loadedValues, "from-waiter")
	}
	checkOutcome(t, "the holder", rh, loadedValues)
	checkOutcome(t, "the waiter", rw, loadedValues)
	checkStatsAccountForTheWeakening(t, []outcome{rh, rw, ra}, l.holder.Stats(), l.waiter.Stats(), l.probe.Stats())
}

// checkStatsAccountForTheWeakening checks that what the callers saw of the
// documented weakening is counted: each ErrFenced and ErrLeaseLost in a
// fenced or lost commit, and each loader run beyond the first in a
// takeover or a commit that did not store.
func checkStatsAccountForTheWeakening(t *testing.T, outcomes []outcome, stats ...redismap.Stats) {
	t.Helper()
	sum := sumStats(stats...)
	var fenced, lost int64
	for _, o := range outcomes {
		if errors.Is(o.err, redismap.ErrFenced) {
			fenced++
		}
		if errors.Is(o.err, redismap.ErrLeaseLost) {
			lost++
		}
	}
	if sum.FencedCommits < fenced || sum.LostCommits < lost {
		t.Errorf("callers got %d ErrFenced and %d ErrLeaseLost; Stats count %d and %d", fenced, lost, sum.FencedCommits, sum.LostCommits)
	}
	// Every loader call ended in a commit that stored, was fenced, was
	// lost, or failed in transit.
	if ends := sum.Commits + sum.FencedCommits + sum.LostCommits + sum.CommitErrors; ends < sum.Loads {
		t.Errorf("Stats: %d loader calls but %d commits stored, fenced, lost or failed; want every load accounted for (%+v)", sum.Loads, ends, sum)
	}
	t.Logf("Stats over the Maps: Loads=%d Takeovers=%d Commits=%d FencedCommits=%d LostCommits=%d CommitErrors=%d",
		sum.Loads, sum.Takeovers, sum.Commits, sum.FencedCommits, sum.LostCommits, sum.CommitErrors)
}
