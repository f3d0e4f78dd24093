-- POST /api/release: a session.release job for the wallet's live session.
--   KEYS: axon:wallet:ADDR, axon:jobs
--   ARGV: wallet
--   {1, id, state}: asked; {0}: no live session
-- include: session_live
local id, sk, st = session_live(KEYS[1])
if not id then return {0} end
redis.call('XADD', KEYS[2], '*', 'kind', 'session.release', 'session_id', id, 'wallet', ARGV[1])
return {1, id, st}
