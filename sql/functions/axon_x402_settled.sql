-- Settled by p_tx, whose receipt has the authorization's Transfer at
-- p_log (its index in the transaction): the row and its credit, in one
-- transaction, once.  A transfer a deposit credited already (the indexer
-- came first) is not credited again: the row points at that ledger row
-- (applied false).  Returns the payer's balance and the ledger id.
CREATE OR REPLACE FUNCTION axon_x402_settled(p_nonce text, p_payer text, p_tx text,
    p_chain bigint, p_log int, p_job text,
    OUT ledger_id bigint, OUT balance bigint, OUT applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    x    x402_payments%ROWTYPE;
    c    chain_credits%ROWTYPE;
    k    text;
BEGIN
    applied := false;
    k := 'x402:' || p_nonce || ':' || p_payer;

    SELECT * INTO x FROM x402_payments
     WHERE nonce = p_nonce AND payer = p_payer FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'x402 payment % of % is not recorded', p_nonce,
                        p_payer
            USING ERRCODE = 'no_data_found';
    END IF;

    IF x.state = 'failed' THEN
        RAISE EXCEPTION 'x402 payment % was recorded as failed (%)',
                        p_nonce, x.error_reason
            USING ERRCODE = 'check_violation';
    END IF;

    IF x.state = 'settled' THEN
        ledger_id := x.ledger_id;
        SELECT b.balance INTO balance FROM wallet_balances b
         WHERE b.wallet = p_payer;
        balance := coalesce(balance, 0);
        RETURN;
    END IF;

    SELECT * INTO c FROM chain_credits
     WHERE chain_id = p_chain AND tx_hash = p_tx AND log_index = p_log;

    IF FOUND AND c.credited_as <> k THEN
        -- credited as a deposit already: the payment is that credit
        ledger_id := c.ledger_id;
        SELECT b.balance INTO balance FROM wallet_balances b
         WHERE b.wallet = p_payer;
        balance := coalesce(balance, 0);

    ELSE
        SELECT p.ledger_id, p.balance, p.applied
          INTO ledger_id, balance, applied
          FROM axon_credit_post(x.payer, 'deposit', x.credit,
                                'x402:' || p_nonce, k, 'worker', p_job,
                                'x402.pay',
                                jsonb_build_object('via', 'x402',
                                    'nonce', p_nonce, 'tx', p_tx,
                                    'log_index', p_log,
                                    'amount', x.amount::text,
                                    'asset', x.asset, 'minutes', x.minutes,
                                    'profile', x.profile)) p;

        -- a deposit's claim made meanwhile: 23505, all of this undone
        INSERT INTO chain_credits (chain_id, tx_hash, log_index, ledger_id,
                                   credited_as)
            VALUES (p_chain, p_tx, p_log,
                    (SELECT l.id FROM credit_ledger l
                      WHERE l.idempotency_key = k), k)
            ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING;

        IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM chain_credits
                                      WHERE chain_id = p_chain
                                        AND tx_hash = p_tx
                                        AND log_index = p_log
                                        AND credited_as = k)
        THEN
            RAISE EXCEPTION '%:%:% was credited meanwhile', p_chain, p_tx,
                            p_log
                USING ERRCODE = 'unique_violation';
        END IF;
    END IF;

    UPDATE x402_payments
       SET state = 'settled', tx_hash = p_tx, settled_at = now(),
           ledger_id = axon_x402_settled.ledger_id
     WHERE nonce = p_nonce AND payer = p_payer;
END
$$;
