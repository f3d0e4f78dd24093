-- axon 009: one transfer on chain, one credit, whichever path saw it.
--
-- Three paths credit a payment made on chain: an x402 settlement (ledger
-- key x402:NONCE:PAYER, at the settlement's receipt), a deposit a wallet
-- submitted (verify-deposit) and a deposit the indexer found (both
-- deposit:CHAIN:TX:LOG, at N confirmations).  An x402 payment whose payTo
-- is the revenue wallet is also a deposit: each path first claims the
-- chain event here, in the transaction that posts its ledger row, and a
-- path that finds the event claimed credits nothing.
--
-- The event is (chain, tx hash, index of the log within the transaction's
-- receipt; -1: the native value).  Not the block's log index, which a reorg
-- changes when it mines the same transaction into another block; the
-- transaction's own logs keep their order.
--
-- x402 payments are keyed by (nonce, payer): EIP-3009 nonces are the
-- payer's, and another payer may use the same one.
--
-- Rows of 008 settled before this migration have no claim here: the
-- index of their Transfer is not known without their receipts.


CREATE TABLE chain_credits (
    chain_id     bigint NOT NULL,
    tx_hash      eth_hash NOT NULL,
    log_index    int NOT NULL CHECK (log_index >= -1),   -- in the tx
    ledger_id    bigint NOT NULL REFERENCES credit_ledger (id),
    credited_as  text NOT NULL,             -- the ledger row's key
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, tx_hash, log_index)
);


ALTER TABLE x402_payments DROP CONSTRAINT x402_payments_pkey;
ALTER TABLE x402_payments ADD PRIMARY KEY (nonce, payer);

-- The transactions that may settle a payment: those the worker signed
-- (each recorded before it was sent) and the facilitator's answers to its
-- /settle.  An authorization used by any other transaction is refused.
ALTER TABLE x402_payments ADD COLUMN sent_txs text[] NOT NULL DEFAULT '{}';
UPDATE x402_payments SET sent_txs = ARRAY[tx_hash] WHERE tx_hash IS NOT NULL;


DROP FUNCTION axon_x402_begin(text, text, text, text, text, numeric, text,
                              int, bigint, bigint, text, text, bytea, bigint);

-- The payment's row (once) and the payer's auth token (once, as a
-- sign-in's).  Returns the row as it is now.
CREATE FUNCTION axon_x402_begin(
    p_nonce text, p_payer text, p_asset text, p_pay_to text,
    p_network text, p_amount numeric, p_profile text, p_minutes int,
    p_credit bigint, p_topup bigint, p_job text, p_mode text,
    p_token_hash bytea, p_token_exp bigint)
RETURNS x402_payments
LANGUAGE plpgsql AS $$
DECLARE
    x  x402_payments%ROWTYPE;
BEGIN
    SELECT * INTO x FROM x402_payments
     WHERE nonce = p_nonce AND payer = p_payer;

    IF FOUND THEN
        RETURN x;
    END IF;

    INSERT INTO wallets (address) VALUES (p_payer)
        ON CONFLICT (address) DO NOTHING;

    IF p_token_hash IS NOT NULL THEN
        INSERT INTO auth_tokens (token_hash, wallet, issued_at, expires_at,
                                 revoked_at)
            SELECT p_token_hash, p_payer, now(),
                   greatest(to_timestamp(p_token_exp),
                            now() + interval '1 second'),
                   (SELECT r.revoked_at FROM auth_token_revocations r
                     WHERE r.token_hash = p_token_hash)
            ON CONFLICT (token_hash) DO NOTHING;
    END IF;

    INSERT INTO x402_payments (nonce, payer, asset, pay_to, network, amount,
                               profile, minutes, credit, topup_of,
                               session_id, job_id, settle_mode)
        VALUES (p_nonce, p_payer, p_asset, p_pay_to, p_network, p_amount,
                p_profile, p_minutes, p_credit, p_topup, p_topup, p_job,
                p_mode)
        ON CONFLICT (nonce, payer) DO NOTHING;

    SELECT * INTO x FROM x402_payments
     WHERE nonce = p_nonce AND payer = p_payer;
    RETURN x;
END
$$;


DROP FUNCTION axon_x402_settled(text, text, text);

-- Settled by p_tx, whose receipt has the authorization's Transfer at
-- p_log (its index in the transaction): the row and its credit, in one
-- transaction, once.  A transfer a deposit credited already (the indexer
-- came first) is not credited again: the row points at that ledger row
-- (applied false).  Returns the payer's balance and the ledger id.
CREATE FUNCTION axon_x402_settled(p_nonce text, p_payer text, p_tx text,
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


DROP FUNCTION axon_deposit_credit(bigint, bigint, int, int, text, text,
                                  jsonb);

-- Credits a confirming deposit: the ledger row (kind 'deposit') and the
-- deposit's state, in this one transaction, with the chain event's claim
-- (p_log: the deposit's log's index in its transaction; -1: native).  An
-- event another path credited (an x402 settlement of the same transfer)
-- is not credited again: the deposit is 'credited' with 0 minutes, reason
-- 'already_credited', its ledger_id the other credit's.  A deposit already
-- credited returns its ledger row again (applied false).  An amount worth
-- less than one minute is rejected ('amount_too_small').  p_actor/p_job:
-- an admin's credit by hand (audited), else 'worker' and NULL.
CREATE FUNCTION axon_deposit_credit(
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
