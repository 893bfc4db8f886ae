package redismap

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The server's clock, as a Map estimates it, so that a value's stored
// expiry (server Unix time, see entry.lua) bounds a near-cache entry
// without a PTTL next to every GET.
//
// A TIME request sent at monotime s0 and answered at s1 reports the
// server's time S, read somewhere between the two. So the server's clock
// was then at most S − s0 ahead of monotime (ahead), and at least S − s1.
// From there on, the two clocks are taken to drift apart by at most
// 1/maxDriftDivisor of the time elapsed: at monotime t, a value that
// expires at server time E has at least E − t − ahead − (t − s0)/1000
// left, which is what a PTTL sent at t would have said, at the least.
// Every bound errs the same way: the server's clock is taken to be as far
// ahead as it can be, so the entry ends early, never late.
//
// An estimate is used for clockEstimateLife, and only while the
// notification subscription stays in the state in which it was made (a
// reconnection may be to another server, after a failover); then the next
// read that needs one pipelines a TIME with its GET. If a new measurement
// shows the server's clock further ahead than the previous estimate
// allowed (the server's clock was stepped forward, or ran faster than the
// drift allows), the near cache is flushed: its entries were bounded with
// the previous estimate.
//
// This needs every read to reach one server, whose clock expires the keys:
// a *redis.Client (one server, or the primary that a Sentinel failover
// client follows). A cluster or a ring spreads entries over servers with
// clocks of their own, so their Maps keep reading the remaining TTL with a
// pipelined PTTL; so does a Map whose TIME is refused (a proxy that passes
// on only commands with keys; an ACL cannot deny TIME, which the scripts
// need too).

const (
	// clockEstimateLife is how long an estimate of the server's clock is
	// used before the next read measures it again.
	clockEstimateLife = time.Second

	// maxDriftDivisor bounds how fast the server's clock and this
	// process's may drift apart: 1/1000 of the time elapsed (1,000 ppm,
	// twice the largest frequency correction Linux applies to a clock).
	// It also applies to a remaining TTL read with PTTL (nearCache.fill).
	maxDriftDivisor = 1000
)

// clockEstimate is one measurement of the server's clock.
type clockEstimate struct {
	ahead int64  // at most this much (ns) the server's Unix time was ahead of monotime at sent
	sent  int64  // monotime when the TIME request was sent
	state uint64 // the notifier's state when it was sent
}

// serverClock is a Map's estimate of its server's clock.
type serverClock struct {
	usable atomic.Bool // the client reaches one server, which answers TIME
	est    atomic.Pointer[clockEstimate]
}

// newServerClock returns the server clock of a Map on client: usable
// only if client is a *redis.Client (one server, or a Sentinel failover
// client's primary).
func newServerClock(client redis.UniversalClient) *serverClock {
	c := new(serverClock)
	_, single := client.(*redis.Client)
	c.usable.Store(single)
	return c
}

// current returns the estimate to use at monotime now in notifier state
// state, or nil if there is none that fresh.
func (c *serverClock) current(state uint64, now int64) *clockEstimate {
	e := c.est.Load()
	if e == nil || e.state != state || now-e.sent >= int64(clockEstimateLife) {
		return nil
	}
	return e
}

// measured records the answer (server time serverNs, in Unix ns) to a TIME
// request sent at monotime sent, in state state, and received at monotime
// received. It returns the new estimate, and whether the server's clock
// turned out to be further ahead than the previous estimate of the same
// state allowed (then entries bounded with that estimate may outlive
// their value).
func (c *serverClock) measured(serverNs, sent, received int64, state uint64) (e *clockEstimate, jumped bool) {
	e = &clockEstimate{ahead: serverNs - sent, sent: sent, state: state}
	for {
		prev := c.est.Load()
		if prev != nil && prev.state == state {
			// At received, the server was at least serverNs − received
			// ahead; prev allowed at most this much.
			allowed := prev.ahead + max(received-prev.sent, 0)/maxDriftDivisor
			jumped = jumped || serverNs-received > allowed
		}
		if prev != nil && prev.sent > sent {
			return e, jumped // a later measurement is in already
		}
		if c.est.CompareAndSwap(prev, e) {
			return e, jumped
		}
	}
}

// remaining returns how much of its TTL a value that expires at server
// Unix time expiresAt (ms) has left at monotime sent, by estimate e, at
// the least, in whole ms (0 if it may have expired already): like a PTTL
// read at sent. The drift from sent on is the reader's to allow for, as
// for a PTTL (nearCache.fill does).
func (e *clockEstimate) remaining(expiresAt, sent int64) int64 {
	// At sent, the server was at most this far ahead of monotime.
	ahead := e.ahead + max(sent-e.sent, 0)/maxDriftDivisor
	return max(expiresAt*int64(time.Millisecond)-ahead-sent, 0) / int64(time.Millisecond)
}

// refusedTIME reports whether err is the server's refusal of a TIME
// command (an error reply, such as an ACL's NOPERM), as opposed to a
// failed connection.
func refusedTIME(err error) bool {
	var re redis.Error
	return err != nil && err != redis.Nil && errors.As(err, &re)
}
