-- A session's row, published: only a newer revision replaces what is
-- there.  The module's own fields are set only if absent; an empty value
-- deletes a field that does not apply now.  A session not ended is the
-- wallet's live one unless the wallet names a newer one (after a flush of
-- Redis the wallet's hash names none: its session found again).
--   KEYS: axon:session:ID, axon:usage:WALLET (the wallet's sessions by
--         id, for GET /api/usage: the newest AXON_USAGE_KEEP kept),
--         axon:wallet:WALLET
--   ARGV: rev, how many sessions a usage list keeps, the number of
--         set-if-absent pairs, then field value ...
--   1 written, 0 older than what is there
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if tonumber(ARGV[1]) < cur then return 0 end
local nx = tonumber(ARGV[3])
local i = 4
while i < 4 + 2 * nx do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i < #ARGV do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  i = i + 2
end
redis.call('HSET', KEYS[1], 'rev', ARGV[1])
local id = redis.call('HGET', KEYS[1], 'id')
if id then
  redis.call('ZADD', KEYS[2], id, id)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[2]))
  local live = redis.call('HGET', KEYS[3], 'session')
  if redis.call('HGET', KEYS[1], 'state') ~= 'ended'
     and (not live or tonumber(live) < tonumber(id)) then
    redis.call('HSET', KEYS[3], 'session', id)
  end
end
return 1
