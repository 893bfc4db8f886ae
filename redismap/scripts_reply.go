package redismap

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Each script's reply, parsed into a type, by the one function that runs
// the script. The reply's shape is documented at the top of the script's
// .lua file; a reply of another shape (a script from another version of
// redismap, a proxy that rewrites replies) is an error naming the script,
// never a zero value taken for an answer.

// entryKeys names the Redis keys of one entry. All four carry the entry's
// hash tag, so they live in one cluster slot and every script that touches
// them runs on one node.
type entryKeys struct {
	value   string // the value, a negative entry or an error marker
	lease   string // the holder's fencing token, while a loader or a refresh runs
	fence   string // the last fencing token issued for the entry
	refresh string // failed refreshes of the current value, and their backoff
}

// acquireOutcome says what acquireScript found.
type acquireOutcome int64

const (
	acquiredEntry acquireOutcome = 0 // the value key holds an entry
	acquiredHeld  acquireOutcome = 1 // another caller holds the lease
	acquiredLease acquireOutcome = 2 // this caller holds the lease now
)

// acquireReply is acquireScript's reply.
type acquireReply struct {
	outcome acquireOutcome
	entry   string // acquiredEntry: the stored entry
	token   string // acquiredHeld: the holder's token; acquiredLease: this caller's
	pttl    int64  // acquiredEntry: the entry's remaining TTL in ms (-1: none); acquiredHeld: the lease's
}

// runAcquire reads the entry, or takes its lease if there is neither an
// entry nor a holder (scripts/acquire.lua).
func runAcquire(ctx context.Context, c redis.Scripter, k entryKeys, lease, fenceTTL string) (acquireReply, error) {
	reply, err := acquireScript.Run(ctx, c, []string{k.value, k.lease, k.fence}, lease, fenceTTL).Slice()
	if err != nil {
		return acquireReply{}, err
	}
	return parseAcquireReply(reply)
}

// parseAcquireReply parses {0, entry, pttl}, {1, token, pttl} or {2, token}.
func parseAcquireReply(reply []any) (acquireReply, error) {
	bad := fmt.Errorf("acquire script: unexpected reply %v", reply)
	if len(reply) < 2 {
		return acquireReply{}, bad
	}
	code, ok1 := reply[0].(int64)
	text, ok2 := reply[1].(string)
	if !ok1 || !ok2 {
		return acquireReply{}, bad
	}
	r := acquireReply{outcome: acquireOutcome(code)}
	switch r.outcome {
	case acquiredEntry, acquiredHeld:
		pttl, ok := replyInt(reply, 2)
		if !ok {
			return acquireReply{}, bad
		}
		r.pttl = pttl
		if r.outcome == acquiredEntry {
			r.entry = text
		} else {
			r.token = text
		}
	case acquiredLease:
		r.token = text
	default:
		return acquireReply{}, bad
	}
	return r, nil
}

// commitOutcome says what commitScript did.
type commitOutcome int64

const (
	commitStored commitOutcome = 1  // stored and published
	commitFenced commitOutcome = 0  // a newer token was issued: nothing stored
	commitLost   commitOutcome = -1 // the fence key is gone: nothing stored
)

// runCommit stores entry for ttl ms if token is still the entry's current
// token, releasing the lease either way (scripts/commit.lua).
func runCommit(ctx context.Context, c redis.Scripter, k entryKeys, token, entry, ttl, channel, name string) (commitOutcome, error) {
	code, err := commitScript.Run(ctx, c, []string{k.value, k.lease, k.fence, k.refresh}, token, entry, ttl, channel, name).Int64()
	if err != nil {
		return 0, err
	}
	switch o := commitOutcome(code); o {
	case commitStored, commitFenced, commitLost:
		return o, nil
	}
	return 0, fmt.Errorf("commit script: unexpected reply %d", code)
}

// runRelease gives up the lease held with token, storing nothing, and
// reports whether it was still held (scripts/release.lua).
func runRelease(ctx context.Context, c redis.Scripter, k entryKeys, token, channel, name string) (released bool, err error) {
	n, err := releaseScript.Run(ctx, c, []string{k.lease}, token, channel, name).Int64()
	return n == 1, err
}

