-- POST /api/session/heartbeat: the live session is in use (the worker's
-- idle check reads its heartbeat field).
--   KEYS: axon:wallet:ADDR
--   ARGV: now
--   {1, id, state, balance, grace_until ('' when none)}; {0}: no live session
-- include: session_live
local id, sk, st = session_live(KEYS[1])
if not id then return {0} end
redis.call('HSET', sk, 'heartbeat', ARGV[1])
return {1, id, st, redis.call('HGET', KEYS[1], 'balance') or '0', redis.call('HGET', sk, 'grace_until') or ''}
