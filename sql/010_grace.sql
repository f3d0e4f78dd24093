-- 010_grace: every GPU-minute a session runs is paid (issue 16, item 3).
--
-- Until now a session that could not pay a minute that began ran on,
-- unbilled, for session_grace, then stopped; the minutes of the grace were
-- never billed, and a claim needed only the first minute.  So a wallet
-- could take a session at zero balance, run the grace, top up one minute,
-- claim again, and so on: with 2 s minutes and a 10 s grace, 2 credit
-- minutes ran 7.4 minutes.
--
-- The rule now: the grace is a reserve held in the balance, billed as it
-- runs.  With G = ceil(session_grace / billing_minute) minutes
-- (axon_grace_minutes) and a session's cost c = gpus x price per minute:
--
--   * a claim needs c x (1 + G): the first minute and the reserve
--     (axon_session_claim, as the module's script before it);
--   * minutes are billed as they begin, from the whole balance, as before;
--   * the grace begins with the first minute that the balance above the
--     reserve (balance - c x G) does not pay: grace_until is that minute's
--     start + G minutes, a minute boundary.  The G minutes of the grace
--     are billed from the reserve as they begin, and billing stops at
--     grace_until (out_of_credits), where the next, unpaid, minute would
--     begin;
--   * credits that make the reserve whole again (balance after billing >=
--     c x G) end the grace;
--   * a minute that began and that the balance does not pay at all (a
--     grace of 0, a balance debited by something else) stops billing at
--     that minute's start: it is never run on unpaid.
--
-- A stopped session's minutes due are those begun before stop_at (a
-- minute that would begin exactly at stop_at is not run); a running
-- one's, those begun up to now, as before.  So a session is billed every
-- minute that began between started_at and stop_at, and a wallet holding N
-- credit minutes runs at most N GPU-minutes, whatever it does: the balance
-- never goes below zero (001's CHECK) and no session runs a minute the
-- balance did not pay.
--
-- No debt: a debt would let a wallet that never pays it back run the
-- grace for free once more per wallet.


-- G: the grace in billing minutes, rounded up (0: no grace).
CREATE FUNCTION axon_grace_minutes(p_grace_ms bigint, p_minute_ms bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_grace_ms <= 0 THEN 0
                ELSE (p_grace_ms + p_minute_ms - 1) / p_minute_ms END;
$$;


-- 004's claim, with p_grace_minutes: the balance must pay the first minute
-- and the reserve, gpus x price x (1 + G), else insufficient_credits.
DROP FUNCTION axon_session_claim_assign(bigint, text, text, text, int, int,
    text, text, jsonb, bigint);
DROP FUNCTION axon_session_claim(bigint, text, text, text, int, int, text,
    text);

CREATE FUNCTION axon_session_claim(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text, p_grace_minutes int,
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

            IF bal < p_gpus::bigint * p_price
                     * (1 + greatest(p_grace_minutes, 0))
            THEN
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


-- 006's claim and the scheduler's pass, with p_grace_minutes.
CREATE FUNCTION axon_session_claim_assign(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text, p_pool jsonb,
    p_reserve_ms bigint, p_grace_minutes int,
    OUT o_state text, OUT o_end_reason text, OUT o_wallet text,
    OUT o_new boolean, OUT o_assigned int, OUT o_note text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.o_state, c.o_end_reason, c.o_wallet, c.o_new
      INTO o_state, o_end_reason, o_wallet, o_new
      FROM axon_session_claim(p_id, p_wallet, p_profile, p_mode, p_gpus,
                              p_price, p_refuse, p_ssh_key,
                              p_grace_minutes) c;

    o_assigned := 0;

    IF o_new AND o_state = 'queued' THEN
        BEGIN
            SELECT count(*),
                   string_agg(format('session %s gets GPUs %s of host %s',
                                     a.session_id,
                                     array_to_string(a.gpus, ','), a.host),
                              '; ' ORDER BY a.session_id)
              INTO o_assigned, o_note
              FROM axon_sched_assign(p_pool, p_reserve_ms) a;
        EXCEPTION WHEN OTHERS THEN
            o_assigned := -1;
            o_note := SQLERRM;
        END;
    END IF;
END
$$;


-- 006's tick (same arguments, result, locking and ledger rows; see there),
-- with the grace billed from the reserve:
--
--   1. as before, heartbeats, idle, and the end of a grace (stop_at =
--      grace_until);
--   2. the running sessions are locked, then their wallets' balances
--      (those with minutes due, and those in a grace: credits that came
--      end it even between two minutes); each session pays n = min(minutes
--      due, balance / cost); then, from the balance left (left = balance -
--      n x cost) and the reserve (cost x G):
--        - n short of the minutes due: billing stops at the start of the
--          first unpaid minute (stop_at, out_of_credits unless the session
--          was already stopping for another reason);
--        - billing stopped already (stop_at): the grace stays as it is;
--        - left >= reserve: no grace (a grace in course ends);
--        - else the grace, unless it has one already: grace_until = the
--          start of minute U + G, U the first minute the balance above the
--          reserve did not pay (billed + (balance - reserve) / cost);
--   3. balances, ledger rows and sessions in one statement, as before.
CREATE OR REPLACE FUNCTION axon_billing_tick(p_minute_ms bigint,
    p_grace_ms bigint, p_idle_ms bigint, p_only bigint, p_ids bigint[],
    p_heartbeats bigint[])
RETURNS TABLE (wallet text, balance bigint, ledger_id bigint)
LANGUAGE plpgsql
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_g       bigint := axon_grace_minutes(p_grace_ms, p_minute_ms);
    v_minute  interval := p_minute_ms * interval '1 ms';
    v_id      bigint[];
    v_wallet  text[];
    v_cost    bigint[];
    v_billed  bigint[];
    v_due     bigint[];
    v_n       bigint[];
    v_bal     bigint[];
    v_grace   boolean[];
BEGIN
    IF p_ids IS NOT NULL THEN
        UPDATE sessions s
           SET heartbeat_at = to_timestamp(h.at)
          FROM unnest(p_ids, p_heartbeats) h(id, at)
         WHERE s.id = h.id AND s.state = 'running' AND h.at > 0
           AND (s.heartbeat_at IS NULL
                OR s.heartbeat_at < to_timestamp(h.at));
    END IF;

    -- an SSH session is never idle (005: it needs no heartbeat)
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
       AND s.grace_until <= now();

    -- 2. lock the sessions, then their wallets' balances; what each pays
    WITH s AS (
        SELECT x.id, x.wallet, x.gpu_count::bigint * x.price AS cost,
               x.billed_minutes, x.grace_until IS NOT NULL AS grace,
               CASE WHEN x.stop_at IS NULL
                    THEN floor(extract(epoch FROM now() - x.started_at)
                               * 1000 / p_minute_ms)::bigint + 1
                    ELSE greatest(ceil(extract(epoch FROM x.stop_at
                                                          - x.started_at)
                                       * 1000 / p_minute_ms), 0)::bigint
               END AS due
          FROM sessions x
         WHERE x.state = 'running' AND (p_only IS NULL OR x.id = p_only)
           FOR UPDATE SKIP LOCKED
    ), w AS (
        SELECT b.wallet, b.balance
          FROM wallet_balances b
         WHERE b.wallet IN (SELECT s.wallet FROM s
                             WHERE s.due > s.billed_minutes OR s.grace)
           FOR UPDATE
    )
    SELECT array_agg(s.id), array_agg(s.wallet), array_agg(s.cost),
           array_agg(s.billed_minutes), array_agg(s.due),
           array_agg(greatest(least(s.due - s.billed_minutes,
                                    coalesce(w.balance, 0) / s.cost), 0)),
           array_agg(coalesce(w.balance, 0)), array_agg(s.grace)
      INTO v_id, v_wallet, v_cost, v_billed, v_due, v_n, v_bal, v_grace
      FROM s LEFT JOIN w ON w.wallet = s.wallet
     WHERE s.due > s.billed_minutes OR s.grace;

    -- 3. balances, ledger rows, sessions
    IF v_id IS NOT NULL THEN
        RETURN QUERY
        WITH d AS (
            SELECT d.*, d.cost * d.n AS total,
                   d.bal - d.cost * d.n AS left_
              FROM unnest(v_id, v_wallet, v_cost, v_billed, v_due, v_n,
                          v_bal, v_grace)
                   d(id, wallet, cost, billed, due, n, bal, grace)
        ), moved AS (
            UPDATE wallet_balances b
               SET balance = b.balance - d.total, updated_at = now()
              FROM d
             WHERE b.wallet = d.wallet AND d.n > 0
        ), ins AS (
            INSERT INTO credit_ledger (wallet, kind, delta_minutes,
                                       balance_after, reference,
                                       idempotency_key, actor)
            SELECT d.wallet, 'usage', -d.cost,
                   d.bal - d.cost * (k - d.billed + 1),
                   'session:' || d.id, 'usage:' || d.id || ':' || k,
                   'billing'
              FROM d, generate_series(d.billed, d.billed + d.n - 1) k
             WHERE d.n > 0
             ORDER BY d.id, k
            RETURNING credit_ledger.wallet, credit_ledger.id,
                      credit_ledger.balance_after
        ), upd AS (
            UPDATE sessions x
               SET billed_minutes = x.billed_minutes + d.n,
                   stop_at = CASE
                       WHEN d.n < d.due - d.billed
                       THEN least(x.stop_at,
                                  x.started_at + (d.billed + d.n) * v_minute)
                       ELSE x.stop_at END,
                   end_reason = CASE
                       WHEN d.n < d.due - d.billed AND x.stop_at IS NULL
                       THEN 'out_of_credits'
                       ELSE x.end_reason END,
                   grace_until = CASE
                       WHEN d.n < d.due - d.billed OR x.stop_at IS NOT NULL
                       THEN x.grace_until
                       WHEN d.left_ >= d.cost * v_g THEN NULL
                       ELSE coalesce(x.grace_until,
                                     x.started_at
                                     + (d.billed
                                        + greatest(d.bal - d.cost * v_g, 0)
                                          / d.cost
                                        + v_g) * v_minute)
                       END
              FROM d
             WHERE x.id = d.id
        )
        SELECT i.wallet::text, min(i.balance_after), max(i.id)
          FROM ins i
         GROUP BY i.wallet;
    END IF;

    -- billed up to stop_at (or it cannot pay): stop the container
    UPDATE sessions s
       SET state = 'ending'
     WHERE s.state = 'running' AND s.stop_at IS NOT NULL
       AND (p_only IS NULL OR s.id = p_only);
END
$$;
