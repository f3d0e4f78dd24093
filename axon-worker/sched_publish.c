
/*
 * axon-worker: what the scheduler publishes to Redis for the module, from
 * Postgres, the system of record: each session whose row changed
 * (synced = false) to axon:session:ID, guarded by the row's revision;
 * axon:profiles; axon:session:next (see session.h for the keys);
 * axon:telemetry.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "scheduler.h"
#include "session.h"
#include "wallet.h"
#include "worker.h"


#define AW_SCHED_PUBLISH    500     /* sessions published per round */


static aw_script_t  aw_sched_publish_script = aw_script(SESSION_PUBLISH);
static aw_script_t  aw_sched_counter_script = aw_script(SESSION_COUNTER);
static aw_script_t  aw_sched_profiles_script = aw_script(PROFILES_PUBLISH);


static aw_db_stmt_t  aw_sched_unsynced_stmt = aw_db_stmt("sched_unsynced",
    "SELECT id, wallet, profile, mode, gpu_count, state,"
    " coalesce(position::text, '') AS position,"
    " coalesce(reason, '') AS reason, coalesce(upstream, '') AS upstream,"
    " coalesce(host, '') AS host,"
    " coalesce(extract(epoch FROM started_at)::bigint::text, '')"
    " AS started_at,"
    " coalesce(extract(epoch FROM ended_at)::bigint::text, '') AS ended_at,"
    " coalesce(end_reason, '') AS end_reason, billed_minutes,"
    " coalesce(ceil(extract(epoch FROM grace_until))::bigint::text, '')"
    " AS grace_until,"
    " extract(epoch FROM created_at)::bigint AS created_at, rev,"
    " coalesce(vnc_password, '') AS vnc_password"
    " FROM sessions WHERE NOT synced ORDER BY id LIMIT 500");

/*
 * The totals the original gate published as its telemetry, from the
 * system of record: sessions (failed: ended without running, not by
 * their wallet's release), the minutes credited, used and left, the
 * wallets signed in and those with credit.  Sums
 * over the whole tables, each reconcile_interval: the indexes of sessions
 * and credit_ledger are not used, which is fine at this cadence.
 */
static aw_db_stmt_t  aw_sched_telemetry_stmt = aw_db_stmt("sched_telemetry",
    "SELECT json_build_object("
    " 'sessions', (SELECT json_build_object("
    "  'total', count(*), 'unique_wallets', count(DISTINCT wallet),"
    "  'failed_allocations', count(*) FILTER (WHERE state = 'ended'"
    "   AND started_at IS NULL"
    "   AND coalesce(end_reason, '') NOT IN ('released', 'left_queue')),"
    "  'active', count(*) FILTER (WHERE state IN ('starting', 'running')),"
    "  'queued', count(*) FILTER (WHERE state = 'queued'),"
    "  'total_wall_minutes', coalesce(floor(sum(extract(epoch FROM"
    "   coalesce(ended_at, now()) - started_at)) / 60), 0)::bigint,"
    "  'billed_minutes', coalesce(sum(billed_minutes), 0),"
    "  'first_session_ts', extract(epoch FROM min(created_at))::bigint,"
    "  'last_session_ts', extract(epoch FROM max(created_at))::bigint)"
    "  FROM sessions),"
    " 'deposits', (SELECT json_build_object("
    "  'total_credited_minutes', coalesce(sum(delta_minutes)"
    "   FILTER (WHERE delta_minutes > 0), 0),"
    "  'total_consumed_minutes', coalesce(-sum(delta_minutes)"
    "   FILTER (WHERE kind = 'usage'), 0),"
    "  'total_remaining_minutes', (SELECT coalesce(sum(balance), 0)"
    "   FROM wallet_balances)) FROM credit_ledger),"
    " 'wallets', json_build_object("
    "  'total', (SELECT count(*) FROM wallets),"
    "  'with_credit', (SELECT count(*) FROM wallet_balances"
    "   WHERE balance > 0)),"
    " 'updated_at', extract(epoch FROM now())::bigint) AS doc");

