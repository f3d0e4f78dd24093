/*
 * axon-worker: GPU sessions.
 *
 *   session.c   the job kinds: session.claim, session.leave,
 *               session.release (queued by the module), session.end,
 *               gpu.drain, gpu.undrain (admins)
 *   sched.c     the job source that runs the rest: the scheduler (the fair
 *               queue, sql/functions/axon_sched_assign.sql), launching
 *               and stopping containers, the billing tick, idle and grace;
 *               sched_publish.c publishes sessions and profiles to Redis,
 *               sched_reconcile.c is the reconcile sweep (scheduler.h)
 *
 * Postgres is the system of record; Redis holds what the module reads:
 *
 *   axon:profiles      string (JSON): the profiles and the pool, with
 *                      availability; rewritten when it changes
 *   axon:session:ID    hash: the worker writes state position reason
 *                      upstream started_at ended_at end_reason
 *                      billed_minutes grace_until connect_* and rev (the
 *                      row's revision: an older one never overwrites a
 *                      newer one)
 *   axon:session:next  string: raised to max(sessions.id) if Redis lost it
 */

#ifndef AW_SESSION_H
#define AW_SESSION_H


#include "axon_contract.h"
#include "config.h"
#include "core.h"
#include "job.h"
#include "sources.h"


extern const aw_source_t  aw_sched_source;


/* something changed: run the scheduler at the next turn of the loop */
void aw_sched_kick(void);

/* the pool as axon_sched_assign takes it (NULL: sessions off) */
const char *aw_sched_pool(void);

/* a claim's statement gave GPUs to assigned (> 0) sessions: publish them
 * now (inside the claim's job), and kick the scheduler */
void aw_sched_claimed(int assigned);

/* Redis lost what it held (a flush): the scheduler writes it again */
void aw_sched_redis_lost(void);

/*
 * The grace at zero balance in billing minutes, ceil(session_grace /
 * billing_minute) (0: none), as sql/010_grace.sql's axon_grace_minutes():
 * the reserve a claim must hold beyond its first minute, in minutes of the
 * profile's cost.  Published in axon:profiles as "grace_minutes".
 */
int64_t aw_sched_grace_minutes(void);

/*
 * The billing tick for one session (only > 0) or all; with res, the
 * charged wallet's balance goes there for the job's done script (no Redis
 * call: it runs inside a job), else it is written to Redis at once.
 */
int aw_sched_bill(int64_t only, aw_job_result_t *res);

/*
 * A reload to conf from old: AW_ERROR (why in err) if it drops a GPU host
 * where sessions still live (nothing would stop or bill them), or that
 * cannot be checked; AW_OK otherwise.
 */
int aw_sched_reload_check(const aw_conf_t *old, const aw_conf_t *conf,
    char *err, size_t errlen);


#endif /* AW_SESSION_H */
