-- 003_deposits: deposits on chain, credited once.
--
-- A deposit is a row of 001's deposits table, one per (chain, tx hash, log
-- index) (log index -1: native ETH), found by a deposit.verify job or by
-- the indexer.  States: 'confirming' (in a block, fewer than N
-- confirmations), 'credited' (its ledger row is posted: the two change in
-- one transaction), 'orphaned' (its block left the chain before N
-- confirmations: never credited unless it is found again), 'rejected' (by
-- an admin, or an amount worth no whole minute).
--
-- The money math is here, in numeric (exact, 78 digits): minutes =
-- floor(amount x price x 100 / (10^decimals x (100 - discount))), price in
-- credit minutes per whole token (or ETH), discount the wallet's tier in
-- percent at confirmation time.  The ledger row's idempotency key is
-- deposit:CHAIN:TXHASH:LOGINDEX, so a deposit is credited once whoever
-- found it, however often.

ALTER TABLE deposits ADD COLUMN symbol text;
ALTER TABLE deposits ADD COLUMN discount_pct int
    CHECK (discount_pct BETWEEN 0 AND 99);
ALTER TABLE deposits ADD COLUMN ledger_id bigint;

CREATE INDEX deposits_open_idx ON deposits (state)
    WHERE state IN ('seen', 'confirming');


-- The indexer's cursor per chain: every block up to `block` has been
-- scanned and is at least N blocks deep.
CREATE TABLE deposit_cursor (
    chain_id    bigint PRIMARY KEY,
    block       bigint NOT NULL CHECK (block >= -1),
    updated_at  timestamptz NOT NULL DEFAULT now()
);


-- A deposit seen in a block (again).  New: 'confirming'.  Known and not
-- final (seen, confirming, orphaned): its block is brought up to date and it
-- is 'confirming' again.  Credited or rejected: unchanged.  Returns the row.
CREATE FUNCTION axon_deposit_seen(
    p_chain bigint, p_tx text, p_log int, p_block bigint, p_block_hash text,
    p_payer text, p_asset text, p_symbol text, p_amount numeric)
RETURNS deposits
LANGUAGE plpgsql AS $$
DECLARE
    d  deposits%ROWTYPE;
BEGIN
    INSERT INTO deposits (chain_id, tx_hash, log_index, block_number,
                          block_hash, payer, asset, symbol, amount, state)
        VALUES (p_chain, p_tx, p_log, p_block, p_block_hash, p_payer,
                p_asset, p_symbol, p_amount, 'confirming')
        ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
           SET block_number = EXCLUDED.block_number,
               block_hash = EXCLUDED.block_hash,
               state = 'confirming', updated_at = now()
         WHERE deposits.state IN ('seen', 'confirming', 'orphaned')
           AND (deposits.block_hash IS DISTINCT FROM EXCLUDED.block_hash
                OR deposits.state <> 'confirming')
        RETURNING * INTO d;

    IF NOT FOUND THEN
        SELECT * INTO d FROM deposits
         WHERE chain_id = p_chain AND tx_hash = p_tx AND log_index = p_log;
    END IF;

    RETURN d;
END
$$;


-- Credits a confirming deposit: the ledger row (kind 'deposit') and the
-- deposit's state, in this one transaction.  A deposit already credited
-- returns its ledger row again (applied false).  An amount worth less than
-- one minute is rejected ('amount_too_small').  p_actor/p_job: an admin's
-- credit by hand (audited), else 'worker' and NULL.
CREATE FUNCTION axon_deposit_credit(
    p_id bigint, p_price bigint, p_decimals int, p_discount int,
    p_actor text, p_job text, p_detail jsonb,
    OUT new_state text, OUT minutes bigint, OUT ledger_id bigint,
    OUT balance bigint, OUT applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    d  deposits%ROWTYPE;
    m  numeric;
    c  record;
BEGIN
    applied := false;

    SELECT * INTO d FROM deposits WHERE id = p_id FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'no deposit %', p_id USING ERRCODE = 'no_data_found';
    END IF;

    IF d.state = 'credited' THEN
        new_state := d.state;
        minutes := d.credited_minutes;
        SELECT b.balance, (SELECT max(l.id) FROM credit_ledger l
                            WHERE l.wallet = b.wallet)
          INTO balance, ledger_id
          FROM wallet_balances b WHERE b.wallet = d.payer;
        RETURN;
    END IF;

    IF d.state = 'rejected' THEN
        new_state := d.state;
        RETURN;
    END IF;

    m := floor(d.amount * p_price * 100
               / (power(10::numeric, p_decimals) * (100 - p_discount)));

    IF m < 1 OR m > 1000000000000 THEN
        UPDATE deposits
           SET state = 'rejected', updated_at = now(), discount_pct = p_discount,
               reject_reason = CASE WHEN m < 1 THEN 'amount_too_small'
                                    ELSE 'amount_too_large' END
         WHERE id = p_id;
        new_state := 'rejected';
        RETURN;
    END IF;

    SELECT * INTO c FROM axon_credit_post(
        d.payer, 'deposit', m::bigint, d.tx_hash,
        'deposit:' || d.chain_id || ':' || d.tx_hash || ':' || d.log_index,
        p_actor, p_job, 'deposit.credit',
        coalesce(p_detail, '{}'::jsonb)
            || jsonb_build_object('deposit_id', d.id, 'amount', d.amount::text,
                                  'asset', d.asset, 'discount_pct',
                                  p_discount));

    UPDATE deposits
       SET state = 'credited', credited_minutes = m::bigint,
           discount_pct = p_discount, ledger_id = c.ledger_id,
           updated_at = now()
     WHERE id = p_id;

    new_state := 'credited';
    minutes := m::bigint;
    ledger_id := c.ledger_id;
    balance := c.balance;
    applied := c.applied;
END
$$;
