/*
 * axon-worker: the wallets' home volumes.  The launcher mounts a wallet's
 * volume in each of its sessions and makes it at the first (launcher.h);
 * this file decides how long it is kept and tells the page:
 *
 *   kept until   the end of the wallet's last session + home_keep, from
 *                Postgres (sessions.ended_at); never while the wallet has
 *                a session that is not ended
 *   sweep        every home_keep / 4 (from reconcile_interval to an
 *                hour: a keep of days needs no sweep every 30 s): each
 *                home volume of ours whose wallet has no live session and
 *                whose time is past is removed (a notice), the others'
 *                time published again
 *   published    axon:wallet:ADDR home_until (unix s), when a session's
 *                container is stopped and at each sweep; gone with the
 *                volume, and while the wallet has a live session (from
 *                its launch on)
 *   home.delete  an admin job: one wallet's volume now, refused while the
 *                wallet has a live session
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "home.h"
#include "job.h"
#include "log.h"
#include "scheduler.h"
#include "worker.h"


/* per wallet of $1: a live session?  the end of the last one, + $2 ms */
static aw_db_stmt_t  aw_home_keep_stmt = aw_db_stmt("home_keep",
    "SELECT w.wallet, coalesce(bool_or(s.state <> 'ended'), false) AS live,"
    " coalesce(ceil(extract(epoch FROM max(s.ended_at)"
    " + $2::bigint * interval '1 millisecond'))::bigint::text, '') AS until,"
    " coalesce(max(s.ended_at) + $2::bigint * interval '1 millisecond'"
    " <= now(), false) AS expired,"
    " coalesce(to_char(max(s.ended_at) AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') AS ended"
    " FROM unnest($1::text[]) AS w(wallet)"
    " LEFT JOIN sessions s ON s.wallet = w.wallet"
    " GROUP BY w.wallet");

static aw_db_stmt_t  aw_home_ended_stmt = aw_db_stmt("home_ended",
    "SELECT wallet, ceil(extract(epoch FROM ended_at"
    " + $2::bigint * interval '1 millisecond'))::bigint AS until"
    " FROM sessions WHERE id = $1::bigint AND state = 'ended'");

static aw_db_stmt_t  aw_home_live_stmt = aw_db_stmt("home_live",
    "SELECT id, state FROM sessions WHERE wallet = $1 AND state <> 'ended'");


static char *aw_home_wallets(const aw_home_t *list, size_t n);
static int aw_home_decide(PGresult *pg, const aw_home_t *list, size_t n);
static int aw_home_remove(const char *wallet, const char *name,
    const char *ended);
static int aw_home_append(const char *wallet, const char *until);
static int aw_home_replies(int n);


aw_msec_t
aw_home_interval(void)
{
    aw_conf_t  *conf;

    conf = aw_worker.conf;

    return aw_max(conf->reconcile_interval,
                  aw_min(conf->home_keep / 4, 60 * 60 * 1000));
}


/*
 * The sweep, from the scheduler.  A volume whose wallet has no
 * session in Postgres at all (its rows are gone, or another deployment
 * shares the prefix) is left alone: home.delete removes it.
 */

int
aw_home_sweep(void)
{
    int          rc;
    char         keep[32], *wallets;
    size_t       n;
    PGresult    *pg;
    aw_home_t   *list;
    const char  *params[2];

    if (aw_sched.launcher.ops->homes(&aw_sched.launcher, &list, &n)
        != AW_OK)
    {
        aw_log(AW_LOG_ERR, "home: cannot list the home volumes: %s",
               aw_sched.launcher.err);
        return AW_ERROR;
    }

    if (n == 0) {
        free(list);
        return AW_OK;
    }

    wallets = aw_home_wallets(list, n);
    if (wallets == NULL) {
        free(list);
        return AW_ERROR;
    }

    snprintf(keep, sizeof(keep), "%lld",
             (long long) aw_worker.conf->home_keep);

    params[0] = wallets;
    params[1] = keep;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_home_keep_stmt, 2, params);
    free(wallets);

    if (pg == NULL) {
        aw_log(AW_LOG_ERR, "home: %s", aw_worker.db.error);
        free(list);
        return AW_ERROR;
    }

    rc = aw_home_decide(pg, list, n);

    PQclear(pg);
    free(list);

    return rc;
}


