
/*
 * axon-worker: the scheduler's reconcile sweep, every reconcile_interval:
 * events can be lost (a crash between a container's start and its row, a
 * Redis that restarted empty), so the sweep compares Postgres, the
 * containers and Redis, and repairs what differs.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "scheduler.h"
#include "session.h"
#include "worker.h"


static int aw_sched_orphans(aw_launcher_t *l, PGresult *pg,
    aw_container_t *list, size_t nc);
static void aw_sched_vanished(const char *host, PGresult *pg,
    aw_container_t *list, size_t nc);
static int aw_sched_drift(PGresult *pg);
static void aw_sched_health(int i, const char *err, struct timespec *asked);
static void aw_sched_host_reason(const char *host, int down);
static void aw_sched_host_row(const char *host, struct timespec *asked);


#define AW_HOST_UNREACHABLE  "host_unreachable"


/*
 * The reconcile sweep: Postgres first (what should run), then, host by
 * host of gpu_hosts, the containers (what runs there), then each
 * difference repaired and logged:
 *
 *   a container of ours whose session is not live    removed
 *   a running session of this host whose container   ended
 *   is gone from it                                  (container_vanished)
 *   a live session whose state in Redis differs      published again
 *
 * A host is compared only with its own sessions: a container whose
 * session is live on another host (two hosts' engines on one store) is
 * left alone, and a host that cannot list changes nothing.
 */

int
aw_sched_reconcile(void)
{
    int              rc, i;
    size_t           nc;
    PGresult        *pg;
    struct timespec  asked;
    aw_conf_t       *conf;
    aw_launcher_t   *l;
    aw_container_t  *list;

    (void) aw_sched_counter();

    conf = aw_worker.conf;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT id, state, coalesce(host, '') AS host"
                     " FROM sessions"
                     " WHERE state IN ('starting', 'running', 'ending')"
                     " ORDER BY id", 0, NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "reconcile: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    for (i = 0; i < conf->nhosts; i++) {
        l = &aw_sched.host[i];
        clock_gettime(CLOCK_REALTIME, &asked);

        if (l->ops->list(l, &list, &nc) != AW_OK) {
            aw_log(AW_LOG_ERR, "reconcile: host %s: cannot list the "
                   "containers: %s", conf->host[i].name, l->err);
            aw_sched_health(i, l->err, NULL);
            continue;
        }

        /* the sessions whose containers are gone end before the host is
         * up again in hosts: their billing stays where it stopped */
        (void) aw_sched_orphans(l, pg, list, nc);
        aw_sched_vanished(conf->host[i].name, pg, list, nc);
        free(list);

        aw_sched_health(i, NULL, &asked);
    }

    rc = aw_sched_drift(pg);
    PQclear(pg);

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    return aw_sched_profiles(1);
}


/* containers of ours with no live session (pg: id, state of the live ones) */

static int
aw_sched_orphans(aw_launcher_t *l, PGresult *pg, aw_container_t *list,
    size_t nc)
{
    int          i, j, n, found, c_id;
    char         id[32];
    size_t       plen;
    PGresult    *r;
    aw_conf_t   *conf;
    const char  *params[1], *state;

    conf = aw_worker.conf;
    plen = strlen(conf->launcher_prefix);
    n = PQntuples(pg);
    c_id = aw_db_col(pg, "id");

    for (j = 0; j < (int) nc; j++) {
        if (strncmp(list[j].name, conf->launcher_prefix, plen) != 0
            || list[j].session <= 0)
        {
            continue;
        }

        snprintf(id, sizeof(id), "%lld", (long long) list[j].session);

        if (strcmp(list[j].name + plen, id) != 0) {
            continue;
        }

        found = 0;

        for (i = 0; i < n; i++) {
            if (atoll(PQgetvalue(pg, i, c_id)) == list[j].session) {
                found = 1;
            }
        }

        if (found) {
            continue;
        }

        /* started since the query above? ask again */

        params[0] = id;
        r = aw_db_query(&aw_worker.db,
                        "SELECT coalesce((SELECT state FROM sessions"
                        " WHERE id = $1::bigint), 'unknown') AS state", 1,
                        params);
        if (r == NULL) {
            continue;
        }

        state = aw_db_get(r, 0, "state");

        if (strcmp(state, "ended") == 0 || strcmp(state, "unknown") == 0
            || strcmp(state, "queued") == 0)
        {
            aw_log(AW_LOG_WARN, "reconcile: container %s (%s) has no live "
                   "session (session %s is %s): removing it", list[j].name,
                   list[j].state, id, state);

            if (l->ops->remove(l, list[j].name) != AW_OK) {
                aw_log(AW_LOG_ERR, "reconcile: %s", l->err);
            }
        }

        PQclear(r);
    }

    return AW_OK;
}


