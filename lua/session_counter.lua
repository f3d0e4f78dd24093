-- axon:session:next raised to at least max(sessions.id): a Redis that lost
-- it would give out ids that exist.
--   KEYS: axon:session:next
--   ARGV: max(sessions.id)
--   what it was, if raised; else -1
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  return cur
end
return -1
