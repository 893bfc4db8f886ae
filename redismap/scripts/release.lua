-- release: give up a lease without storing anything (the loader panicked,
-- or its caller's context ended), and wake the waiters so one takes over.
-- KEYS[1] lease key. ARGV[1] the caller's token, ARGV[2] the notification
-- channel, ARGV[3] the message (the entry's name).
-- Returns 1 if released, 0 if the lease was gone or another caller's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
