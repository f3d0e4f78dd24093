-- POST /api/verify-deposit: the submission is recorded for GET
-- /api/deposits at once (unless the worker already wrote an answer other
-- than a rejection for this hash) and the job queued.
--   KEYS: axon:deposits:WALLET, axon:jobs
--   ARGV: tx_hash wallet now
--   the job's stream id
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur or string.find(cur, '"status":"rejected"', 1, true) then
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({tx_hash = ARGV[1], status = 'submitted', updated = tonumber(ARGV[3])}))
end
return redis.call('XADD', KEYS[2], '*', 'kind', 'deposit.verify', 'tx_hash', ARGV[1], 'wallet', ARGV[2])
