-- Ends a session now, GPUs released: for a queued one, a launch that
-- failed (nothing billed: billing starts at running), and an ending one
-- whose container is gone.  p_from: the states it may end from.
CREATE OR REPLACE FUNCTION axon_session_finish(p_id bigint, p_from text[],
    p_reason text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st  text;
BEGIN
    UPDATE sessions
       SET state = 'ended', ended_at = now(),
           end_reason = coalesce(end_reason, p_reason),
           stop_at = coalesce(stop_at, now()),
           position = NULL, reason = NULL, upstream = NULL,
           grace_until = NULL, lease_until = NULL, lease_by = NULL
     WHERE id = p_id AND state = ANY (p_from)
    RETURNING state INTO st;

    IF NOT FOUND THEN
        SELECT state INTO st FROM sessions WHERE id = p_id;
        RETURN coalesce(st, 'missing');
    END IF;

    UPDATE gpu_assignments SET released_at = now()
     WHERE session_id = p_id AND released_at IS NULL;

    RETURN 'ended';
END
$$;
