/*
 * axon-worker: the sources of work the main loop runs in turn.
 *
 * A source is one kind of work that finds its own jobs (the Redis Streams
 * job queue, deposits, the GPU scheduler): one file that defines an
 * aw_source_t and adds it to aw_sources[] in sources.c.  The job kinds a
 * queue carries are job.h's.  The main loop calls:
 *
 *   init()     once, before the loop; the connections may still be down.
 *   run(now)   when now reaches the time it last asked for (at first: at
 *              once), to do ONE bounded unit of work (e.g. read and handle
 *              one batch from the stream).  Returns the monotonic time it
 *              wants to run again (now: at once; AW_MSEC_NEVER: never).  It
 *              uses aw_worker.db and aw_worker.redis, and checks
 *              aw_db_ready()/aw_redis_ready() first: a connection may be
 *              down, and the loop reconnects it.  aw_worker.rpc is the
 *              Ethereum JSON-RPC client (eth.h; aw_rpc_enabled() is false
 *              without eth_rpc_url): its calls fail over and back off by
 *              themselves, and fail at once while every URL is down.
 *              After SIGTERM run() is not called again: the unit in
 *              progress finishes, then exit.
 *   reload()   after SIGHUP installed a new aw_worker.conf.
 *   fini()     once, at exit.
 *
 * Any of them may be NULL.  The context prefix of the log (aw_log_ctx)
 * is cleared after each run().
 */

#ifndef AW_SOURCES_H
#define AW_SOURCES_H


#include "core.h"


typedef struct {
    const char   *name;
    int         (*init)(void);
    aw_msec_t   (*run)(aw_msec_t now);
    void        (*reload)(void);
    void        (*fini)(void);
} aw_source_t;


int aw_sources_init(void);
aw_msec_t aw_sources_run(aw_msec_t now);
aw_msec_t aw_sources_others_next(void);
void aw_sources_reload(void);
void aw_sources_wake(const aw_source_t *j);
void aw_sources_fini(void);


#endif /* AW_SOURCES_H */
