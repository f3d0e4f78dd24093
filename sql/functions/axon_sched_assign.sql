-- The scheduler's pass: queued sessions get GPUs and a port, first come
-- first served, with backfill and a reservation.  p_pool is the configured
-- pool, [{"host": NAME, "gpus": [0, 1, ...], "ports": [FIRST, LAST]}, ...].
-- In order of id:
--
--   * a session that fits (all its GPUs free on one host that is not
--     drained and has a free port; the host with the fewest free GPUs that
--     fits) takes them and the lowest free port of that host:
--     gpu_assignments rows, state starting;
--   * one that does not fit waits (short of GPUs, or of a port: 'waiting
--     for a free port ...'), and the ones behind it may start (backfill),
--     until the first waiting one has waited p_reserve_ms: then nothing
--     behind it starts until it has (its GPUs are reserved as they free
--     up);
--   * every one still queued gets its position (1: next) and the reason.
--
-- Runs under an advisory lock: two workers' passes do not interleave (the
-- exclusive index would refuse a double assignment anyway).  Returns the
-- sessions that got GPUs.
CREATE OR REPLACE FUNCTION axon_sched_assign(p_pool jsonb, p_reserve_ms bigint)
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
