-- axon 008: x402 payments, settled by the worker (axon-worker/x402.c).
--
-- One row per authorization nonce (EIP-3009's bytes32, which the module
-- already refuses to take twice).  Its state moves forward only:
--
--   new       recorded; nothing was sent to a facilitator or the chain
--   sent      a settlement may be under way: the facilitator's /settle was
--             called, or our own transaction (raw_tx, tx_hash, gas_nonce)
--             was committed here BEFORE it was broadcast, so that a crash
--             or a timeout finds it again and sends the same bytes
--   settled   the transfer to pay_to is on chain (tx_hash); the credit is
--             the ledger row 'x402:NONCE', posted in the same transaction
--   failed    nothing was transferred (error_reason); no credit
--
-- The gas account's next nonce is kept here too, so that two workers
-- sending at once never sign two transactions with one nonce.


CREATE TABLE x402_payments (
    nonce         eth_hash PRIMARY KEY,
    payer         eth_address NOT NULL,
    asset         eth_address NOT NULL,
    pay_to        eth_address NOT NULL,
    network       text NOT NULL,
    amount        numeric(78, 0) NOT NULL CHECK (amount > 0),
    profile       text NOT NULL,
    minutes       int NOT NULL CHECK (minutes > 0),
    credit        bigint NOT NULL CHECK (credit > 0),
    topup_of      bigint,
    session_id    bigint,
    job_id        text NOT NULL,
    settle_mode   text NOT NULL CHECK (settle_mode IN ('facilitator', 'self')),
    state         text NOT NULL DEFAULT 'new'
                      CHECK (state IN ('new', 'sent', 'settled', 'failed')),
    tx_hash       eth_hash,
    raw_tx        bytea,
    gas_account   eth_address,
    gas_nonce     bigint,
    error_reason  text,
    ledger_id     bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    settled_at    timestamptz,
    CHECK (state <> 'settled' OR (tx_hash IS NOT NULL
                                  AND ledger_id IS NOT NULL
                                  AND settled_at IS NOT NULL)),
    CHECK (state <> 'failed' OR error_reason IS NOT NULL)
);

CREATE INDEX x402_payments_payer_idx ON x402_payments (payer, created_at);
CREATE UNIQUE INDEX x402_payments_gas_nonce_idx
    ON x402_payments (gas_account, gas_nonce)
    WHERE gas_nonce IS NOT NULL AND state <> 'failed';


CREATE TABLE x402_gas_accounts (
    address     eth_address PRIMARY KEY,
    next_nonce  bigint NOT NULL CHECK (next_nonce >= 0)
);


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
    SELECT * INTO x FROM x402_payments WHERE nonce = p_nonce;

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
        ON CONFLICT (nonce) DO NOTHING;

    SELECT * INTO x FROM x402_payments WHERE nonce = p_nonce;
    RETURN x;
END
$$;


-- Settled by tx_hash: the row and its credit, in one transaction, once.
-- Returns the payer's balance and newest ledger id.
CREATE FUNCTION axon_x402_settled(p_nonce text, p_tx text, p_job text,
    OUT ledger_id bigint, OUT balance bigint, OUT applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    x  x402_payments%ROWTYPE;
BEGIN
    SELECT * INTO x FROM x402_payments WHERE nonce = p_nonce FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'x402 payment % is not recorded', p_nonce
            USING ERRCODE = 'no_data_found';
    END IF;

    IF x.state = 'failed' THEN
        RAISE EXCEPTION 'x402 payment % was recorded as failed (%)',
                        p_nonce, x.error_reason
            USING ERRCODE = 'check_violation';
    END IF;

    SELECT c.ledger_id, c.balance, c.applied
      INTO ledger_id, balance, applied
      FROM axon_credit_post(x.payer, 'deposit', x.credit, 'x402:' || p_nonce,
                            'x402:' || p_nonce, 'worker', p_job, 'x402.pay',
                            jsonb_build_object('via', 'x402',
                                'nonce', p_nonce, 'tx', p_tx,
                                'amount', x.amount::text,
                                'asset', x.asset, 'minutes', x.minutes,
                                'profile', x.profile)) c;

    IF x.state <> 'settled' THEN
        UPDATE x402_payments
           SET state = 'settled', tx_hash = p_tx, settled_at = now(),
               ledger_id = (SELECT l.id FROM credit_ledger l
                             WHERE l.idempotency_key = 'x402:' || p_nonce)
         WHERE nonce = p_nonce;
    END IF;
END
$$;
