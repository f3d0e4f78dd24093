-- POST /api/auth/logout: the token goes from Redis and its revocation is
-- queued for Postgres, atomically.
--   KEYS: axon:token:HASH, axon:jobs
--   ARGV: token_hash wallet at
--   the number of tokens deleted (0 or 1)
local n = redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'auth.logout', 'token_hash', ARGV[1], 'wallet', ARGV[2], 'at', ARGV[3])
return n
