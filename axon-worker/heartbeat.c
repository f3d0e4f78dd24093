/*
 * axon-worker: the health heartbeat (see heartbeat.h for the keys).
 */


#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "heartbeat.h"
#include "log.h"
#include "migrate.h"
#include "worker.h"


typedef enum {
    AW_HEARTBEAT_UNKNOWN = 0,
    AW_HEARTBEAT_UP,            /* published */
    AW_HEARTBEAT_PG_DOWN,       /* axon:worker:postgres published instead */
    AW_HEARTBEAT_REDIS_DOWN     /* nothing published */
} aw_heartbeat_state_e;


static void aw_heartbeat_state(aw_heartbeat_state_e state);
static int aw_heartbeat_publish(aw_redis_t *r, aw_msec_t ttl);


static aw_msec_t             aw_heartbeat_next_time;
static aw_heartbeat_state_e  aw_heartbeat_last;


/*
 * Every heartbeat_interval: a real PostgreSQL check, then the keys.
 */

void
aw_heartbeat_tick(aw_msec_t now)
{
    int          pg;
    aw_msec_t    ttl;
    aw_conf_t   *conf;
    aw_redis_t  *r;
    redisReply  *reply;

    conf = aw_worker.conf;
    r = &aw_worker.redis;
    ttl = conf->heartbeat_ttl;

    aw_heartbeat_next_time = now + conf->heartbeat_interval;

    /*
     * A check that takes longer than ttl - interval counts as a failure:
     * the heartbeat of the tick before expires about when it gives up.
     */

    pg = aw_db_check(&aw_worker.db, now,
                     aw_min(conf->postgres_query_timeout,
                            aw_max(ttl - conf->heartbeat_interval, 100)));

    if (pg == AW_FATAL) {
        aw_worker_stop(AW_EXIT_CONFIG);
        return;
    }

    if (aw_redis_ready(r, aw_monotonic_msec()) != AW_OK) {
        aw_heartbeat_state(AW_HEARTBEAT_REDIS_DOWN);
        return;
    }

    if (pg == AW_OK) {
        if (aw_heartbeat_publish(r, ttl) == AW_OK) {
            aw_heartbeat_state(AW_HEARTBEAT_UP);
        }

        return;
    }

    reply = aw_redis_command(r, "SET %s %s PX %lld", AXON_KEY_POSTGRES,
                             aw_worker.db.error, (long long) ttl);
    if (reply == NULL) {
        return;
    }

    freeReplyObject(reply);

    aw_heartbeat_state(AW_HEARTBEAT_PG_DOWN);
}


static int
aw_heartbeat_publish(aw_redis_t *r, aw_msec_t ttl)
{
    char        *text;
    json_t      *hb;
    redisReply  *reply;

    hb = json_pack("{s:s, s:i, s:s, s:i, s:I}",
                   "id", aw_worker.conf->worker_id,
                   "pid", (int) getpid(),
                   "version", AXON_VERSION,
                   "schema", aw_migrate_schema_version(),
                   "ts", (json_int_t) aw_unix_msec());
    if (hb == NULL) {
        aw_log(AW_LOG_ERR, "heartbeat: cannot build the JSON");
        return AW_ERROR;
    }

    text = json_dumps(hb, JSON_COMPACT);
    json_decref(hb);

    if (text == NULL) {
        aw_log(AW_LOG_ERR, "heartbeat: out of memory");
        return AW_ERROR;
    }

    reply = aw_redis_command(r, "SET %s %s PX %lld", AXON_KEY_HEARTBEAT, text,
                             (long long) ttl);
    free(text);

    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    reply = aw_redis_command(r, "DEL %s", AXON_KEY_POSTGRES);
    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    aw_log(AW_LOG_DEBUG, "heartbeat: published");

    return AW_OK;
}


/*
 * Logs what the nginx module now sees, once per change.
 */

static void
aw_heartbeat_state(aw_heartbeat_state_e state)
{
    if (state == aw_heartbeat_last) {
        return;
    }

    switch (state) {

    case AW_HEARTBEAT_UP:
        aw_log(AW_LOG_NOTICE, "heartbeat: postgres and redis are up, "
               "publishing " AXON_KEY_HEARTBEAT);
        break;

    case AW_HEARTBEAT_PG_DOWN:
        aw_log(AW_LOG_WARN, "heartbeat: postgres is down, publishing "
               AXON_KEY_POSTGRES " \"%s\" and letting " AXON_KEY_HEARTBEAT
               " expire", aw_worker.db.error);
        break;

    case AW_HEARTBEAT_REDIS_DOWN:
        aw_log(AW_LOG_WARN, "heartbeat: redis is down, nothing published");
        break;

    default:
        break;
    }

    aw_heartbeat_last = state;
}


/*
 * Run the heartbeat at the next turn of the loop (after a reconnect or a
 * reload), not at its time.
 */

void
aw_heartbeat_kick(void)
{
    aw_heartbeat_next_time = 0;
}


aw_msec_t
aw_heartbeat_next(void)
{
    return aw_heartbeat_next_time;
}
