-- 006_perf: issue 6's two benchmarks, with the same invariants.
--
--   * the billing tick of 10,000 running sessions in well under a second
--     (below: the ledger's triggers, axon_billing_tick);
--   * claim -> scheduled: the claim and the scheduler's pass in one
--     transaction, one round trip (axon_session_claim_assign, at the end).
--
--
-- The billing tick.  Where 004's tick spent its time (EXPLAIN ANALYZE,
-- 10,000 sessions due one minute each, about 1.5 s):
--
--   * JIT compilation, ~0.9 s: generate_series() is estimated at 1,000
--     rows per session, so the plan costs ~10^7 and crosses jit_above_cost
--     (10^5); the tick runs JIT-free now (SET jit = off on the function);
--   * 001/002's ledger trigger, ~0.3 s: one PL/pgSQL call and one UPDATE of
--     wallet_balances per ledger row.  The tick now moves each wallet's
--     balance once, set-based, and inserts its ledger rows with their
--     balance_after already computed; the row trigger runs only for rows
--     that come without one (every other caller: axon_credit_post, ...).
--
-- What keeps the ledger honest then is a statement-level trigger that
-- checks every insert into credit_ledger, whoever made it, against the
-- chain of its wallet (it raises, and the statement is undone, if not):
--
--   * each new row's balance_after is the previous row's (by id, within
--     the wallet; 0 before the first) plus its delta_minutes;
--   * a wallet's newest new row is its newest row of all, and its
--     balance_after is the wallet's balance in wallet_balances.
--
-- So "balance = the newest ledger row's balance_after = the sum of the
-- deltas", "per-wallet ledger order = balance order" and 001's CHECKs
-- (balance >= 0, balance_after >= 0) hold for every insert, as before.
-- Ids are still drawn after the wallet's balance row is locked (the tick
-- locks the balances first, in a statement of its own), so concurrent
-- writers of one wallet still draw ids in the order they apply.


-- Rows that come with their balance_after were applied by their writer.
DROP TRIGGER credit_ledger_apply ON credit_ledger;

CREATE TRIGGER credit_ledger_apply
    BEFORE INSERT ON credit_ledger
    FOR EACH ROW
    WHEN (NEW.balance_after IS NULL)
    EXECUTE FUNCTION credit_ledger_apply();


CREATE FUNCTION credit_ledger_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad  record;
BEGIN
    SELECT n.wallet, n.id, n.balance_after INTO bad
      FROM (SELECT r.wallet, r.id, r.delta_minutes, r.balance_after,
                   lag(r.balance_after) OVER w AS prev,
                   lead(r.id) OVER w AS next_id
              FROM credit_ledger_new r
            WINDOW w AS (PARTITION BY r.wallet ORDER BY r.id)) n
     WHERE n.balance_after IS DISTINCT FROM
               coalesce(n.prev,
                        (SELECT l.balance_after FROM credit_ledger l
                          WHERE l.wallet = n.wallet AND l.id < n.id
                          ORDER BY l.id DESC
                          LIMIT 1),
                        0) + n.delta_minutes
        OR (n.next_id IS NULL
            AND (n.balance_after IS DISTINCT FROM
                     (SELECT b.balance FROM wallet_balances b
                       WHERE b.wallet = n.wallet)
                 OR EXISTS (SELECT 1 FROM credit_ledger l
                             WHERE l.wallet = n.wallet AND l.id > n.id)))
     LIMIT 1;

    IF FOUND THEN
        RAISE EXCEPTION 'credit_ledger_chain: ledger row % (wallet %, '
                        'balance_after %) does not follow its wallet''s '
                        'ledger and balance', bad.id, bad.wallet,
                        bad.balance_after
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    RETURN NULL;
END
$$;

CREATE TRIGGER credit_ledger_chain
    AFTER INSERT ON credit_ledger
    REFERENCING NEW TABLE AS credit_ledger_new
    FOR EACH STATEMENT EXECUTE FUNCTION credit_ledger_chain();


