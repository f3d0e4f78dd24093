-- axon:session:next raised to at least max(sessions.id): a Redis that lost
-- it would give out ids that exist.  Written when missing, also at 0 (a
-- new platform): the claim scripts draw no id without it.
--   KEYS: axon:session:next
--   ARGV: max(sessions.id)
--   what it was, if raised (0: missing); else -1
local raw = redis.call('GET', KEYS[1])
local cur = tonumber(raw or '0')
local last = tonumber(ARGV[1])
if not raw or last > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  if last > cur then return cur end
end
return -1
