-- commit: store a computed entry if its token is still the current one.
-- KEYS[1] value key, KEYS[2] lease key, KEYS[3] fence key, KEYS[4] refresh
-- key (one hash tag).
-- ARGV[1] the caller's token, ARGV[2] the entry, ARGV[3] its TTL in ms,
-- ARGV[4] the notification channel, ARGV[5] the message (the entry's name).
-- The lease is released whatever the outcome, if the caller still has it.
-- A stored entry clears the refresh key's record of failed refreshes.
-- Returns 1: stored and published;
--         0: fenced, a newer token was issued (a takeover, Store or Delete);
--        -1: the fence key is gone (restart, failover or eviction).
local held = redis.call('GET', KEYS[2])
if held == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
local cur = redis.call('GET', KEYS[3])
if cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[4])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
if held == ARGV[1] then
  -- Nothing stored, but the lease is free: wake the waiters.
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
if cur then
  return 0
end
return -1
