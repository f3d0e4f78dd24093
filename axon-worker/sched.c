/*
 * axon-worker: the job source of GPU sessions (see session.h).  Each turn
 * does, when due:
 *
 *   assign     axon_sched_assign(): the fair queue gives GPUs and a port
 *              of the port pool (one transaction under an advisory lock,
 *              guarded by the exclusive indexes of gpu_assignments and of
 *              sessions (host, port))
 *   publish    sessions whose row changed (synced = false) to
 *              axon:session:ID; axon:profiles when the pool changed
 *              (sched_publish.c)
 *   lease      one session to launch (starting) or stop (ending): the
 *              container command runs with no transaction open; the
 *              result is recorded after
 *   bill       every billing_tick: heartbeats from Redis, idle and grace,
 *              the minutes that began (axon_billing_tick), balances to
 *              Redis
 *   reconcile  every reconcile_interval: containers against sessions,
 *              Redis against Postgres, axon:session:next
 *              (sched_reconcile.c); axon:telemetry (sched_publish.c)
 *   homes      the wallets' home volumes kept past home_keep removed,
 *              home_until published (home.c), every home_keep / 4, from
 *              reconcile_interval to an hour
 *
 * A launch blocks the worker's one thread for the container's start and
 * readiness (the queue waits meanwhile; docs/worker.md, "GPU sessions").
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "home.h"
#include "launcher.h"
#include "log.h"
#include "metrics.h"
#include "scheduler.h"
#include "session.h"
#include "wallet.h"
#include "worker.h"


#define AW_SCHED_POLL       250     /* ms between checks when idle */
#define AW_SCHED_VNC_LEN    8       /* a desktop's VNC password */


static int aw_sched_init(void);
static aw_msec_t aw_sched_run(aw_msec_t now);
static void aw_sched_reload(void);
static void aw_sched_fini(void);
static int aw_sched_assign(void);
static int aw_sched_lease(void);
static int aw_sched_unlease(void);
static int aw_sched_unsync(void);
static int aw_sched_launch(aw_launcher_t *l, PGresult *pg);
static int aw_sched_gpus(const char *list, int *gpus);
static int aw_sched_vnc(const char *id, char *vnc, size_t size);
static int aw_sched_launch_failed(aw_launcher_t *l, int64_t sid,
    const char *id, const char *att);
static int aw_sched_started(aw_launcher_t *l, int64_t sid, const char *id,
    const char *att, const aw_container_t *c, const char *list);
static int aw_sched_secret(char *buf, size_t size);
static int aw_sched_stop(aw_launcher_t *l, int64_t id);
static int aw_sched_heartbeats(char **ids, char **hbs);
static void aw_sched_wallets(PGresult *pg, aw_job_result_t *res);


aw_sched_t  aw_sched;


const aw_source_t  aw_sched_source = {
    "sessions",
    aw_sched_init,
    aw_sched_run,
    aw_sched_reload,
    aw_sched_fini
};


static aw_db_stmt_t  aw_sched_assign_stmt = aw_db_stmt("sched_assign",
    "SELECT session_id, host, array_to_string(gpus, ',') AS gpus, port"
    " FROM axon_sched_assign($1::jsonb, $2::bigint)");


static aw_db_stmt_t  aw_sched_secret_stmt = aw_db_stmt("sched_secret",
    "UPDATE sessions SET vnc_password = $2"
    " WHERE id = $1::bigint AND state = 'starting'");


static aw_db_stmt_t  aw_sched_lease_stmt = aw_db_stmt("sched_lease",
    "SELECT id, wallet, mode, state, array_to_string(gpus, ',') AS gpus,"
    " attempts, coalesce(ssh_key, '') AS ssh_key,"
    " coalesce((SELECT port FROM sessions s WHERE s.id = l.id), 0) AS port,"
    " coalesce((SELECT profile FROM sessions s WHERE s.id = l.id), '')"
    " AS profile, coalesce(host, '') AS host"
    " FROM axon_session_lease($1, $2::bigint, $3::text[]) l");


static aw_db_stmt_t  aw_sched_bill_stmt = aw_db_stmt("sched_bill",
    "SELECT wallet, balance, ledger_id FROM axon_billing_tick($1::bigint,"
    " $2::bigint, $3::bigint, $4::bigint, $5::bigint[], $6::bigint[])");

