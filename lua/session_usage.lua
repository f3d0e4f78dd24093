-- GET /api/usage: the wallet's sessions, newest first, each as field-value
-- pairs of the fields a person's usage list shows (never its connect_*,
-- upstream or wallet).
--   KEYS: axon:usage:ADDR
--   ARGV: how many
--   an array of arrays of pairs
local out = {}
local fields = {'id', 'profile', 'mode', 'gpus', 'state', 'created_at',
                'started_at', 'ended_at', 'end_reason', 'billed_minutes'}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0,
                               tonumber(ARGV[1]) - 1)) do
  local v = redis.call('HMGET', 'axon:session:' .. id, unpack(fields))
  local pairs = {}
  for i, f in ipairs(fields) do
    if v[i] then
      pairs[#pairs + 1] = f
      pairs[#pairs + 1] = v[i]
    end
  end
  if #pairs > 0 then out[#out + 1] = pairs end
end
return out
