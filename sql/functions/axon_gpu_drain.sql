-- gpu.drain / gpu.undrain.  Under the assignment pass's lock
-- (axon_sched_assign): a pass that read the drained hosts before this
-- commits has assigned (and committed) before it; once the job answers
-- "drained", no later pass assigns a GPU of the host.
CREATE OR REPLACE FUNCTION axon_gpu_drain(p_host text, p_drain boolean, p_reason text,
    p_job text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7306001);

    IF p_drain THEN
        INSERT INTO gpu_hosts_drained (host, reason)
            VALUES (p_host, p_reason)
            ON CONFLICT (host) DO UPDATE SET reason = EXCLUDED.reason;
    ELSE
        DELETE FROM gpu_hosts_drained WHERE host = p_host;
    END IF;

    INSERT INTO audit_log (actor, action, subject, detail, job_id)
        VALUES ('admin', CASE WHEN p_drain THEN 'gpu.drain'
                              ELSE 'gpu.undrain' END,
                p_host, jsonb_build_object('via', 'redis', 'reason', p_reason),
                p_job)
        ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO NOTHING;
END
$$;
