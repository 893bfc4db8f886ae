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

// acquireEntries reads entries, or takes the lease of each that has
// neither an entry nor a holder (scripts/acquire.lua): one reply per
// entry, and the error of the call it went to.
func acquireEntries(ctx context.Context, c redis.UniversalClient, ks []entryKeys, lease, fenceTTL string) ([]acquireReply, []error) {
	raw, errs := runScript(ctx, c, acquireScript, len(ks), []any{lease, fenceTTL},
		func(i int) []string { return []string{ks[i].value, ks[i].lease, ks[i].fence} },
		func(int) []any { return nil })
	out := make([]acquireReply, len(ks))
	for i := range out {
		if errs[i] == nil {
			out[i], errs[i] = parseAcquireReply(raw[i])
		}
	}
	return out, errs
}

// runAcquire is acquireEntries for one entry.
func runAcquire(ctx context.Context, c redis.UniversalClient, k entryKeys, lease, fenceTTL string) (acquireReply, error) {
	r, errs := acquireEntries(ctx, c, []entryKeys{k}, lease, fenceTTL)
	return r[0], errs[0]
}

// parseAcquireReply parses one entry's {0, entry, pttl}, {1, token, pttl}
// or {2, token}.
func parseAcquireReply(raw any) (acquireReply, error) {
	reply, _ := raw.([]any)
	bad := fmt.Errorf("acquire script: unexpected reply %v", raw)
	code, ok1 := replyInt(reply, 0)
	text, ok2 := replyString(reply, 1)
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

// commitOutcome says what commitScript did with an entry.
type commitOutcome int64

const (
	commitStored commitOutcome = 1  // stored and published
	commitFenced commitOutcome = 0  // a newer token was issued: nothing stored
	commitLost   commitOutcome = -1 // the fence key is gone: nothing stored
)

// commitItem is one entry to commit: its stored form, for ttl ms, if token
// is still its current token.
type commitItem struct {
	keys         entryKeys
	token, entry string
	ttl          string
	name         string // the entry's name, the notification's message
}

// commitEntries stores each item if its token is still the entry's
// current one, releasing the leases either way (scripts/commit.lua).
func commitEntries(ctx context.Context, c redis.UniversalClient, items []commitItem, channel string) ([]commitOutcome, []error) {
	raw, errs := runScript(ctx, c, commitScript, len(items), []any{channel},
		func(i int) []string {
			k := items[i].keys
			return []string{k.value, k.lease, k.fence, k.refresh}
		},
		func(i int) []any { return []any{items[i].token, items[i].entry, items[i].ttl, items[i].name} })
	out := make([]commitOutcome, len(items))
	for i := range out {
		if errs[i] != nil {
			continue
		}
		code, ok := raw[i].(int64)
		switch o := commitOutcome(code); {
		case ok && (o == commitStored || o == commitFenced || o == commitLost):
			out[i] = o
		default:
			errs[i] = errUnexpectedReply(commitScript, raw[i])
		}
	}
	return out, errs
}

// runCommit is commitEntries for one entry.
func runCommit(ctx context.Context, c redis.UniversalClient, k entryKeys, token, entry, ttl, channel, name string) (commitOutcome, error) {
	o, errs := commitEntries(ctx, c, []commitItem{{k, token, entry, ttl, name}}, channel)
	return o[0], errs[0]
}

// releaseEntries gives up the leases held with tokens, storing nothing,
// and reports for each whether it was still held (scripts/release.lua).
func releaseEntries(ctx context.Context, c redis.UniversalClient, ks []entryKeys, tokens, names []string, channel string) ([]bool, []error) {
	raw, errs := runScript(ctx, c, releaseScript, len(ks), []any{channel},
		func(i int) []string { return []string{ks[i].lease} },
		func(i int) []any { return []any{tokens[i], names[i]} })
	return flags(raw, errs, releaseScript)
}

// runRelease is releaseEntries for one entry.
func runRelease(ctx context.Context, c redis.UniversalClient, k entryKeys, token, channel, name string) (released bool, err error) {
	r, errs := releaseEntries(ctx, c, []entryKeys{k}, []string{token}, []string{name}, channel)
	return r[0], errs[0]
}

// renewEntries extends the leases held with tokens, and their fences with
// them, and reports for each whether it was still held
// (scripts/renew.lua).
func renewEntries(ctx context.Context, c redis.UniversalClient, ks []entryKeys, tokens []string, lease, fenceTTL string) ([]bool, []error) {
	raw, errs := runScript(ctx, c, renewScript, len(ks), []any{lease, fenceTTL},
		func(i int) []string { return []string{ks[i].lease, ks[i].fence} },
		func(i int) []any { return []any{tokens[i]} })
	return flags(raw, errs, renewScript)
}

// flags parses replies of 1 (true) or 0 (false), one per entry.
func flags(raw []any, errs []error, s *redis.Script) ([]bool, []error) {
	out := make([]bool, len(raw))
	for i := range out {
		if errs[i] != nil {
			continue
		}
		n, ok := raw[i].(int64)
		if !ok || (n != 0 && n != 1) {
			errs[i] = errUnexpectedReply(s, raw[i])
		}
		out[i] = n == 1
	}
	return out, errs
}

// errUnexpectedReply reports a reply of a shape s does not return.
func errUnexpectedReply(s *redis.Script, reply any) error {
	return fmt.Errorf("script %.8s: unexpected reply %v", s.Hash(), reply)
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