// runRenew extends the lease held with token, and the fence with it, and
// reports whether it was still held (scripts/renew.lua).
func runRenew(ctx context.Context, c redis.Scripter, k entryKeys, token, lease, fenceTTL string) (renewed bool, err error) {
	n, err := renewScript.Run(ctx, c, []string{k.lease, k.fence}, token, lease, fenceTTL).Int64()
	return n == 1, err
}

// runStore stores entry for ttl ms under a new token (scripts/store.lua).
func runStore(ctx context.Context, c redis.Scripter, k entryKeys, entry, ttl, fenceTTL, channel, name string) error {
	return storeScript.Run(ctx, c, []string{k.value, k.fence, k.refresh}, entry, ttl, fenceTTL, channel, name).Err()
}

// runDelete deletes the entry under a new token (scripts/delete.lua).
func runDelete(ctx context.Context, c redis.Scripter, k entryKeys, fenceTTL, channel, name string) error {
	return deleteScript.Run(ctx, c, []string{k.value, k.fence, k.refresh}, fenceTTL, channel, name).Err()
}

// refreshOutcome says what refreshScript found.
type refreshOutcome int64

const (
	refreshNothing refreshOutcome = 0 // gone, or refreshed since it was read
	refreshNotNow  refreshOutcome = 1 // a lease is held, or failures back off
	refreshLease   refreshOutcome = 2 // this caller holds the lease now
)

// refreshReply is refreshScript's reply.
type refreshReply struct {
	outcome  refreshOutcome
	wait     int64  // refreshNotNow: ms before a refresh may start
	token    string // refreshLease: this caller's token
	failures int64  // refreshLease: failed refreshes of the value so far
}

// runRefresh takes the lease of an entry due for a refresh, if nothing
// else holds it and no backoff runs (scripts/refresh.lua).
func runRefresh(ctx context.Context, c redis.Scripter, k entryKeys, refreshAfter, lease, fenceTTL string) (refreshReply, error) {
	reply, err := refreshScript.Run(ctx, c, []string{k.value, k.lease, k.fence, k.refresh}, refreshAfter, lease, fenceTTL).Slice()
	if err != nil {
		return refreshReply{}, err
	}
	bad := fmt.Errorf("refresh script: unexpected reply %v", reply)
	code, ok := replyInt(reply, 0)
	if !ok {
		return refreshReply{}, bad
	}
	r := refreshReply{outcome: refreshOutcome(code)}
	switch r.outcome {
	case refreshNothing:
	case refreshNotNow:
		if r.wait, ok = replyInt(reply, 1); !ok {
			return refreshReply{}, bad
		}
	case refreshLease:
		var ok1, ok2 bool
		r.token, ok1 = replyString(reply, 1)
		r.failures, ok2 = replyInt(reply, 2)
		if !ok1 || !ok2 {
			return refreshReply{}, bad
		}
	default:
		return refreshReply{}, bad
	}
	return r, nil
}

// runRefreshFail gives up a refresh lease after a failed reload, keeping
// the value, and records the failure and its backoff
// (scripts/refresh_fail.lua).
func runRefreshFail(ctx context.Context, c redis.Scripter, k entryKeys, token string, failures int64, backoff, channel, name string) (released bool, err error) {
	n, err := refreshFailScript.Run(ctx, c, []string{k.lease, k.refresh, k.value}, token, failures, backoff, channel, name).Int64()
	return n == 1, err
}

// replyString returns reply[i] if it is a string.
func replyString(reply []any, i int) (string, bool) {
	if i >= len(reply) {
		return "", false
	}
	s, ok := reply[i].(string)
	return s, ok
}

// replyInt returns reply[i] if it is an integer.
func replyInt(reply []any, i int) (int64, bool) {
	if i >= len(reply) {
		return 0, false
	}
	n, ok := reply[i].(int64)
	return n, ok
}
