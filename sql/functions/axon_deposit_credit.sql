-- Credits a confirming deposit: the ledger row (kind 'deposit') and the
-- deposit's state, in this one transaction, with the chain event's claim
-- (p_log: the deposit's log's index in its transaction; -1: native).  An
-- event another path credited (an x402 settlement of the same transfer)
-- is not credited again: the deposit is 'credited' with 0 minutes, reason
-- 'already_credited', its ledger_id the other credit's.  A deposit already
-- credited returns its ledger row again (applied false).  An amount worth
-- less than one minute is rejected ('amount_too_small').  p_actor/p_job:
-- an admin's credit by hand (audited), else 'worker' and NULL.
CREATE OR REPLACE FUNCTION axon_deposit_credit(
    p_id bigint, p_price bigint, p_decimals int, p_discount int,
    p_actor text, p_job text, p_detail jsonb, p_log int,
    OUT new_state text, OUT minutes bigint, OUT ledger_id bigint,
    OUT balance bigint, OUT applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    d  deposits%ROWTYPE;
    m  numeric;
    c  record;
    e  chain_credits%ROWTYPE;
    k  text;
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

    k := 'deposit:' || d.chain_id || ':' || d.tx_hash || ':' || d.log_index;

    SELECT * INTO e FROM chain_credits
     WHERE chain_id = d.chain_id AND tx_hash = d.tx_hash
       AND log_index = p_log;

    IF FOUND AND e.credited_as <> k THEN
        UPDATE deposits
           SET state = 'credited', credited_minutes = 0,
               reject_reason = 'already_credited', ledger_id = e.ledger_id,
               updated_at = now()
         WHERE id = p_id;

        new_state := 'credited';
        minutes := 0;
        SELECT b.balance INTO balance FROM wallet_balances b
         WHERE b.wallet = d.payer;
        balance := coalesce(balance, 0);
        ledger_id := e.ledger_id;
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
        d.payer, 'deposit', m::bigint, d.tx_hash, k,
        p_actor, p_job, 'deposit.credit',
        coalesce(p_detail, '{}'::jsonb)
            || jsonb_build_object('deposit_id', d.id, 'amount', d.amount::text,
                                  'asset', d.asset, 'discount_pct',
                                  p_discount));

    -- an x402 claim made meanwhile: 23505, all of this undone
    ledger_id := (SELECT l.id FROM credit_ledger l
                   WHERE l.idempotency_key = k);

    IF e.credited_as IS NULL THEN
        INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id,
                                   credited_as)
            VALUES (d.chain_id, d.tx_hash, p_log, ledger_id, k);
    END IF;

    UPDATE deposits
       SET state = 'credited', credited_minutes = m::bigint,
           discount_pct = p_discount,
           ledger_id = axon_deposit_credit.ledger_id, updated_at = now()
     WHERE id = p_id;

    new_state := 'credited';
    minutes := m::bigint;
    balance := c.balance;
    applied := c.applied;
END
$$;
