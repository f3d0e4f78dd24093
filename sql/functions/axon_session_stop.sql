-- Asks a session to end: queued -> ended at once (with p_reason);
-- starting -> ending, under the lease of the worker that is launching it:
-- that worker stops what it launched (axon_session_started finds it
-- ending), or, if it died, the stop waits for its lease to expire (so no
-- other worker frees its GPUs and port while the launch is still creating
-- a container that holds them); running -> billing stops at p_at (stop_at:
-- when the user asked, the last time its container was seen running; not
-- after now, nor before it started; NULL: now), and the tick that follows
-- bills up to it and makes it ending.  p_wallet,
-- when given, must be the session's (else 'not_yours').  p_queued_only:
-- leave the queue, nothing else ('not_queued').  Returns the outcome:
-- ended, stopping, already (ending or ended), missing, not_yours,
-- not_queued.
CREATE OR REPLACE FUNCTION axon_session_stop(p_id bigint, p_wallet text,
    p_reason text, p_queued_only boolean, p_at timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s     sessions%ROWTYPE;
    v_at  timestamptz := least(coalesce(p_at, now()), now());
BEGIN
    SELECT * INTO s FROM sessions WHERE id = p_id FOR UPDATE;

    IF NOT FOUND THEN
        RETURN 'missing';
    END IF;

    IF p_wallet IS NOT NULL AND s.wallet <> p_wallet THEN
        RETURN 'not_yours';
    END IF;

    IF s.state = 'queued' THEN
        PERFORM axon_session_finish(p_id, ARRAY['queued'], p_reason);
        RETURN 'ended';
    END IF;

    IF p_queued_only THEN
        RETURN 'not_queued';
    END IF;

    IF s.state = 'starting' THEN
        UPDATE sessions SET state = 'ending', stop_at = v_at,
                            end_reason = p_reason
         WHERE id = p_id;
        RETURN 'stopping';
    END IF;

    IF s.state = 'running' AND s.stop_at IS NULL THEN
        UPDATE sessions SET stop_at = greatest(v_at, s.started_at),
                            end_reason = p_reason
         WHERE id = p_id;
        RETURN 'stopping';
    END IF;

    RETURN 'already';
END
$$;
