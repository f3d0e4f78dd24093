-- 005_session_ports: the port pool (issue 9).  Every session's container
-- is published on a host port of its host's pool (the worker's
-- port_pool_start, port_pool_size), taken with its GPUs by the scheduler:
-- an SSH session is reached there directly, a desktop through the gate.
--
--   * no port in two live sessions of one host: the exclusive index
--     below, and axon_sched_assign takes the port in the transaction that
--     takes the GPUs;
--   * a port is taken until the session is ended, and a session that
--     had a container is ended only once its removal is confirmed
--     (ending -> axon_session_finish after the container is gone): a port
--     is never handed out while an old container still holds it.
--
-- The port stays in the row after the end (the record of where it ran);
-- the index only covers live sessions.


ALTER TABLE sessions
    ADD COLUMN port int CHECK (port BETWEEN 1 AND 65535);

CREATE UNIQUE INDEX sessions_port_exclusive
    ON sessions (host, port) WHERE state <> 'ended';


-- 004's scheduler, the port added.  p_pool is now
-- [{"host": NAME, "gpus": [0, 1, ...], "ports": [FIRST, LAST]}, ...]:
-- a session takes its GPUs on a host that also has a free port, and the
-- lowest free port of that host.  One that would fit but for the ports
-- waits like one short of GPUs (same position, backfill and reservation),
-- with the reason 'waiting for a free port ...'.
DROP FUNCTION axon_sched_assign(jsonb, bigint);

