-- refresh: take the lease of an entry whose value is due for a refresh
-- (RefreshAfter), so that one caller, in one process, reloads it while
-- every process goes on reading the current value.
-- KEYS[1] value key, KEYS[2] lease key, KEYS[3] fence key, KEYS[4] refresh
-- key (one hash tag).
-- ARGV[1] RefreshAfter in ms, ARGV[2] lease in ms, ARGV[3] fence key TTL in
-- ms.
-- The value is due if it carries the TTL it was stored with ('x' + its
-- expiry + ',' + its TTL in ms + ',' ..., or the older 't' + its TTL in ms
-- + ',' ...) and is at least ARGV[1] ms old, or if it is a value of the
-- oldest form ('v'), with no TTL in it.
-- The refresh key, written by refresh_fail.lua, holds
-- "<failures>:<server ms before which no refresh starts>".
-- Returns {0}: nothing to refresh (gone, not due: refreshed since);
--         {1, ms}: not now: a lease is held (a load or another refresh) or
--           a failed refresh backs off, for ms more;
--         {2, token, failures}: this caller holds the lease now, with a
--           new token; failures is the count of failed refreshes so far.
local v = redis.call('GET', KEYS[1])
local kind = v and string.sub(v, 1, 1)
if kind ~= 'x' and kind ~= 't' and kind ~= 'v' then
  return {0}
end
local ttl = tonumber(string.match(v, '^x%d+,(%d+),') or string.match(v, '^t(%d+),'))
if ttl and ttl - redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  return {0}
end
local held = redis.call('PTTL', KEYS[2])
if held > 0 then
  return {1, held}
end
local failures = 0
local r = redis.call('GET', KEYS[4])
if r then
  local n, after = string.match(r, '^(%d+):(%d+)$')
  if n then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    if now < tonumber(after) then
      return {1, tonumber(after) - now}
    end
    failures = tonumber(n)
  end
end
local tok = next_token(KEYS[3], ARGV[3])
redis.call('SET', KEYS[2], tok, 'PX', ARGV[2])
return {2, tok, failures}