static aw_db_stmt_t  aw_sched_finish_stmt = aw_db_stmt("sched_finish",
    "SELECT axon_session_finish($1::bigint, $2::text[], $3) AS gpus");


void
aw_sched_kick(void)
{
    aw_sched.kicked = 1;
    aw_sched.profiles_dirty = 1;
    aw_sources_wake(&aw_sched_source);
}


/*
 * Redis lost what it held (axon:wallets:synced gone: FLUSHALL, or a Redis
 * without persistence behind the same connection): as on a new
 * connection, the session counter and the profiles are written again,
 * and every session not ended is published again (its wallet's hash then
 * names it: GET /api/session, the release and the gate find it).  Claims
 * are refused meanwhile (lua/session_claim.lua: no counter).
 */

void
aw_sched_redis_lost(void)
{
    aw_sched.redis_connects = 0;
    aw_sched_kick();
}


const char *
aw_sched_pool(void)
{
    return aw_worker.conf->sessions ? aw_sched.pool : NULL;
}


/*
 * A claim's statement gave GPUs to sessions (axon_session_claim_assign):
 * they are published now, from inside the job (session.claim has
 * AW_JOB_REDIS: the queue's pipeline is empty), not at the next turn of
 * the loop after the job's outcome is written; the user sees them
 * starting one Redis round trip sooner.  The scheduler then runs at the
 * next turn, as after any claim (the launch, ...).
 */

void
aw_sched_claimed(int assigned)
{
    aw_redis_t  *r;

    r = &aw_worker.redis;

    if (assigned > 0 && aw_sched.started && aw_redis_up(r)
        && aw_sched.redis_connects == r->connects)
    {
        (void) aw_sched_publish();
    }

    aw_sched_kick();
}


static int
aw_sched_init(void)
{
    aw_sched_reload();

    return AW_OK;
}


static void
aw_sched_fini(void)
{
    free(aw_sched.profiles);
    free(aw_sched.pool);
    aw_sched.profiles = NULL;
    aw_sched.pool = NULL;
}


/*
 * The session's host's launcher; the launcher key's for a session bound to
 * no host (it has no container) or to a host this worker does not drive
 * (the lease gives none such).
 */

aw_launcher_t *
aw_sched_launcher(const char *host)
{
    int          i;
    aw_conf_t   *conf;

    conf = aw_worker.conf;

    for (i = 0; host && i < conf->nhosts; i++) {
        if (strcmp(conf->host[i].name, host) == 0) {
            return &aw_sched.host[i];
        }
    }

    return &aw_sched.launcher;
}