/* running sessions of host whose container is gone: ended, and billed */

static void
aw_sched_vanished(const char *host, PGresult *pg, aw_container_t *list,
    size_t nc)
{
    int          i, j, n, found, c_id, c_state, c_host;
    char         id[32];
    size_t       plen;
    int64_t      sid;
    PGresult    *r;
    aw_conf_t   *conf;
    const char  *params[4];

    conf = aw_worker.conf;
    plen = strlen(conf->launcher_prefix);
    n = PQntuples(pg);
    c_id = aw_db_col(pg, "id");
    c_state = aw_db_col(pg, "state");
    c_host = aw_db_col(pg, "host");

    for (i = 0; i < n; i++) {
        if (strcmp(PQgetvalue(pg, i, c_state), "running") != 0
            || strcmp(PQgetvalue(pg, i, c_host), host) != 0)
        {
            continue;
        }

        sid = atoll(PQgetvalue(pg, i, c_id));
        found = 0;

        for (j = 0; j < (int) nc; j++) {
            if (list[j].session == sid
                && strncmp(list[j].name, conf->launcher_prefix, plen) == 0
                && strcmp(list[j].state, "running") == 0)
            {
                found = 1;
            }
        }

        if (found) {
            continue;
        }

        snprintf(id, sizeof(id), "%lld", (long long) sid);

        aw_log(AW_LOG_WARN, "reconcile: session %s is running but its "
               "container is gone: ending it (container_vanished)", id);

        params[0] = id;
        params[1] = "";
        params[2] = "container_vanished";
        params[3] = "false";

        /* billed to the last list that showed it running: its host's
         * confirmed_at, the sweep before this one (this one's is written
         * after), however long ago (a worker down meanwhile) */
        r = aw_db_query(&aw_worker.db,
                        "SELECT axon_session_stop($1::bigint, nullif($2, ''),"
                        " $3, $4::boolean, (SELECT h.confirmed_at"
                        " FROM sessions s JOIN hosts h ON h.name = s.host"
                        " WHERE s.id = $1::bigint))", 4, params);
        PQclear(r);

        (void) aw_sched_bill(sid, NULL);
    }
}


/*
 * Host i answered a list asked for at asked (err NULL) or did not: a
 * change is logged, changes the pool new claims are assigned from and
 * the profiles' pool, and is written to axon:hosts for admins, a field
 * per host: workers that drive other hosts leave it alone, and of two
 * that drive it the last sweep's says ("at": when).  Each sweep's answer
 * is written to hosts in Postgres too, where billing reads it.  A host
 * that does not answer keeps its sessions and their GPUs as they are
 * until it answers again and a sweep compares.
 */

static void
aw_sched_health(int i, const char *err, struct timespec *asked)
{
    char         *doc;
    json_t       *j;
    aw_conf_t    *conf;
    redisReply   *reply;

    conf = aw_worker.conf;

    aw_sched_host_row(conf->host[i].name, asked);

    /* a change, or the first sweep since the start or a reload (the
     * sessions' marks may be another run's); written each sweep: the
     * last error, and that a worker looks */
    if (!aw_sched.known[i] || aw_sched.down[i] != (err != NULL)) {
        aw_log(err ? AW_LOG_WARN : AW_LOG_NOTICE, "host %s is %s%s%s",
               conf->host[i].name, err ? "down: " : "up",
               err ? "no new sessions start there until it answers: " : "",
               err ? err : "");
        aw_sched.down[i] = (err != NULL);
        aw_sched.known[i] = 1;
        aw_sched_pool_build();
        aw_sched.profiles_dirty = 1;
        aw_sched_kick();
        aw_sched.since[i] = time(NULL);
        aw_sched_host_reason(conf->host[i].name, err != NULL);
    }

    j = json_pack("{s:s, s:I, s:s, s:s, s:I}", "state", err ? "down" : "up",
                  "since", (json_int_t) aw_sched.since[i],
                  "error", err ? err : "", "worker", conf->worker_id,
                  "at", (json_int_t) time(NULL));
    doc = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (doc == NULL) {
        return;
    }

    reply = aw_redis_command(&aw_worker.redis, "HSET " AW_KEY_HOSTS " %s %s",
                             conf->host[i].name, doc);
    (void) aw_sched_redis_ok(reply, "HSET " AW_KEY_HOSTS);
    free(doc);
}


