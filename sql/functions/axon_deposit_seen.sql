-- A deposit seen in a block (again).  New: 'confirming'.  Known and not
-- final (seen, confirming, orphaned): its block is brought up to date and it
-- is 'confirming' again.  Credited or rejected: unchanged.  Returns the row.
-- The indexer's many at once: axon_deposits_seen(), which this is for one.
CREATE OR REPLACE FUNCTION axon_deposit_seen(
    p_chain bigint, p_tx text, p_log int, p_block bigint, p_block_hash text,
    p_payer text, p_asset text, p_symbol text, p_amount numeric)
RETURNS deposits
LANGUAGE plpgsql AS $$
DECLARE
    d  deposits%ROWTYPE;
BEGIN
    SELECT * INTO d
      FROM axon_deposits_seen(p_chain, ARRAY[p_tx], ARRAY[p_log],
                              ARRAY[p_block], ARRAY[p_block_hash],
                              ARRAY[p_payer], ARRAY[p_asset],
                              ARRAY[p_symbol], ARRAY[p_amount]);
    RETURN d;
END
$$;
