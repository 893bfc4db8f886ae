-- read: an entry and its remaining TTL, for the near cache, in one round
-- trip. KEYS[1] value key.
-- Returns false if absent, else {entry, pttl}.
local v = redis.call('GET', KEYS[1])
if not v then
  return false
end
return {v, redis.call('PTTL', KEYS[1])}
