-- GET /api/x402/payment/NONCE: the record, its session, and whether the
-- caller is the payer: a live token (the one this payment issued, or a
-- sign-in's) of the payer's wallet.
--   KEYS: axon:x402:pay:NONCE
--   ARGV: the hash of the caller's token ('': none), now
--   {record, session, 1|0}, or nil
local p = redis.call('HGETALL', KEYS[1])
if #p == 0 then return false end
local f = redis.call('HMGET', KEYS[1], 'session_id', 'payer')
local s = {}
if f[1] then s = redis.call('HGETALL', 'axon:session:' .. f[1]) end
local owner = 0
if ARGV[1] ~= '' and f[2] then
  local t = redis.call('GET', 'axon:token:' .. ARGV[1])
  if t then
    local ok, v = pcall(cjson.decode, t)
    if ok and type(v) == 'table' and v.wallet == f[2]
       and tonumber(v.exp) and tonumber(v.exp) > tonumber(ARGV[2])
    then
      owner = 1
    end
  end
end
return {p, s, owner}
