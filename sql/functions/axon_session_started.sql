-- The container answers: running from now, unless the session was ended
-- or taken by another lease meanwhile (false: the caller removes the
-- container).  Its first minute is billed by the caller's next tick.
CREATE OR REPLACE FUNCTION axon_session_started(p_id bigint, p_attempts int,
    p_upstream text, p_container text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions
       SET state = 'running', started_at = now(), upstream = p_upstream,
           container_id = p_container, lease_until = NULL, lease_by = NULL,
           heartbeat_at = now()
     WHERE id = p_id AND state = 'starting' AND attempts = p_attempts;

    RETURN FOUND;
END
$$;
