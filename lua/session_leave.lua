-- DELETE /api/session/queue: a session.leave job for the wallet's live
-- session, when it is still queued.
--   KEYS: axon:wallet:ADDR, axon:jobs
--   ARGV: wallet
--   {1, id, state}: asked; {-1, id, state}: not queued; {0}: no live session
-- include: session_live
local id, sk, st = session_live(KEYS[1])
if not id then return {0} end
if st ~= 'queued' then return {-1, id, st} end
redis.call('XADD', KEYS[2], '*', 'kind', 'session.leave', 'session_id', id, 'wallet', ARGV[1])
return {1, id, st}
