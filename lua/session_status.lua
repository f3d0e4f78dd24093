-- GET /api/session: the wallet's latest session's hash, live or not.
--   KEYS: axon:wallet:ADDR
--   the session's fields and values, or nil: no session yet
local id = redis.call('HGET', KEYS[1], 'session')
if not id then return false end
return redis.call('HGETALL', 'axon:session:' .. id)
