/*
 * axon-worker: the table of job sources (see sources.h) and the calls of the
 * main loop into them.
 */


#include "sources.h"
#include "log.h"
#include "queue.h"
#include "session.h"
#include "worker.h"


extern const aw_source_t  aw_deposits_source;


/* the job sources, in the order they run */

static const aw_source_t  *aw_sources_main[] = {
    &aw_queue_source,             /* queue.c: the Redis Streams job queue */
    &aw_sched_source,             /* sched.c: GPU sessions */
    &aw_deposits_source,          /* deposits.c: the indexer, confirmations */
    NULL
};

/* the x402 process (main.c): its queue is axon:x402:jobs */

static const aw_source_t  *aw_sources_x402[] = {
    &aw_queue_source,
    NULL
};


static const aw_source_t  **aw_sources = aw_sources_main;
static aw_msec_t          aw_sources_next[aw_nelems(aw_sources_main)];
static aw_msec_t          aw_sources_others;


int
aw_sources_init(void)
{
    size_t  i;

    aw_sources = aw_worker.x402 ? aw_sources_x402 : aw_sources_main;

    for (i = 0; aw_sources[i]; i++) {
        aw_sources_next[i] = aw_sources[i]->run ? 0 : AW_MSEC_NEVER;

        if (aw_sources[i]->init && aw_sources[i]->init() != AW_OK) {
            aw_log(AW_LOG_EMERG, "jobs: %s: init failed", aw_sources[i]->name);
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
aw_sources_run(aw_msec_t now)
{
    size_t     i, j;
    aw_msec_t  next;

    next = AW_MSEC_NEVER;

    for (i = 0; aw_sources[i]; i++) {

        if (now >= aw_sources_next[i] && !aw_worker_stopping()) {
            aw_sources_others = AW_MSEC_NEVER;

            for (j = 0; aw_sources[j]; j++) {
                if (j != i) {
                    aw_sources_others = aw_min(aw_sources_others,
                                               aw_sources_next[j]);
                }
            }

            aw_sources_next[i] = aw_sources[i]->run(now);
            aw_log_ctx(NULL);
        }

        next = aw_min(next, aw_sources_next[i]);
    }

    return next;
}


/*
 * When the sources other than the one running now want to run next: a
 * source that may wait in a call (the queue's blocking read) waits no
 * longer than that, so that another one's work (the deposits indexer
 * range after range) does not wait behind it.
 */

aw_msec_t
aw_sources_others_next(void)
{
    return aw_sources_others;
}


/* runs j at the next turn of the loop, not at the time it asked for */

void
aw_sources_wake(const aw_source_t *j)
{
    size_t  i;

    for (i = 0; aw_sources[i]; i++) {
        if (aw_sources[i] == j && aw_sources[i]->run) {
            aw_sources_next[i] = 0;
        }
    }
}


void
aw_sources_reload(void)
{
    size_t  i;

    for (i = 0; aw_sources[i]; i++) {
        if (aw_sources[i]->reload) {
            aw_sources[i]->reload();
        }
    }
}


void
aw_sources_fini(void)
{
    size_t  i;

    for (i = 0; aw_sources[i]; i++) {
        if (aw_sources[i]->fini) {
            aw_sources[i]->fini();
        }
    }
}
