-- acquire: read entries, or claim the lease of each that has none.
-- KEYS: three per entry, in order: value key, lease key, fence key (one
-- entry's keys share a hash tag; a script is only ever given entries of
-- one cluster slot).
-- ARGV[1] lease in ms, ARGV[2] fence key TTL in ms.
-- Returns one reply per entry, in order:
--   {0, entry, pttl}: the value key holds entry (a value, a negative or an
--     error marker) and expires in pttl ms;
--   {1, token, pttl}: another caller holds the lease with token for pttl
--     more ms;
--   {2, token}: this caller now holds the lease, with a new token.
local out = {}
for i = 1, #KEYS, 3 do
  local v = redis.call('GET', KEYS[i])
  if v then
    out[#out + 1] = {0, v, redis.call('PTTL', KEYS[i])}
  else
    local held = redis.call('GET', KEYS[i + 1])
    if held then
      out[#out + 1] = {1, held, redis.call('PTTL', KEYS[i + 1])}
    else
      local tok = next_token(KEYS[i + 2], ARGV[2])
      redis.call('SET', KEYS[i + 1], tok, 'PX', ARGV[1])
      out[#out + 1] = {2, tok}
    end
  end
end
return out
