-- 004_sessions: GPU sessions (issue 6): the claim, the fair queue, the
-- exclusive assignment of GPUs, billing per minute, the end of a session.
--
-- A session's life:
--
--   queued    claimed (session.claim); waits in the queue: position, reason
--   starting  GPUs taken (axon_sched_assign, gpu_assignments rows); a
--             worker holds its lease while it launches the container
--   running   the container answers; billed per minute from started_at
--   ending    billing stopped at stop_at (release, idle, out of credits,
--             container gone, admin); a worker stops the container
--   ended     GPUs released; ended_at, end_reason, billed_minutes final
--
-- Every function here is one transaction of one job or one step of the
-- scheduler; every one can run twice, or on two workers at once, and
-- leave the same result:
--
--   * no GPU in two live sessions: 001's gpu_assignments_exclusive index,
--     and axon_sched_assign runs under one advisory lock;
--   * a minute is billed once: one ledger row per (session, minute), its
--     idempotency key usage:SESSION:MINUTE, and billed_minutes moves in
--     the same transaction; running sessions are locked (SKIP LOCKED) by
--     the tick that bills them;
--   * no balance below zero: a tick bills only the minutes the balance
--     pays (001's CHECK would refuse the rest); a session that cannot pay
--     its next minute gets grace_until.
--
-- Redis is told of each change through rev and synced: a change of what
-- the user sees bumps rev and clears synced (trigger); the worker
-- publishes unsynced rows to axon:session:ID with a script that never
-- writes a smaller rev over a greater one, then sets synced.


-- The module takes the id (INCR axon:session:next); the worker inserts it.
ALTER TABLE sessions ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE IF EXISTS sessions_id_seq;

ALTER TABLE sessions
    ADD COLUMN price        int NOT NULL DEFAULT 1 CHECK (price >= 1),
    ADD COLUMN position     int,
    ADD COLUMN reason       text,
    ADD COLUMN upstream     text,
    ADD COLUMN grace_until  timestamptz,
    ADD COLUMN heartbeat_at timestamptz,
    ADD COLUMN stop_at      timestamptz,
    ADD COLUMN lease_until  timestamptz,
    ADD COLUMN lease_by     text,
    ADD COLUMN attempts     int NOT NULL DEFAULT 0,
    ADD COLUMN rev          bigint NOT NULL DEFAULT 1,
    ADD COLUMN synced       boolean NOT NULL DEFAULT false,
    -- an SSH session's authorized key (checked by the module)
    ADD COLUMN ssh_key      text CHECK (length(ssh_key) <= 8192);

CREATE INDEX sessions_live_idx ON sessions (state, id) WHERE state <> 'ended';
CREATE INDEX sessions_unsynced_idx ON sessions (id) WHERE NOT synced;


-- Hosts that take no new sessions (gpu.drain).
CREATE TABLE gpu_hosts_drained (
    host    text PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    reason  text
);


-- What the user sees changed: publish again.  (billed_minutes alone does
-- not count while the session runs: a tick would republish every session
-- every minute; it is published with the next change and at the end.)
-- The WHEN clause keeps the billing tick's updates free of a trigger call.
CREATE FUNCTION sessions_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.rev := OLD.rev + 1;
    NEW.synced := false;

    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_touch
    BEFORE UPDATE ON sessions
    FOR EACH ROW
    WHEN ((NEW.state, NEW.position, NEW.reason, NEW.upstream,
           NEW.grace_until, NEW.end_reason, NEW.started_at, NEW.ended_at)
          IS DISTINCT FROM
          (OLD.state, OLD.position, OLD.reason, OLD.upstream,
           OLD.grace_until, OLD.end_reason, OLD.started_at, OLD.ended_at))
    EXECUTE FUNCTION sessions_touch();


-- session.claim: the session's row, once.  p_refuse (unknown_profile,
-- no_host_fits) records it ended at once; so do a live session of the
-- same wallet (session_exists) and a balance short of the first minute
-- (insufficient_credits): the module checked both in Redis, this is the
-- system of record's word.  Returns the row's state and end_reason, and
-- its wallet (a row of another wallet under this id: the caller refuses).
CREATE FUNCTION axon_session_claim(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text,
    OUT o_state text, OUT o_end_reason text, OUT o_wallet text,
    OUT o_new boolean)
LANGUAGE plpgsql AS $$
DECLARE
    s    sessions%ROWTYPE;
    bal  bigint;
