/*
 * axon-worker: the table of job sources (see jobs.h) and the calls of the
 * main loop into them.
 */


#include "jobs.h"
#include "log.h"
#include "queue.h"
#include "session.h"
#include "worker.h"


extern const aw_jobs_t  aw_deposits_jobs;


/* the job sources, in the order they run */

static const aw_jobs_t  *aw_jobs_main[] = {
    &aw_queue_jobs,             /* queue.c: the Redis Streams job queue */
    &aw_sched_jobs,             /* sched.c: GPU sessions */
    &aw_deposits_jobs,          /* deposits.c: the indexer, confirmations */
    NULL
};

/* the x402 process (main.c): its queue is axon:x402:jobs */

static const aw_jobs_t  *aw_jobs_x402[] = {
    &aw_queue_jobs,
    NULL
};


static const aw_jobs_t  **aw_jobs = aw_jobs_main;
static aw_msec_t          aw_jobs_next[aw_nelems(aw_jobs_main)];


int
aw_jobs_init(void)
{
    size_t  i;

    aw_jobs = aw_worker.x402 ? aw_jobs_x402 : aw_jobs_main;

    for (i = 0; aw_jobs[i]; i++) {
        aw_jobs_next[i] = aw_jobs[i]->run ? 0 : AW_MSEC_NEVER;

        if (aw_jobs[i]->init && aw_jobs[i]->init() != AW_OK) {
            aw_log(AW_LOG_EMERG, "jobs: %s: init failed", aw_jobs[i]->name);
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/*
 * Runs each source that is due, one unit of work each; returns the
 * earliest time one wants to run again.
 */

aw_msec_t
aw_jobs_run(aw_msec_t now)
{
    size_t     i;
    aw_msec_t  next;

    next = AW_MSEC_NEVER;

    for (i = 0; aw_jobs[i]; i++) {

        if (now >= aw_jobs_next[i] && !aw_worker_stopping()) {
            aw_jobs_next[i] = aw_jobs[i]->run(now);
            aw_log_ctx(NULL);
        }

        next = aw_min(next, aw_jobs_next[i]);
    }

    return next;
}


/* runs j at the next turn of the loop, not at the time it asked for */

void
aw_jobs_wake(const aw_jobs_t *j)
{
    size_t  i;

    for (i = 0; aw_jobs[i]; i++) {
        if (aw_jobs[i] == j && aw_jobs[i]->run) {
            aw_jobs_next[i] = 0;
        }
    }
}


void
aw_jobs_reload(void)
{
    size_t  i;

    for (i = 0; aw_jobs[i]; i++) {
        if (aw_jobs[i]->reload) {
            aw_jobs[i]->reload();
        }
    }
}


void
aw_jobs_fini(void)
{
    size_t  i;

    for (i = 0; aw_jobs[i]; i++) {
        if (aw_jobs[i]->fini) {
            aw_jobs[i]->fini();
        }
    }
}
