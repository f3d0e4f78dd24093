-- `axon_gate session`: where the wallet's live session listens; a request
-- to a running session counts as activity for the worker's idle check.
--   KEYS: axon:wallet:ADDR
--   ARGV: now
--   {1, id, state, upstream ('' until it runs)}; {0}: no live session
-- include: session_live
local id, sk, st = session_live(KEYS[1])
if not id then return {0} end
if st == 'running' then
  redis.call('HSET', sk, 'activity', ARGV[1])
end
return {1, id, st, redis.call('HGET', sk, 'upstream') or ''}
