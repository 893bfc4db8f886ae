// Package redismap is safemap's missing-key contract across processes: a
// cache kept in Redis whose LoadOrTryCompute runs the loader once per
// missing key for every process of a service, shares the loader's errors
// with all of them, recovers from a holder that crashed, and fences a
// holder that outlived its lease.
//
//	m, err := redismap.New[string, User](client, redismap.Options[string, User]{TTL: 10 * time.Minute})
//	u, loaded, err := m.LoadOrTryCompute(ctx, id, func(ctx context.Context) (User, error) {
//		return db.User(ctx, id)
//	})
//
// It works with any [github.com/redis/go-redis/v9.UniversalClient]: one
// server, Sentinel, or Redis Cluster (every entry's keys share a hash tag,
// so each server-side script touches one slot).
//
// # Guarantees, stated honestly
//
// Redis replication is asynchronous and a lease is a promise about time, so
// exactly-once cannot be had. What a Map gives:
//
//   - In one process, goroutines that miss a key together make one round of
//     Redis calls between them (safemap's compute-once), and at most one of
//     them calls fn.
//   - Across processes, fn runs at most once per key per lease epoch on one
//     Redis primary: the caller that takes the lease (SET PX, in a script)
//     runs fn and renews the lease every Lease/3; the others wait for its
//     commit's notification, or for the lease to run out, and then read the
//     value.
//   - A holder that outlives its lease (a stall, a pause, MaxLoad), or whose
//     lease a failover or restart loses, can let a second fn run for the
//     same key: the next caller takes the lease over. Each lease carries a
//     fencing token that increases per key, and only the current token's
//     commit is stored: the older holder's commit is rejected (ErrFenced,
//     or ErrLeaseLost when the server lost the fence), counted, and
//     reported to its caller, who still gets its own value.
//   - A Store or Delete issues a token too, so a load that was in flight
//     when the key was written or invalidated cannot overwrite it.
//   - A holder that dies (kill -9) delays its key's waiters by at most the
//     rest of its lease; nothing waits forever: waiters are bounded by
//     their ctx and by the holder's lease, and a loader's lease by MaxLoad.
//
// Waiters are woken by a pub/sub message that the commit script publishes
// (see docs/redis.md for why pub/sub and not client tracking), with a timer
// at the lease's remaining time as the fallback for a lost message.
//
// # The near cache
//
// With Options.NearCache, recently read values are also kept in process,
// so a hit makes no Redis call. An entry is dropped when a notification
// for its key arrives (every Store, Delete and commit publishes one), the
// whole near cache is emptied when the notification connection drops or
// comes back, and no entry is served past the moment its value expires in
// Redis, as the server's clock runs: a value carries its expiry in server
// time, which the Map compares with its estimate of the server's clock
// (docs/redis.md states the assumptions). A near-cache read can therefore
// be stale by the notification's delivery delay, and, when the connection
// fails silently, until that is detected (within about two seconds).
// Writes that bypass the Map (another client writing the keys directly, or
// changing their TTL) are not seen by near caches until the entry's
// near-cache TTL.
//
// # Refresh before expiry
//
// With Options.RefreshAfter, a LoadOrTryCompute hit on a value older than
// it returns the value and reloads it in the background: one process,
// chosen by the entry's lease, reloads while every process serves the
// current value, so a hot key does not stall every caller when it expires.
// The reload is committed with a fencing token like any load, and a failed
// reload keeps the value and backs off in every process.
//
// # Keys
//
// An entry for a key encoded as name lives in up to four Redis keys, all
// with the hash tag {N:Prefix:name}, where N is the length of Prefix in
// bytes: "{N:Prefix:name}:v" holds the value (or a negative entry or an
// error marker), "{N:Prefix:name}:l" the lease, "{N:Prefix:name}:f" the
// fence counter, and "{N:Prefix:name}:r", only after a failed refresh, its
// backoff. The length makes every (Prefix, name) pair a key of its
// own: Prefix "P" with name "sub:1" and Prefix "P:sub" with name "1" are
// two entries. docs/redis.md lists the keys' TTLs and sizes.
package redismap
