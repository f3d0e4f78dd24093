/*
 * axon-worker: the job queue, a Redis Streams consumer group.
 *
 *   axon:jobs            stream: the jobs not finished yet (XADD by the
 *                        module and by admins with redis-cli; field "kind")
 *   axon:x402:jobs       stream: the x402.pay jobs, consumed (same group)
 *                        by the x402 process only, so that no session job
 *                        waits behind a settlement's chain calls
 *   axon:jobs:dead       stream: dead-lettered jobs, their fields plus
 *                        job_id, error, attempts, failed_at, worker
 *   axon:job:ID          hash: a job's state: kind, state (running, failed,
 *                        done, dead, replayed), attempts, error, updated
 *                        (unix ms), worker, ms, result, retry_at, dead_id,
 *                        replayed_as; done and replayed ones expire after
 *                        job_state_ttl
 *   axon:queue:stats:C   hash: consumer C's counters, refreshed every
 *                        heartbeat_interval
 *
 * Delivery is at least once: a job is acknowledged (XACK, then XDEL, so the
 * stream holds only unfinished work) after its Postgres statement has
 * committed, in the same Redis script that records it done.  A job that
 * fails transiently stays pending and is claimed again after a backoff; a
 * dead worker's pending jobs are reclaimed by XAUTOCLAIM after
 * job_claim_idle.  Handlers are idempotent, so a job run twice (a crash
 * between the commit and the acknowledgement) changes nothing the second
 * time.
 */

#ifndef AW_QUEUE_H
#define AW_QUEUE_H


#include "axon_contract.h"
#include "core.h"
#include "sources.h"


/* what a metrics endpoint exports; since the worker started */
typedef struct {
    uint64_t    done;           /* jobs finished */
    uint64_t    failed;         /* attempts that failed, transient or not */
    uint64_t    retried;        /* attempts scheduled again after a failure */
    uint64_t    dead;           /* jobs moved to axon:jobs:dead */
    uint64_t    replayed;       /* dead jobs queued again by job.replay */
    uint64_t    claimed;        /* jobs reclaimed from idle consumers */

    /* as of the last stats tick (every heartbeat_interval) */
    int64_t     depth;          /* entries in axon:jobs: queued + pending */
    int64_t     pending;        /* delivered, not acknowledged (group) */
    int64_t     oldest_age;     /* ms since the oldest unfinished job was
                                   queued; 0 if none */
    int64_t     dead_depth;     /* entries in axon:jobs:dead */
} aw_queue_stats_t;


extern const aw_source_t  aw_queue_source;


const aw_queue_stats_t *aw_queue_stats(void);


#endif /* AW_QUEUE_H */
