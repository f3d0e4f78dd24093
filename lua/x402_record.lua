-- The outcome of an x402 payment in its record, which the module polls
-- (settled: 600 s more; a record the worker creates: a day).  The payment
-- leaves the pending sets, and on its first settlement the payer's token
-- is stored.  Another payer's record of the same nonce is left alone (-1):
-- only this payer's pending set is told.
--   KEYS: axon:x402:pay:NONCE, axon:token:HASH, axon:x402:pending,
--         axon:x402:pending:PAYER
--   ARGV: token value ('': none), its end (unix s), nonce, payer, failed
--         (1|0), then the record's fields and values
--   1 the record existed, 0 created, -1 another payer's
local p = redis.call('HGET', KEYS[1], 'payer')
if p and p ~= ARGV[4] then
  redis.call('ZREM', KEYS[4], ARGV[3])
  return -1
end
local n = redis.call('EXISTS', KEYS[1])
local was = redis.call('HGET', KEYS[1], 'state')
local f = {}
for i = 6, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
if ARGV[5] == '1' then redis.call('EXPIRE', KEYS[1], 600)
elseif n == 0 then redis.call('EXPIRE', KEYS[1], 86400) end
if ARGV[1] ~= '' and was ~= 'settled' then
  redis.call('SET', KEYS[2], ARGV[1], 'EXAT', ARGV[2])
end
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
return n
