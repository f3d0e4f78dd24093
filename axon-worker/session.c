/*
 * axon-worker: the job kinds of GPU sessions (see sched.h).
 *
 * Each writes Postgres only (sql/functions/axon_session_*.sql), in one
 * statement, and wakes the scheduler, which publishes the change to Redis:
 * a handler runs inside a batch of the queue, whose Redis replies may be
 * in flight.  But session.claim (AW_JOB_REDIS: the pipeline is emptied
 * first) publishes the sessions its statement gave GPUs to itself
 * (axon_session_claim_assign).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job.h"
#include "log.h"
#include "scheduler.h"
#include "session.h"
#include "worker.h"


static int aw_session_never(int64_t sid, aw_job_result_t *res);
static int aw_session_stop(aw_job_t *job, aw_job_result_t *res,
    const char *wallet, const char *reason, int queued_only);
static int aw_session_off(aw_job_result_t *res);
static int aw_gpu_drain_set(aw_job_t *job, aw_job_result_t *res, int drain);


static aw_db_stmt_t  aw_session_claim_stmt = aw_db_stmt("session_claim",
    "SELECT o_state, coalesce(o_end_reason, '') AS o_end_reason, o_wallet,"
    " o_new FROM axon_session_claim($1::bigint, $2, $3, $4, $5::int, $6::int,"
    " nullif($7, ''), nullif($8, ''), $9::int)");

/* the claim and the scheduler's pass in one statement
 * (sql/functions/axon_session_claim_assign.sql) */
static aw_db_stmt_t  aw_session_claim_assign_stmt = aw_db_stmt(
    "session_claim_assign",
    "SELECT o_state, coalesce(o_end_reason, '') AS o_end_reason, o_wallet,"
    " o_new, o_assigned, coalesce(o_note, '') AS o_note"
    " FROM axon_session_claim_assign($1::bigint, $2, $3, $4, $5::int,"
    " $6::int, nullif($7, ''), nullif($8, ''), $10::jsonb, $11::bigint,"
    " $9::int)");

/* $5: when the job was queued (its id's milliseconds), billing's end */
static aw_db_stmt_t  aw_session_stop_stmt = aw_db_stmt("session_stop",
    "SELECT axon_session_stop($1::bigint, nullif($2, ''), $3, $4::boolean,"
    " to_timestamp(nullif($5, '')::numeric / 1000)) AS outcome");


static int
aw_session_off(aw_job_result_t *res)
{
    if (aw_worker.conf->sessions) {
        return 0;
    }

    aw_job_fail(res, 1, "sessions are off on this worker (key sessions)");

    return 1;
}


/*
 * session.claim: the session's row, queued; or ended at once with the
 * reason it cannot be (unknown_profile, no_host_fits, session_exists,
 * insufficient_credits), which the user sees in GET /api/session.
 */

int
aw_session_claim(aw_job_t *job, aw_job_result_t *res)
{
    if (aw_session_off(res)) {
        return AW_ERROR;
    }

    return aw_session_claim_for(res, aw_job_int(job, "session_id"),
                                aw_job_addr(job, "wallet"),
                                aw_job_str(job, "profile"),
                                aw_job_str(job, "mode"),
                                aw_job_str(job, "ssh_key"));
}


/*
 * The claim of session id for wallet (session.claim's, and x402.pay's for
 * the session it pays for): idempotent by id.  key: the SSH public key
 * (NULL: none).
 */