BEGIN
    o_new := false;

    SELECT * INTO s FROM sessions WHERE id = p_id;

    IF FOUND THEN
        o_state := s.state;
        o_end_reason := s.end_reason;
        o_wallet := s.wallet;
        RETURN;
    END IF;

    INSERT INTO wallets (address) VALUES (p_wallet)
        ON CONFLICT (address) DO NOTHING;

    -- claims of one wallet, one at a time
    PERFORM 1 FROM wallets WHERE address = p_wallet FOR UPDATE;

    IF p_refuse IS NULL THEN
        IF EXISTS (SELECT 1 FROM sessions x
                    WHERE x.wallet = p_wallet AND x.state <> 'ended')
        THEN
            p_refuse := 'session_exists';

        ELSE
            SELECT coalesce((SELECT b.balance FROM wallet_balances b
                              WHERE b.wallet = p_wallet), 0)
              INTO bal;

            IF bal < p_gpus::bigint * p_price THEN
                p_refuse := 'insufficient_credits';
            END IF;
        END IF;
    END IF;

    INSERT INTO sessions (id, wallet, profile, mode, gpu_count, price, state,
                          ended_at, end_reason, reason, ssh_key)
        VALUES (p_id, p_wallet, p_profile, p_mode, p_gpus, p_price,
                CASE WHEN p_refuse IS NULL THEN 'queued' ELSE 'ended' END,
                CASE WHEN p_refuse IS NULL THEN NULL ELSE now() END,
                p_refuse,
                CASE WHEN p_refuse IS NULL THEN 'waiting for the scheduler'
                END,
                p_ssh_key);

    o_state := CASE WHEN p_refuse IS NULL THEN 'queued' ELSE 'ended' END;
    o_end_reason := p_refuse;
    o_wallet := p_wallet;
    o_new := true;
END
$$;


