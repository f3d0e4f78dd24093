-- Credits many confirming deposits in one transaction, each as
-- axon_deposit_credit() would (p_log[i]: the log's index in its
-- transaction), actor 'worker': a row per deposit (id, and that
-- function's result).  The common deposit (confirming, its chain event
-- claimed by nobody nor by another deposit of the batch, no ledger row of
-- its key yet, worth 1 minute to 10^12) is posted with the others in one
-- INSERT into credit_ledger, in id order, with the balance after each row
-- (computed here, as the billing tick does: credit_ledger_apply would move
-- a balance row once per ledger row; credit_ledger_chain checks them); any
-- other goes through axon_deposit_credit() after them, but for one
-- recorded again after its ledger row was posted (a rescan, a deposits row
-- lost): its own key's row, of its wallet and amount, and its chain event
-- unclaimed or claimed by that row, is credited with the others too, as
-- axon_deposit_credit() would (nothing posted, applied false).  An x402
-- claim made meanwhile: 23505, all of this undone, as for one.  The
-- batch's ids are matched against f and g by a subquery (hashed), not by
-- = ANY of the array variable (searched along for each row, unless the
-- plan made it a constant), and the common ones are read once, into a
-- column each that the posting statement unnests (deposits not joined
-- again): the indexer credits a range of thousands of deposits as one
-- batch.
CREATE OR REPLACE FUNCTION axon_deposits_credit(
    p_ids bigint[], p_price bigint[], p_decimals int[], p_discount int[],
    p_log int[])
