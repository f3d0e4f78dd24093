-- A job that failed for good goes to the dead letters with its fields and
-- why; nothing if it was finished meanwhile (by another worker).
--   KEYS: the stream, axon:jobs:dead, the job's state hash
--   ARGV: group id error attempts now worker, then field value ...
--   the dead entry's id, or nil
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0
   and #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) == 0 then
  return false
end
local f = {}
for i = 7, #ARGV do f[#f + 1] = ARGV[i] end
for _, v in ipairs({'job_id', ARGV[2], 'error', ARGV[3], 'attempts', ARGV[4], 'failed_at', ARGV[5], 'worker', ARGV[6]}) do
  f[#f + 1] = v
end
local d = redis.call('XADD', KEYS[2], '*', unpack(f))
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], 'state', 'dead', 'error', ARGV[3], 'attempts', ARGV[4], 'updated', ARGV[5], 'dead_id', d)
redis.call('HDEL', KEYS[3], 'retry_at')
redis.call('PERSIST', KEYS[3])
return d
