-- refresh_fail: give up a refresh lease whose reload failed, keeping the
-- value, and record the failure so that no process refreshes the entry
-- again for the backoff.
-- KEYS[1] lease key, KEYS[2] refresh key, KEYS[3] value key (one hash tag).
-- ARGV[1] the caller's token, ARGV[2] failures so far, this one included,
-- ARGV[3] the backoff in ms, ARGV[4] the notification channel, ARGV[5] the
-- message (the entry's name).
-- The record lives as long as the value: a new value starts with none.
-- If the value expired while the refresh ran, callers may be waiting on
-- the lease: the message wakes them.
-- Returns 1 if released, 0 if the lease was gone or another caller's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
local pttl = redis.call('PTTL', KEYS[3])
if pttl > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('SET', KEYS[2], ARGV[2] .. ':' .. string.format('%d', now + tonumber(ARGV[3])), 'PX', pttl)
else
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 1
