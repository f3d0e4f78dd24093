-- The worker takes a job: its state hash counts the attempt.
--   KEYS: axon:job:ID (or axon:x402:job:ID)
--   ARGV: kind worker now
--   {attempts, the last attempt's error or ''}
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'running', 'kind', ARGV[1], 'worker', ARGV[2], 'updated', ARGV[3])
redis.call('HDEL', KEYS[1], 'retry_at')
redis.call('PERSIST', KEYS[1])
return {n, redis.call('HGET', KEYS[1], 'error') or ''}
