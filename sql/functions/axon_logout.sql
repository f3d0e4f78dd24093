-- A logout: the token's revocation is recorded, and set on the token if it
-- is there (else axon_signin sets it when the token arrives).  Returns
-- false if the token is recorded for another wallet (nothing is changed).
CREATE OR REPLACE FUNCTION axon_logout(p_token_hash bytea, p_wallet text, p_at bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM auth_tokens
                WHERE token_hash = p_token_hash AND wallet <> p_wallet)
    THEN
        RETURN false;
    END IF;

    INSERT INTO auth_token_revocations (token_hash, wallet, revoked_at)
        VALUES (p_token_hash, p_wallet, to_timestamp(p_at))
        ON CONFLICT (token_hash) DO NOTHING;

    UPDATE auth_tokens SET revoked_at = to_timestamp(p_at)
     WHERE token_hash = p_token_hash AND revoked_at IS NULL;

    RETURN true;
END
$$;