int
aw_sched_reload_check(const aw_conf_t *old, const aw_conf_t *conf,
    char *err, size_t errlen)
{
    int          i, j, kept;
    char         gone[AW_CONF_MAX_HOSTS * 70 + 4];
    size_t       len;
    PGresult    *pg;
    const char  *params[1];

    if (!old->sessions) {
        return AW_OK;
    }

    len = 0;
    gone[len++] = '{';

    for (i = 0; i < old->nhosts; i++) {
        kept = 0;

        for (j = 0; j < conf->nhosts; j++) {
            kept |= strcmp(old->host[i].name, conf->host[j].name) == 0;
        }

        if (!kept) {
            /* names are [A-Za-z0-9._-]: an array literal without quotes */
            len += snprintf(gone + len, sizeof(gone) - len, "%s%s",
                            len > 1 ? "," : "", old->host[i].name);
        }
    }

    if (len == 1) {
        return AW_OK;
    }

    snprintf(gone + len, sizeof(gone) - len, "}");
    params[0] = gone;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT coalesce(string_agg(host || ': session ' || ids,"
                     " '; ' ORDER BY host), '') AS live"
                     " FROM (SELECT host, string_agg(id::text, ', '"
                     " ORDER BY id) AS ids FROM sessions"
                     " WHERE state IN ('starting', 'running', 'ending')"
                     " AND host = ANY ($1::text[]) GROUP BY host) x",
                     1, params);

    if (pg == NULL) {
        snprintf(err, errlen, "gpu_hosts drops %s, and whether sessions "
                 "still live there cannot be read: %s", gone,
                 aw_worker.db.error);
        return AW_ERROR;
    }

    if (aw_db_get(pg, 0, "live")[0] != '\0') {
        snprintf(err, errlen, "gpu_hosts drops a host where sessions still "
                 "live (%s): this worker would no longer stop or bill them; "
                 "drain it first (gpu.drain), let them end (or session.end), "
                 "then reload", aw_db_get(pg, 0, "live"));
        PQclear(pg);
        return AW_ERROR;
    }

    PQclear(pg);

    return AW_OK;
}


/* the configuration in force: the launchers, the hosts, the pool */

static void
aw_sched_reload(void)
{
    int          i;
    size_t       len;
    aw_conf_t   *conf;

    conf = aw_worker.conf;

    aw_launcher_free(&aw_sched.launcher);
    aw_launcher_init(&aw_sched.launcher, conf);

    /* each host its launcher: its engine, or the launcher key's */
    for (i = 0; i < AW_CONF_MAX_HOSTS; i++) {
        aw_launcher_free(&aw_sched.host[i]);
    }

    len = 0;
    aw_sched.hosts[len++] = '{';

    for (i = 0; i < conf->nhosts; i++) {
        aw_launcher_init_host(&aw_sched.host[i], conf, &conf->host[i]);

        /* names are [A-Za-z0-9._-]: an array literal without quotes */
        len += snprintf(aw_sched.hosts + len, sizeof(aw_sched.hosts) - len,
                        "%s%s", i ? "," : "", conf->host[i].name);
    }

    snprintf(aw_sched.hosts + len, sizeof(aw_sched.hosts) - len, "}");

    /* every host up until a sweep finds otherwise */
    memset(aw_sched.down, 0, sizeof(aw_sched.down));
    memset(aw_sched.known, 0, sizeof(aw_sched.known));

    for (i = 0; i < conf->nhosts; i++) {
        aw_sched.since[i] = time(NULL);
    }

    aw_sched_pool_build();

    aw_sched.kicked = 1;
    aw_sched.profiles_dirty = 1;
    aw_sched.next_bill = 0;
    aw_sched.next_reconcile = 0;
    aw_sched.next_home = 0;
    aw_sched.redis_connects = 0;     /* publish the profiles again */
}


/*
 * The pool as axon_sched_assign takes it, from gpu_hosts and their ports:
 * [{"host": NAME, "gpus": [...], "ports": [FIRST, LAST]}, ...], without
 * the hosts whose engine did not answer: new claims go to the others.
 */

void
aw_sched_pool_build(void)
{
    int          i, j;
    json_t      *pool, *host, *gpus;
    aw_conf_t   *conf;

    conf = aw_worker.conf;
    pool = json_array();

    for (i = 0; i < conf->nhosts; i++) {
        if (aw_sched.down[i]) {
            continue;
        }

        gpus = json_array();

        for (j = 0; j < conf->host[i].ngpus; j++) {
            json_array_append_new(gpus, json_integer(conf->host[i].gpus[j]));
        }

        host = json_pack("{s:s, s:o, s:[i, i]}", "host", conf->host[i].name,
                         "gpus", gpus, "ports", conf->host[i].port_start,
                         conf->host[i].port_start + conf->host[i].port_size
                         - 1);
        json_array_append_new(pool, host);
    }

    free(aw_sched.pool);
    aw_sched.pool = json_dumps(pool, JSON_COMPACT);
    json_decref(pool);
}


static aw_msec_t
aw_sched_run(aw_msec_t now)
{
    int          more;
    aw_msec_t    took;
    aw_conf_t   *conf;
    aw_redis_t  *r;

    conf = aw_worker.conf;
    r = &aw_worker.redis;

    if (!conf->sessions) {
        return now + 1000;
    }

    if (!aw_redis_up(r) || !aw_db_up(&aw_worker.db) || aw_sched.pool == NULL)
    {
        return now + 100;
    }

    if (aw_sched.redis_connects != r->connects) {
        /* a new connection (or a new Redis): what it must hold */
        if (aw_sched_counter() != AW_OK || aw_sched_profiles(1) != AW_OK
            || aw_sched_unsync() != AW_OK)
        {
            return now + 1000;
        }

        aw_sched.redis_connects = r->connects;
    }

    if (!aw_sched.started) {
        /* leases of ours are of a process of ours that died: take back */
        if (aw_sched_unlease() != AW_OK) {
            return now + 1000;
        }

        aw_sched.started = 1;
    }

    more = 0;

    if (aw_sched.kicked || now >= aw_sched.next_poll) {
        aw_sched.kicked = 0;
        aw_sched.next_poll = now + AW_SCHED_POLL;

        if (aw_sched_assign() > 0) {
            aw_sched.profiles_dirty = 1;
        }

        more |= aw_sched_publish() > 0;
        more |= aw_sched_lease() > 0;
        more |= aw_sched_publish() > 0;
    }

    /* before the tick when both are due (the first pass after a start):
     * a container gone while the worker was down ends its session at the
     * last list that showed it, before the tick bills the time since */
    if (now >= aw_sched.next_reconcile) {
        aw_sched.next_reconcile = now + conf->reconcile_interval;

        (void) aw_sched_reconcile();
        (void) aw_sched_telemetry();
        more = 1;
    }

    if (now >= aw_sched.next_bill) {
        aw_sched.next_bill = now + conf->billing_tick;

        took = aw_monotonic_msec();
        (void) aw_sched_bill(0, NULL);
        aw_metrics_bill(aw_monotonic_msec() - took);
        aw_sched.profiles_dirty = 1;
        more = 1;
    }

    if (now >= aw_sched.next_home) {
        aw_sched.next_home = now + aw_home_interval();

        (void) aw_home_sweep();
        more = 1;
    }

    if (aw_sched.profiles_dirty) {
        aw_sched.profiles_dirty = 0;
        (void) aw_sched_profiles(0);
    }

    now = aw_monotonic_msec();

    if (more) {
        aw_sched.kicked = 1;
        return now;
    }

    return aw_min(aw_min(aw_sched.next_poll, aw_sched.next_home),
                  aw_min(aw_sched.next_bill, aw_sched.next_reconcile));
}


/* longer than a launch can take: stop, run, port, ready, rm */

aw_msec_t
aw_sched_lease_time(void)
{
    aw_conf_t  *conf;

    conf = aw_worker.conf;

    return 4 * conf->launcher_timeout + conf->launcher_ready_timeout
           + conf->launcher_stop_grace + 5000;
}


/*
 * One pass of the queue; returns how many sessions got GPUs (-1: failed).
 */

static int
aw_sched_assign(void)
{
    int          i, n;
    char         reserve[32];
    PGresult    *pg;
    const char  *params[2];

    snprintf(reserve, sizeof(reserve), "%lld",
             (long long) aw_worker.conf->queue_reserve_after);

    params[0] = aw_sched.pool;
    params[1] = reserve;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_sched_assign_stmt, 2,
                              params);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "scheduler: %s", aw_worker.db.error);
        return -1;
    }

    n = PQntuples(pg);

    for (i = 0; i < n; i++) {
        aw_log(AW_LOG_INFO, "scheduler: session %s gets GPUs %s and port "
               "%s of host %s", aw_db_get(pg, i, "session_id"),
               aw_db_get(pg, i, "gpus"), aw_db_get(pg, i, "port"),
               aw_db_get(pg, i, "host"));
    }

    PQclear(pg);

    return n;
}