static aw_db_stmt_t  aw_sched_synced_stmt = aw_db_stmt("sched_synced",
    "UPDATE sessions SET synced = true"
    " FROM unnest($1::bigint[], $2::bigint[]) u(id, rev)"
    " WHERE sessions.id = u.id AND sessions.rev = u.rev");


/* the columns of aw_sched_unsynced_stmt, looked up once per result */
typedef struct {
    int  id, wallet, profile, mode, gpu_count, state, position, reason,
         upstream, host, started_at, ended_at, end_reason, billed_minutes,
         grace_until, created_at, rev, vnc_password;
} aw_sched_cols_t;


/* the host and port of an SSH session, from its upstream */
typedef struct {
    char  host[256];
    char  port[16];
} aw_sched_connect_t;


/* the pool's counts, of the hosts that do not drain (total: all) */
typedef struct {
    int  total, nfree, largest, pfree;
} aw_sched_pool_t;


static void aw_sched_cols(PGresult *pg, aw_sched_cols_t *c);
static int aw_sched_session_argv(PGresult *pg, int row,
    const aw_sched_cols_t *c, char keys[3][64], aw_sched_connect_t *to,
    const char **argv);
static int aw_sched_synced(PGresult *pg, const aw_sched_cols_t *c);
static json_t *aw_sched_host(const aw_conf_gpu_host_t *h, json_t *used,
    json_t *drains, json_t *taken, aw_sched_pool_t *pool);
static json_t *aw_sched_profile_list(int largest, long long queued,
    json_t *by);
static int aw_sched_own_addr(const aw_conf_t *conf, const char *host);
static int aw_sched_profiles_write(json_t *doc);


/*
 * Whether a session's host is reached at an address of its own: 1 for a
 * host of gpu_host_addrs and for one this worker does not list (its
 * upstream says where it is), 0 for the others (ssh_host names them).
 */

static int
aw_sched_own_addr(const aw_conf_t *conf, const char *host)
{
    int  i;

    for (i = 0; i < conf->nhosts; i++) {
        if (strcmp(conf->host[i].name, host) == 0) {
            return conf->host[i].addr[0] != '\0';
        }
    }

    return host[0] != '\0';
}


/*
 * The sessions whose row changed, to axon:session:ID; returns how many
 * (-1: failed).
 */

int
aw_sched_publish(void)
{
    int                  i, n, argc, rc;
    char                 keys[3][64];
    PGresult            *pg;
    redisReply          *reply;
    const char          *argv[56];
    aw_sched_cols_t      c;
    aw_sched_connect_t   to;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_sched_unsynced_stmt, 0,
                              NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: publish: %s", aw_worker.db.error);
        return -1;
    }

    n = PQntuples(pg);

    if (n == 0) {
        PQclear(pg);
        return 0;
    }

    aw_sched_cols(pg, &c);

    for (i = 0; i < n; i++) {
        argc = aw_sched_session_argv(pg, i, &c, keys, &to, argv);

        aw_assert(argc <= (int) aw_nelems(argv));

        if (aw_redis_append_script(&aw_worker.redis,
                                   &aw_sched_publish_script, 3, argc, argv,
                                   NULL)
            != AW_OK)
        {
            PQclear(pg);
            return -1;
        }
    }

    rc = AW_OK;

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            PQclear(pg);
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            aw_log(AW_LOG_ERR, "sessions: publish: redis: %s", reply->str);
            rc = AW_ERROR;
        }

        freeReplyObject(reply);
    }

    if (rc == AW_OK) {
        rc = aw_sched_synced(pg, &c);
    }

    PQclear(pg);

    if (rc != AW_OK) {
        return -1;
    }

    return n == AW_SCHED_PUBLISH ? n : 0;
}


