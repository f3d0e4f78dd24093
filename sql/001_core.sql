-- 001_core: the system of record.
--
-- Invariants live here, not only in code:
--   * a ledger row is unique per idempotency key, and the ledger is append-only;
--   * no wallet balance goes below zero (CHECK on wallet_balances, kept by a
--     trigger in the same transaction as the ledger row);
--   * no GPU is in two live sessions (partial unique index);
--   * one live or queued session per wallet (partial unique index);
--   * one deposit per (chain, tx hash, log index).
--
-- Addresses are stored lowercase "0x" + 40 hex; the API renders EIP-55.

CREATE DOMAIN eth_address AS text
    CHECK (VALUE ~ '^0x[0-9a-f]{40}$');

CREATE DOMAIN eth_hash AS text
    CHECK (VALUE ~ '^0x[0-9a-f]{64}$');


CREATE TABLE wallets (
    address         eth_address PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_signin_at  timestamptz
);


-- Every sign-in attempt, successful or not (written by the worker from the
-- module's audit stream).
CREATE TABLE signin_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    address     eth_address,
    nonce       text,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'rejected')),
    code        text,               -- which check failed, e.g. 'expired'
    client_ip   inet,
    user_agent  text
);

CREATE INDEX signin_audit_address_idx ON signin_audit (address, at);


-- Auth tokens: only a hash of the token is stored.
CREATE TABLE auth_tokens (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    wallet      eth_address NOT NULL REFERENCES wallets (address),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK (expires_at > issued_at)
);

CREATE INDEX auth_tokens_wallet_idx ON auth_tokens (wallet);


CREATE TABLE sessions (
    id              bigserial PRIMARY KEY,
    wallet          eth_address NOT NULL REFERENCES wallets (address),
    profile         text NOT NULL,
    mode            text NOT NULL DEFAULT 'desktop'
                        CHECK (mode IN ('desktop', 'ssh')),
    gpu_count       int NOT NULL CHECK (gpu_count BETWEEN 1 AND 64),
    state           text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'starting', 'running',
                                         'ending', 'ended')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    ended_at        timestamptz,
    end_reason      text,
    billed_minutes  bigint NOT NULL DEFAULT 0 CHECK (billed_minutes >= 0),
    host            text,
    container_id    text,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL))
);

-- One live or queued session per wallet.
CREATE UNIQUE INDEX sessions_one_live_per_wallet
    ON sessions (wallet) WHERE state <> 'ended';


CREATE TABLE gpu_assignments (
    id           bigserial PRIMARY KEY,
    session_id   bigint NOT NULL REFERENCES sessions (id),
    host         text NOT NULL,
    gpu_index    int NOT NULL CHECK (gpu_index >= 0),
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    CHECK (released_at IS NULL OR released_at >= assigned_at)
);

-- No GPU in two live sessions.
CREATE UNIQUE INDEX gpu_assignments_exclusive
    ON gpu_assignments (host, gpu_index) WHERE released_at IS NULL;

CREATE INDEX gpu_assignments_session_idx ON gpu_assignments (session_id);


CREATE TABLE deposits (
    id                bigserial PRIMARY KEY,
    chain_id          bigint NOT NULL,
    tx_hash           eth_hash NOT NULL,
    log_index         int NOT NULL CHECK (log_index >= -1), -- -1: native ETH
    block_number      bigint,
    block_hash        eth_hash,
    payer             eth_address NOT NULL,
    asset             text NOT NULL,          -- 'ETH' or token address
    amount            numeric(78, 0) NOT NULL CHECK (amount >= 0),
    state             text NOT NULL DEFAULT 'seen'
                          CHECK (state IN ('seen', 'confirming', 'credited',
                                           'rejected', 'orphaned')),
    confirmations     int NOT NULL DEFAULT 0,
    reject_reason     text,
    credited_minutes  bigint CHECK (credited_minutes >= 0),
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain_id, tx_hash, log_index)
);

CREATE INDEX deposits_payer_idx ON deposits (payer);


-- Balances, in credit minutes.  Changed only by the ledger trigger below.
CREATE TABLE wallet_balances (
    wallet      eth_address PRIMARY KEY REFERENCES wallets (address),
    balance     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT balance_never_negative CHECK (balance >= 0)
);


-- The credit ledger: append-only; each change of a balance is one row.
CREATE TABLE credit_ledger (
    id               bigserial PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    wallet           eth_address NOT NULL REFERENCES wallets (address),
    kind             text NOT NULL
                         CHECK (kind IN ('grant', 'deposit', 'usage',
                                         'refund', 'adjustment')),
    delta_minutes    bigint NOT NULL CHECK (delta_minutes <> 0),
    balance_after    bigint NOT NULL CHECK (balance_after >= 0),
    reference        text NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    actor            text NOT NULL DEFAULT 'system',
    CHECK ((kind IN ('deposit', 'grant', 'refund') AND delta_minutes > 0)
           OR (kind = 'usage' AND delta_minutes < 0)
           OR kind = 'adjustment')
);

CREATE INDEX credit_ledger_wallet_idx ON credit_ledger (wallet, id);


-- Applies a ledger row to its wallet's balance in the same transaction and
-- records the resulting balance on the row.  The row lock on wallet_balances
-- serialises concurrent changes to one wallet; the CHECK on balance rejects
-- any change that would take it below zero.
CREATE FUNCTION credit_ledger_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO wallet_balances (wallet, balance)
        VALUES (NEW.wallet, 0)
        ON CONFLICT (wallet) DO NOTHING;

    UPDATE wallet_balances
       SET balance = balance + NEW.delta_minutes, updated_at = now()
     WHERE wallet = NEW.wallet
    RETURNING balance INTO NEW.balance_after;

    RETURN NEW;
END
$$;

CREATE TRIGGER credit_ledger_apply
    BEFORE INSERT ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_apply();


CREATE FUNCTION axon_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER credit_ledger_append_only
    BEFORE UPDATE OR DELETE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION axon_append_only();

CREATE TRIGGER credit_ledger_no_truncate
    BEFORE TRUNCATE ON credit_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION axon_append_only();


-- Who did what: admin actions, session state changes, refusals.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,          -- 'admin', 'worker:<id>', 'wallet:0x..'
    action   text NOT NULL,
    subject  text,
    detail   jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_subject_idx ON audit_log (subject, at);


-- For psql: balance per wallet, and the ledger history.
CREATE VIEW wallet_balance_v AS
    SELECT w.address AS wallet,
           coalesce(b.balance, 0) AS balance_minutes,
           b.updated_at
      FROM wallets w
      LEFT JOIN wallet_balances b ON b.wallet = w.address;

CREATE VIEW ledger_history_v AS
    SELECT id, at, wallet, kind, delta_minutes, balance_after,
           reference, actor, idempotency_key
      FROM credit_ledger
     ORDER BY wallet, id;
