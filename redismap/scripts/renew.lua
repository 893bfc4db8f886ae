-- renew: extend leases the caller still holds, and their entries' fence
-- keys with them (a holder's fence must outlive its lease, or its commit
-- would find it gone).
-- KEYS: two per entry, in order: lease key, fence key (one hash tag per
-- entry; one cluster slot per script).
-- ARGV[1] lease in ms, ARGV[2] fence TTL in ms; then the caller's token of
-- each entry, in order.
-- Returns one code per entry: 1 if renewed, 0 if the lease is gone or
-- another caller's.
local out = {}
for i = 1, #KEYS / 2 do
  if redis.call('GET', KEYS[2 * i - 1]) == ARGV[2 + i] then
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[1])
    redis.call('PEXPIRE', KEYS[2 * i], ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
