-- Prepended to the scripts that issue a fencing token (acquire, store,
-- delete); it touches only the fence key it is given.
--
-- next_token returns the entry's next fencing token as a decimal string:
-- INCR of the fence key, except that a fence key that was absent (a new
-- entry, an expired fence, or one lost in a restart) starts at the server
-- clock in microseconds. Tokens therefore keep increasing across expiry and
-- restarts for as long as the server clock does not go back and fewer than
-- a million tokens per second are issued for one key. The fence key lives
-- for ttl milliseconds after its last use.
local function next_token(fence, ttl)
  local t = redis.call('INCR', fence)
  if t == 1 then
    local now = redis.call('TIME')
    local tok = now[1] .. string.format('%06d', tonumber(now[2]))
    redis.call('SET', fence, tok, 'PX', ttl)
    return tok
  end
  redis.call('PEXPIRE', fence, ttl)
  return string.format('%d', t)
end