/*
 * At start: the leases held under our worker_id are a dead process's (two
 * running workers never share one): free them, so that its launches and
 * stops are taken again now, not when they expire.
 */

static int
aw_sched_unlease(void)
{
    PGresult    *pg;
    const char  *params[1];

    params[0] = aw_worker.conf->worker_id;

    pg = aw_db_query(&aw_worker.db,
                     "UPDATE sessions SET lease_until = NULL"
                     " WHERE lease_by = $1 AND lease_until IS NOT NULL"
                     " RETURNING id", 1, params);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    if (PQntuples(pg) > 0) {
        aw_log(AW_LOG_NOTICE, "sessions: %d launches or stops of an earlier "
               "run of %s taken back", PQntuples(pg),
               aw_worker.conf->worker_id);
    }

    PQclear(pg);

    return AW_OK;
}


/*
 * Every session not ended, to be published again: a new Redis (or one
 * flushed) holds none of them, and its wallets' hashes name none.
 */

static int
aw_sched_unsync(void)
{
    PGresult  *pg;

    pg = aw_db_query(&aw_worker.db,
                     "UPDATE sessions SET synced = false"
                     " WHERE state <> 'ended' AND synced", 0, NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    PQclear(pg);

    return AW_OK;
}


/*
 * One session to launch or stop; returns 1 if there was one.
 */

static int
aw_sched_lease(void)
{
    int             rc;
    char            lease[32];
    int64_t         id;
    PGresult       *pg;
    aw_conf_t      *conf;
    const char     *params[3];
    aw_launcher_t  *l;

    conf = aw_worker.conf;

    snprintf(lease, sizeof(lease), "%lld", (long long) aw_sched_lease_time());

    params[0] = conf->worker_id;
    params[1] = lease;
    params[2] = aw_sched.hosts;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_sched_lease_stmt, 3,
                              params);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "sessions: lease: %s", aw_worker.db.error);
        return 0;
    }

    if (PQntuples(pg) == 0) {
        PQclear(pg);
        return 0;
    }

    id = atoll(aw_db_get(pg, 0, "id"));

    aw_log_ctx("session %lld", (long long) id);

    l = aw_sched_launcher(aw_db_get(pg, 0, "host"));

    if (strcmp(aw_db_get(pg, 0, "state"), "starting") == 0) {
        rc = aw_sched_launch(l, pg);

    } else {
        rc = aw_sched_stop(l, id);
    }

    PQclear(pg);

    aw_log_ctx(NULL);

    (void) rc;

    return 1;
}


