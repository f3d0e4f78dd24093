/*
 * axon-worker: the scheduler's parts (session.h is its interface to the
 * rest of the worker):
 *
 *   sched.c            the loop: assign, lease, launch and stop, billing
 *   sched_publish.c    Postgres to Redis: axon:session:ID, axon:profiles,
 *                      axon:session:next
 *   sched_reconcile.c  the sweep that compares Postgres, the containers
 *                      and Redis, and repairs drift
 *   sched_gpu.c        a desktop's busy GPUs as activity, for the idle
 *                      check
 */

#ifndef AW_SCHEDULER_H
#define AW_SCHEDULER_H


#include <time.h>

#include <hiredis/hiredis.h>

#include "launcher.h"


typedef struct {
    unsigned long   redis_connects;
    unsigned        kicked:1;
    unsigned        profiles_dirty:1;
    unsigned        started:1;
    aw_msec_t       next_poll;
    aw_msec_t       next_bill;
    aw_msec_t       next_reconcile;
    aw_msec_t       next_home;
    char           *profiles;           /* the JSON last published */
    char           *pool;               /* p_pool of axon_sched_assign */
    aw_launcher_t   launcher;           /* the launcher key's */
    aw_launcher_t   host[AW_CONF_MAX_HOSTS];    /* gpu_hosts' */
    char            hosts[AW_CONF_MAX_HOSTS * 70 + 4];  /* "{a,b}" */
    unsigned char   down[AW_CONF_MAX_HOSTS];    /* its engine did not
                                                   answer the last sweep */
    time_t          since[AW_CONF_MAX_HOSTS];   /* of its state */
    unsigned char   known[AW_CONF_MAX_HOSTS];   /* swept since the reload */
} aw_sched_t;


/* each host's health, as the last sweep of a worker that drives it found
 * it: HGET axon:hosts NAME -> {"state": "up"|"down", "since", "error",
 * "worker", "at"} */
#define AW_KEY_HOSTS  "axon:hosts"


extern aw_sched_t  aw_sched;


/* the sessions whose row changed, to Redis: how many (-1: failed) */
int aw_sched_publish(void);

/*
 * each worker's part of axon:profiles, its hosts: HGET axon:profiles:hosts
 * NAME -> the host as axon:profiles shows it, with "worker" and "expires"
 * (lua/profiles_publish.lua)
 */
#define AW_KEY_PROFILE_HOSTS  "axon:profiles:hosts"


/*
 * axon:profiles, with this worker's hosts and the others', when this
 * worker's part differs from what it wrote last (or force)
 */
int aw_sched_profiles(int force);

/*
 * whether a host of another worker that publishes now (axon:profiles:hosts,
 * not expired) has at least gpus GPUs: a claim no host of this worker fits
 * waits for that worker's host instead of being refused
 */
int aw_sched_other_host_fits(int gpus);

/* how long a session's lease lasts: longer than a launch can take */
aw_msec_t aw_sched_lease_time(void);

/* axon:telemetry: the totals of sessions and credit, no wallet's own */
int aw_sched_telemetry(void);

/* axon:session:next raised to max(sessions.id) */
int aw_sched_counter(void);

int aw_sched_reconcile(void);

/* the launcher of a session's host (gpu_assignments.host) */
aw_launcher_t *aw_sched_launcher(const char *host);

/* the pool axon_sched_assign takes, of the hosts that are not down */
void aw_sched_pool_build(void);

/* axon:session:ID's field of the last busy GPU reading (unix s) */
#define AW_SCHED_GPU_FIELD  "gpu"

/*
 * at (unix s: the session's last heartbeat or traffic), or now if its GPUs
 * were read busy now; gpus: "HOST=0,2", or "" for none
 */
long long aw_sched_gpu_activity(int64_t id, const char *gpus, long long at);

/* AW_ERROR (logged with what) for an error reply; frees reply */
int aw_sched_redis_ok(redisReply *reply, const char *what);


#endif /* AW_SCHEDULER_H */
