-- A wallet's balance, written by the worker: only a newer ledger row
-- replaces what is there, so a late write never undoes a later one.
--   KEYS: axon:wallet:ADDR
--   ARGV: balance ledger_id
--   1 written, 0 older than what is there
local cur = tonumber(redis.call('HGET', KEYS[1], 'ledger_id') or '0')
if tonumber(ARGV[2]) > cur then
  redis.call('HSET', KEYS[1], 'balance', ARGV[1], 'ledger_id', ARGV[2])
  return 1
end
return 0
