-- A worker takes one session to launch (starting) or stop (ending) whose
-- lease is free or has expired (a worker that died mid-launch), for
-- p_lease_ms, on one of the hosts it drives (p_hosts, its gpu_hosts): a
-- session bound to another host is that host's workers' to launch or
-- stop.  A session bound to no host (it never had GPUs) has no container
-- and any worker may end it.  attempts counts the leases: above 1, a
-- container of an earlier attempt may be left to remove first.

-- the version before hosts: no host, no p_hosts
DROP FUNCTION IF EXISTS axon_session_lease(text, bigint);

CREATE OR REPLACE FUNCTION axon_session_lease(p_worker text, p_lease_ms bigint,
                                              p_hosts text[])
RETURNS TABLE (id bigint, wallet text, mode text, state text, gpus int[],
               attempts int, ssh_key text, host text)
LANGUAGE sql AS $$
    UPDATE sessions s
       SET lease_until = now() + p_lease_ms * interval '1 ms',
           lease_by = p_worker, attempts = s.attempts + 1
     WHERE s.id = (SELECT x.id FROM sessions x
                    WHERE x.state IN ('starting', 'ending')
                      AND (x.lease_until IS NULL OR x.lease_until < now())
                      AND (x.host IS NULL OR x.host = ANY (p_hosts))
                    ORDER BY x.id
                    LIMIT 1
                      FOR UPDATE SKIP LOCKED)
    RETURNING s.id, s.wallet, s.mode, s.state,
              ARRAY(SELECT a.gpu_index FROM gpu_assignments a
                     WHERE a.session_id = s.id AND a.released_at IS NULL
                     ORDER BY a.gpu_index),
              s.attempts, s.ssh_key, s.host;
$$;
