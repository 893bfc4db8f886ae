package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips counts the round trips a go-redis client makes for its
// callers: a command or a pipeline counts once. The handshake of a new
// connection (HELLO, CLIENT SETINFO, AUTH, SELECT), which go-redis also
// sends through hooks, is left out. Install it with client.AddHook; its
// methods are safe for concurrent use.
type RoundTrips struct{ n atomic.Int64 }

// Load returns the number of round trips counted so far.
func (c *RoundTrips) Load() int64 { return c.n.Load() }

// handshake reports whether cmd is part of a new connection's handshake.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// DialHook implements redis.Hook; dialling is not a round trip.
func (c *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: one command, one round trip.
func (c *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: one pipeline, one round trip.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}
