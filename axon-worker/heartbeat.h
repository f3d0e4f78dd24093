/*
 * axon-worker: the health heartbeat, the contract with the nginx module
 * (ngx_http_axon_health.c), which reads both keys with one MGET:
 *
 *   axon:worker:heartbeat  {"id":"<worker_id>","pid":N,"version":"<ver>",
 *                           "schema":<highest applied migration>,
 *                           "ts":<unix ms>}, PX heartbeat_ttl; refreshed
 *                          every heartbeat_interval while SELECT 1 on the
 *                          worker's own PostgreSQL connection succeeds.
 *   axon:worker:postgres   the short error text, PX heartbeat_ttl; set
 *                          instead while that check fails, deleted when it
 *                          succeeds again.
 *
 * On exit the heartbeat is left to expire, so that a restart within
 * heartbeat_ttl is not seen as an outage.
 */

#ifndef AW_HEARTBEAT_H
#define AW_HEARTBEAT_H


#include "axon_contract.h"
#include "core.h"


void aw_heartbeat_tick(aw_msec_t now);
void aw_heartbeat_kick(void);
aw_msec_t aw_heartbeat_next(void);


#endif /* AW_HEARTBEAT_H */
