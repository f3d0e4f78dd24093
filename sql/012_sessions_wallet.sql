-- 012_sessions_wallet: a wallet's sessions by when they ended.
--
-- The home-volume sweep (axon-worker/home.c) asks, for each volume's
-- wallet, whether it has a live session and when its last one ended;
-- without this index that is a scan of every session ever run.

CREATE INDEX sessions_wallet_ended_idx ON sessions (wallet, ended_at);
