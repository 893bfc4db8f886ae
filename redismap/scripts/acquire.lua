-- acquire: read an entry, or claim its lease if it has none.
-- KEYS[1] value key, KEYS[2] lease key, KEYS[3] fence key: one entry's
-- keys, which share a hash tag and so one cluster slot.
-- ARGV[1] lease in ms, ARGV[2] fence key TTL in ms.
-- Returns {0, entry, pttl}: the value key holds entry (a value, a negative
--           or an error marker) and expires in pttl ms;
--         {1, token, pttl}: another caller holds the lease with token for
--           pttl more ms;
--         {2, token}: this caller now holds the lease, with a new token.
local v = redis.call('GET', KEYS[1])
if v then
  return {0, v, redis.call('PTTL', KEYS[1])}
end
local held = redis.call('GET', KEYS[2])
if held then
  return {1, held, redis.call('PTTL', KEYS[2])}
end
local tok = next_token(KEYS[3], ARGV[2])
redis.call('SET', KEYS[2], tok, 'PX', ARGV[1])
return {2, tok}
