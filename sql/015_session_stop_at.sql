-- 015_session_stop_at: axon_session_stop takes the moment billing stops.
--
-- A release stopped billing when the worker ran its job (now()), not
-- when the user asked: with the worker down, or busy in another session's
-- launch, the minutes between were billed.  A container found gone
-- stopped it at the sweep that found it, the minutes since the sweep
-- before (a worker down meanwhile: all of them) billed for a container
-- nobody saw running.  The new definition (sql/functions/
-- axon_session_stop.sql) takes p_at: the job's time, or the host's last
-- confirmed list; the old signature goes.

DROP FUNCTION axon_session_stop(bigint, text, text, boolean);
