-- session.claim: the session's row, once.  p_refuse (unknown_profile,
-- no_host_fits) records it ended at once; so do a live session of the
-- same wallet (session_exists) and a balance short of the first minute and
-- the grace's reserve, gpus x price x (1 + p_grace_minutes)
-- (insufficient_credits): the module checked both in Redis, this is the
-- system of record's word.  Returns the row's state and end_reason, and
-- its wallet (a row of another wallet under this id: the caller refuses).
CREATE OR REPLACE FUNCTION axon_session_claim(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text, p_grace_minutes int,
    OUT o_state text, OUT o_end_reason text, OUT o_wallet text,
    OUT o_new boolean)
LANGUAGE plpgsql AS $$
DECLARE
    s    sessions%ROWTYPE;
    bal  bigint;
BEGIN
    o_new := false;

    SELECT * INTO s FROM sessions WHERE id = p_id;

    IF FOUND THEN
        o_state := s.state;
        o_end_reason := s.end_reason;
        o_wallet := s.wallet;
        RETURN;
    END IF;

    INSERT INTO wallets (address) VALUES (p_wallet)
        ON CONFLICT (address) DO NOTHING;

    -- claims of one wallet, one at a time
    PERFORM 1 FROM wallets WHERE address = p_wallet FOR UPDATE;

    IF p_refuse IS NULL THEN
        IF EXISTS (SELECT 1 FROM sessions x
                    WHERE x.wallet = p_wallet AND x.state <> 'ended')
        THEN
            p_refuse := 'session_exists';

        ELSE
            SELECT coalesce((SELECT b.balance FROM wallet_balances b
                              WHERE b.wallet = p_wallet), 0)
              INTO bal;

            IF bal < p_gpus::bigint * p_price
                     * (1 + greatest(p_grace_minutes, 0))
            THEN
                p_refuse := 'insufficient_credits';
            END IF;
        END IF;
    END IF;

    INSERT INTO sessions (id, wallet, profile, mode, gpu_count, price, state,
                          ended_at, end_reason, reason, ssh_key)
        VALUES (p_id, p_wallet, p_profile, p_mode, p_gpus, p_price,
                CASE WHEN p_refuse IS NULL THEN 'queued' ELSE 'ended' END,
                CASE WHEN p_refuse IS NULL THEN NULL ELSE now() END,
                p_refuse,
                CASE WHEN p_refuse IS NULL THEN 'waiting for the scheduler'
                END,
                p_ssh_key);

    o_state := CASE WHEN p_refuse IS NULL THEN 'queued' ELSE 'ended' END;
    o_end_reason := p_refuse;
    o_wallet := p_wallet;
    o_new := true;
END
$$;
