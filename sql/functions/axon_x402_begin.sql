-- The payment's row (once) and the payer's auth token (once, as a
-- sign-in's).  Returns the row as it is now.
CREATE OR REPLACE FUNCTION axon_x402_begin(
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