CREATE FUNCTION axon_sched_assign(p_pool jsonb, p_reserve_ms bigint)
RETURNS TABLE (session_id bigint, host text, gpus int[], port int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    q         record;
    pos       int := 0;
    blocked   bigint;
    blocked_n int;
    v_host    text;
    v_fits    text;
    v_port    int;
    lo        int;
    hi        int;
    picked    int[];
    fh        text[];       -- the free GPUs: host, index
    fg        int[];
    ph        text[];       -- the free ports: host, how many
    pn        int[];
    nfree     int;
    need      text;
    why       text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sessions s WHERE s.state = 'queued') THEN
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(7306001);

    SELECT coalesce(array_agg(t.h ORDER BY t.h, t.g), '{}'),
           coalesce(array_agg(t.g ORDER BY t.h, t.g), '{}')
      INTO fh, fg
      FROM (SELECT e->>'host' AS h, g::int AS g
              FROM jsonb_array_elements(p_pool) e,
                   jsonb_array_elements_text(e->'gpus') g
             WHERE NOT EXISTS (SELECT 1 FROM gpu_hosts_drained d
                                WHERE d.host = e->>'host')
            EXCEPT
            SELECT a.host, a.gpu_index FROM gpu_assignments a
             WHERE a.released_at IS NULL) t;

    SELECT coalesce(array_agg(t.h), '{}'), coalesce(array_agg(t.n), '{}')
      INTO ph, pn
      FROM (SELECT e->>'host' AS h,
                   greatest((e->'ports'->>1)::int - (e->'ports'->>0)::int + 1
                            - (SELECT count(*)
                                 FROM sessions s
                                WHERE s.state <> 'ended'
                                  AND s.host = e->>'host'
                                  AND s.port BETWEEN (e->'ports'->>0)::int
                                                 AND (e->'ports'->>1)::int),
                            0)::int AS n
              FROM jsonb_array_elements(p_pool) e) t;

    FOR q IN SELECT s.id, s.gpu_count, s.created_at, s.position, s.reason
               FROM sessions s
              WHERE s.state = 'queued'
              ORDER BY s.id
                FOR UPDATE
    LOOP
        v_host := NULL;
        v_fits := NULL;
        v_port := NULL;

        IF blocked IS NULL THEN
            SELECT f.h, (array_agg(f.g ORDER BY f.g))[1:q.gpu_count]
              INTO v_host, picked
              FROM unnest(fh, fg) f(h, g)
             WHERE f.h IN (SELECT p.h FROM unnest(ph, pn) p(h, n)
                            WHERE p.n > 0)
             GROUP BY f.h
            HAVING count(*) >= q.gpu_count
             ORDER BY count(*), f.h
             LIMIT 1;
        END IF;

        IF v_host IS NOT NULL THEN
            -- the lowest free port: the first, or the lowest one above a
            -- taken port (a scan of the live sessions, not of the pool)
            SELECT (e->'ports'->>0)::int, (e->'ports'->>1)::int
              INTO lo, hi
              FROM jsonb_array_elements(p_pool) e
             WHERE e->>'host' = v_host
             LIMIT 1;

            SELECT min(c.p) INTO v_port
              FROM (SELECT lo AS p
                    UNION ALL
                    SELECT s.port + 1 FROM sessions s
                     WHERE s.state <> 'ended' AND s.host = v_host
                       AND s.port BETWEEN lo AND hi) c
             WHERE c.p <= hi
               AND NOT EXISTS (SELECT 1 FROM sessions s
                                WHERE s.state <> 'ended'
                                  AND s.host = v_host AND s.port = c.p);
        END IF;

        IF v_port IS NOT NULL THEN
            INSERT INTO gpu_assignments (session_id, host, gpu_index)
                SELECT q.id, v_host, unnest(picked);

            SELECT coalesce(array_agg(f.h ORDER BY f.h, f.g), '{}'),
                   coalesce(array_agg(f.g ORDER BY f.h, f.g), '{}')
              INTO fh, fg
              FROM unnest(fh, fg) f(h, g)
             WHERE NOT (f.h = v_host AND f.g = ANY (picked));

            SELECT array_agg(p.h ORDER BY p.i),
                   array_agg(CASE WHEN p.h = v_host THEN p.n - 1 ELSE p.n END
                             ORDER BY p.i)
              INTO ph, pn
              FROM unnest(ph, pn) WITH ORDINALITY p(h, n, i);

            UPDATE sessions
               SET state = 'starting', host = v_host, port = v_port,
                   position = NULL, reason = NULL, lease_until = NULL
             WHERE id = q.id;

            session_id := q.id;
            host := v_host;
            gpus := picked;
            port := v_port;
            RETURN NEXT;
            CONTINUE;
        END IF;

        pos := pos + 1;

        SELECT coalesce(max(c), 0) INTO nfree
          FROM (SELECT count(*) AS c FROM unnest(fh) f(h) GROUP BY f.h) t;

        -- its GPUs are free somewhere, but no port with them?
        IF blocked IS NULL THEN
            SELECT f.h INTO v_fits
              FROM unnest(fh, fg) f(h, g)
             GROUP BY f.h
            HAVING count(*) >= q.gpu_count
             LIMIT 1;
        END IF;

        IF v_fits IS NOT NULL THEN
            need := format('a free port (%s GPU%s free, but the port pool '
                           'is in use)', nfree,
                           CASE WHEN nfree > 1 THEN 's' ELSE '' END);
        ELSE
            need := format('%s GPU%s on one host (%s free)',
                           q.gpu_count, CASE WHEN q.gpu_count > 1 THEN 's'
                                             ELSE '' END, nfree);
        END IF;

        IF blocked IS NOT NULL THEN
            why := format('waiting behind session %s, which has the GPUs '
                          'reserved (it needs %s)', blocked, blocked_n);

        ELSIF now() - q.created_at >= p_reserve_ms * interval '1 ms' THEN
            blocked := q.id;
            blocked_n := q.gpu_count;
            why := format('next: waiting for %s; GPUs are reserved for this '
                          'session', need);

        ELSE
            why := 'waiting for ' || need;
        END IF;

        IF q.position IS DISTINCT FROM pos OR q.reason IS DISTINCT FROM why
        THEN
            UPDATE sessions SET position = pos, reason = why
             WHERE id = q.id;
        END IF;
    END LOOP;
END
$$;


