-- job.replay: a dead job queued again, as it was (an x402.pay to its own
-- stream), once: a replay job that runs again finds what it did.
--   KEYS: axon:jobs:dead, axon:jobs, the replay job's state hash,
--         axon:x402:jobs
--   ARGV: the dead entry's id, now, ttl
--   {status, new id, replayed job's id, its kind}: status ok, again (this
--   replay job ran already) or missing
local again = redis.call('HGET', KEYS[3], 'replayed_as')
if again then
  return {'again', again, redis.call('HGET', KEYS[3], 'replayed_job') or '', ''}
end
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return {'missing', '', '', ''} end
-- the job's own fields, then the five pairs job_dead.lua appended: the
-- job as it was sent (a field of its own named like one of those, which
-- the worker refused, is refused again), but its replay_of, renewed
local f, orig, kind, v = {}, '', '', e[1][2]
local n = #v - 10
for i = n + 1, #v, 2 do
  if v[i] == 'job_id' then orig = v[i + 1] end
end
for i = 1, n, 2 do
  if v[i] == 'kind' then kind = v[i + 1] end
  if v[i] ~= 'replay_of' then
    f[#f + 1] = v[i]
    f[#f + 1] = v[i + 1]
  end
end
if orig ~= '' then
  f[#f + 1] = 'replay_of'
  f[#f + 1] = orig
end
local to = KEYS[2]
if kind == 'x402.pay' then to = KEYS[4] end
local new = redis.call('XADD', to, '*', unpack(f))
redis.call('XDEL', KEYS[1], ARGV[1])
if orig ~= '' then
  local k = 'axon:x402:job:' .. orig
  if redis.call('EXISTS', k) == 0 then k = 'axon:job:' .. orig end
  redis.call('HDEL', k, 'dead_id')
  redis.call('HSET', k, 'state', 'replayed', 'replayed_as', new, 'updated', ARGV[2])
  redis.call('PEXPIRE', k, ARGV[3])
end
redis.call('HSET', KEYS[3], 'replayed_as', new, 'replayed_job', orig)
return {'ok', new, orig, kind}
