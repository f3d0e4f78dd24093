-- A launch that failed: ending (nothing billed: it never ran), so that
-- the stop removes what the launch may have left and the GPUs and the
-- port are freed only then.  Also true for a session released during the
-- launch (ending, still under this lease): the caller stops it either
-- way.  false: the session is no longer this lease's (ended, or taken by
-- another attempt, whose container must not be touched).
CREATE OR REPLACE FUNCTION axon_session_launch_failed(p_id bigint, p_attempts int,
    p_reason text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions
       SET state = 'ending', stop_at = coalesce(stop_at, now()),
           end_reason = coalesce(end_reason, p_reason)
     WHERE id = p_id AND state IN ('starting', 'ending')
       AND attempts = p_attempts;

    RETURN FOUND;
END
$$;