int
aw_session_claim_for(aw_job_result_t *res, int64_t sid, const char *wallet,
    const char *profile, const char *mode, const char *key)
{
    int                       i, largest, assigned;
    char                      id[32], gpus[16], price[16], reserve[32];
    char                      grace[32];
    PGresult                 *pg;
    aw_conf_t                *conf;
    const char               *refuse;
    const char               *params[11];
    const aw_conf_profile_t  *p;

    conf = aw_worker.conf;
    refuse = "";

    p = aw_conf_profile(conf, profile);

    largest = 0;

    for (i = 0; i < conf->nhosts; i++) {
        largest = aw_max(largest, conf->host[i].ngpus);
    }

    if (strcmp(mode, "desktop") != 0 && strcmp(mode, "ssh") != 0) {
        mode = "desktop";
        refuse = "bad_mode";

    } else if (strcmp(mode, "ssh") == 0 && !conf->ssh_sessions) {
        refuse = "ssh_disabled";

    } else if (p == NULL) {
        refuse = "unknown_profile";

    } else if (p->gpus > largest && !aw_sched_other_host_fits(p->gpus)) {
        refuse = "no_host_fits";
    }

    snprintf(id, sizeof(id), "%lld", (long long) sid);
    snprintf(gpus, sizeof(gpus), "%d", p ? p->gpus : 1);
    snprintf(price, sizeof(price), "%d", p ? p->price : 1);

    params[0] = id;
    params[1] = wallet;
    params[2] = profile;
    params[3] = mode;
    params[4] = gpus;
    params[5] = price;
    params[6] = refuse;

    /* the module checked the key; an SSH claim without one cannot start */
    params[7] = (key && strcmp(mode, "ssh") == 0) ? key : "";

    if (strcmp(mode, "ssh") == 0 && params[7][0] == '\0' && !refuse[0]) {
        refuse = "no_ssh_key";
        params[6] = refuse;
    }

    /* the balance must pay the first minute and the grace's reserve */
    snprintf(grace, sizeof(grace), "%lld",
             (long long) aw_sched_grace_minutes());
    params[8] = grace;

    /* on a pool with room, the session is starting when this returns */
    params[9] = aw_sched_pool();
    snprintf(reserve, sizeof(reserve), "%lld",
             (long long) conf->queue_reserve_after);
    params[10] = reserve;

    if (params[9]) {
        pg = aw_db_query_prepared(&aw_worker.db,
                                  &aw_session_claim_assign_stmt, 11, params);
    } else {
        pg = aw_db_query_prepared(&aw_worker.db, &aw_session_claim_stmt, 9,
                                  params);
    }

    if (pg == NULL) {
        return aw_job_db_failed(NULL, res);
    }

    if (strcmp(aw_db_get(pg, 0, "o_wallet"), wallet) != 0) {
        aw_job_fail(res, 1, "session %s is recorded for another wallet (%s)",
                    id, aw_db_get(pg, 0, "o_wallet"));
        PQclear(pg);
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "session %s of %s (%s, %s): %s%s"
             "%s%s", id, wallet, profile, mode,
             aw_db_get(pg, 0, "o_new")[0] == 't' ? "" : "recorded already: ",
             aw_db_get(pg, 0, "o_state"),
             aw_db_get(pg, 0, "o_end_reason")[0] ? ", " : "",
             aw_db_get(pg, 0, "o_end_reason"));

    assigned = 0;

    if (params[9]) {
        assigned = atoi(aw_db_get(pg, 0, "o_assigned"));

        if (assigned > 0) {
            aw_log(AW_LOG_INFO, "scheduler: %s", aw_db_get(pg, 0, "o_note"));

        } else if (assigned < 0) {
            aw_log(AW_LOG_WARN, "scheduler: the claim's pass failed (the "
                   "next one assigns): %s", aw_db_get(pg, 0, "o_note"));
        }
    }

    PQclear(pg);

    aw_sched_claimed(assigned);

    return AW_OK;
}


int
aw_session_leave(aw_job_t *job, aw_job_result_t *res)
{
    return aw_session_stop(job, res, aw_job_addr(job, "wallet"),
                           "left_queue", 1);
}


int
aw_session_release(aw_job_t *job, aw_job_result_t *res)
{
    return aw_session_stop(job, res, aw_job_addr(job, "wallet"), "released",
                           0);
}


int
aw_session_end(aw_job_t *job, aw_job_result_t *res)
{
    char         reason[600], target[48];
    json_t      *detail;

    snprintf(reason, sizeof(reason), "admin: %s", aw_job_str(job, "reason"));

    /* before the stop: a reason JSON cannot carry is refused first */
    detail = json_pack("{s:s, s:s}", "via", "redis", "reason",
                       aw_job_str(job, "reason"));
    if (detail == NULL) {
        aw_job_fail(res, 1, "reason: cannot be written as JSON (is it "
                    "UTF-8?)");
        return AW_ERROR;
    }

    if (aw_session_stop(job, res, NULL, reason, 0) != AW_OK) {
        json_decref(detail);
        return AW_ERROR;
    }

    snprintf(target, sizeof(target), "session:%lld",
             (long long) aw_job_int(job, "session_id"));

    return aw_job_audit(job, res, "session.end", target, detail);
}


/*
 * 1 (and the job failed for good) if session id sid was never given out:
 * above axon:session:next, the last id a claim drew.  0 if it may be a
 * claim not recorded yet, or the counter cannot be read (Redis flushed).
 */

static int
aw_session_never(int64_t sid, aw_job_result_t *res)
{
    long long    last;
    redisReply  *reply;

    reply = aw_redis_command(&aw_worker.redis, "GET %s",
                             AXON_KEY_SESSION_NEXT);

    if (reply == NULL) {
        return 0;
    }

    last = reply->type == REDIS_REPLY_STRING ? atoll(reply->str) : -1;
    freeReplyObject(reply);

    if (last < 0 || sid <= last) {
        return 0;
    }

    aw_job_fail(res, 1, "refused: no session %lld (the last id given out "
                "is %lld)", (long long) sid, last);

    return 1;
}


