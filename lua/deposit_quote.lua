-- GET /api/quote: the worker's deposit configuration, the profiles and the
-- wallet's tier; a deposit.tier job when the tier is unknown or older than
-- ARGV[3] seconds (at most one asked per 10 s per wallet).
--   KEYS: axon:deposits:config, axon:profiles, axon:wallet:ADDR, axon:jobs
--   ARGV: wallet now tier_stale_s
--   {config, profiles, tier_pct, tier_at} ('' for each one missing)
local t = redis.call('HMGET', KEYS[3], 'tier_pct', 'tier_at', 'tier_asked')
local now = tonumber(ARGV[2])
if (not t[2] or tonumber(t[2]) < now - tonumber(ARGV[3])) and (not t[3] or tonumber(t[3]) < now - 10) then
  redis.call('HSET', KEYS[3], 'tier_asked', now)
  redis.call('XADD', KEYS[4], '*', 'kind', 'deposit.tier', 'wallet', ARGV[1])
end
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '', t[1] or '', t[2] or ''}