/*
 * The host's row in hosts: up, confirmed at asked (a list asked for
 * then answered), or down, its last confirmation kept.  Written before
 * the sessions are marked and the pool changes: a host seen down stops
 * its sessions' billing at the next tick.
 */

static void
aw_sched_host_row(const char *host, struct timespec *asked)
{
    char         at[32];
    PGresult    *r;
    const char  *params[2];

    params[0] = host;
    params[1] = NULL;

    if (asked != NULL) {
        snprintf(at, sizeof(at), "%lld.%03ld", (long long) asked->tv_sec,
                 asked->tv_nsec / 1000000);
        params[1] = at;
    }

    r = aw_db_query(&aw_worker.db,
                    "INSERT INTO hosts AS h (name, down, confirmed_at)"
                    " VALUES ($1, $2::numeric IS NULL,"
                    " to_timestamp($2::numeric))"
                    " ON CONFLICT (name) DO UPDATE"
                    " SET down = excluded.down,"
                    " confirmed_at = greatest(excluded.confirmed_at,"
                    " h.confirmed_at),"
                    " changed_at = CASE WHEN h.down = excluded.down"
                    " THEN h.changed_at ELSE now() END", 2, params);
    if (r == NULL) {
        aw_log(AW_LOG_ERR, "host %s: its health not written: %s", host,
               aw_worker.db.error);
        return;
    }

    PQclear(r);
}


/*
 * The live sessions of a host that went down say so (reason
 * host_unreachable, published with the session, which GET /api/session
 * shows); back up, they no longer do.
 */

static void
aw_sched_host_reason(const char *host, int down)
{
    PGresult    *r;
    const char  *params[1];

    params[0] = host;

    r = aw_db_query(&aw_worker.db, down
                    ? "UPDATE sessions SET reason = '" AW_HOST_UNREACHABLE "'"
                      " WHERE host = $1"
                      " AND state IN ('starting', 'running')"
                      " AND reason IS DISTINCT FROM '"
                      AW_HOST_UNREACHABLE "'"
                    : "UPDATE sessions SET reason = NULL"
                      " WHERE host = $1 AND reason = '"
                      AW_HOST_UNREACHABLE "'", 1, params);
    if (r == NULL) {
        aw_log(AW_LOG_ERR, "host %s: sessions not marked: %s", host,
               aw_worker.db.error);
        return;
    }

    PQclear(r);
}


/* Redis against Postgres: the state of every live session */

static int
aw_sched_drift(PGresult *pg)
{
    int          i, n, c_id, c_state;
    PGresult    *r;
    redisReply  *reply;
    const char  *params[1];

    n = PQntuples(pg);
    c_id = aw_db_col(pg, "id");
    c_state = aw_db_col(pg, "state");

    for (i = 0; i < n; i++) {
        if (aw_redis_append(&aw_worker.redis, "HGET " AXON_KEY_SESSION "%s "
                            AXON_SESSION_STATE, PQgetvalue(pg, i, c_id))
            != AW_OK)
        {
            return AW_ERROR;
        }
    }

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            return AW_ERROR;
        }

        if (reply->type != REDIS_REPLY_STRING
            || strcmp(reply->str, PQgetvalue(pg, i, c_state)) != 0)
        {
            aw_log(AW_LOG_WARN, "reconcile: session %s is %s in Postgres "
                   "but %s in Redis: publishing it again",
                   PQgetvalue(pg, i, c_id), PQgetvalue(pg, i, c_state),
                   reply->type == REDIS_REPLY_STRING ? reply->str
                                                     : "missing");
            params[0] = PQgetvalue(pg, i, c_id);
            r = aw_db_query(&aw_worker.db,
                            "UPDATE sessions SET synced = false"
                            " WHERE id = $1::bigint", 1, params);
            PQclear(r);
        }

        freeReplyObject(reply);
    }

    return AW_OK;
}
