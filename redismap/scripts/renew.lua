-- renew: extend a lease the caller still holds, and its entry's fence key
-- with it (a holder's fence must outlive its lease, or its commit would
-- find it gone).
-- KEYS[1] lease key, KEYS[2] fence key (one hash tag).
-- ARGV[1] the caller's token, ARGV[2] lease in ms, ARGV[3] fence TTL in ms.
-- Returns 1 if renewed, 0 if the lease is gone or another caller's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
