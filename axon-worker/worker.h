/*
 * axon-worker: the state of the process, shared by every file (as redis
 * has its "server"): the configuration in force and the connections.
 */

#ifndef AW_WORKER_H
#define AW_WORKER_H


#include "config.h"
#include "core.h"
#include "db.h"
#include "redis.h"
#include "eth.h"


typedef struct {
    aw_conf_t    *conf;         /* replaced on SIGHUP */
    aw_db_t       db;
    aw_redis_t    redis;
    aw_rpc_t      rpc;          /* Ethereum JSON-RPC; off without URLs */

    unsigned      stopping:1;   /* finish the current unit of work, exit */
    unsigned      x402:1;       /* the x402 process: x402.pay jobs only */
    int           exit_code;
} aw_worker_t;


extern aw_worker_t  aw_worker;


void aw_worker_stop(int exit_code);

#define aw_worker_stopping()  (aw_worker.stopping)


#endif /* AW_WORKER_H */
