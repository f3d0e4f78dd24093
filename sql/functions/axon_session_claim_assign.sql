-- session.claim and the scheduler's pass (axon_session_claim, then
-- axon_sched_assign, see there) in one transaction: a claim on a pool with
-- room is starting when its job's one statement returns, and the worker
-- publishes it at once, without a round trip to Postgres in between.  A
-- pass that fails (an error of axon_sched_assign) leaves the claim
-- recorded and queued: the worker's next pass assigns it.  o_assigned:
-- how many sessions got GPUs (-1: the pass failed); o_note: which, or the
-- pass's error, for the log.
CREATE OR REPLACE FUNCTION axon_session_claim_assign(
    p_id bigint, p_wallet text, p_profile text, p_mode text, p_gpus int,
    p_price int, p_refuse text, p_ssh_key text, p_pool jsonb,
    p_reserve_ms bigint, p_grace_minutes int,
    OUT o_state text, OUT o_end_reason text, OUT o_wallet text,
    OUT o_new boolean, OUT o_assigned int, OUT o_note text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.o_state, c.o_end_reason, c.o_wallet, c.o_new
      INTO o_state, o_end_reason, o_wallet, o_new
      FROM axon_session_claim(p_id, p_wallet, p_profile, p_mode, p_gpus,
                              p_price, p_refuse, p_ssh_key,
                              p_grace_minutes) c;

    o_assigned := 0;

    IF o_new AND o_state = 'queued' THEN
        BEGIN
            SELECT count(*),
                   string_agg(format('session %s gets GPUs %s of host %s',
                                     a.session_id,
                                     array_to_string(a.gpus, ','), a.host),
                              '; ' ORDER BY a.session_id)
              INTO o_assigned, o_note
              FROM axon_sched_assign(p_pool, p_reserve_ms) a;
        EXCEPTION WHEN OTHERS THEN
            o_assigned := -1;
            o_note := SQLERRM;
        END;
    END IF;
END
$$;
