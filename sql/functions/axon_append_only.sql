-- The trigger that refuses UPDATE, DELETE and TRUNCATE on credit_ledger:
-- the ledger is append-only.
CREATE OR REPLACE FUNCTION axon_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