/*
 * A VNC password: AW_SCHED_VNC_LEN letters and digits from the OS's
 * random bytes (RAND_bytes), each byte below 248 (4 x 62) taken mod 62 so
 * that every character is equally likely: 62^8, about 2^47.6.  VNC
 * authentication reads 8 characters; guessing is online only, against an
 * Xvnc that blacklists a peer after 5 failures, and reaching it at all
 * takes the owner's token (the gate) or the session network.
 */

static int
aw_sched_secret(char *buf, size_t size)
{
    size_t          n, i;
    unsigned char   rnd[64];

    static const char  chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789";

    aw_assert(size > AW_SCHED_VNC_LEN);

    n = 0;

    while (n < AW_SCHED_VNC_LEN) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return AW_ERROR;
        }

        for (i = 0; i < sizeof(rnd) && n < AW_SCHED_VNC_LEN; i++) {
            if (rnd[i] < 248) {
                buf[n++] = chars[rnd[i] % 62];
            }
        }
    }

    buf[n] = '\0';
    explicit_bzero(rnd, sizeof(rnd));

    return AW_OK;
}


/* a starting session's container launched (pg: its lease's row) */

static int
aw_sched_launch(aw_launcher_t *l, PGresult *pg)
{
    int              ngpus, gpus[AW_LAUNCHER_MAX_GPUS], attempts, rc;
    char             list[256], id[32], att[16], vnc[AW_SCHED_VNC_LEN + 1],
                     names[AW_LAUNCHER_MAX_GPUS * AW_CONF_GPU_UUID_LEN];
    int64_t          sid;
    aw_launch_t      req;
    aw_container_t   c;

    sid = atoll(aw_db_get(pg, 0, "id"));
    attempts = atoi(aw_db_get(pg, 0, "attempts"));

    snprintf(list, sizeof(list), "%s", aw_db_get(pg, 0, "gpus"));
    ngpus = aw_sched_gpus(list, gpus);

    if (attempts > 1) {
        /* an earlier attempt's worker died: its container may be there */
        aw_log(AW_LOG_NOTICE, "launch attempt %d: removing what an earlier "
               "attempt may have left", attempts);
        (void) aw_launcher_stop(l, sid);
    }

    memset(&req, 0, sizeof(req));
    req.session = sid;
    req.wallet = aw_db_get(pg, 0, "wallet");
    req.mode = strcmp(aw_db_get(pg, 0, "mode"), "ssh") == 0 ? AW_SESSION_SSH
                                                        : AW_SESSION_DESKTOP;
    req.gpus = gpus;
    req.ngpus = ngpus;
    req.ssh_key = aw_db_get(pg, 0, "ssh_key")[0]
                  ? aw_db_get(pg, 0, "ssh_key") : NULL;
    req.port = atoi(aw_db_get(pg, 0, "port"));
    req.profile = aw_db_get(pg, 0, "profile");

    snprintf(id, sizeof(id), "%lld", (long long) sid);
    snprintf(att, sizeof(att), "%d", attempts);

    if (aw_conf_gpu_names(aw_worker.conf, aw_db_get(pg, 0, "host"), list,
                          names, sizeof(names))
        != AW_OK)
    {
        aw_log(AW_LOG_ERR, "GPUs %s of host \"%s\" are not in gpu_hosts",
               list, aw_db_get(pg, 0, "host"));
        return aw_sched_launch_failed(l, sid, id, att);
    }

    req.gpu_names = names;

    if (req.mode == AW_SESSION_DESKTOP) {
        if (aw_sched_vnc(id, vnc, sizeof(vnc)) != AW_OK) {
            return AW_ERROR;
        }

        req.vnc_password = vnc;
    }

    rc = aw_launcher_launch(l, &req, &c);
    explicit_bzero(vnc, sizeof(vnc));

    if (rc != AW_OK) {
        aw_log(AW_LOG_WARN, "launch failed, nothing billed: %s",
               l->err);
        return aw_sched_launch_failed(l, sid, id, att);
    }

    aw_home_started(req.wallet);

    return aw_sched_started(l, sid, id, att, &c, list);
}


