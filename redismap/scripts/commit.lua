-- commit: store computed entries whose tokens are still the current ones.
-- KEYS: four per entry, in order: value key, lease key, fence key, refresh
-- key (one entry's keys share a hash tag; one cluster slot per script).
-- ARGV[1] the notification channel; then four per entry, in order: the
-- caller's token, the entry, its TTL in ms, the message (the entry's name).
-- Each lease is released whatever the outcome, if the caller still has it.
-- Entries are stored with entry.lua's set_entry (a value gets its expiry).
-- A stored entry clears the refresh key's record of failed refreshes.
-- Returns one code per entry, in order:
--   1: stored and published;
--   0: fenced, a newer token was issued (a takeover, Store or Delete);
--  -1: the fence key is gone (restart, failover or eviction).
local out = {}
for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 1 + (i - 1) * 4
  local token, entry, ttl, name = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local held = redis.call('GET', KEYS[k + 2])
  if held == token then
    redis.call('DEL', KEYS[k + 2])
  end
  local cur = redis.call('GET', KEYS[k + 3])
  if cur == token then
    set_entry(KEYS[k + 1], entry, ttl)
    redis.call('DEL', KEYS[k + 4])
    redis.call('PUBLISH', ARGV[1], name)
    out[i] = 1
  else
    if held == token then
      -- Nothing stored, but the lease is free: wake the waiters.
      redis.call('PUBLISH', ARGV[1], name)
    end
    if cur then
      out[i] = 0
    else
      out[i] = -1
    end
  end
end
return out
