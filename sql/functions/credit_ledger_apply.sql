-- Applies a ledger row to its wallet's balance in the same transaction and
-- records the resulting balance on the row.  The row lock on wallet_balances
-- serialises concurrent changes to one wallet; the CHECK on balance rejects
-- any change that would take it below zero.  The id is drawn after the
-- balance row is locked (per-wallet ledger order is balance order), and the
-- balance row is created only when it is missing (one UPDATE on the common
-- path).  Runs only for rows that come without their balance_after (the
-- billing tick computes its own; credit_ledger_chain checks them).
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
