-- Prepended to the scripts that store an entry (commit, store); it touches
-- only the value key it is given.
--
-- set_entry stores entry in key for ttl milliseconds. A value in the form
-- the Map sends, 'x,<ttl>,<load>;' then the codec's bytes, gets the time at
-- which it expires written in after its 'x' (the server's Unix time in ms:
-- now plus ttl), and the key expires at exactly that time (SET PXAT, Redis
-- 6.2 or later): a reader learns from the value alone when it expires,
-- without a PTTL. Other entries (negative entries, error markers) are
-- stored as they are, for ttl ms.
local function set_entry(key, entry, ttl)
  if string.sub(entry, 1, 2) ~= 'x,' then
    return redis.call('SET', key, entry, 'PX', ttl)
  end
  local now = redis.call('TIME')
  local at = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ttl))
  return redis.call('SET', key, 'x' .. at .. string.sub(entry, 2), 'PXAT', at)
end
