-- delete: remove an entry's value (or negative or error marker), fencing
-- out any loader in flight, whose value may predate the deletion.
-- KEYS[1] value key, KEYS[2] fence key, KEYS[3] refresh key (one hash tag).
-- ARGV[1] fence key TTL in ms, ARGV[2] the notification channel, ARGV[3] the
-- message (the entry's name).
-- Returns the new token.
local tok = next_token(KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return tok
