-- G: the grace in billing minutes, rounded up (0: no grace).
CREATE OR REPLACE FUNCTION axon_grace_minutes(p_grace_ms bigint, p_minute_ms bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_grace_ms <= 0 THEN 0
                ELSE (p_grace_ms + p_minute_ms - 1) / p_minute_ms END;
$$;