-- Each running session's row is updated every minute (billed_minutes,
-- grace_until: no indexed column), so its page keeps room for the new
-- version: a HOT update, no new entries in sessions' four indexes (~15 %
-- of the tick over 10,000 fresh sessions).  Pages written from now on.
ALTER TABLE sessions SET (fillfactor = 50);


-- 004's tick, with the same arguments, result and behaviour (see there);
-- only how the minutes reach the ledger changed:
--
--   1. the running sessions are locked (SKIP LOCKED), then the balances of
--      their wallets (FOR UPDATE), and what each session pays is computed
--      from the locked balance: n = min(minutes due, balance / cost);
--   2. one statement then moves each wallet's balance by what its session
--      pays, inserts the ledger rows (usage:SESSION:K, in order of session
--      and minute: ids follow balance order) with balance_after = the
--      balance before, minus the cost of the minutes up to that row, and
--      updates billed_minutes and grace_until.
--
-- A wallet has one running session at most (001's
-- sessions_one_live_per_wallet), so each wallet's rows are one session's.
-- credit_ledger_chain checks the result; 001's CHECKs refuse a balance
-- below zero (which step 1 never asks for).
CREATE OR REPLACE FUNCTION axon_billing_tick(p_minute_ms bigint,
    p_grace_ms bigint, p_idle_ms bigint, p_only bigint, p_ids bigint[],
    p_heartbeats bigint[])
RETURNS TABLE (wallet text, balance bigint, ledger_id bigint)
LANGUAGE plpgsql
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
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
       AND s.grace_until < now();

    -- 1. lock the sessions, then their wallets' balances; what each pays
    WITH s AS (
        SELECT x.id, x.wallet, x.gpu_count::bigint * x.price AS cost,
               x.billed_minutes, x.grace_until IS NOT NULL AS grace,
               floor(extract(epoch FROM coalesce(x.stop_at, now())
                                        - x.started_at) * 1000
                     / p_minute_ms)::bigint + 1 AS due
          FROM sessions x
         WHERE x.state = 'running' AND (p_only IS NULL OR x.id = p_only)
           FOR UPDATE SKIP LOCKED
    ), w AS (
        SELECT b.wallet, b.balance
          FROM wallet_balances b
         WHERE b.wallet IN (SELECT s.wallet FROM s
                             WHERE s.due > s.billed_minutes)
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

    -- 2. balances, ledger rows, sessions
    IF v_id IS NOT NULL THEN
        RETURN QUERY
        WITH d AS (
            SELECT d.*, d.cost * d.n AS total
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
                   grace_until = CASE
                       WHEN d.n < d.due - d.billed
                       THEN coalesce(x.grace_until,
                                     now() + p_grace_ms * interval '1 ms')
                       ELSE NULL END
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


-- session.claim and the scheduler's pass (004's axon_session_claim, then
-- axon_sched_assign, see there) in one transaction: a claim on a pool with
-- room is starting when its job's one statement returns, and the worker
-- publishes it at once, without a round trip to Postgres in between.  A
-- pass that fails (an error of axon_sched_assign) leaves the claim
-- recorded and queued: the worker's next pass assigns it.  o_assigned:
-- how many sessions got GPUs (-1: the pass failed); o_note: which, or the
-- pass's error, for the log.
CREATE FUNCTION axon_session_claim_assign(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text, p_pool jsonb,
    p_reserve_ms bigint,
    OUT o_state text, OUT o_end_reason text, OUT o_wallet text,
    OUT o_new boolean, OUT o_assigned int, OUT o_note text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.o_state, c.o_end_reason, c.o_wallet, c.o_new
      INTO o_state, o_end_reason, o_wallet, o_new
      FROM axon_session_claim(p_id, p_wallet, p_profile, p_mode, p_gpus,
                              p_price, p_refuse, p_ssh_key) c;

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
