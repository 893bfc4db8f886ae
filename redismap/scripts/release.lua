-- release: give up leases without storing anything (the loader panicked,
-- or its caller's context ended), and wake the waiters so one takes over.
-- KEYS: the lease key of each entry (one cluster slot per script).
-- ARGV[1] the notification channel; then two per entry, in order: the
-- caller's token, the message (the entry's name).
-- Returns one code per entry: 1 if released, 0 if the lease was gone or
-- another caller's.
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 * i] then
    redis.call('DEL', KEYS[i])
    redis.call('PUBLISH', ARGV[1], ARGV[2 * i + 1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