static void
aw_sched_cols(PGresult *pg, aw_sched_cols_t *c)
{
    c->id = aw_db_col(pg, "id");
    c->wallet = aw_db_col(pg, "wallet");
    c->profile = aw_db_col(pg, "profile");
    c->mode = aw_db_col(pg, "mode");
    c->gpu_count = aw_db_col(pg, "gpu_count");
    c->state = aw_db_col(pg, "state");
    c->position = aw_db_col(pg, "position");
    c->reason = aw_db_col(pg, "reason");
    c->upstream = aw_db_col(pg, "upstream");
    c->host = aw_db_col(pg, "host");
    c->started_at = aw_db_col(pg, "started_at");
    c->ended_at = aw_db_col(pg, "ended_at");
    c->end_reason = aw_db_col(pg, "end_reason");
    c->billed_minutes = aw_db_col(pg, "billed_minutes");
    c->grace_until = aw_db_col(pg, "grace_until");
    c->created_at = aw_db_col(pg, "created_at");
    c->rev = aw_db_col(pg, "rev");
    c->vnc_password = aw_db_col(pg, "vnc_password");
}


/*
 * The arguments of lua/session_publish.lua for one row: the keys (the
 * session's, the wallet's usage list, the wallet's hash), the rev, the
 * module's fields (set only if absent), then the worker's.  keys and to
 * hold strings argv points to.
 */

static int
aw_sched_session_argv(PGresult *pg, int row, const aw_sched_cols_t *c,
    char keys[3][64], aw_sched_connect_t *to, const char **argv)
{
    int          argc, running, ssh;
    char        *p, *up;
    aw_conf_t   *conf;
    const char  *state;

    conf = aw_worker.conf;

    state = PQgetvalue(pg, row, c->state);
    running = (strcmp(state, "running") == 0);
    ssh = (strcmp(PQgetvalue(pg, row, c->mode), "ssh") == 0);
    up = PQgetvalue(pg, row, c->upstream);

    /* the upstream's host and port, for an SSH session's connect_* */
    snprintf(to->host, sizeof(to->host), "%s", up);
    p = strrchr(to->host, ':');
    to->port[0] = '\0';

    if (p) {
        *p = '\0';
        snprintf(to->port, sizeof(to->port), "%s", p + 1);
    }

    /* ssh_host is the name of the hosts without their own address: a
     * host of gpu_host_addrs, or one this worker does not list, is
     * reached where its upstream is */
    if (conf->ssh_host[0]
        && aw_sched_own_addr(conf, PQgetvalue(pg, row, c->host)) == 0)
    {
        snprintf(to->host, sizeof(to->host), "%s", conf->ssh_host);
    }

    snprintf(keys[0], 64, AXON_KEY_SESSION "%s", PQgetvalue(pg, row, c->id));
    snprintf(keys[1], 64, AXON_KEY_USAGE "%s",
             PQgetvalue(pg, row, c->wallet));
    snprintf(keys[2], 64, AXON_KEY_WALLET "%s",
             PQgetvalue(pg, row, c->wallet));

    argc = 0;
    argv[argc++] = keys[0];
    argv[argc++] = keys[1];
    argv[argc++] = keys[2];
    argv[argc++] = PQgetvalue(pg, row, c->rev);
    argv[argc++] = AXON_USAGE_KEEP;
    argv[argc++] = "5";

    argv[argc++] = AXON_SESSION_ID;
    argv[argc++] = PQgetvalue(pg, row, c->id);
    argv[argc++] = AXON_SESSION_PROFILE;
    argv[argc++] = PQgetvalue(pg, row, c->profile);
    argv[argc++] = AXON_SESSION_MODE;
    argv[argc++] = PQgetvalue(pg, row, c->mode);
    argv[argc++] = AXON_SESSION_GPUS;
    argv[argc++] = PQgetvalue(pg, row, c->gpu_count);
    argv[argc++] = AXON_SESSION_CREATED_AT;
    argv[argc++] = PQgetvalue(pg, row, c->created_at);

    /* Postgres's wallet, over whatever a claim wrote (an id drawn twice) */
    argv[argc++] = AXON_SESSION_WALLET;
    argv[argc++] = PQgetvalue(pg, row, c->wallet);
    argv[argc++] = AXON_SESSION_STATE;
    argv[argc++] = state;
    argv[argc++] = "position";
    argv[argc++] = PQgetvalue(pg, row, c->position);
    argv[argc++] = "reason";
    argv[argc++] = PQgetvalue(pg, row, c->reason);
    argv[argc++] = AXON_SESSION_UPSTREAM;
    argv[argc++] = running ? up : "";
    argv[argc++] = "started_at";
    argv[argc++] = PQgetvalue(pg, row, c->started_at);
    argv[argc++] = "ended_at";
    argv[argc++] = PQgetvalue(pg, row, c->ended_at);
    argv[argc++] = "end_reason";
    argv[argc++] = PQgetvalue(pg, row, c->end_reason);
    argv[argc++] = "billed_minutes";
    argv[argc++] = PQgetvalue(pg, row, c->billed_minutes);
    argv[argc++] = AXON_SESSION_GRACE_UNTIL;
    argv[argc++] = PQgetvalue(pg, row, c->grace_until);
    argv[argc++] = AXON_SESSION_CONNECT_ "path";
    argv[argc++] = running && !ssh ? conf->session_connect_path : "";
    argv[argc++] = AXON_SESSION_CONNECT_ "host";
    argv[argc++] = running && ssh ? to->host : "";
    argv[argc++] = AXON_SESSION_CONNECT_ "port";
    argv[argc++] = running && ssh ? to->port : "";
    argv[argc++] = AXON_SESSION_CONNECT_ "user";
    argv[argc++] = running && ssh ? "aXonian" : "";
    argv[argc++] = AXON_SESSION_CONNECT_ "password";
    argv[argc++] = running && !ssh ? PQgetvalue(pg, row, c->vnc_password)
                                   : "";

    return argc;
}


