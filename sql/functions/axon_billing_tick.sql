-- The billing tick, set-based: one statement bills every running session
-- (p_only: that one) the minutes that have begun and are not billed yet,
-- as far as its balance pays: minute K (0, 1, ...) begins at started_at +
-- K x p_minute_ms and costs gpu_count x price, ledger key
-- usage:SESSION:K.  Returns each wallet charged, with its balance and
-- newest ledger id, for Redis.  Running sessions another tick holds are
-- skipped (SKIP LOCKED): that tick bills them.  JIT off: generate_series()
-- is estimated at 1,000 rows per session, and JIT compilation cost more
-- than the whole tick of 10,000 sessions.
--
--   1. heartbeats (p_ids, p_heartbeats: unix s, read from Redis) are
--      recorded; a running session idle for p_idle_ms (0: never), or at
--      the end of its grace (stop_at = grace_until) with no credits come
--      that pay what is due and the reserve, stops billing;
--   2. the running sessions are locked (SKIP LOCKED), then their wallets'
--      balances (FOR UPDATE; those with minutes due, and those in a grace:
--      credits that came end it even between two minutes); each session
--      pays n = min(minutes due, balance / cost); then, from the balance
--      left (left = balance - n x cost) and the reserve (cost x G, G =
--      axon_grace_minutes(p_grace_ms, p_minute_ms)):
--        - n short of the minutes due: billing stops at the start of the
--          first unpaid minute (stop_at, out_of_credits unless the session
--          was already stopping for another reason);
--        - billing stopped already (stop_at): the grace stays as it is;
--        - left >= reserve: no grace (a grace in course ends);
--        - else the grace, unless it has one already: grace_until = the
--          start of minute U + G, U the first minute the balance above the
--          reserve did not pay (billed + (balance - reserve) / cost);
--   3. one statement then moves each wallet's balance by what its session
--      pays, inserts the ledger rows (usage:SESSION:K, in order of session
--      and minute: ids follow balance order) with balance_after = the
--      balance before, minus the cost of the minutes up to that row
--      (credit_ledger_chain checks them), and updates billed_minutes,
--      stop_at and grace_until;
--   4. running sessions billed up to their stop_at become ending: those
--      it locked in 2 (one skipped is billed and ended by a later tick).
--
-- A session whose host is down (hosts, 013) is due no minute that begins
-- after the host's last confirmed list (confirmed_at; its start, if that
-- is later): billing stops at the last minute confirmed running, and a
-- stop while the host is down bills no further either.  least() ignores
-- the NULL of a host up (or with no row).
--
-- A wallet has one running session at most
-- (sessions_one_live_per_wallet), so each wallet's rows are one session's.
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
    v_locked  bigint[];
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

    -- at the end of its grace, unless credits came that pay the minutes
    -- begun and make the reserve whole again (a tick that saw them before
    -- grace_until would have ended the grace: this one ran late, or the
    -- worker was down); 2 then ends the grace and bills them
    UPDATE sessions s
       SET stop_at = greatest(s.grace_until, s.started_at),
           end_reason = 'out_of_credits'
     WHERE s.state = 'running' AND s.stop_at IS NULL
       AND (p_only IS NULL OR s.id = p_only)
       AND s.grace_until <= now()
       AND coalesce((SELECT b.balance FROM wallet_balances b
                      WHERE b.wallet = s.wallet), 0)
           < s.gpu_count::bigint * s.price
             * (greatest(floor(extract(epoch FROM now() - s.started_at)
                               * 1000 / p_minute_ms)::bigint + 1
                         - s.billed_minutes, 0)
                + v_g);

    -- 2. lock the sessions, then their wallets' balances; what each pays
    WITH s AS (
        SELECT x.id, x.wallet, x.gpu_count::bigint * x.price AS cost,
               x.billed_minutes, x.grace_until IS NOT NULL AS grace,
               least(CASE WHEN x.stop_at IS NULL
                          THEN floor(extract(epoch FROM now()
                                                        - x.started_at)
                                     * 1000 / p_minute_ms)::bigint + 1
                          ELSE greatest(ceil(extract(epoch FROM x.stop_at
                                                          - x.started_at)
                                             * 1000 / p_minute_ms), 0)::bigint
                     END,
                     CASE WHEN h.down
                          THEN floor(extract(epoch FROM
                                             greatest(h.confirmed_at,
                                                      x.started_at)
                                             - x.started_at)
                                     * 1000 / p_minute_ms)::bigint + 1
                     END) AS due
          FROM sessions x
          LEFT JOIN hosts h ON h.name = x.host AND h.down
         WHERE x.state = 'running' AND (p_only IS NULL OR x.id = p_only)
           FOR UPDATE OF x SKIP LOCKED
    ), w AS (
        SELECT b.wallet, b.balance
          FROM wallet_balances b
         WHERE b.wallet IN (SELECT s.wallet FROM s
                             WHERE s.due > s.billed_minutes OR s.grace)
           FOR UPDATE
    )
    SELECT (SELECT array_agg(l.id) FROM s l),
           array_agg(s.id), array_agg(s.wallet), array_agg(s.cost),
           array_agg(s.billed_minutes), array_agg(s.due),
           array_agg(greatest(least(s.due - s.billed_minutes,
                                    coalesce(w.balance, 0) / s.cost), 0)),
           array_agg(coalesce(w.balance, 0)), array_agg(s.grace)
      INTO v_locked, v_id, v_wallet, v_cost, v_billed, v_due, v_n, v_bal,
           v_grace
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

    -- billed up to stop_at (or it cannot pay): stop the container.  Only
    -- the sessions this tick locked: one another transaction held was
    -- skipped unbilled, and ending it would leave its last minutes unpaid
    -- (nothing bills a session once it is ending); the tick after bills
    -- and ends it.
    UPDATE sessions s
       SET state = 'ending'
     WHERE s.id IN (SELECT unnest(v_locked))
       AND s.state = 'running' AND s.stop_at IS NOT NULL;
END
$$;