-- A launch that failed: ending (nothing billed: it never ran), so that
-- the stop removes what the launch may have left and the GPUs and the
-- port are freed only then.  Also true for a session released during the
-- launch (ending, still under this lease): the caller stops it either
-- way.  false: the session is no longer this lease's (ended, or taken by
-- another attempt, whose container must not be touched).
CREATE FUNCTION axon_session_launch_failed(p_id bigint, p_attempts int,
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


-- 004's axon_session_stop, but a starting session becomes ending under
-- the lease of the worker that is launching it: that worker stops what it
-- launched (axon_session_started finds it ending), or, if it died, the
-- stop waits for its lease to expire.  004 freed the lease at once, so
-- another worker could end the session, and free its GPUs and port,
-- while the launch was still creating a container that holds them.
CREATE OR REPLACE FUNCTION axon_session_stop(p_id bigint, p_wallet text,
    p_reason text, p_queued_only boolean)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s  sessions%ROWTYPE;
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
        UPDATE sessions SET state = 'ending', stop_at = now(),
                            end_reason = p_reason
         WHERE id = p_id;
        RETURN 'stopping';
    END IF;

    IF s.state = 'running' AND s.stop_at IS NULL THEN
        UPDATE sessions SET stop_at = now(), end_reason = p_reason
         WHERE id = p_id;
        RETURN 'stopping';
    END IF;

    RETURN 'already';
END
$$;


-- 004's billing tick, but an SSH session is never idle: it needs no
-- heartbeat (scripts, CI jobs and agents hold no page open, and its
-- traffic does not pass the gate); it runs and is billed until it is
-- released, an admin ends it, or its grace at zero balance ends.
CREATE OR REPLACE FUNCTION axon_billing_tick(p_minute_ms bigint, p_grace_ms bigint,
    p_idle_ms bigint, p_only bigint, p_ids bigint[], p_heartbeats bigint[])
RETURNS TABLE (wallet text, balance bigint, ledger_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF p_ids IS NOT NULL THEN
        UPDATE sessions s
           SET heartbeat_at = to_timestamp(h.at)
          FROM unnest(p_ids, p_heartbeats) h(id, at)
         WHERE s.id = h.id AND s.state = 'running' AND h.at > 0
           AND (s.heartbeat_at IS NULL
                OR s.heartbeat_at < to_timestamp(h.at));
    END IF;

    IF p_idle_ms > 0 THEN
        UPDATE sessions s
           SET stop_at = now(), end_reason = 'idle'
         WHERE s.state = 'running' AND s.stop_at IS NULL AND s.mode <> 'ssh'
           AND (p_only IS NULL OR s.id = p_only)
           AND greatest(s.started_at, s.heartbeat_at)
               < now() - p_idle_ms * interval '1 ms';
    END IF;

    UPDATE sessions s
       SET stop_at = greatest(s.grace_until, s.started_at),
           end_reason = 'out_of_credits'
     WHERE s.state = 'running' AND s.stop_at IS NULL
       AND (p_only IS NULL OR s.id = p_only)
       AND s.grace_until < now();

    RETURN QUERY
    WITH s AS (
        SELECT x.id, x.wallet, x.gpu_count::bigint * x.price AS cost,
               x.billed_minutes,
               floor(extract(epoch FROM coalesce(x.stop_at, now())
                                        - x.started_at) * 1000
                     / p_minute_ms)::bigint + 1 AS due
          FROM sessions x
         WHERE x.state = 'running' AND (p_only IS NULL OR x.id = p_only)
           FOR UPDATE SKIP LOCKED
    ), w AS (
        SELECT b.wallet, b.balance
          FROM wallet_balances b
         WHERE b.wallet IN (SELECT s.wallet FROM s WHERE s.due > s.billed_minutes)
           FOR UPDATE
    ), d AS (
        SELECT s.*, least(s.due - s.billed_minutes,
                          coalesce(w.balance, 0) / s.cost) AS n
          FROM s LEFT JOIN w ON w.wallet = s.wallet
    ), ins AS (
        INSERT INTO credit_ledger (wallet, kind, delta_minutes, reference,
                                   idempotency_key, actor)
        SELECT d.wallet, 'usage', -d.cost, 'session:' || d.id,
               'usage:' || d.id || ':' || k, 'billing'
          FROM d, generate_series(d.billed_minutes,
                                  d.billed_minutes + d.n - 1) k
         WHERE d.n > 0
        RETURNING credit_ledger.wallet, credit_ledger.id,
                  credit_ledger.balance_after
    ), upd AS (
        UPDATE sessions x
           SET billed_minutes = x.billed_minutes + greatest(d.n, 0),
               grace_until = CASE
                   WHEN d.n < d.due - d.billed_minutes
                   THEN coalesce(x.grace_until,
                                 now() + p_grace_ms * interval '1 ms')
                   ELSE NULL END
          FROM d
         WHERE x.id = d.id
           AND (d.due > d.billed_minutes OR x.grace_until IS NOT NULL)
    )
    SELECT i.wallet::text, min(i.balance_after), max(i.id)
      FROM ins i
     GROUP BY i.wallet;

    -- billed up to stop_at (or it cannot pay): stop the container
    UPDATE sessions s
       SET state = 'ending'
     WHERE s.state = 'running' AND s.stop_at IS NOT NULL
       AND (p_only IS NULL OR s.id = p_only);
END
$$;
