-- A deposit seen in a block (again).  New: 'confirming'.  Known and not
-- final (seen, confirming, orphaned): its block is brought up to date and it
-- is 'confirming' again.  Credited or rejected: unchanged.  Returns the row.
CREATE OR REPLACE FUNCTION axon_deposit_seen(
    p_chain bigint, p_tx text, p_log int, p_block bigint, p_block_hash text,
    p_payer text, p_asset text, p_symbol text, p_amount numeric)
RETURNS deposits
LANGUAGE plpgsql AS $$
DECLARE
    d  deposits%ROWTYPE;
BEGIN
    INSERT INTO deposits (chain_id, tx_hash, log_index, block_number,
                          block_hash, payer, asset, symbol, amount, state)
        VALUES (p_chain, p_tx, p_log, p_block, p_block_hash, p_payer,
                p_asset, p_symbol, p_amount, 'confirming')
        ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
           SET block_number = EXCLUDED.block_number,
               block_hash = EXCLUDED.block_hash,
               state = 'confirming', updated_at = now()
         WHERE deposits.state IN ('seen', 'confirming', 'orphaned')
           AND (deposits.block_hash IS DISTINCT FROM EXCLUDED.block_hash
                OR deposits.state <> 'confirming')
        RETURNING * INTO d;

    IF NOT FOUND THEN
        SELECT * INTO d FROM deposits
         WHERE chain_id = p_chain AND tx_hash = p_tx AND log_index = p_log;
    END IF;

    RETURN d;
END
$$;