RETURNS TABLE (id bigint, new_state text, minutes bigint, ledger_id bigint,
               balance bigint, applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    -- the common ones, a column each (their id, discount, log index in
    -- the tx, chain, tx, payer, ledger key, minutes): read once, here
    f      bigint[];
    fdisc  int[];
    flog   int[];
    fchain bigint[];
    ftx    eth_hash[];
    fpayer eth_address[];
    fk     text[];
    fm     bigint[];
    g      bigint[];
    c      record;
BEGIN
    -- locked in id order, as one credit after another would
    PERFORM 1 FROM deposits d WHERE d.id = ANY (p_ids) ORDER BY d.id
        FOR UPDATE;

    SELECT coalesce(array_agg(x.id), '{}'), array_agg(x.disc),
           array_agg(x.log), array_agg(x.chain_id), array_agg(x.tx_hash),
           array_agg(x.payer), array_agg(x.k), array_agg(x.m::bigint)
      INTO f, fdisc, flog, fchain, ftx, fpayer, fk, fm
      FROM (SELECT u.id, u.disc, u.log, d.chain_id, d.tx_hash, d.state,
                   d.payer,
                   'deposit:' || d.chain_id || ':' || d.tx_hash || ':'
                       || d.log_index AS k,
                   floor(d.amount * u.price * 100
                         / (power(10::numeric, u.dec) * (100 - u.disc))) AS m,
                   count(*) OVER (PARTITION BY d.chain_id, d.tx_hash, u.log)
                       AS claims,
                   count(*) OVER (PARTITION BY u.id) AS times
              FROM unnest(p_ids, p_price, p_decimals, p_discount, p_log)
                   AS u(id, price, dec, disc, log)
              JOIN deposits d ON d.id = u.id) x
     WHERE x.state = 'confirming' AND x.claims = 1 AND x.times = 1
       AND x.m >= 1 AND x.m <= 1000000000000
       AND NOT EXISTS (SELECT 1 FROM chain_credits e
                        WHERE e.chain_id = x.chain_id
                          AND e.tx_hash = x.tx_hash AND e.log_index = x.log)
       AND NOT EXISTS (SELECT 1 FROM credit_ledger l
                        WHERE l.idempotency_key = x.k);

    -- posted already, under its own key: its ledger row found again (among
    -- those not in f: each of f is alone in its partitions, so the others'
    -- counts are the same without them)
    SELECT coalesce(array_agg(x.id), '{}') INTO g
      FROM (SELECT u.id, u.log, d.chain_id, d.tx_hash, d.state, d.payer,
                   'deposit:' || d.chain_id || ':' || d.tx_hash || ':'
                       || d.log_index AS k,
                   floor(d.amount * u.price * 100
                         / (power(10::numeric, u.dec) * (100 - u.disc))) AS m,
                   count(*) OVER (PARTITION BY d.chain_id, d.tx_hash, u.log)
                       AS claims,
                   count(*) OVER (PARTITION BY u.id) AS times
              FROM unnest(p_ids, p_price, p_decimals, p_discount, p_log)
                   AS u(id, price, dec, disc, log)
              JOIN deposits d ON d.id = u.id
             WHERE u.id NOT IN (SELECT unnest(f))) x
      JOIN credit_ledger l ON l.idempotency_key = x.k
     WHERE x.state = 'confirming' AND x.claims = 1 AND x.times = 1
       AND x.m >= 1 AND x.m <= 1000000000000
       AND l.wallet = x.payer AND l.kind = 'deposit' AND l.delta_minutes = x.m
       AND NOT EXISTS (SELECT 1 FROM chain_credits e
                        WHERE e.chain_id = x.chain_id
                          AND e.tx_hash = x.tx_hash AND e.log_index = x.log
                          AND e.credited_as <> x.k);

    -- the wallets' balances locked (created if missing, 0), in order
    INSERT INTO wallets (address)
        SELECT DISTINCT p FROM unnest(fpayer) AS p
        ON CONFLICT (address) DO NOTHING;

    INSERT INTO wallet_balances (wallet, balance)
        SELECT DISTINCT p, 0 FROM unnest(fpayer) AS p
        ON CONFLICT (wallet) DO NOTHING;

    PERFORM 1 FROM wallet_balances b
      WHERE b.wallet IN (SELECT unnest(fpayer))
      ORDER BY b.wallet FOR UPDATE;

    -- then, as credit_ledger_apply would row by row: each wallet's balance
    -- moved by its deposits, the ledger rows in id order with the balance
    -- after each (ids drawn in that order: a wallet's ledger order is its
    -- balance order)
    RETURN QUERY
    WITH x AS (
        SELECT *
          FROM unnest(f, fdisc, flog, fchain, ftx, fpayer, fk, fm)
               AS x(id, disc, log, chain_id, tx_hash, payer, k, m)
    ), y AS (
        SELECT x.*, b.balance + sum(x.m) OVER (PARTITION BY x.payer
                                               ORDER BY x.id) AS after
          FROM x JOIN wallet_balances b ON b.wallet = x.payer
    ), moved AS (
        UPDATE wallet_balances b
           SET balance = b.balance + t.total, updated_at = now()
          FROM (SELECT x.payer, sum(x.m) AS total FROM x GROUP BY x.payer) t
         WHERE b.wallet = t.payer
    ), l AS (
        INSERT INTO credit_ledger (wallet, kind, delta_minutes, balance_after,
                                   reference, idempotency_key, actor)
            SELECT y.payer, 'deposit', y.m, y.after, y.tx_hash, y.k, 'worker'
              FROM y ORDER BY y.id
        RETURNING credit_ledger.id, credit_ledger.idempotency_key,
                  credit_ledger.balance_after
    ), e AS (
        INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id,
                                   credited_as)
            SELECT x.chain_id, x.tx_hash, x.log, l.id, x.k
              FROM x JOIN l ON l.idempotency_key = x.k
    ), s AS (
        UPDATE deposits d
           SET state = 'credited', credited_minutes = x.m,
               discount_pct = x.disc, ledger_id = l.id, updated_at = now()
          FROM x JOIN l ON l.idempotency_key = x.k
         WHERE d.id = x.id
    )
    SELECT x.id, 'credited'::text, x.m, l.id, l.balance_after, true
      FROM x JOIN l ON l.idempotency_key = x.k;

    IF cardinality(g) > 0 THEN
        RETURN QUERY
        WITH x AS (
            SELECT u.id, u.disc, u.log, d.chain_id, d.tx_hash, d.payer,
                   'deposit:' || d.chain_id || ':' || d.tx_hash || ':'
                       || d.log_index AS k,
                   floor(d.amount * u.price * 100
                         / (power(10::numeric, u.dec)
                            * (100 - u.disc)))::bigint
                       AS m
              FROM unnest(p_ids, p_price, p_decimals, p_discount, p_log)
                   AS u(id, price, dec, disc, log)
              JOIN deposits d ON d.id = u.id
             WHERE u.id IN (SELECT unnest(g))
        ), e AS (
            INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id,
                                       credited_as)
                SELECT x.chain_id, x.tx_hash, x.log, l.id, x.k
                  FROM x JOIN credit_ledger l ON l.idempotency_key = x.k
                 WHERE NOT EXISTS (SELECT 1 FROM chain_credits o
                                    WHERE o.chain_id = x.chain_id
                                      AND o.tx_hash = x.tx_hash
                                      AND o.log_index = x.log)
        ), s AS (
            UPDATE deposits d
               SET state = 'credited', credited_minutes = x.m,
                   discount_pct = x.disc, ledger_id = l.id,
                   updated_at = now()
              FROM x JOIN credit_ledger l ON l.idempotency_key = x.k
             WHERE d.id = x.id
        )
        SELECT x.id, 'credited'::text, x.m, l.id, b.balance, false
          FROM x JOIN credit_ledger l ON l.idempotency_key = x.k
          JOIN wallet_balances b ON b.wallet = x.payer;
    END IF;

    FOR c IN SELECT u.* FROM unnest(p_ids, p_price, p_decimals, p_discount,
                                    p_log) AS u(id, price, dec, disc, log)
              WHERE u.id NOT IN (SELECT unnest(f))
                AND u.id NOT IN (SELECT unnest(g)) ORDER BY u.id
    LOOP
        RETURN QUERY SELECT c.id, r.new_state, r.minutes, r.ledger_id,
                            r.balance, r.applied
                       FROM axon_deposit_credit(c.id, c.price, c.dec, c.disc,
                                                'worker', NULL, NULL, c.log) r;
    END LOOP;
END
$$;