-- The scheduler: one pass over the queue, first come first served, with
-- backfill and a reservation.  p_pool is the configured pool,
-- [{"host": NAME, "gpus": [0, 1, ...]}, ...].  In order of id:
--
--   * a session that fits (all its GPUs free on one host that is not
--     drained; the host with the fewest free GPUs that fits) takes them:
--     gpu_assignments rows, state starting;
--   * one that does not fit waits, and the ones behind it may start
--     (backfill), until the first waiting one has waited p_reserve_ms:
--     then nothing behind it starts until it has (its GPUs are reserved
--     as they free up);
--   * every one still queued gets its position (1: next) and the reason.
--
-- Runs under an advisory lock: two workers' passes do not interleave (the
-- exclusive index would refuse a double assignment anyway).  Returns the
-- sessions that got GPUs.
CREATE FUNCTION axon_sched_assign(p_pool jsonb, p_reserve_ms bigint)
RETURNS TABLE (session_id bigint, host text, gpus int[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    q         record;
    pos       int := 0;
    blocked   bigint;
    blocked_n int;
    v_host    text;
    picked    int[];
    fh        text[];       -- the free GPUs: host, index
    fg        int[];
    nfree     int;
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

    FOR q IN SELECT s.id, s.gpu_count, s.created_at, s.position, s.reason
               FROM sessions s
              WHERE s.state = 'queued'
              ORDER BY s.id
                FOR UPDATE
    LOOP
        v_host := NULL;

        IF blocked IS NULL THEN
            SELECT f.h, (array_agg(f.g ORDER BY f.g))[1:q.gpu_count]
              INTO v_host, picked
              FROM unnest(fh, fg) f(h, g)
             GROUP BY f.h
            HAVING count(*) >= q.gpu_count
             ORDER BY count(*), f.h
             LIMIT 1;
        END IF;

        IF v_host IS NOT NULL THEN
            INSERT INTO gpu_assignments (session_id, host, gpu_index)
                SELECT q.id, v_host, unnest(picked);

            SELECT coalesce(array_agg(f.h ORDER BY f.h, f.g), '{}'),
                   coalesce(array_agg(f.g ORDER BY f.h, f.g), '{}')
              INTO fh, fg
              FROM unnest(fh, fg) f(h, g)
             WHERE NOT (f.h = v_host AND f.g = ANY (picked));

            UPDATE sessions
               SET state = 'starting', host = v_host, position = NULL,
                   reason = NULL, lease_until = NULL
             WHERE id = q.id;

            session_id := q.id;
            host := v_host;
            gpus := picked;
            RETURN NEXT;
            CONTINUE;
        END IF;

        pos := pos + 1;

        SELECT coalesce(max(c), 0) INTO nfree
          FROM (SELECT count(*) AS c FROM unnest(fh) f(h) GROUP BY f.h) t;

        IF blocked IS NOT NULL THEN
            why := format('waiting behind session %s, which has the GPUs '
                          'reserved (it needs %s)', blocked, blocked_n);

        ELSIF now() - q.created_at >= p_reserve_ms * interval '1 ms' THEN
            blocked := q.id;
            blocked_n := q.gpu_count;
            why := format('next: waiting for %s GPU%s on one host (%s free); '
                          'GPUs are reserved for this session',
                          q.gpu_count, CASE WHEN q.gpu_count > 1 THEN 's'
                                            ELSE '' END, nfree);

        ELSE
            why := format('waiting for %s GPU%s on one host (%s free)',
                          q.gpu_count, CASE WHEN q.gpu_count > 1 THEN 's'
                                            ELSE '' END, nfree);
        END IF;

        IF q.position IS DISTINCT FROM pos OR q.reason IS DISTINCT FROM why
        THEN
            UPDATE sessions SET position = pos, reason = why
             WHERE id = q.id;
        END IF;
    END LOOP;
END
$$;


-- A worker takes one session to launch (starting) or stop (ending) whose
-- lease is free or has expired (a worker that died mid-launch), for
-- p_lease_ms.  attempts counts the leases: above 1, a container of an
-- earlier attempt may be left to remove first.
CREATE FUNCTION axon_session_lease(p_worker text, p_lease_ms bigint)
RETURNS TABLE (id bigint, wallet text, mode text, state text, gpus int[],
               attempts int, ssh_key text)
LANGUAGE sql AS $$
    UPDATE sessions s
       SET lease_until = now() + p_lease_ms * interval '1 ms',
           lease_by = p_worker, attempts = s.attempts + 1
     WHERE s.id = (SELECT x.id FROM sessions x
                    WHERE x.state IN ('starting', 'ending')
                      AND (x.lease_until IS NULL OR x.lease_until < now())
                    ORDER BY x.id
                    LIMIT 1
                      FOR UPDATE SKIP LOCKED)
    RETURNING s.id, s.wallet, s.mode, s.state,
              ARRAY(SELECT a.gpu_index FROM gpu_assignments a
                     WHERE a.session_id = s.id AND a.released_at IS NULL
                     ORDER BY a.gpu_index),
              s.attempts, s.ssh_key;
$$;


-- The container answers: running from now, unless the session was ended
-- or taken by another lease meanwhile (false: the caller removes the
-- container).  Its first minute is billed by the caller's next tick.
CREATE FUNCTION axon_session_started(p_id bigint, p_attempts int,
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


-- Ends a session now, GPUs released: for a queued one, a launch that
-- failed (nothing billed: billing starts at running), and an ending one
-- whose container is gone.  p_from: the states it may end from.
CREATE FUNCTION axon_session_finish(p_id bigint, p_from text[],
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


-- Asks a session to end: queued -> ended at once (with p_reason);
-- starting -> ending; running -> billing stops now (stop_at), and the
-- tick that follows bills up to it and makes it ending.  p_wallet, when
-- given, must be the session's (else 'not_yours').  p_queued_only: leave
-- the queue, nothing else ('not_queued').  Returns the outcome: ended,
-- stopping, already (ending or ended), missing, not_yours, not_queued.
CREATE FUNCTION axon_session_stop(p_id bigint, p_wallet text,
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
                            end_reason = p_reason, lease_until = NULL
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


-- The billing tick, set-based: one statement bills every running session
-- (p_only: that one) the minutes that have begun and are not billed yet,
-- as far as its balance pays: minute K (0, 1, ...) begins at started_at +
-- K x p_minute_ms and costs gpu_count x price, ledger key
-- usage:SESSION:K.  Before it: heartbeats (p_ids, p_heartbeats: unix s,
-- read from Redis) are recorded, and a running session idle for
-- p_idle_ms (0: never), or past its grace_until, stops billing now.
-- After it: a session that could not pay a minute that began gets
-- grace_until (now + p_grace_ms) unless it has one; one that paid all
-- loses it; running sessions whose billing stopped (stop_at) and are
-- billed up to it become ending.
--
-- Returns each wallet charged, with its balance and newest ledger id, for
-- Redis.  Running sessions another tick holds are skipped (SKIP LOCKED):
-- that tick bills them.
CREATE FUNCTION axon_billing_tick(p_minute_ms bigint, p_grace_ms bigint,
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
         WHERE s.state = 'running' AND s.stop_at IS NULL
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


-- gpu.drain / gpu.undrain
CREATE FUNCTION axon_gpu_drain(p_host text, p_drain boolean, p_reason text,
    p_job text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_drain THEN
        INSERT INTO gpu_hosts_drained (host, reason)
            VALUES (p_host, p_reason)
            ON CONFLICT (host) DO UPDATE SET reason = EXCLUDED.reason;
    ELSE
        DELETE FROM gpu_hosts_drained WHERE host = p_host;
    END IF;

    INSERT INTO audit_log (actor, action, subject, detail, job_id)
        VALUES ('admin', CASE WHEN p_drain THEN 'gpu.drain'
                              ELSE 'gpu.undrain' END,
                p_host, jsonb_build_object('via', 'redis', 'reason', p_reason),
                p_job)
        ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO NOTHING;
END
$$;