/* the rows published, marked synced at the revision published */

static int
aw_sched_synced(PGresult *pg, const aw_sched_cols_t *c)
{
    int          i, n;
    char        *ids, *revs;
    size_t       len_ids, len_revs;
    PGresult    *r;
    const char  *params[2];

    n = PQntuples(pg);

    /* {id,id,...} and {rev,rev,...} */

    ids = malloc((size_t) (unsigned) n * 24 + 3);
    revs = malloc((size_t) (unsigned) n * 24 + 3);

    if (ids == NULL || revs == NULL) {
        free(ids);
        free(revs);
        return AW_ERROR;
    }

    len_ids = len_revs = 0;
    ids[len_ids++] = '{';
    revs[len_revs++] = '{';

    for (i = 0; i < n; i++) {
        len_ids += sprintf(ids + len_ids, "%s%s", i ? "," : "",
                           PQgetvalue(pg, i, c->id));
        len_revs += sprintf(revs + len_revs, "%s%s", i ? "," : "",
                            PQgetvalue(pg, i, c->rev));
        aw_log(AW_LOG_DEBUG, "sessions: published session %s: %s",
               PQgetvalue(pg, i, c->id), PQgetvalue(pg, i, c->state));
    }

    strcpy(ids + len_ids, "}");
    strcpy(revs + len_revs, "}");

    params[0] = ids;
    params[1] = revs;

    r = aw_db_query_prepared(&aw_worker.db, &aw_sched_synced_stmt, 2,
                             params);
    free(ids);
    free(revs);

    if (r == NULL) {
        aw_log(AW_LOG_ERR, "sessions: publish: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    PQclear(r);

    return AW_OK;
}


/*
 * axon:profiles: the profiles, whether each fits now, and the pool, of
 * this worker's hosts and of the other workers' (aw_sched_profiles_write).
 * Written when this worker's part differs from what it wrote last (or
 * force: each sweep, which keeps its hosts there).
 */

int
aw_sched_profiles(int force)
{
    int               i, rc;
    char             *text;
    json_t           *used, *drains, *profiles, *hosts, *doc, *taken, *by;
    PGresult         *pg;
    aw_conf_t        *conf;
    long long         queued;
    aw_sched_pool_t   pool;

    conf = aw_worker.conf;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT coalesce((SELECT json_agg(json_build_array("
                     "host, gpu_index)) FROM gpu_assignments"
                     " WHERE released_at IS NULL), '[]') AS used,"
                     " coalesce((SELECT json_agg(host)"
                     " FROM gpu_hosts_drained), '[]') AS drained,"
                     " (SELECT count(*) FROM sessions WHERE state = 'queued')"
                     " AS queued,"
                     " (SELECT json_object_agg(profile, n) FROM"
                     " (SELECT profile, count(*) AS n FROM sessions"
                     " WHERE state = 'queued' GROUP BY profile) q)"
                     " AS queued_by,"
                     " (SELECT json_object_agg(profile, m) FROM"
                     " (SELECT profile, percentile_disc(0.5) WITHIN GROUP"
                     " (ORDER BY billed_minutes) AS m FROM (SELECT profile,"
                     " billed_minutes FROM sessions WHERE state = 'ended'"
                     " AND started_at IS NOT NULL ORDER BY id DESC"
                     " LIMIT 200) r GROUP BY profile) q) AS minutes_by,"
                     " coalesce((SELECT json_agg(json_build_array(host, port))"
                     " FROM sessions WHERE state <> 'ended'"
                     " AND port IS NOT NULL), '[]') AS ports",
                     0, NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: profiles: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    used = json_loads(aw_db_get(pg, 0, "used"), 0, NULL);
    drains = json_loads(aw_db_get(pg, 0, "drained"), 0, NULL);
    queued = atoll(aw_db_get(pg, 0, "queued"));
    taken = json_loads(aw_db_get(pg, 0, "ports"), 0, NULL);
    by = json_pack("{s:o?, s:o?}",
                   "queued", json_loads(aw_db_get(pg, 0, "queued_by"), 0,
                                        NULL),
                   "minutes", json_loads(aw_db_get(pg, 0, "minutes_by"), 0,
                                         NULL));
    PQclear(pg);

    hosts = json_array();
    memset(&pool, 0, sizeof(pool));

    for (i = 0; i < conf->nhosts; i++) {
        json_array_append_new(hosts, aw_sched_host(&conf->host[i], used,
                                                   drains, taken, &pool));
    }

    json_decref(used);
    json_decref(drains);
    json_decref(taken);

    profiles = aw_sched_profile_list(pool.largest, queued, by);
    json_decref(by);

    doc = json_pack("{s:o, s:b, s:{s:i, s:i, s:{s:i, s:i, s:i}, s:I, s:s, "
                    "s:I, s:I, s:o}}",
                    "profiles", profiles, "ssh", conf->ssh_sessions,
                    "pool", "gpus", pool.total, "free", pool.nfree,
                    "ports", "start", conf->port_pool_start,
                    "size", conf->port_pool_size, "free", pool.pfree,
                    "queued", (json_int_t) queued,
                    "policy", "fcfs-backfill-reserve",
                    "reserve_after_s",
                    (json_int_t) (conf->queue_reserve_after / 1000),
                    "billing_minute_s",
                    (json_int_t) (conf->billing_minute / 1000),
                    "hosts", hosts);

    if (doc) {
        json_object_set_new(doc, "grace_minutes",
                            json_integer(aw_sched_grace_minutes()));
    }

    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (text == NULL) {
        json_decref(doc);
        aw_log(AW_LOG_ERR, "sessions: profiles: cannot build the JSON");
        return AW_ERROR;
    }

    if (!force && aw_sched.profiles && strcmp(text, aw_sched.profiles) == 0)
    {
        json_decref(doc);
        free(text);
        return AW_OK;
    }

    rc = aw_sched_profiles_write(doc);
    json_decref(doc);

    if (rc != AW_OK) {
        free(text);
        return AW_ERROR;
    }

    free(aw_sched.profiles);
    aw_sched.profiles = text;

    return AW_OK;
}


/*
 * doc (this worker's hosts only) to axon:profiles through
 * lua/profiles_publish.lua, which counts the pool over every worker's
 * hosts.  A host is kept there for 2 x reconcile_interval plus the
 * longest a launch holds this worker's one thread (the lease): a sweep
 * writes it again before that, unless the worker is gone.
 */

static int
aw_sched_profiles_write(json_t *doc)
{
    int          i, argc, rc;
    char        *base, ttl[32];
    char        *text[AW_CONF_MAX_HOSTS];
    json_t      *pool, *hosts, *h;
    aw_conf_t   *conf;
    redisReply  *reply;
    const char  *argv[5 + 2 * AW_CONF_MAX_HOSTS];

    conf = aw_worker.conf;
    pool = json_object_get(doc, "pool");
    hosts = json_incref(json_object_get(pool, "hosts"));
    json_object_del(pool, "hosts");

    snprintf(ttl, sizeof(ttl), "%lld",
             (long long) ((2 * conf->reconcile_interval
                           + aw_sched_lease_time() + 999) / 1000));

    argc = 0;
    argv[argc++] = AXON_KEY_PROFILES;
    argv[argc++] = AW_KEY_PROFILE_HOSTS;
    argv[argc++] = conf->worker_id;
    argv[argc++] = ttl;
    argv[argc++] = base = json_dumps(doc, JSON_COMPACT);
    rc = (base != NULL) ? AW_OK : AW_ERROR;

    for (i = 0; i < (int) json_array_size(hosts); i++) {
        h = json_array_get(hosts, i);
        text[i] = json_dumps(h, JSON_COMPACT);
        argv[argc++] = json_string_value(json_object_get(h, "name"));
        argv[argc++] = text[i];

        if (text[i] == NULL || argv[argc - 2] == NULL) {
            rc = AW_ERROR;
        }
    }

    if (rc == AW_OK) {
        reply = aw_redis_script(&aw_worker.redis, &aw_sched_profiles_script,
                                2, argc, argv, NULL);
        rc = (reply != NULL) ? aw_sched_redis_ok(reply, "sessions: profiles")
                             : AW_ERROR;
    } else {
        aw_log(AW_LOG_ERR, "sessions: profiles: cannot build the JSON");
    }

    while (i-- > 0) {
        free(text[i]);
    }

    free(base);
    json_decref(hosts);

    return rc;
}


int
aw_sched_telemetry(void)
{
    PGresult    *pg;
    redisReply  *reply;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_sched_telemetry_stmt, 0,
                              NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: telemetry: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    reply = aw_redis_command(&aw_worker.redis, "SET %s %s",
                             AXON_KEY_TELEMETRY, aw_db_get(pg, 0, "doc"));
    PQclear(pg);

    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    return AW_OK;
}


/*
 * One host of the pool as axon:profiles shows it (its free GPUs and
 * ports, whether it drains), its counts added to pool's unless it drains.
 * used: [[host, gpu]], drains: [host], taken: [[host, port]].
 */

static json_t *
aw_sched_host(const aw_conf_gpu_host_t *h, json_t *used, json_t *drains,
    json_t *taken, aw_sched_pool_t *pool)
{
    int          j, k, drained, ports, down;
    json_t      *free_gpus, *u;

    /* a host whose engine does not answer takes no session: as drained */
    down = aw_sched.down[h - aw_worker.conf->host];
    free_gpus = json_array();
    drained = 0;

    for (k = 0; k < (int) json_array_size(drains); k++) {
        if (strcmp(json_string_value(json_array_get(drains, k)) ?: "",
                   h->name) == 0)
        {
            drained = 1;
        }
    }

    for (j = 0; j < h->ngpus; j++) {
        for (k = 0; k < (int) json_array_size(used); k++) {
            u = json_array_get(used, k);

            if (strcmp(json_string_value(json_array_get(u, 0)) ?: "",
                       h->name) == 0
                && json_integer_value(json_array_get(u, 1)) == h->gpus[j])
            {
                break;
            }
        }

        if (k == (int) json_array_size(used)) {
            json_array_append_new(free_gpus, json_integer(h->gpus[j]));
        }
    }

    /* the free ports of its pool */
    ports = h->port_size;

    for (k = 0; k < (int) json_array_size(taken); k++) {
        u = json_array_get(taken, k);

        if (strcmp(json_string_value(json_array_get(u, 0)) ?: "",
                   h->name) == 0
            && json_integer_value(json_array_get(u, 1))
               >= h->port_start
            && json_integer_value(json_array_get(u, 1))
               < h->port_start + h->port_size)
        {
            ports--;
        }
    }

    pool->total += h->ngpus;

    if (!drained && !down) {
        pool->nfree += json_array_size(free_gpus);
        pool->pfree += ports;

        if (ports > 0) {
            pool->largest = aw_max(pool->largest,
                                   (int) json_array_size(free_gpus));
        }
    }

    return json_pack("{s:s, s:i, s:o, s:b, s:i, s:b}", "name", h->name,
                     "gpus", h->ngpus, "free", free_gpus,
                     "draining", drained, "ports_free", ports, "down", down);
}


/*
 * The profiles with their price per minute, whether one fits now (nothing
 * queued, and a host with that many free GPUs and a port) and whether it
 * fits the pool at all.
 */

/*
 * Each profile: its price, whether it fits now, its sessions queued and
 * the median minutes of its last ended sessions (by: {"queued": {NAME: n},
 * "minutes": {NAME: m}}), for a page's estimate of a wait.
 */

static json_t *
aw_sched_profile_list(int largest, long long queued, json_t *by)
{
    int          i, j, fits;
    json_t      *profiles, *p, *v;
    aw_conf_t   *conf;
    const char  *name;

    conf = aw_worker.conf;
    profiles = json_array();

    for (i = 0; i < conf->nprofiles; i++) {
        fits = 0;

        for (j = 0; j < conf->nhosts; j++) {
            fits |= conf->host[j].ngpus >= conf->profile[i].gpus;
        }

        name = conf->profile[i].name;

        p = json_pack("{s:s, s:i, s:i, s:i, s:b, s:b, s:I}",
                      "name", name,
                      "gpus", conf->profile[i].gpus,
                      "price", conf->profile[i].price,
                      "per_minute",
                      AXON_PRICE_PER_MINUTE(conf->profile[i].gpus,
                                            conf->profile[i].price),
                      "available", queued == 0
                                   && largest >= conf->profile[i].gpus,
                      "fits_pool", fits, "queued",
                      json_integer_value(json_object_get(
                          json_object_get(by, "queued"), name)));

        v = json_object_get(json_object_get(by, "minutes"), name);

        if (p && json_is_integer(v)) {
            json_object_set(p, "typical_minutes", v);
        }

        json_array_append_new(profiles, p);
    }

    return profiles;
}


int
aw_sched_other_host_fits(int gpus)
{
    int          fits;
    size_t       i;
    time_t       now;
    json_t      *h;
    redisReply  *reply;

    reply = aw_redis_command(&aw_worker.redis,
                             "HVALS " AW_KEY_PROFILE_HOSTS);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        (void) aw_sched_redis_ok(reply, "HVALS " AW_KEY_PROFILE_HOSTS);
        return 0;
    }

    now = time(NULL);
    fits = 0;

    for (i = 0; i < reply->elements && !fits; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        h = json_loads(reply->element[i]->str, 0, NULL);

        fits = h != NULL
               && json_integer_value(json_object_get(h, "expires")) >= now
               && json_integer_value(json_object_get(h, "gpus")) >= gpus;

        json_decref(h);
    }

    freeReplyObject(reply);

    return fits;
}


int
aw_sched_redis_ok(redisReply *reply, const char *what)
{
    int  rc;

    rc = AW_OK;

    if (reply->type == REDIS_REPLY_ERROR) {
        aw_log(AW_LOG_ERR, "%s: redis: %s", what, reply->str);
        rc = AW_ERROR;
    }

    freeReplyObject(reply);

    return rc;
}


/*
 * axon:session:next is at least max(sessions.id): a Redis that lost it
 * would give out ids that exist.
 */

int
aw_sched_counter(void)
{
    PGresult    *pg;
    redisReply  *reply;
    const char  *argv[2];

    pg = aw_db_query(&aw_worker.db,
                     "SELECT coalesce(max(id), 0) AS last FROM sessions", 0,
                     NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: counter: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    argv[0] = AXON_KEY_SESSION_NEXT;
    argv[1] = aw_db_get(pg, 0, "last");

    reply = aw_redis_script(&aw_worker.redis, &aw_sched_counter_script, 1, 2,
                            argv, NULL);
    if (reply == NULL) {
        PQclear(pg);
        return AW_ERROR;
    }

    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0) {
        aw_log(AW_LOG_WARN, "reconcile: " AXON_KEY_SESSION_NEXT " was %lld, "
               "behind the sessions in Postgres: raised to %s",
               (long long) reply->integer, aw_db_get(pg, 0, "last"));
    }

    freeReplyObject(reply);
    PQclear(pg);

    return AW_OK;
}
