-- A job done: its state, the stream entry acknowledged and deleted, and
-- the balance it changed (guarded by its ledger row, as wallet_balance.lua),
-- in one step.
--   KEYS: the stream, the job's state hash [, axon:wallet:ADDR]
--   ARGV: group id now ms ttl result attempts [balance ledger_id]
--   1
redis.call('HSET', KEYS[2], 'state', 'done', 'updated', ARGV[3], 'ms', ARGV[4], 'result', ARGV[6], 'attempts', ARGV[7])
redis.call('HDEL', KEYS[2], 'error', 'retry_at')
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if KEYS[3] then
  local cur = tonumber(redis.call('HGET', KEYS[3], 'ledger_id') or '0')
  if tonumber(ARGV[9]) > cur then
    redis.call('HSET', KEYS[3], 'balance', ARGV[8], 'ledger_id', ARGV[9])
  end
end
return 1
