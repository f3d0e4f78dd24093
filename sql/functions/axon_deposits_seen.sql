-- Deposits seen in their blocks (again), many in one call: each as
-- axon_deposit_seen() would (new: 'confirming'; known and not final:
-- its block brought up to date, 'confirming' again, an orphan's reason
-- gone; credited or rejected: unchanged), the new ones inserted in the
-- order given.  Returns each one's row as it is now, in the order given.
-- One INSERT for them all: the indexer records a range of thousands of
-- logs at once.
CREATE OR REPLACE FUNCTION axon_deposits_seen(
    p_chain bigint, p_tx text[], p_log int[], p_block bigint[],
    p_block_hash text[], p_payer text[], p_asset text[], p_symbol text[],
    p_amount numeric[])
RETURNS SETOF deposits
LANGUAGE plpgsql AS $$
BEGIN
    -- a key given twice: its last one (one command changes a row once)
    INSERT INTO deposits (chain_id, tx_hash, log_index, block_number,
                          block_hash, payer, asset, symbol, amount, state)
        SELECT p_chain, s.tx, s.li, s.blk, s.bh, s.payer, s.asset, s.sym,
               s.amount, 'confirming'
          FROM (SELECT DISTINCT ON (u.tx, u.li) u.*
                  FROM unnest(p_tx, p_log, p_block, p_block_hash, p_payer,
                              p_asset, p_symbol, p_amount) WITH ORDINALITY
                       AS u(tx, li, blk, bh, payer, asset, sym, amount, o)
                 ORDER BY u.tx, u.li, u.o DESC) s
         ORDER BY s.o
        ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
           SET block_number = EXCLUDED.block_number,
               block_hash = EXCLUDED.block_hash,
               state = 'confirming', reject_reason = NULL,
               updated_at = now()
         WHERE deposits.state IN ('seen', 'confirming', 'orphaned')
           AND (deposits.block_hash IS DISTINCT FROM EXCLUDED.block_hash
                OR deposits.state <> 'confirming');

    -- a statement of its own: sees what another worker committed meanwhile
    RETURN QUERY
    SELECT d.*
      FROM unnest(p_tx, p_log) WITH ORDINALITY AS u(tx, li, o)
      JOIN deposits d ON d.chain_id = p_chain AND d.tx_hash = u.tx
                     AND d.log_index = u.li
     ORDER BY u.o;
END
$$;
