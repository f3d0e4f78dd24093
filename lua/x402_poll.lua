-- The wait for an x402 payment: its record and, once it has one, its
-- session.
--   KEYS: axon:x402:pay:NONCE
--   {record, session} (session {} until there is one), or nil
local p = redis.call('HGETALL', KEYS[1])
if #p == 0 then return false end
local sid = redis.call('HGET', KEYS[1], 'session_id')
local s = {}
if sid then s = redis.call('HGETALL', 'axon:session:' .. sid) end
return {p, s}
