-- POST /api/session: checks and claims atomically.  No live session for
-- the wallet; a known profile; SSH not turned off by the worker ("ssh":
-- false in axon:profiles); a balance that pays the first minute and the
-- grace's reserve: gpus x price (AXON_PRICE_PER_MINUTE) x (1 +
-- grace_minutes).  Then a new id, the session's hash, the session.claim job.
--   KEYS: axon:wallet:ADDR, axon:profiles, axon:session:next, axon:jobs
--   ARGV: wallet profile mode now ssh_key ('' for a desktop)
--   {1, id, profile, mode}; {-1, id, state}: a live session; {-2}: no profiles published;
--   {-3}: no such profile; {-4, balance, need, grace}: not enough credit;
--   {-5}: SSH sessions are off.  No counter (Redis flushed, and the worker
--   has not written it again from Postgres yet): {-2}, never an id drawn
--   from 1 again, which may be a session of another wallet.
-- include: session_live
local live_id, _, live_st = session_live(KEYS[1])
if live_id then return {-1, live_id, live_st} end
local raw = redis.call('GET', KEYS[2])
if not raw then return {-2} end
local ok, all = pcall(cjson.decode, raw)
if not ok or type(all.profiles) ~= 'table' then return {-2} end
if ARGV[3] == 'ssh' and all.ssh == false then return {-5} end
local p
for _, q in ipairs(all.profiles) do
  if q.name == ARGV[2] then p = q end
end
if not p then return {-3} end
local gpus = tonumber(p.gpus) or 0
local grace = tonumber(all.grace_minutes) or 0
if grace < 0 then grace = 0 end
local need = gpus * (tonumber(p.price) or 0) * (1 + grace)
local bal = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
if gpus < 1 then return {-2} end
if bal < need then
  return {-4, tostring(bal), tostring(need), tostring(grace)}
end
if redis.call('EXISTS', KEYS[3]) == 0 then return {-2} end
local id = redis.call('INCR', KEYS[3])
redis.call('HSET', 'axon:session:' .. id, 'id', id, 'wallet', ARGV[1], 'profile', ARGV[2], 'mode', ARGV[3], 'gpus', gpus, 'state', 'queued', 'created_at', ARGV[4])
redis.call('HSET', KEYS[1], 'session', id)
local job = {'kind', 'session.claim', 'session_id', id, 'wallet', ARGV[1], 'profile', ARGV[2], 'mode', ARGV[3]}
if ARGV[5] ~= '' then
  table.insert(job, 'ssh_key')
  table.insert(job, ARGV[5])
end
redis.call('XADD', KEYS[4], '*', unpack(job))
return {1, tostring(id), ARGV[2], ARGV[3]}