/* "0,1,2" into gpus: how many */

static int
aw_sched_gpus(const char *list, int *gpus)
{
    int          ngpus;
    char        *end;
    const char  *p;

    ngpus = 0;

    for (p = list; *p && ngpus < AW_LAUNCHER_MAX_GPUS; p = end) {
        gpus[ngpus++] = (int) strtol(p, &end, 10);

        if (*end == ',') {
            end++;
        }

        if (end == p) {
            break;
        }
    }

    return ngpus;
}


/*
 * A desktop's VNC password, new for each launch, in the session's row
 * before the container exists: once it runs, the row publishes it to the
 * owner (connect_password), and a worker that dies here leaves the next
 * attempt to make another.
 */

static int
aw_sched_vnc(const char *id, char *vnc, size_t size)
{
    PGresult    *r;
    const char  *params[2];

    if (aw_sched_secret(vnc, size) != AW_OK) {
        aw_log(AW_LOG_ERR, "no random bytes for the VNC password");
        return AW_ERROR;
    }

    params[0] = id;
    params[1] = vnc;

    r = aw_db_query_prepared(&aw_worker.db, &aw_sched_secret_stmt, 2,
                             params);
    if (r == NULL) {
        /* the lease expires and the launch is tried again */
        aw_log(AW_LOG_ERR, "VNC password not recorded: %s",
               aw_worker.db.error);
        explicit_bzero(vnc, size);
        return AW_ERROR;
    }

    PQclear(r);

    return AW_OK;
}


/*
 * A launch that failed: the session ends under this lease; its GPUs and
 * port are freed once the stop has made sure nothing of it is left.
 */

static int
aw_sched_launch_failed(aw_launcher_t *l, int64_t sid, const char *id,
    const char *att)
{
    PGresult    *r;
    const char  *params[3];

    params[0] = id;
    params[1] = att;
    params[2] = "launch_failed";

    r = aw_db_query(&aw_worker.db,
                    "SELECT axon_session_launch_failed($1::bigint,"
                    " $2::int, $3) AS recorded", 3, params);

    if (r == NULL || aw_db_get(r, 0, "recorded")[0] != 't') {
        PQclear(r);
        return AW_ERROR;
    }

    PQclear(r);
    (void) aw_sched_stop(l, sid);

    return AW_ERROR;
}


/* a container that runs: the session is running, its first minute billed */

