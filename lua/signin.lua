-- POST /api/auth/verify-wallet: consumes the challenge's nonce (of two
-- concurrent uses exactly one wins: the script is atomic), stores the
-- token's hash and queues the sign-in for the worker's audit, atomically.
-- A nonce issued for another wallet is refused and left to its owner:
-- whoever learns a pending nonce cannot cancel that sign-in.
--   KEYS: axon:challenge:NONCE, axon:token:HASH, axon:jobs
--   ARGV: wallet token_value token_ttl_ms ip user_agent nonce token_hash
--         expires_at issued_at
--   1: signed in; 0: no such nonce; -1: the nonce was another wallet's
local a = redis.call('GET', KEYS[1])
if not a then return 0 end
if a ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('XADD', KEYS[3], '*', 'kind', 'auth.signin', 'wallet', ARGV[1], 'token_hash', ARGV[7], 'issued_at', ARGV[9], 'expires_at', ARGV[8], 'nonce', ARGV[6], 'ip', ARGV[4], 'user_agent', ARGV[5])
return 1
