-- store: set an entry's value, fencing out any loader in flight (its
-- commit would carry an older token).
-- KEYS[1] value key, KEYS[2] fence key, KEYS[3] refresh key (one hash tag).
-- ARGV[1] the entry, ARGV[2] its TTL in ms, ARGV[3] fence key TTL in ms,
-- ARGV[4] the notification channel, ARGV[5] the message (the entry's name).
-- The entry is stored with entry.lua's set_entry (a value gets its expiry).
-- Returns the new token.
local tok = next_token(KEYS[2], ARGV[3])
set_entry(KEYS[1], ARGV[1], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return tok