/*
 * Leave, release, end: queued -> ended now; starting or running -> billing
 * stops when the job was queued (the final minutes are billed at once),
 * and the scheduler stops the container and frees the GPUs.
 */

static int
aw_session_stop(aw_job_t *job, aw_job_result_t *res, const char *wallet,
    const char *reason, int queued_only)
{
    char         id[32], at[24];
    int64_t      sid;
    long long    ms;
    PGresult    *pg;
    const char  *params[5], *outcome;

    if (aw_session_off(res)) {
        return AW_ERROR;
    }

    sid = aw_job_int(job, "session_id");
    snprintf(id, sizeof(id), "%lld", (long long) sid);

    /* the stream entry's id: MS-SEQ, MS when Redis queued it (the user
     * asked then: the minutes the job waited are not billed); one added
     * by hand with an id of its own that is no time: now */
    ms = strtoll(job->id, NULL, 10);
    at[0] = '\0';

    if (ms > 1000000000000LL) {
        snprintf(at, sizeof(at), "%lld", ms);
    }

    params[0] = id;
    params[1] = wallet ? wallet : "";
    params[2] = reason;
    params[3] = queued_only ? "true" : "false";
    params[4] = at;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_session_stop_stmt, 5,
                              params);
    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    outcome = aw_db_get(pg, 0, "outcome");

    if (strcmp(outcome, "missing") == 0) {
        PQclear(pg);

        /* an admin's session.end of an id never given out (a typo): no
         * use trying again (it reads Redis: AW_JOB_REDIS) */
        if ((job->kind->flags & AW_JOB_REDIS) && aw_session_never(sid, res)) {
            return AW_ERROR;
        }

        /* its claim job has not run yet (another worker has it) */
        aw_job_fail(res, 0, "session %s is not recorded yet; trying again",
                    id);
        return AW_ERROR;
    }

    if (strcmp(outcome, "not_yours") == 0) {
        aw_job_fail(res, 1, "refused: session %s is not a session of %s",
                    id, wallet);
        PQclear(pg);
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "session %s: %s (%s)", id,
             outcome, reason);

    if (strcmp(outcome, "stopping") == 0) {
        PQclear(pg);

        /* the final minutes, now */
        if (aw_sched_bill(sid, res) != AW_OK) {
            return aw_job_db_failed(job, res);
        }

        aw_sched_kick();

        return AW_OK;
    }

    PQclear(pg);

    aw_sched_kick();

    return AW_OK;
}


int
aw_gpu_drain(aw_job_t *job, aw_job_result_t *res)
{
    return aw_gpu_drain_set(job, res, 1);
}


int
aw_gpu_undrain(aw_job_t *job, aw_job_result_t *res)
{
    return aw_gpu_drain_set(job, res, 0);
}


static int
aw_gpu_drain_set(aw_job_t *job, aw_job_result_t *res, int drain)
{
    int          i;
    PGresult    *pg;
    aw_conf_t   *conf;
    const char  *host, *params[4];

    conf = aw_worker.conf;
    host = aw_job_str(job, "host");

    for (i = 0; i < conf->nhosts; i++) {
        if (strcmp(conf->host[i].name, host) == 0) {
            break;
        }
    }

    /* another worker's host (several workers share the queue): one that
     * has had sessions is known; a name nobody ever used is a typo */
    if (i == conf->nhosts) {
        params[0] = host;
        pg = aw_db_query(&aw_worker.db,
                         "SELECT EXISTS (SELECT 1 FROM gpu_assignments"
                         " WHERE host = $1) OR EXISTS (SELECT 1 FROM"
                         " gpu_hosts_drained WHERE host = $1) AS known", 1,
                         params);
        if (pg == NULL) {
            return aw_job_db_failed(job, res);
        }

        i = aw_db_get(pg, 0, "known")[0] == 't';
        PQclear(pg);

        if (!i) {
            aw_job_fail(res, 1, "no GPU host \"%s\" in gpu_hosts, nor in "
                        "any session", host);
            return AW_ERROR;
        }
    }

    params[0] = host;
    params[1] = drain ? "true" : "false";
    params[2] = aw_job_str(job, "reason");
    params[3] = job->id;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT axon_gpu_drain($1, $2::boolean, $3, $4)", 4,
                     params);
    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    PQclear(pg);

    snprintf(res->note, sizeof(res->note), "host %s %s", host,
             drain ? "drained: no new sessions start there"
                   : "takes sessions again");

    aw_sched_kick();

    return AW_OK;
}