/* {0x...,0x...}: addresses need no quoting */

static char *
aw_home_wallets(const aw_home_t *list, size_t n)
{
    char    *s;
    size_t   i, len;

    s = malloc(n * 44 + 3);
    if (s == NULL) {
        return NULL;
    }

    len = 0;
    s[len++] = '{';

    for (i = 0; i < n; i++) {
        len += sprintf(s + len, "%s%s", i ? "," : "", list[i].wallet);
    }

    strcpy(s + len, "}");

    return s;
}


/*
 * Each volume's fate; what changes in Redis goes in one pipeline (a host
 * keeps a week of wallets' homes: one round trip, not one each).
 */

static int
aw_home_decide(PGresult *pg, const aw_home_t *list, size_t n)
{
    int          i, rows, c_wallet, c_live, c_until, c_expired, c_ended,
                 sent;
    size_t       j;
    const char  *wallet, *name, *until;

    rows = PQntuples(pg);
    sent = 0;
    c_wallet = aw_db_col(pg, "wallet");
    c_live = aw_db_col(pg, "live");
    c_until = aw_db_col(pg, "until");
    c_expired = aw_db_col(pg, "expired");
    c_ended = aw_db_col(pg, "ended");

    for (i = 0; i < rows; i++) {
        wallet = PQgetvalue(pg, i, c_wallet);
        name = NULL;

        for (j = 0; j < n; j++) {
            if (strcmp(list[j].wallet, wallet) == 0) {
                name = list[j].name;
            }
        }

        if (name == NULL) {
            continue;
        }

        until = PQgetvalue(pg, i, c_until);

        if (PQgetvalue(pg, i, c_live)[0] == 't') {
            until = NULL;               /* kept while it runs */

        } else if (until[0] == '\0') {
            aw_log(AW_LOG_INFO, "home: %s: no session of %s in Postgres: "
                   "kept (home.delete removes it)", name, wallet);
            continue;

        } else if (PQgetvalue(pg, i, c_expired)[0] == 't') {
            if (aw_home_remove(wallet, name, PQgetvalue(pg, i, c_ended))
                != AW_OK)
            {
                continue;
            }

            until = NULL;
        }

        if (aw_home_append(wallet, until) != AW_OK) {
            break;
        }

        sent++;
    }

    return aw_home_replies(sent);
}


static int
aw_home_remove(const char *wallet, const char *name, const char *ended)
{
    char  keep[32];

    if (aw_sched.launcher.ops->home_remove(&aw_sched.launcher, wallet)
        != AW_OK)
    {
        aw_log(AW_LOG_ERR, "home: %s not removed (tried again at the next "
               "sweep): %s", name, aw_sched.launcher.err);
        return AW_ERROR;
    }

    aw_log(AW_LOG_NOTICE, "home: removed %s, the home of %s: its last "
           "session ended at %s, more than home_keep (%s) ago", name,
           wallet, ended,
           aw_conf_format_msec(keep, sizeof(keep),
                               aw_worker.conf->home_keep));

    return AW_OK;
}


/* home_until of a wallet, or its removal (until NULL), to the pipeline */

static int
aw_home_append(const char *wallet, const char *until)
{
    if (until) {
        return aw_redis_append(&aw_worker.redis, "HSET " AXON_KEY_WALLET
                               "%s " AXON_WALLET_HOME_UNTIL " %s", wallet,
                               until);
    }

    return aw_redis_append(&aw_worker.redis, "HDEL " AXON_KEY_WALLET "%s "
                           AXON_WALLET_HOME_UNTIL, wallet);
}


static int
aw_home_replies(int n)
{
    int          i, rc;
    redisReply  *reply;

    rc = AW_OK;

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            aw_log(AW_LOG_ERR, "home: " AXON_WALLET_HOME_UNTIL ": redis: %s",
                   aw_worker.redis.error);
            return AW_ERROR;
        }

        if (aw_sched_redis_ok(reply, "home: " AXON_WALLET_HOME_UNTIL)
            != AW_OK)
        {
            rc = AW_ERROR;
        }
    }

    return rc;
}


