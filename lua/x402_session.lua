-- The session an x402 payment pays for, claimed once: the id drawn the
-- first time is kept in the payment's record.
--   KEYS: axon:x402:pay:NONCE, axon:wallet:PAYER, axon:session:next
--   ARGV: payer profile now gpus
--   {0, id} already claimed, {-1, id} the payer's live session,
--   {1, id} claimed now; an error without the counter (Redis flushed,
--   not written again from Postgres yet): the job tries again later
local mine = redis.call('HGET', KEYS[1], 'payer') == ARGV[1]
local sid = mine and redis.call('HGET', KEYS[1], 'session_id')
if sid then return {0, sid} end
local cur = redis.call('HGET', KEYS[2], 'session')
if cur then
  local st = redis.call('HGET', 'axon:session:' .. cur, 'state')
  if st and st ~= 'ended' then return {-1, cur} end
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('no ' .. KEYS[3] .. ' yet')
end
local id = redis.call('INCR', KEYS[3])
redis.call('HSET', 'axon:session:' .. id, 'id', id, 'wallet', ARGV[1], 'profile', ARGV[2], 'mode', 'ssh', 'gpus', ARGV[4], 'state', 'queued', 'created_at', ARGV[3])
redis.call('HSET', KEYS[2], 'session', id)
if mine then
  redis.call('HSET', KEYS[1], 'session_id', id)
end
return {1, tostring(id)}