static int
aw_sched_started(aw_launcher_t *l, int64_t sid, const char *id,
    const char *att, const aw_container_t *c, const char *list)
{
    char         upstream[128];
    PGresult    *r;
    const char  *params[4];

    snprintf(upstream, sizeof(upstream), "%s:%d", c->host, c->port);

    params[0] = id;
    params[1] = att;
    params[2] = upstream;
    params[3] = c->id;

    r = aw_db_query(&aw_worker.db,
                    "SELECT axon_session_started($1::bigint, $2::int, $3, $4)"
                    " AS recorded", 4, params);

    if (r == NULL) {
        /* the lease expires; the next attempt removes this container */
        aw_log(AW_LOG_ERR, "launched, but not recorded: %s",
               aw_worker.db.error);
        return AW_ERROR;
    }

    if (aw_db_get(r, 0, "recorded")[0] != 't') {
        PQclear(r);
        aw_log(AW_LOG_NOTICE, "launched, but the session ended meanwhile: "
               "stopping it");
        return aw_sched_stop(l, sid);
    }

    PQclear(r);

    aw_log(AW_LOG_NOTICE, "running: %s on %s, GPUs %s", c->name, upstream,
           list[0] ? list : "none");

    /* its first minute, now */
    (void) aw_sched_bill(sid, NULL);

    return AW_OK;
}


static int
aw_sched_stop(aw_launcher_t *l, int64_t id)
{
    char         sid[32];
    PGresult    *r;
    const char  *params[3];

    if (aw_launcher_stop(l, id) != AW_OK) {
        aw_log(AW_LOG_ERR, "stop failed (tried again when the lease "
               "expires): %s", l->err);
        return AW_ERROR;
    }

    snprintf(sid, sizeof(sid), "%lld", (long long) id);

    params[0] = sid;
    params[1] = "{ending}";
    params[2] = "stopped";

    r = aw_db_query_prepared(&aw_worker.db, &aw_sched_finish_stmt, 3, params);

    if (r == NULL) {
        aw_log(AW_LOG_ERR, "stopped, but not recorded: %s",
               aw_worker.db.error);
        return AW_ERROR;
    }

    aw_log(AW_LOG_NOTICE, "container stopped, GPUs freed: %s",
           aw_db_get(r, 0, "gpus"));

    PQclear(r);

    aw_home_ended(id);

    return AW_OK;
}


int64_t
aw_sched_grace_minutes(void)
{
    aw_conf_t  *conf;

    conf = aw_worker.conf;

    if (conf->session_grace <= 0) {
        return 0;
    }

    return (conf->session_grace + conf->billing_minute - 1)
           / conf->billing_minute;
}


/*
 * The billing tick.  For all sessions: their heartbeats from Redis first
 * (pipelined HGET), for the idle check.
 */

int
aw_sched_bill(int64_t only, aw_job_result_t *res)
{
    char         minute[32], grace[32], idle[32], sid[32];
    char        *ids, *hbs;
    PGresult    *pg;
    aw_conf_t   *conf;
    const char  *params[6];

    conf = aw_worker.conf;
    ids = hbs = NULL;

    if (only == 0 && conf->session_idle_timeout > 0) {
        if (aw_sched_heartbeats(&ids, &hbs) != AW_OK) {
            return AW_ERROR;
        }
    }

    snprintf(minute, sizeof(minute), "%lld", (long long) conf->billing_minute);
    snprintf(grace, sizeof(grace), "%lld", (long long) conf->session_grace);
    snprintf(idle, sizeof(idle), "%lld",
             (long long) conf->session_idle_timeout);
    snprintf(sid, sizeof(sid), "%lld", (long long) only);

    params[0] = minute;
    params[1] = grace;
    params[2] = idle;
    params[3] = only ? sid : NULL;
    params[4] = ids;
    params[5] = hbs;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_sched_bill_stmt, 6, params);

    free(ids);
    free(hbs);

    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "billing: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    if (PQntuples(pg) > 0) {
        aw_log(AW_LOG_DEBUG, "billing: %d wallets charged", PQntuples(pg));
    }

    aw_sched_wallets(pg, res);

    PQclear(pg);

    return AW_OK;
}


/*
 * {id,...} and {heartbeat,...} of the running sessions: the latest of the
 * page's last heartbeat, the gate's last sight of traffic to the session
 * (`activity`: each request, and WebSocket bytes, through axon_gate
 * session) and the last busy reading of its GPUs (`gpu`, this worker's,
 * see aw_sched_gpu_activity)
 */

static long long
aw_sched_unix(redisReply *reply, size_t i)
{
    return (reply->type == REDIS_REPLY_ARRAY && i < reply->elements
            && reply->element[i]->type == REDIS_REPLY_STRING)
           ? atoll(reply->element[i]->str) : 0LL;
}


