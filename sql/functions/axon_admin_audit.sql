-- The audit row of an admin job without a ledger row (job.replay), once.
CREATE OR REPLACE FUNCTION axon_admin_audit(p_actor text, p_action text,
    p_subject text, p_detail jsonb, p_job text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (actor, action, subject, detail, job_id)
        VALUES (p_actor, p_action, p_subject, p_detail, p_job)
        ON CONFLICT (job_id) WHERE job_id IS NOT NULL DO NOTHING;
$$;
