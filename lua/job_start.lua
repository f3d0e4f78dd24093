-- The worker takes a job: its state hash counts the attempt (count '1';
-- '0': a batch of new jobs marked at once, each outcome counts its own).
--   KEYS: axon:job:ID (or axon:x402:job:ID)
--   ARGV: kind worker now count
--   {this attempt's number, the last attempt's error or ''}
local n
if ARGV[4] == '1' then
  n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
else
  n = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + 1
end
redis.call('HSET', KEYS[1], 'state', 'running', 'kind', ARGV[1], 'worker', ARGV[2], 'updated', ARGV[3])
redis.call('HDEL', KEYS[1], 'retry_at')
redis.call('PERSIST', KEYS[1])
return {n, redis.call('HGET', KEYS[1], 'error') or ''}