static int
aw_sched_heartbeats(char **ids, char **hbs)
{
    int          i, n, rc, id;
    char        *a, *b;
    size_t       la, lb;
    PGresult    *pg;
    long long   *at;
    redisReply  *reply;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT s.id, s.mode,"
                     " (SELECT min(a.host) || '=' || string_agg("
                     "   a.gpu_index::text, ',' ORDER BY a.gpu_index)"
                     "    FROM gpu_assignments a WHERE a.session_id = s.id"
                     "     AND a.released_at IS NULL) AS gpus"
                     " FROM sessions s WHERE s.state = 'running'"
                     " ORDER BY s.id", 0, NULL);
    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "billing: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    n = PQntuples(pg);
    id = aw_db_col(pg, "id");

    for (i = 0; i < n; i++) {
        if (aw_redis_append(&aw_worker.redis, "HMGET " AXON_KEY_SESSION "%s "
                            AXON_SESSION_HEARTBEAT " " AXON_SESSION_ACTIVITY
                            " " AW_SCHED_GPU_FIELD, PQgetvalue(pg, i, id))
            != AW_OK)
        {
            PQclear(pg);
            return AW_ERROR;
        }
    }

    a = malloc((size_t) (unsigned) n * 24 + 3);
    b = malloc((size_t) (unsigned) n * 24 + 3);
    at = malloc((size_t) (unsigned) n * sizeof(long long) + 1);

    if (a == NULL || b == NULL || at == NULL) {
        free(a);
        free(b);
        free(at);
        PQclear(pg);
        return AW_ERROR;
    }

    rc = AW_OK;

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            rc = AW_ERROR;
            break;
        }

        at[i] = aw_max(aw_max(aw_sched_unix(reply, 0),
                              aw_sched_unix(reply, 1)),
                       aw_sched_unix(reply, 2));

        freeReplyObject(reply);
    }

    la = lb = 0;
    a[la++] = '{';
    b[lb++] = '{';

    for (i = 0; rc == AW_OK && i < n; i++) {
        if (strcmp(aw_db_get(pg, i, "mode"), "desktop") == 0) {
            at[i] = aw_sched_gpu_activity(atoll(PQgetvalue(pg, i, id)),
                                          aw_db_get(pg, i, "gpus"),
                                          at[i]);
        }

        la += sprintf(a + la, "%s%s", i ? "," : "", PQgetvalue(pg, i, id));
        lb += sprintf(b + lb, "%s%lld", i ? "," : "", at[i]);
    }

    strcpy(a + la, "}");
    strcpy(b + lb, "}");

    free(at);
    PQclear(pg);

    if (rc != AW_OK) {
        free(a);
        free(b);
        return AW_ERROR;
    }

    *ids = a;
    *hbs = b;

    return AW_OK;
}


/* each wallet charged: to the job's result, or to Redis at once */

static void
aw_sched_wallets(PGresult *pg, aw_job_result_t *res)
{
    int          i, n, wallet, balance, ledger_id;
    char         key[64];
    redisReply  *reply;
    const char  *argv[3];

    n = PQntuples(pg);

    if (res) {
        if (n > 0) {
            res->has_balance = 1;
            snprintf(res->wallet, sizeof(res->wallet), "%s",
                     aw_db_get(pg, 0, "wallet"));
            res->balance = atoll(aw_db_get(pg, 0, "balance"));
            res->ledger_id = atoll(aw_db_get(pg, 0, "ledger_id"));
        }

        return;
    }

    wallet = aw_db_col(pg, "wallet");
    balance = aw_db_col(pg, "balance");
    ledger_id = aw_db_col(pg, "ledger_id");

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), AXON_KEY_WALLET "%s",
                 PQgetvalue(pg, i, wallet));

        argv[0] = key;
        argv[1] = PQgetvalue(pg, i, balance);
        argv[2] = PQgetvalue(pg, i, ledger_id);

        if (aw_redis_append_script(&aw_worker.redis,
                                   &aw_wallet_balance_script, 1, 3, argv,
                                   NULL)
            != AW_OK)
        {
            return;
        }
    }

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            return;
        }

        (void) aw_sched_redis_ok(reply, "billing: balance");
    }
}


