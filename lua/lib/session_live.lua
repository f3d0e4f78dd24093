-- The wallet's latest session (the "session" field of the wallet's hash)
-- when it is live: its id, its key and its state; nil when the wallet has
-- none or it has ended.  Every script that refuses a second session, or
-- acts on the live one, reads it so.
local function session_live(wallet_key)
  local id = redis.call('HGET', wallet_key, 'session')
  if not id then return nil end
  local sk = 'axon:session:' .. id
  local st = redis.call('HGET', sk, 'state')
  if not st or st == 'ended' then return nil end
  return id, sk, st
end
