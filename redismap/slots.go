package redismap

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Scripts over many entries (a batch) must keep each call within one
// cluster slot: every entry's keys share the entry's hash tag, but two
// entries are in one slot only by chance. entryGroups splits entries into
// the groups one script call may touch, and runScript runs a script once
// per group, the calls pipelined, so that a batch costs one round trip (per
// node, in parallel, on a Cluster).

// entryGroups returns the indices of n entries (the i-th entry's value key
// is valueKey(i)) grouped so that each group may go to one script call:
// one group for a single server (or a Sentinel primary), one per hash slot
// for a Redis Cluster, and one per entry for any other client (a Ring
// shards by its own hash of the tag).
func entryGroups(c redis.UniversalClient, n int, valueKey func(i int) string) [][]int {
	if n == 0 {
		return nil
	}
	switch c.(type) {
	case *redis.Client:
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	case *redis.ClusterClient:
		bySlot := map[uint16]int{} // slot → group index
		var groups [][]int
		for i := range n {
			s := keySlot(valueKey(i))
			g, ok := bySlot[s]
			if !ok {
				g = len(groups)
				bySlot[s] = g
				groups = append(groups, nil)
			}
			groups[g] = append(groups[g], i)
		}
		return groups
	}
	groups := make([][]int, n)
	for i := range groups {
		groups[i] = []int{i}
	}
	return groups
}

// keySlot returns the Redis Cluster hash slot of key: CRC16 (XMODEM) of
// its hash tag (the part between the first '{' and the next '}', if not
// empty) or of the whole key, modulo 16384.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// runScript runs s over n entries: head is its ARGV before the entries',
// keysOf(i) and argsOf(i) the i-th entry's KEYS and ARGV. Each script call
// returns one element per entry it was given, in order; runScript returns
// them in entry order, with the error of the call each entry went to (nil
// for most). A single group runs with EVALSHA and falls back to EVAL; more
// groups go in one pipeline of EVALSHA, and the groups whose node did not
// have the script go again with EVAL, in one more pipeline.
func runScript(ctx context.Context, c redis.UniversalClient, s *redis.Script, n int, head []any, keysOf func(i int) []string, argsOf func(i int) []any) (replies []any, errs []error) {
	groups := entryGroups(c, n, func(i int) string { return keysOf(i)[0] })
	replies, errs = make([]any, n), make([]error, n)
	build := func(g []int) (keys []string, args []any) {
		args = append(args, head...)
		for _, i := range g {
			keys = append(keys, keysOf(i)...)
			args = append(args, argsOf(i)...)
		}
		return keys, args
	}
	spread := func(g []int, reply any, err error) {
		list, ok := reply.([]any)
		if err == nil && (!ok || len(list) != len(g)) {
			err = errUnexpectedReply(s, reply)
		}
		for k, i := range g {
			if errs[i] = err; err == nil {
				replies[i] = list[k]
			}
		}
	}
	if len(groups) == 1 {
		keys, args := build(groups[0])
		reply, err := s.Run(ctx, c, keys, args...).Result()
		spread(groups[0], reply, err)
		return replies, errs
	}
	cmds := make([]*redis.Cmd, len(groups))
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for gi, g := range groups {
			keys, args := build(g)
			cmds[gi] = s.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	// The groups whose node did not have the script yet (a new or
	// restarted node) go again, with EVAL, in one more pipeline.
	var again []int
	for gi, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, gi)
		}
	}
	if len(again) > 0 {
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, gi := range again {
				keys, args := build(groups[gi])
				cmds[gi] = s.Eval(ctx, p, keys, args...)
			}
			return nil
		})
	}
	for gi, g := range groups {
		reply, err := cmds[gi].Result()
		spread(g, reply, err)
	}
	return replies, errs
}
