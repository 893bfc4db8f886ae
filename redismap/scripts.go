package redismap

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The server-side scripts, one .lua file each under scripts/. Each touches
// only the keys of one entry, passed in KEYS: those share the entry's hash
// tag, so in a Redis Cluster every script runs on the one node that owns
// the entry's slot. They run by SHA (EVALSHA), falling back to EVAL when
// the server does not have them cached yet (a new or restarted server):
// redis.Script.Run does both.

var (
	//go:embed scripts/fence.lua
	fenceLua string
	//go:embed scripts/entry.lua
	entryLua string
	//go:embed scripts/acquire.lua
	acquireLua string
	//go:embed scripts/commit.lua
	commitLua string
	//go:embed scripts/renew.lua
	renewLua string
	//go:embed scripts/release.lua
	releaseLua string
	//go:embed scripts/store.lua
	storeLua string
	//go:embed scripts/delete.lua
	deleteLua string
	//go:embed scripts/refresh.lua
	refreshLua string
	//go:embed scripts/refresh_fail.lua
	refreshFailLua string
)

// The scripts, loaded once per process. Those that issue a fencing token
// start with fence.lua's next_token, and those that store an entry with
// entry.lua's set_entry. gofmt aligns each group.
var (
	acquireScript = redis.NewScript(fenceLua + acquireLua)
	commitScript  = redis.NewScript(entryLua + commitLua)
	renewScript   = redis.NewScript(renewLua)
	releaseScript = redis.NewScript(releaseLua)
	storeScript   = redis.NewScript(fenceLua + entryLua + storeLua)
	deleteScript  = redis.NewScript(fenceLua + deleteLua)

	refreshScript     = redis.NewScript(fenceLua + refreshLua)
	refreshFailScript = redis.NewScript(refreshFailLua)
)
