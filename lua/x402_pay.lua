-- POST /api/x402/session with a verified payment.  A used nonce is
-- refused; so is, before anything is recorded, a payment that cannot give
-- a session (its authorization is then never submitted): a new session for
-- a wallet that has a live one, read as POST /api/session reads it; a
-- top-up of a session that is not the payer's, has ended (or is ending:
-- released, its container stopping), or is a
-- desktop's.  So is one past the bounds of the work not settled yet: the
-- payer's pending payments, everyone's.  Else the record and the job,
-- atomically, on the settlement stream.  No token: the worker issues it
-- (token_hash, token_exp) once the payment settled.  A pending set's score
-- is the time past which its entry stops counting (validBefore and a
-- minute: the worker is done with it by then).
--   KEYS: pay key, axon:x402:jobs, the payer's wallet key,
--         axon:x402:pending, axon:x402:pending:PAYER
--   ARGV: payer profile minutes amount created_at keep_s token_exp
--         pending_max nonce ssh_key payload requirements token_hash
--         session_id network valid_before pending_payer_max credit_only
--   (credit_only '1': a payment credited to the payer's wallet with no
--   session, the original gate's /api/x402/settle: no session is checked)
--   {1}: queued; {0}: the nonce was used; {-1, id, state}: a live session;
--   {-2}: no such session of the payer's; {-3}: it has ended or is ending; {-4}: it is
--   a desktop; {-5}: the payer's pending payments are at the bound; {-6}:
--   everyone's are
-- include: session_live
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
if ARGV[18] == '1' then
  -- credit only: no session to check
elseif ARGV[14] == '' then
  local live_id, _, live_st = session_live(KEYS[3])
  if live_id then return {-1, live_id, live_st} end
else
  local t = redis.call('HMGET', 'axon:session:' .. ARGV[14], 'wallet', 'state', 'mode')
  if not t[2] or t[1] ~= ARGV[1] then return {-2} end
  if t[2] == 'ended' or t[2] == 'ending' then return {-3} end
  if t[3] == 'desktop' then return {-4} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[5])
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[17]) then
  return {-5}
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[5])
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[8]) then
  return {-6}
end
local horizon = tonumber(ARGV[16]) + 60
redis.call('ZADD', KEYS[4], horizon, ARGV[9])
redis.call('ZADD', KEYS[5], horizon, ARGV[9])
if redis.call('TTL', KEYS[5]) < horizon - tonumber(ARGV[5]) then
  redis.call('EXPIRE', KEYS[5], horizon - tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'payer', ARGV[1], 'profile', ARGV[2], 'minutes', ARGV[3], 'amount', ARGV[4], 'network', ARGV[15], 'valid_before', ARGV[16], 'created_at', ARGV[5], 'token_hash', ARGV[13])
if ARGV[14] ~= '' then
  redis.call('HSET', KEYS[1], 'session_id', ARGV[14])
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
local job = {'kind', 'x402.pay', 'nonce', ARGV[9], 'payer', ARGV[1], 'profile', ARGV[2], 'minutes', ARGV[3], 'ssh_key', ARGV[10], 'amount', ARGV[4], 'payload', ARGV[11], 'requirements', ARGV[12], 'token_hash', ARGV[13], 'token_exp', ARGV[7]}
if ARGV[14] ~= '' then
  table.insert(job, 'session_id')
  table.insert(job, ARGV[14])
end
if ARGV[18] == '1' then
  table.insert(job, 'credit_only')
  table.insert(job, '1')
  redis.call('HSET', KEYS[1], 'credit_only', '1')
end
local id = redis.call('XADD', KEYS[2], '*', unpack(job))
redis.call('HSET', KEYS[1], 'job_id', id)
return {1}