/*
 * A session's container was stopped and its row ended: its wallet's home
 * is kept until then + home_keep, which the page shows.
 */

void
aw_home_ended(int64_t session)
{
    char         id[32], keep[32];
    PGresult    *pg;
    const char  *params[2];

    if (aw_worker.conf->home_keep <= 0) {
        return;
    }

    snprintf(id, sizeof(id), "%lld", (long long) session);
    snprintf(keep, sizeof(keep), "%lld",
             (long long) aw_worker.conf->home_keep);

    params[0] = id;
    params[1] = keep;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_home_ended_stmt, 2, params);

    if (pg == NULL) {
        /* the next sweep publishes it */
        aw_log(AW_LOG_ERR, "home: %s", aw_worker.db.error);
        return;
    }

    if (PQntuples(pg) == 1) {
        (void) aw_home_publish(aw_db_get(pg, 0, "wallet"),
                               aw_db_get(pg, 0, "until"));
    }

    PQclear(pg);
}


void
aw_home_started(const char *wallet)
{
    if (aw_worker.conf->home_keep > 0) {
        (void) aw_home_publish(wallet, NULL);
    }
}


/* axon:wallet:ADDR home_until = until (unix s), or gone (NULL) */

int
aw_home_publish(const char *wallet, const char *until)
{
    if (aw_home_append(wallet, until) != AW_OK) {
        aw_log(AW_LOG_ERR, "home: " AXON_WALLET_HOME_UNTIL ": redis: %s",
               aw_worker.redis.error);
        return AW_ERROR;
    }

    return aw_home_replies(1);
}


/*
 * home.delete: the wallet's home volume, now; refused while the wallet
 * has a session that is not ended (its container may use it, or is about
 * to).  A wallet without one is done already.
 */

int
aw_home_delete(aw_job_t *job, aw_job_result_t *res)
{
    char         home[160], target[64];
    json_t      *detail;
    PGresult    *pg;
    const char  *wallet, *params[1];

    wallet = aw_job_addr(job, "wallet");

    if (!aw_worker.conf->sessions) {
        aw_job_fail(res, 1, "sessions are off on this worker (key sessions):"
                    " it has no home volumes");
        return AW_ERROR;
    }

    params[0] = wallet;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_home_live_stmt, 1, params);
    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    if (PQntuples(pg) > 0) {
        aw_job_fail(res, 1, "refused: %s has a live session (%s, %s): end "
                    "it first (session.end)", wallet,
                    aw_db_get(pg, 0, "id"), aw_db_get(pg, 0, "state"));
        PQclear(pg);
        return AW_ERROR;
    }

    PQclear(pg);

    (void) aw_launcher_home_name(aw_worker.conf, wallet, home, sizeof(home));

    detail = json_pack("{s:s, s:s, s:s}", "via", "redis", "reason",
                       aw_job_str(job, "reason"), "volume", home);

    if (detail == NULL) {
        aw_job_fail(res, 1, "reason: cannot be written as JSON (is it "
                    "UTF-8?)");
        return AW_ERROR;
    }

    if (aw_sched.launcher.ops->home_remove(&aw_sched.launcher, wallet)
        != AW_OK)
    {
        aw_job_fail(res, 0, "%s", aw_sched.launcher.err);
        json_decref(detail);
        return AW_ERROR;
    }

    if (aw_home_publish(wallet, NULL) != AW_OK) {
        aw_job_fail(res, 0, "redis: %s", aw_worker.redis.error);
        json_decref(detail);
        return AW_ERROR;
    }

    snprintf(target, sizeof(target), "wallet:%s", wallet);

    if (aw_job_audit(job, res, AXON_JOB_HOME_DELETE, target, detail)
        != AW_OK)
    {
        return AW_ERROR;
    }

    aw_log(AW_LOG_NOTICE, "home: removed %s, the home of %s (home.delete: "
           "%s)", home, wallet, aw_job_str(job, "reason"));

    snprintf(res->note, sizeof(res->note), "home of %s deleted (%s)",
             wallet, home);

    return AW_OK;
}
