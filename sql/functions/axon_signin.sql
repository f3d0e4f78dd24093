-- A sign-in the module accepted: the wallet, its token (by hash), and the
-- 'ok' audit row, each once.  A revocation that came first is applied.
CREATE OR REPLACE FUNCTION axon_signin(
    p_wallet text, p_token_hash bytea, p_issued_at bigint,
    p_expires_at bigint, p_nonce text, p_ip inet, p_user_agent text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO wallets (address, last_signin_at)
        VALUES (p_wallet, to_timestamp(p_issued_at))
        ON CONFLICT (address) DO UPDATE
           SET last_signin_at = greatest(wallets.last_signin_at,
                                         EXCLUDED.last_signin_at);

    INSERT INTO auth_tokens (token_hash, wallet, issued_at, expires_at,
                             revoked_at)
        SELECT p_token_hash, p_wallet, to_timestamp(p_issued_at),
               to_timestamp(p_expires_at),
               (SELECT r.revoked_at FROM auth_token_revocations r
                 WHERE r.token_hash = p_token_hash)
        ON CONFLICT (token_hash) DO NOTHING;

    INSERT INTO signin_audit (at, address, nonce, outcome, client_ip,
                              user_agent)
        VALUES (to_timestamp(p_issued_at), p_wallet, p_nonce, 'ok', p_ip,
                p_user_agent)
        ON CONFLICT (nonce) WHERE outcome = 'ok' DO NOTHING;
END
$$;
