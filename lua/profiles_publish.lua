-- axon:profiles from every worker's hosts: several workers share one
-- Redis, each with its own hosts, and the page reads one key.  A worker
-- writes its hosts to axon:profiles:hosts (a field each: its JSON, with
-- "worker" and "expires", unix s of Redis's clock), then the pool is
-- counted again over every field: the hosts of a worker that stopped
-- writing drop out once expired, a host this worker wrote and no longer
-- lists at once (a reload); a host two workers list is the last one's.
-- The rest of the document is the caller's (the profiles and the queue
-- are Postgres's, the same for every worker).
--   KEYS: axon:profiles, axon:profiles:hosts
--   ARGV: worker ttl_s doc (its pool without "hosts"), then NAME HOST_JSON
--         for each of the worker's hosts
--   the number of hosts published
local now = tonumber(redis.call('TIME')[1])
local me = ARGV[1]
local mine = {}
for i = 4, #ARGV - 1, 2 do
  mine[ARGV[i]] = true
  -- the host's text is kept as the worker wrote it: cjson would turn an
  -- empty "free" list into {}
  redis.call('HSET', KEYS[2], ARGV[i], '{"worker":' .. cjson.encode(me)
             .. ',"expires":' .. (now + tonumber(ARGV[2])) .. ','
             .. string.sub(ARGV[i + 1], 2))
end

local all = redis.call('HGETALL', KEYS[2])
local names, hosts = {}, {}
for i = 1, #all, 2 do
  local ok, h = pcall(cjson.decode, all[i + 1])
  if not ok or type(h) ~= 'table' or (tonumber(h.expires) or 0) < now
     or (h.worker == me and not mine[all[i]]) then
    redis.call('HDEL', KEYS[2], all[i])
  else
    table.insert(names, all[i])
    hosts[all[i]] = {h, all[i + 1]}
  end
end
table.sort(names)

-- the pool's counts, as the worker counts its own: a host that drains or
-- is down counts its GPUs but none free; a profile is available when
-- nothing waits and one host has its GPUs free and a port
local doc = cjson.decode(ARGV[3])
local total, nfree, pfree, largest = 0, 0, 0, 0
local texts = {}
for _, n in ipairs(names) do
  local h = hosts[n][1]
  table.insert(texts, hosts[n][2])
  total = total + (tonumber(h.gpus) or 0)
  if h.draining ~= true and h.down ~= true then
    local f = type(h.free) == 'table' and #h.free or 0
    local p = tonumber(h.ports_free) or 0
    nfree = nfree + f
    pfree = pfree + p
    if p > 0 and f > largest then largest = f end
  end
end

local queued = tonumber(doc.pool.queued) or 0
for _, p in ipairs(doc.profiles) do
  local g = tonumber(p.gpus) or 0
  p.available = queued == 0 and largest >= g
  p.fits_pool = false
  for _, n in ipairs(names) do
    if (tonumber(hosts[n][1].gpus) or 0) >= g then p.fits_pool = true end
  end
end
doc.pool.gpus = total
doc.pool.free = nfree
if type(doc.pool.ports) == 'table' then doc.pool.ports.free = pfree end

-- lists spliced in as text: cjson writes an empty one as {}
local lists = {hosts = '[' .. table.concat(texts, ',') .. ']'}
doc.pool.hosts = '\1hosts\1'
if #doc.profiles == 0 then
  doc.profiles = '\1profiles\1'
  lists.profiles = '[]'
end
local text = cjson.encode(doc)
for name, list in pairs(lists) do
  local mark = cjson.encode('\1' .. name .. '\1')
  local at = string.find(text, mark, 1, true)
  text = string.sub(text, 1, at - 1) .. list .. string.sub(text, at + #mark)
end
redis.call('SET', KEYS[1], text)
return #names
