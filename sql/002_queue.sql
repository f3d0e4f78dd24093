-- 002_queue: what the worker's job queue needs from the database.
--
-- Each job is one statement, a call of one of the functions below, so that
-- it is one transaction and one round trip; every one is idempotent:
-- running a job twice changes nothing the second time.
--
--   axon_credit_post   a ledger row (grant, adjustment, ...) by idempotency
--                      key, with its audit row; returns the wallet's balance
--   axon_signin        a sign-in: wallet, token, audit row
--   axon_logout        a token's revocation
--   axon_admin_audit   the audit row of an admin job that has no ledger row
--
-- And two changes to 001's invariants' machinery:
--
--   * credit_ledger ids follow, per wallet, the order in which the rows
--     changed the balance: the id is drawn in the trigger, under the wallet's
--     row lock, instead of by the column default before it.  So the newest
--     ledger id of a wallet names its newest balance, which is what the
--     worker publishes in Redis (axon:wallet:ADDR, fields balance and
--     ledger_id) and what a stale publish is compared against.
--   * audit rows written by a job carry its id, unique: a job that runs
--     twice writes one row.


-- 001's trigger, but with the id drawn after the balance row is locked, and
-- the balance row created only when it is missing (one UPDATE on the common
-- path).
CREATE OR REPLACE FUNCTION credit_ledger_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE wallet_balances
       SET balance = balance + NEW.delta_minutes, updated_at = now()
     WHERE wallet = NEW.wallet
    RETURNING balance INTO NEW.balance_after;

    IF NOT FOUND THEN
        INSERT INTO wallet_balances (wallet, balance)
            VALUES (NEW.wallet, 0)
            ON CONFLICT (wallet) DO NOTHING;

        UPDATE wallet_balances
           SET balance = balance + NEW.delta_minutes, updated_at = now()
         WHERE wallet = NEW.wallet
        RETURNING balance INTO NEW.balance_after;
    END IF;

    -- the row lock taken above is held until commit: the next change of
    -- this wallet draws a greater id
    NEW.id := nextval('credit_ledger_id_seq');

    RETURN NEW;
END
$$;


ALTER TABLE audit_log ADD COLUMN job_id text;

CREATE UNIQUE INDEX audit_log_job_idx ON audit_log (job_id)
    WHERE job_id IS NOT NULL;


-- One 'ok' audit row per sign-in (its nonce is single-use).
CREATE UNIQUE INDEX signin_audit_ok_nonce ON signin_audit (nonce)
    WHERE outcome = 'ok';


-- Revocations that may arrive before the token they revoke (two workers,
-- or a sign-in job being retried): axon_signin applies them.
CREATE TABLE auth_token_revocations (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    wallet      eth_address NOT NULL,
    revoked_at  timestamptz NOT NULL
);


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
CREATE FUNCTION axon_credit_post(
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


-- A sign-in the module accepted: the wallet, its token (by hash), and the
-- 'ok' audit row, each once.  A revocation that came first is applied.
CREATE FUNCTION axon_signin(
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


-- A logout: the token's revocation is recorded, and set on the token if it
-- is there (else axon_signin sets it when the token arrives).  Returns
-- false if the token is recorded for another wallet (nothing is changed).
CREATE FUNCTION axon_logout(p_token_hash bytea, p_wallet text, p_at bigint)
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


-- The audit row of an admin job without a ledger row (job.replay), once.
CREATE FUNCTION axon_admin_audit(p_actor text, p_action text,
    p_subject text, p_detail jsonb, p_job text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (actor, action, subject, detail, job_id)
        VALUES (p_actor, p_action, p_subject, p_detail, p_job)
        ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO NOTHING;
$$;
