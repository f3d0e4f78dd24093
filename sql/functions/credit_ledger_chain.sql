-- The statement-level check of every insert into credit_ledger, whoever
-- made it (it raises, and the statement is undone, if not):
--
--   * each new row's balance_after is the previous row's (by id, within
--     the wallet; 0 before the first) plus its delta_minutes;
--   * a wallet's newest new row is its newest row of all, and its
--     balance_after is the wallet's balance in wallet_balances.
CREATE OR REPLACE FUNCTION credit_ledger_chain() RETURNS trigger
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
