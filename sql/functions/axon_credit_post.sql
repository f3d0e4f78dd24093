-- Posts one ledger row, unless its idempotency key is already there.
--
-- Returns the wallet's balance and newest ledger id, and whether this call
-- applied the row.  A key already used for another wallet, kind or amount
-- is refused (23505, "... was already used ...").  A change that would take
-- the balance below zero fails on 001's balance_never_negative (23514).
-- With p_job, also the job's audit row (once per job).
--
-- Two concurrent posts of one key: the second waits on the unique index,
-- then fails with 23505 on credit_ledger_idempotency_key_key, and nothing
-- of it remains; run again, it finds the first one's row.  (Not INSERT ...
-- ON CONFLICT DO NOTHING: credit_ledger_apply() is a BEFORE trigger, which
-- runs before the conflict check, so a skipped row would still have moved
-- the balance.)
CREATE OR REPLACE FUNCTION axon_credit_post(
    p_wallet text, p_kind text, p_delta bigint, p_reference text,
    p_key text, p_actor text, p_job text, p_action text, p_detail jsonb,
    OUT ledger_id bigint, OUT balance bigint, OUT applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    r  credit_ledger%ROWTYPE;
BEGIN
    applied := false;

    SELECT * INTO r FROM credit_ledger WHERE idempotency_key = p_key;

    IF NOT FOUND THEN
        PERFORM 1 FROM wallets WHERE address = p_wallet;

        IF NOT FOUND THEN
            INSERT INTO wallets (address) VALUES (p_wallet)
                ON CONFLICT (address) DO NOTHING;
        END IF;

        INSERT INTO credit_ledger (wallet, kind, delta_minutes, reference,
                                   idempotency_key, actor)
            VALUES (p_wallet, p_kind, p_delta, p_reference, p_key, p_actor)
            RETURNING * INTO r;

        applied := true;

    ELSIF r.wallet <> p_wallet OR r.kind <> p_kind
          OR r.delta_minutes <> p_delta
    THEN
        RAISE EXCEPTION '% was already used by ledger row % (% % minutes '
                        'for %)', p_key, r.id, r.kind, r.delta_minutes,
                        r.wallet
            USING ERRCODE = 'unique_violation';
    END IF;

    IF p_job IS NOT NULL THEN
        INSERT INTO audit_log (actor, action, subject, detail, job_id)
            VALUES (p_actor, p_action, p_wallet,
                    p_detail || jsonb_build_object('ledger_id', r.id,
                                                   'applied', applied),
                    p_job)
            ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO NOTHING;
    END IF;

    IF applied THEN
        -- the wallet's row lock is ours until commit: this is its newest
        ledger_id := r.id;
        balance := r.balance_after;
    ELSE
        SELECT b.balance,
               (SELECT max(l.id) FROM credit_ledger l
                 WHERE l.wallet = b.wallet)
          INTO balance, ledger_id
          FROM wallet_balances b
         WHERE b.wallet = p_wallet;
    END IF;
END
$$;
