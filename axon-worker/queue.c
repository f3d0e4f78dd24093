/*
 * axon-worker: the job queue (see queue.h for the keys).
 *
 * One unit of work of run() is one batch, from the first source that has
 * one: the jobs whose retry is due (XCLAIM to ourselves), jobs of idle
 * consumers (XAUTOCLAIM, every job_claim_idle / 4), our own pending jobs
 * after a (re)connect (XREADGROUP from 0), then new jobs (XREADGROUP >,
 * blocking at most queue_block, and not past when another source is due:
 * aw_sources_others_next; a shorter wait is not a BLOCK, see
 * aw_queue_read).  The jobs of a batch run one after the
 * other; each costs one Redis round trip (the script that marks it running
 * goes in one write with the previous job's final script) and one Postgres
 * statement.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "sources.h"
#include "wallet.h"
#include "worker.h"


#define AW_QUEUE_RETRY_MAX     1024
#define AW_QUEUE_CONSUMER_LEN  160
#define AW_QUEUE_POLL          5        /* ms: a read that does not block */

/*
 * The stream this process consumes: the x402 process (aw_worker.x402)
 * takes x402.pay jobs from axon:x402:jobs, as CONSUMER:x402; every other
 * job is axon:jobs'.
 */
#define aw_queue_stream()                                                     \
    (aw_worker.x402 ? AXON_KEY_X402_JOBS : AXON_KEY_JOBS)

/*
 * A job's state hash, by its id in that stream: ids are per stream, and
 * two streams give the same id to two entries added in the same
 * millisecond (the main process moving an x402.pay does, often)
 */
#define aw_queue_job()     (aw_worker.x402 ? AXON_KEY_X402_JOB : AXON_KEY_JOB)
#define AW_QUEUE_DEAD_FIELDS   64       /* field/value pairs copied */


static aw_script_t  aw_queue_start_script = aw_script(JOB_START);
static aw_script_t  aw_queue_done_script = aw_script(JOB_DONE);
static aw_script_t  aw_queue_dead_script = aw_script(JOB_DEAD);
static aw_script_t  aw_queue_replay_script = aw_script(JOB_REPLAY);


typedef struct {
    char          id[AW_JOB_ID_LEN];
    aw_msec_t     due;
} aw_queue_retry_t;


static int aw_queue_init(void);
static aw_msec_t aw_queue_run(aw_msec_t now);
static void aw_queue_reload(void);
static void aw_queue_fini(void);
static int aw_queue_group(void);
static int aw_queue_retries(aw_msec_t now);
static int aw_queue_claim(aw_msec_t now);
static void aw_queue_consumers(void);
static int aw_queue_history(void);
static int aw_queue_read(aw_msec_t now);
static int aw_queue_batch(redisReply *entries, int fresh, char *last);
static int aw_queue_start(redisReply *e, int count);
static int aw_queue_entry(redisReply *e, redisReply *start);
static const aw_job_kind_t *aw_queue_check(redisReply *fields, aw_job_t *job,
    char *kindname, size_t size, char *err, size_t errlen);
static int aw_queue_running(redisReply *e, redisReply *start, int *attempts,
    char *error, size_t size);
static int aw_queue_handle(aw_job_t *job, const aw_job_kind_t *k,
    const char *key, redisReply *fields);
static void aw_queue_done(const char *id, const char *key, int attempts,
    aw_msec_t ms, aw_job_result_t *res);
static void aw_queue_dead(const char *id, const char *key,
    redisReply *fields, const char *error, int attempts);
static void aw_queue_retry(const char *id, const char *key, int attempts,
    const char *error);
static int aw_queue_flush(redisReply **last, int n);
static void aw_queue_tick(aw_msec_t now);
static int aw_queue_gauges(void);
static int aw_queue_retrying(const char *id);
static int aw_queue_failed(const char *what);
static void aw_queue_printable(char *dst, size_t size, const char *s,
    size_t len);


const aw_source_t  aw_queue_source = {
    "queue",
    aw_queue_init,
    aw_queue_run,
    aw_queue_reload,
    aw_queue_fini
};


static struct {
    char                 consumer[AW_QUEUE_CONSUMER_LEN];
    unsigned long        connects;      /* of the Redis connection */
    unsigned             group:1;       /* exists, on this connection */
    unsigned             history:1;     /* read our pending jobs first */
    char                 history_from[AW_JOB_ID_LEN];
    char                 claim_from[AW_JOB_ID_LEN];
    aw_msec_t            claim_next;
    aw_msec_t            stats_next;
    aw_msec_t            read_next;     /* a read that did not block */
    int                  replies;       /* pipelined replies not read */
    int                  nretry;
    aw_queue_retry_t     retry[AW_QUEUE_RETRY_MAX];
    aw_queue_stats_t     stats;
} aw_queue;


static int
aw_queue_init(void)
{
    memset(&aw_queue, 0, sizeof(aw_queue));

    return AW_OK;
}


/* queue_group or queue_consumer may have changed: set up again */

static void
aw_queue_reload(void)
{
    aw_queue.group = 0;
}


static void
aw_queue_fini(void)
{
    aw_queue_stats_t  *s;

    s = &aw_queue.stats;

    aw_log(AW_LOG_NOTICE, "queue: %llu jobs done, %llu attempts failed, "
           "%llu retried, %llu dead-lettered, %llu replayed, %llu claimed",
           (unsigned long long) s->done, (unsigned long long) s->failed,
           (unsigned long long) s->retried, (unsigned long long) s->dead,
           (unsigned long long) s->replayed,
           (unsigned long long) s->claimed);
}


const aw_queue_stats_t *
aw_queue_stats(void)
{
    return &aw_queue.stats;
}


static aw_msec_t
aw_queue_run(aw_msec_t now)
{
    int          rc;
    aw_conf_t   *conf;
    aw_redis_t  *r;

    conf = aw_worker.conf;
    r = &aw_worker.redis;

    if (!aw_redis_up(r) || !aw_db_up(&aw_worker.db)) {
        /* the main loop reconnects */
        return now + 100;
    }

    if (aw_queue.connects != r->connects) {
        aw_queue.connects = r->connects;
        aw_queue.group = 0;
        aw_queue.replies = 0;
    }

    if (!aw_queue.group && aw_queue_group() != AW_OK) {
        return now + 1000;
    }

    if (now >= aw_queue.stats_next) {
        aw_queue.stats_next = now + conf->heartbeat_interval;
        aw_queue_tick(now);
    }

    /* the wallets are the main process's to rebuild */
    if (!aw_worker.x402 && aw_wallet_rebuilding()) {
        (void) aw_wallet_rebuild_step();
    }

    rc = aw_queue_retries(now);

    if (rc == 0 && now >= aw_queue.claim_next) {
        rc = aw_queue_claim(now);
    }

    if (rc == 0 && aw_queue.history) {
        rc = aw_queue_history();
    }

    if (rc == 0) {
        rc = aw_queue_read(now);
    }

    if (rc < 0) {
        return aw_monotonic_msec() + 100;
    }

    return rc == 0 ? aw_max(aw_queue.read_next, aw_monotonic_msec())
                   : aw_monotonic_msec();
}


/*
 * The consumer group, created if missing, from the first entry of the
 * stream (jobs queued before any worker ran are done too).
 */

static int
aw_queue_group(void)
{
    aw_redis_t  *r;
    redisReply  *reply;

    r = &aw_worker.redis;

    snprintf(aw_queue.consumer, sizeof(aw_queue.consumer), "%s%s",
             aw_worker.conf->queue_consumer, aw_worker.x402 ? ":x402" : "");

    if (aw_redis_append(r, "XGROUP CREATE %s %s 0 MKSTREAM", aw_queue_stream(),
                        aw_worker.conf->queue_group) != AW_OK)
    {
        return AW_ERROR;
    }

    reply = aw_redis_get_reply(r);
    if (reply == NULL) {
        return AW_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && strncmp(reply->str, "BUSYGROUP", 9) != 0)
    {
        aw_log(AW_LOG_ERR, "queue: cannot create the group \"%s\" of "
               "%s: %s", aw_worker.conf->queue_group, aw_queue_stream(),
               reply->str);
        freeReplyObject(reply);
        return AW_ERROR;
    }

    if (reply->type != REDIS_REPLY_ERROR) {
        aw_log(AW_LOG_NOTICE, "queue: created the group \"%s\" of %s",
               aw_worker.conf->queue_group, aw_queue_stream());
    }

    freeReplyObject(reply);

    aw_log(AW_LOG_INFO, "queue: consuming %s as \"%s\" in group \"%s\"",
           aw_queue_stream(), aw_queue.consumer, aw_worker.conf->queue_group);

    aw_queue.group = 1;
    aw_queue.history = 1;
    strcpy(aw_queue.history_from, "0");
    strcpy(aw_queue.claim_from, "0-0");
    aw_queue.claim_next = 0;
    aw_queue.stats_next = 0;

    return AW_OK;
}


/*
 * The failed jobs whose retry is due: claimed back to us (which also says
 * whether they are still pending), then run.
 */

static int
aw_queue_retries(aw_msec_t now)
{
    int          i, j, n, rc;
    aw_conf_t   *conf;
    redisReply  *reply;
    const char  *argv[6 + 1000];
    size_t       lens[6 + 1000];
    char         ids[1000][AW_JOB_ID_LEN];

    conf = aw_worker.conf;
    n = 0;

    for (i = 0, j = 0; i < aw_queue.nretry; i++) {
        if (aw_queue.retry[i].due <= now && n < conf->queue_batch) {
            strcpy(ids[n++], aw_queue.retry[i].id);
            continue;
        }

        aw_queue.retry[j++] = aw_queue.retry[i];
    }

    aw_queue.nretry = j;

    if (n == 0) {
        return 0;
    }

    argv[0] = "XCLAIM";
    argv[1] = aw_queue_stream();
    argv[2] = conf->queue_group;
    argv[3] = aw_queue.consumer;
    argv[4] = "0";

    for (i = 0; i < n; i++) {
        argv[5 + i] = ids[i];
    }

    for (i = 0; i < 5 + n; i++) {
        lens[i] = strlen(argv[i]);
    }

    reply = aw_redis_command_argv(&aw_worker.redis, 5 + n, argv, lens);
    if (reply == NULL) {
        return aw_queue_failed("XCLAIM");
    }

    rc = aw_queue_batch(reply, 0, NULL);

    freeReplyObject(reply);

    return rc;
}


/*
 * Jobs another consumer took and left idle for job_claim_idle: its worker
 * died.  The scan goes on over several runs; when it wraps, the consumers
 * that hold nothing and were idle for an hour (and job_claim_idle) are
 * removed from the group.
 */

static int
aw_queue_claim(aw_msec_t now)
{
    int          rc;
    char         idle[32], min[32];
    aw_conf_t   *conf;
    redisReply  *reply, *cursor;

    conf = aw_worker.conf;

    snprintf(idle, sizeof(idle), "%lld", (long long) conf->job_claim_idle);

    reply = aw_redis_command(&aw_worker.redis,
                             "XAUTOCLAIM %s %s %s %s %s COUNT %d",
                             aw_queue_stream(), conf->queue_group,
                             aw_queue.consumer, idle, aw_queue.claim_from,
                             conf->queue_batch);
    if (reply == NULL) {
        return aw_queue_failed("XAUTOCLAIM");
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        aw_log(AW_LOG_ERR, "queue: XAUTOCLAIM: unexpected reply");
        freeReplyObject(reply);
        aw_queue.claim_next = now + conf->job_claim_idle;
        return 0;
    }

    cursor = reply->element[0];

    if (strcmp(cursor->str, "0-0") == 0) {
        strcpy(aw_queue.claim_from, "0-0");
        aw_queue.claim_next = now + aw_max(100, aw_min(conf->job_claim_idle
                                                       / 4, 30000));
        aw_queue_consumers();

    } else {
        snprintf(aw_queue.claim_from, sizeof(aw_queue.claim_from), "%s",
                 cursor->str);
        aw_queue.claim_next = now;
    }

    if (reply->element[1]->elements) {
        aw_log(AW_LOG_NOTICE, "queue: claimed %zu jobs left idle for more "
               "than %s", reply->element[1]->elements,
               aw_conf_format_msec(min, sizeof(min), conf->job_claim_idle));

        aw_queue.stats.claimed += reply->element[1]->elements;
    }

    rc = aw_queue_batch(reply->element[1], 0, NULL);

    freeReplyObject(reply);

    return rc;
}


static void
aw_queue_consumers(void)
{
    size_t       i, j;
    long long    pending, idle;
    aw_conf_t   *conf;
    redisReply  *reply, *c, *k, *v, *del;
    const char  *name;

    conf = aw_worker.conf;

    reply = aw_redis_command(&aw_worker.redis, "XINFO CONSUMERS %s %s",
                             aw_queue_stream(), conf->queue_group);
    if (reply == NULL) {
        return;
    }

    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
    {
        c = reply->element[i];
        name = NULL;
        pending = idle = -1;

        for (j = 0; c->type == REDIS_REPLY_ARRAY && j + 1 < c->elements;
             j += 2)
        {
            k = c->element[j];
            v = c->element[j + 1];

            if (k->type != REDIS_REPLY_STRING) {
                continue;
            }

            if (strcmp(k->str, "name") == 0 && v->type == REDIS_REPLY_STRING)
            {
                name = v->str;

            } else if (strcmp(k->str, "pending") == 0
                       && v->type == REDIS_REPLY_INTEGER)
            {
                pending = v->integer;

            } else if (strcmp(k->str, "idle") == 0
                       && v->type == REDIS_REPLY_INTEGER)
            {
                idle = v->integer;
            }
        }

        /*
         * a consumer that reads again is created again; the hour keeps
         * clear of one that reads between XINFO and DELCONSUMER (what it
         * took would leave the pending list)
         */

        if (name == NULL || strcmp(name, aw_queue.consumer) == 0
            || pending != 0 || idle <= aw_max(conf->job_claim_idle, 3600000))
        {
            continue;
        }

        del = aw_redis_command(&aw_worker.redis, "XGROUP DELCONSUMER %s %s %s",
                               aw_queue_stream(), conf->queue_group, name);
        if (del) {
            aw_log(AW_LOG_INFO, "queue: removed the idle consumer \"%s\" "
                   "(nothing pending, idle %lld ms)", name, idle);
            freeReplyObject(del);
        }
    }

    freeReplyObject(reply);
}


/*
 * Our own pending jobs, after a (re)connect or an interrupted batch: those
 * of a previous run under the same name, or of a batch cut short.
 */

static int
aw_queue_history(void)
{
    int          rc;
    char         last[AW_JOB_ID_LEN];
    aw_conf_t   *conf;
    redisReply  *reply, *entries;

    conf = aw_worker.conf;

    reply = aw_redis_command(&aw_worker.redis,
                             "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s",
                             conf->queue_group, aw_queue.consumer,
                             conf->queue_batch, aw_queue_stream(),
                             aw_queue.history_from);
    if (reply == NULL) {
        return aw_queue_failed("XREADGROUP");
    }

    entries = NULL;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
        && reply->element[0]->type == REDIS_REPLY_ARRAY
        && reply->element[0]->elements == 2)
    {
        entries = reply->element[0]->element[1];
    }

    if (entries == NULL || entries->type != REDIS_REPLY_ARRAY
        || entries->elements == 0)
    {
        aw_queue.history = 0;
        freeReplyObject(reply);
        return 0;
    }

    aw_log(AW_LOG_INFO, "queue: taking back %zu jobs pending on \"%s\"",
           entries->elements, aw_queue.consumer);

    last[0] = '\0';

    rc = aw_queue_batch(entries, 0, last);

    if (last[0]) {
        strcpy(aw_queue.history_from, last);
    }

    freeReplyObject(reply);

    return rc;
}


static int
aw_queue_read(aw_msec_t now)
{
    int          i, rc;
    aw_msec_t    wait;
    aw_conf_t   *conf;
    redisReply  *reply;

    conf = aw_worker.conf;
    wait = conf->queue_block;

    for (i = 0; i < aw_queue.nretry; i++) {
        wait = aw_min(wait, aw_queue.retry[i].due - now);
    }

    wait = aw_min(wait, aw_queue.stats_next - now);
    wait = aw_min(wait, aw_sources_others_next() - now);

    /*
     * Redis times a blocked client out only at its cron (hz 10 by default:
     * BLOCK 1 returns after up to 100 ms), so a read that must return
     * before queue_block does not block: the stream is read again every
     * AW_QUEUE_POLL until the source due (a job queued meanwhile waits
     * that long at most: sleeping until the source, a claim waited up to
     * queue_block, 72-83 ms at the 99th percentile).
     */
    aw_queue.read_next = 0;

    if (wait < conf->queue_block) {
        aw_queue.read_next = now + aw_min(aw_max(wait, 0), AW_QUEUE_POLL);
        reply = aw_redis_command(&aw_worker.redis,
                                 "XREADGROUP GROUP %s %s COUNT %d "
                                 "STREAMS %s >", conf->queue_group,
                                 aw_queue.consumer, conf->queue_batch,
                                 aw_queue_stream());
    } else {
        reply = aw_redis_command(&aw_worker.redis,
                                 "XREADGROUP GROUP %s %s COUNT %d "
                                 "BLOCK %lld STREAMS %s >",
                                 conf->queue_group, aw_queue.consumer,
                                 conf->queue_batch, (long long) wait,
                                 aw_queue_stream());
    }
    if (reply == NULL) {
        return aw_queue_failed("XREADGROUP");
    }

    rc = 0;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
        && reply->element[0]->type == REDIS_REPLY_ARRAY
        && reply->element[0]->elements == 2)
    {
        rc = aw_queue_batch(reply->element[0]->element[1], 1, NULL);
    }

    freeReplyObject(reply);

    return rc;
}


/*
 * Runs the entries of a reply one after the other; returns how many (0:
 * none), or -1 if a connection failed (the rest stay pending: they are
 * taken back from our pending list later).  The jobs that wait for their
 * retry are left alone.
 *
 * A fresh batch (new jobs) is marked running in one round trip before the
 * first runs, and the outcomes are written in one round trip after the
 * last: a job then costs no Redis round trip of its own.  That mark counts
 * no attempt (each outcome writes its job's): which job was running if the
 * worker dies is not known, and counted for all, a crash had given up,
 * with job_max_attempts 1, the jobs after it that never ran.  Jobs taken
 * back (retries, reclaimed, our own pending) are marked one by one, each
 * attempt counted as it starts, so that a job that makes the worker crash
 * counts attempts against itself only.
 */

static int
aw_queue_batch(redisReply *entries, int fresh, char *last)
{
    int           n, i, rc;
    size_t        k;
    redisReply   *e, **run, **start;

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        return 0;
    }

    run = calloc(2 * entries->elements, sizeof(redisReply *));
    if (run == NULL) {
        aw_log(AW_LOG_ERR, "queue: out of memory");
        return -1;
    }

    start = run + entries->elements;
    n = 0;

    for (k = 0; k < entries->elements; k++) {
        e = entries->element[k];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[0]->len >= AW_JOB_ID_LEN)
        {
            continue;
        }

        if (last) {
            strcpy(last, e->element[0]->str);
        }

        if (aw_queue_retrying(e->element[0]->str)) {
            continue;
        }

        run[n++] = e;
    }

    rc = AW_OK;

    if (fresh && n > 1) {
        for (i = 0; i < n && rc == AW_OK; i++) {
            rc = aw_queue_start(run[i], 0);
        }

        if (rc == AW_OK) {
            rc = aw_queue_flush(start, n);
        }
    }

    for (i = 0; i < n && rc == AW_OK; i++) {
        if (aw_worker_stopping()) {
            break;
        }

        rc = aw_queue_entry(run[i], start[i]);
    }

    for (i = 0; i < n; i++) {
        if (start[i]) {
            freeReplyObject(start[i]);
        }
    }

    free(run);

    if (aw_queue_flush(NULL, 0) != AW_OK || rc != AW_OK) {
        /* the rest of this batch: from our pending list, later */
        aw_queue.history = 1;
        strcpy(aw_queue.history_from, "0");
        return -1;
    }

    return n;
}


/*
 * Appends the script that marks a job running, counting the attempt if
 * count (else the outcome does); its reply is {this attempt's number, the
 * last error}.
 */

static int
aw_queue_start(redisReply *e, int count)
{
    char         key[AW_JOB_ID_LEN + 16], kindname[72], now[32];
    size_t       i;
    const char  *argv[5];
    redisReply  *fields, *f;

    snprintf(key, sizeof(key), "%s%s", aw_queue_job(), e->element[0]->str);
    strcpy(kindname, "-");

    fields = e->element[1];

    for (i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements;
         i += 2)
    {
        f = fields->element[i];

        if (f->type == REDIS_REPLY_STRING
            && f->len == sizeof(AXON_JOB_KIND) - 1
            && memcmp(f->str, AXON_JOB_KIND, f->len) == 0
            && fields->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            aw_queue_printable(kindname, sizeof(kindname),
                               fields->element[i + 1]->str,
                               fields->element[i + 1]->len);
            break;
        }
    }

    snprintf(now, sizeof(now), "%lld", (long long) aw_unix_msec());

    argv[0] = key;
    argv[1] = kindname;
    argv[2] = aw_worker.conf->worker_id;
    argv[3] = now;
    argv[4] = count ? "1" : "0";

    if (aw_redis_append_script(&aw_worker.redis, &aw_queue_start_script, 1,
                               5, argv, NULL)
        != AW_OK)
    {
        return AW_ERROR;
    }

    aw_queue.replies++;

    return AW_OK;
}


/*
 * One job: check its fields, mark it running, run it, record the outcome.
 * AW_ERROR only when a connection failed.
 */

static int
aw_queue_entry(redisReply *e, redisReply *start)
{
    int                   rc, attempts;
    char                  key[AW_JOB_ID_LEN + 16], kindname[72];
    char                  err[AW_JOB_ERROR_LEN];
    char                  error[AW_JOB_ERROR_LEN + 64];
    aw_job_t              job;
    aw_conf_t            *conf;
    redisReply           *fields;
    const char           *id;
    const aw_job_kind_t  *k;

    conf = aw_worker.conf;
    id = e->element[0]->str;
    fields = e->element[1];

    snprintf(key, sizeof(key), "%s%s", aw_queue_job(), id);

    if (fields->type != REDIS_REPLY_ARRAY) {
        /* deleted while pending: nothing to do */
        if (aw_redis_append(&aw_worker.redis, "XACK %s %s %s",
                            aw_queue_stream(), conf->queue_group, id)
            != AW_OK)
        {
            return AW_ERROR;
        }

        aw_queue.replies++;
        return AW_OK;
    }

    k = aw_queue_check(fields, &job, kindname, sizeof(kindname), err,
                       sizeof(err));

    /* running: in one write with the previous job's outcome */

    if (aw_queue_running(e, start, &attempts, error, sizeof(error))
        != AW_OK)
    {
        return AW_ERROR;
    }

    aw_log_ctx("job %s %s", id, kindname);

    if (error[0]) {
        aw_metrics_job(k, AW_METRICS_DEAD);
        aw_log(AW_LOG_ERR, "%s; dead-lettered", error);
        aw_queue_dead(id, key, fields, error, attempts - 1);
        aw_log_ctx(NULL);

        return AW_OK;
    }

    if (err[0]) {
        aw_queue.stats.failed++;
        aw_metrics_job(k, AW_METRICS_REFUSED);

        snprintf(error, sizeof(error), "%s%s%s", k ? k->name : "",
                 k ? ": " : "", err);

        aw_log(AW_LOG_WARN, "refused: %s; dead-lettered", error);
        aw_queue_dead(id, key, fields, error, attempts);
        aw_log_ctx(NULL);

        return AW_OK;
    }

    /* run it; a handler that talks to Redis needs the pipeline empty */

    if ((k->flags & AW_JOB_REDIS) && aw_queue_flush(NULL, 0) != AW_OK) {
        aw_log_ctx(NULL);
        return AW_ERROR;
    }

    job.id = id;
    job.attempt = attempts;

    rc = aw_queue_handle(&job, k, key, fields);

    aw_log_ctx(NULL);

    return rc;
}


/*
 * The entry's fields against its kind's (kind, replay_of and the rest):
 * the kind, or NULL; err says what is wrong ("" if nothing), and kindname
 * the kind as logged.
 */

static const aw_job_kind_t *
aw_queue_check(redisReply *fields, aw_job_t *job, char *kindname,
    size_t size, char *err, size_t errlen)
{
    int                   n;
    char                  list[256];
    size_t                i, nlens[AW_JOB_MAX_FIELDS];
    size_t                vlens[AW_JOB_MAX_FIELDS];
    redisReply           *f, *v, *kind;
    const char           *names[AW_JOB_MAX_FIELDS];
    const char           *values[AW_JOB_MAX_FIELDS];
    const aw_job_kind_t  *k;

    memset(job, 0, sizeof(aw_job_t));
    kind = NULL;
    k = NULL;
    n = 0;
    err[0] = '\0';

    for (i = 0; i + 1 < fields->elements; i += 2) {
        f = fields->element[i];

        if (f->type != REDIS_REPLY_STRING
            || fields->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (f->len == sizeof(AXON_JOB_KIND) - 1
            && memcmp(f->str, AXON_JOB_KIND, f->len) == 0)
        {
            if (kind && err[0] == '\0') {
                snprintf(err, errlen, "field \"kind\" is given twice");
            }

            kind = fields->element[i + 1];
            continue;
        }

        if (f->len == 9 && memcmp(f->str, "replay_of", 9) == 0) {
            /* job.replay's: the dead job's id (it goes to the audit) */
            v = fields->element[i + 1];

            if (err[0] == '\0') {
                (void) aw_job_stream_id("replay_of", v->str, v->len, err,
                                        errlen);
            }

            job->replay_of = v->str;
            continue;
        }

        if (n == AW_JOB_MAX_FIELDS) {
            if (err[0] == '\0') {
                snprintf(err, errlen, "too many fields (at most %d)",
                         AW_JOB_MAX_FIELDS);
            }

            continue;
        }

        names[n] = f->str;
        nlens[n] = f->len;
        values[n] = fields->element[i + 1]->str;
        vlens[n] = fields->element[i + 1]->len;
        n++;
    }

    if (kind) {
        aw_queue_printable(kindname, size, kind->str, kind->len);
        k = aw_job_kind(kind->str, kind->len);

    } else {
        snprintf(kindname, size, "-");
    }

    if (err[0]) {
        /* void */

    } else if (kind == NULL) {
        aw_job_kinds_list(list, sizeof(list));
        snprintf(err, errlen, "no \"kind\" field (the kinds: %s)", list);

    } else if (k == NULL) {
        aw_job_kinds_list(list, sizeof(list));
        snprintf(err, errlen, "unknown job kind \"%s\" (the kinds: %s)",
                 kindname, list);

    } else {
        (void) aw_job_parse(job, k, names, nlens, values, vlens, n, err,
                            errlen);
    }

    return k;
}


/*
 * The job marked running (start: that script's reply, already read), its
 * attempts counted.  Past job_max_attempts, error says why it is given up
 * (else ""): e.g. a job that made its worker crash each time.  AW_ERROR
 * when the reply is missing or not the script's.
 */

static int
aw_queue_running(redisReply *e, redisReply *start, int *attempts,
    char *error, size_t size)
{
    int          rc;
    const char  *id;
    redisReply  *reply;

    id = e->element[0]->str;
    error[0] = '\0';

    if (start) {
        reply = start;

    } else {
        if (aw_queue_start(e, 1) != AW_OK
            || aw_queue_flush(&reply, 1) != AW_OK)
        {
            return AW_ERROR;
        }
    }

    rc = AW_OK;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        aw_log(AW_LOG_ERR, "job %s: marking it running failed: %s", id,
               reply->type == REDIS_REPLY_ERROR ? reply->str
                                                : "unexpected reply");
        rc = AW_ERROR;

    } else {
        *attempts = (int) reply->element[0]->integer;

        if (*attempts > aw_worker.conf->job_max_attempts) {
            snprintf(error, size, "gave up after %d attempts; the last "
                     "failed with: %s", *attempts - 1,
                     reply->element[1]->len
                     ? reply->element[1]->str
                     : "(no error: the worker stopped)");
        }
    }

    if (reply != start) {
        freeReplyObject(reply);
    }

    return rc;
}


/*
 * Runs the handler and records the outcome: done, retried later, or
 * dead-lettered.  AW_ERROR when a connection was lost: the batch stops
 * until it is back.
 */

static int
aw_queue_handle(aw_job_t *job, const aw_job_kind_t *k,
    const char *key, redisReply *fields)
{
    int              rc;
    char             error[AW_JOB_ERROR_LEN + 64];
    aw_msec_t        took;
    aw_job_result_t  res;

    memset(&res, 0, sizeof(res));

    took = aw_monotonic_msec();

    rc = k->handler(job, &res);

    took = aw_monotonic_msec() - took;

    if (rc == AW_OK) {
        aw_queue.stats.done++;
        aw_metrics_job(k, AW_METRICS_DONE);

        aw_log(AW_LOG_INFO, "done in %lld ms%s%s", (long long) took,
               res.note[0] ? ": " : "", res.note);

        aw_queue_done(job->id, key, job->attempt, took, &res);

        return AW_OK;
    }

    aw_queue.stats.failed++;

    if (res.error[0] == '\0') {
        strcpy(res.error, "failed, without a reason (a bug)");
    }

    aw_metrics_job(k, res.permanent
                      || job->attempt >= aw_worker.conf->job_max_attempts
                      ? AW_METRICS_DEAD : AW_METRICS_RETRIED);

    if (res.permanent) {
        aw_log(AW_LOG_WARN, "failed: %s; permanent, dead-lettered",
               res.error);
        aw_queue_dead(job->id, key, fields, res.error, job->attempt);

    } else if (job->attempt >= aw_worker.conf->job_max_attempts) {
        snprintf(error, sizeof(error), "failed %d times; the last: %s",
                 job->attempt, res.error);
        aw_log(AW_LOG_ERR, "%s; dead-lettered", error);
        aw_queue_dead(job->id, key, fields, error, job->attempt);

    } else {
        aw_queue_retry(job->id, key, job->attempt, res.error);
    }

    if (!aw_db_up(&aw_worker.db) || !aw_redis_up(&aw_worker.redis)) {
        return AW_ERROR;
    }

    return AW_OK;
}


static void
aw_queue_done(const char *id, const char *key, int attempts, aw_msec_t ms,
    aw_job_result_t *res)
{
    int          argc;
    char         now[32], took[32], ttl[32], wallet[64], balance[32];
    char         ledger[32], tries[16];
    aw_conf_t   *conf;
    const char  *argv[16];

    conf = aw_worker.conf;

    snprintf(now, sizeof(now), "%lld", (long long) aw_unix_msec());
    snprintf(took, sizeof(took), "%lld", (long long) ms);
    snprintf(ttl, sizeof(ttl), "%lld", (long long) conf->job_state_ttl);
    snprintf(tries, sizeof(tries), "%d", attempts);

    argc = 0;
    argv[argc++] = aw_queue_stream();
    argv[argc++] = key;

    if (res->has_balance) {
        snprintf(wallet, sizeof(wallet), AXON_KEY_WALLET "%s", res->wallet);
        argv[argc++] = wallet;
    }

    argv[argc++] = conf->queue_group;
    argv[argc++] = id;
    argv[argc++] = now;
    argv[argc++] = took;
    argv[argc++] = ttl;
    argv[argc++] = res->note;
    argv[argc++] = tries;

    if (res->has_balance) {
        snprintf(balance, sizeof(balance), "%lld", (long long) res->balance);
        snprintf(ledger, sizeof(ledger), "%lld", (long long) res->ledger_id);
        argv[argc++] = balance;
        argv[argc++] = ledger;
    }

    if (aw_redis_append_script(&aw_worker.redis, &aw_queue_done_script,
                               res->has_balance ? 3 : 2, argc, argv, NULL)
        == AW_OK)
    {
        aw_queue.replies++;
    }
}


static void
aw_queue_dead(const char *id, const char *key, redisReply *fields,
    const char *error, int attempts)
{
    int          argc;
    char         now[32], tries[16];
    size_t       i, lens[12 + 2 * AW_QUEUE_DEAD_FIELDS];
    aw_conf_t   *conf;
    const char  *argv[12 + 2 * AW_QUEUE_DEAD_FIELDS];

    conf = aw_worker.conf;

    snprintf(now, sizeof(now), "%lld", (long long) aw_unix_msec());
    snprintf(tries, sizeof(tries), "%d", attempts);

    argc = 0;
    argv[argc++] = aw_queue_stream();
    argv[argc++] = AXON_KEY_JOBS_DEAD;
    argv[argc++] = key;
    argv[argc++] = conf->queue_group;
    argv[argc++] = id;
    argv[argc++] = error;
    argv[argc++] = tries;
    argv[argc++] = now;
    argv[argc++] = conf->worker_id;

    for (i = 0; i < (size_t) argc; i++) {
        lens[i] = strlen(argv[i]);
    }

    for (i = 0; i + 1 < fields->elements && i < 2 * AW_QUEUE_DEAD_FIELDS;
         i += 2)
    {
        if (fields->element[i]->type != REDIS_REPLY_STRING
            || fields->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        argv[argc] = fields->element[i]->str;
        lens[argc++] = fields->element[i]->len;
        argv[argc] = fields->element[i + 1]->str;
        lens[argc++] = fields->element[i + 1]->len;
    }

    if (aw_redis_append_script(&aw_worker.redis, &aw_queue_dead_script, 3,
                               argc, argv, lens)
        == AW_OK)
    {
        aw_queue.replies++;
    }

    aw_queue.stats.dead++;
}


/*
 * A transient failure: the job stays pending on us and is claimed back
 * when its backoff is over (or by another worker after job_claim_idle, if
 * this one dies meanwhile).
 */

static void
aw_queue_retry(const char *id, const char *key, int attempts,
    const char *error)
{
    char         due[32], now[32], d[32], tries[16];
    aw_msec_t    delay, half;
    aw_conf_t   *conf;

    conf = aw_worker.conf;

    delay = conf->job_retry_min << aw_min(attempts - 1, 30);
    delay = aw_min(delay, conf->job_retry_max);
    half = delay / 2;
    delay = half + (half > 0 ? aw_random() % (half + 1) : 0);

    aw_log(AW_LOG_WARN, "attempt %d of %d failed: %s; retrying in %s",
           attempts, conf->job_max_attempts, error,
           aw_conf_format_msec(d, sizeof(d), delay));

    snprintf(now, sizeof(now), "%lld", (long long) aw_unix_msec());
    snprintf(due, sizeof(due), "%lld", (long long) (aw_unix_msec() + delay));
    snprintf(tries, sizeof(tries), "%d", attempts);

    /* the attempt too: a fresh batch's mark did not count it */
    if (aw_redis_append(&aw_worker.redis,
                        "HSET %s state failed error %s updated %s "
                        "retry_at %s attempts %s", key, error, now, due,
                        tries)
        == AW_OK)
    {
        aw_queue.replies++;
    }

    aw_queue.stats.retried++;

    if (aw_queue.nretry == AW_QUEUE_RETRY_MAX) {
        /* XAUTOCLAIM finds it after job_claim_idle */
        aw_log(AW_LOG_NOTICE, "queue: %d retries waiting already; this one "
               "is claimed again after job_claim_idle", AW_QUEUE_RETRY_MAX);
        return;
    }

    snprintf(aw_queue.retry[aw_queue.nretry].id, AW_JOB_ID_LEN, "%s", id);
    aw_queue.retry[aw_queue.nretry].due = aw_monotonic_msec() + delay;
    aw_queue.nretry++;
}


/*
 * Reads the pipelined replies; the last n are returned in last[] (if n >
 * 0), the caller frees them.  AW_ERROR: the connection failed.
 */

static int
aw_queue_flush(redisReply **last, int n)
{
    int          i;
    redisReply  *reply;

    for (i = 0; i < n; i++) {
        last[i] = NULL;
    }

    while (aw_queue.replies > 0) {
        reply = aw_redis_get_reply(&aw_worker.redis);

        if (reply == NULL) {
            aw_queue.replies = 0;

            for (i = 0; i < n; i++) {
                if (last[i]) {
                    freeReplyObject(last[i]);
                    last[i] = NULL;
                }
            }

            return AW_ERROR;
        }

        aw_queue.replies--;

        if (reply->type == REDIS_REPLY_ERROR) {
            aw_log(AW_LOG_ERR, "queue: redis: %s", reply->str);
        }

        if (aw_queue.replies < n) {
            last[n - 1 - aw_queue.replies] = reply;

        } else {
            freeReplyObject(reply);
        }
    }

    return AW_OK;
}


/*
 * Every heartbeat_interval: the gauges, the counters into
 * axon:queue:stats:CONSUMER, and whether the wallets must be rebuilt.
 */

static void
aw_queue_tick(aw_msec_t now)
{
    char               key[256];
    aw_conf_t         *conf;
    aw_redis_t        *r;
    aw_queue_stats_t  *s;

    conf = aw_worker.conf;
    r = &aw_worker.redis;
    s = &aw_queue.stats;

    if (aw_queue_gauges() != AW_OK) {
        return;
    }

    snprintf(key, sizeof(key), AXON_KEY_QUEUE_STATS "%s", aw_queue.consumer);

    if (aw_redis_append(r, "HSET %s done %llu failed %llu retried %llu "
                        "dead %llu replayed %llu claimed %llu depth %lld "
                        "pending %lld oldest_age_ms %lld dead_depth %lld "
                        "worker %s updated %lld", key,
                        (unsigned long long) s->done,
                        (unsigned long long) s->failed,
                        (unsigned long long) s->retried,
                        (unsigned long long) s->dead,
                        (unsigned long long) s->replayed,
                        (unsigned long long) s->claimed,
                        (long long) s->depth, (long long) s->pending,
                        (long long) s->oldest_age, (long long) s->dead_depth,
                        conf->worker_id, (long long) aw_unix_msec())
        != AW_OK
        || aw_redis_append(r, "PEXPIRE %s %lld", key,
                           (long long) aw_max(conf->heartbeat_ttl,
                                              3 * conf->heartbeat_interval))
           != AW_OK)
    {
        return;
    }

    aw_queue.replies += 2;

    (void) aw_queue_flush(NULL, 0);
}


/*
 * The gauges in aw_queue.stats (depth, oldest entry's age, pending, dead
 * entries), one pipeline; also notes a group that is gone, and tells
 * aw_wallet_check() whether the wallets are synced.
 */

static int
aw_queue_gauges(void)
{
    int                i;
    aw_conf_t         *conf;
    aw_redis_t        *r;
    redisReply        *reply[5];
    aw_queue_stats_t  *s;

    conf = aw_worker.conf;
    r = &aw_worker.redis;
    s = &aw_queue.stats;

    if (aw_redis_append(r, "XLEN %s", aw_queue_stream()) != AW_OK
        || aw_redis_append(r, "XRANGE %s - + COUNT 1", aw_queue_stream())
           != AW_OK
        || aw_redis_append(r, "XPENDING %s %s", aw_queue_stream(),
                           conf->queue_group) != AW_OK
        || aw_redis_append(r, "XLEN %s", AXON_KEY_JOBS_DEAD) != AW_OK
        || aw_redis_append(r, "EXISTS %s", AXON_KEY_WALLETS_SYNCED) != AW_OK)
    {
        return AW_ERROR;
    }

    for (i = 0; i < 5; i++) {
        reply[i] = aw_redis_get_reply(r);

        if (reply[i] == NULL) {
            while (--i >= 0) {
                freeReplyObject(reply[i]);
            }

            return AW_ERROR;
        }
    }

    if (reply[0]->type == REDIS_REPLY_INTEGER) {
        s->depth = reply[0]->integer;
    }

    s->oldest_age = 0;

    if (reply[1]->type == REDIS_REPLY_ARRAY && reply[1]->elements > 0
        && reply[1]->element[0]->type == REDIS_REPLY_ARRAY
        && reply[1]->element[0]->elements > 0
        && reply[1]->element[0]->element[0]->type == REDIS_REPLY_STRING)
    {
        s->oldest_age = aw_max(0, aw_unix_msec()
                                  - atoll(reply[1]->element[0]->element[0]
                                          ->str));
    }

    if (reply[2]->type == REDIS_REPLY_ARRAY && reply[2]->elements > 0
        && reply[2]->element[0]->type == REDIS_REPLY_INTEGER)
    {
        s->pending = reply[2]->element[0]->integer;

    } else if (reply[2]->type == REDIS_REPLY_ERROR
               && strncmp(reply[2]->str, "NOGROUP", 7) == 0)
    {
        aw_log(AW_LOG_NOTICE, "queue: the group is gone (%s deleted?): "
               "creating it again", aw_queue_stream());
        aw_queue.group = 0;
    }

    if (reply[3]->type == REDIS_REPLY_INTEGER) {
        s->dead_depth = reply[3]->integer;
    }

    if (reply[4]->type == REDIS_REPLY_INTEGER && !aw_worker.x402) {
        aw_wallet_check(reply[4]->integer > 0);
    }

    for (i = 0; i < 5; i++) {
        freeReplyObject(reply[i]);
    }

    return AW_OK;
}


/*
 * job.replay: the dead entry becomes a new job with the same fields (and
 * replay_of), atomically with its removal from the dead-letter stream;
 * then the audit row.  Run twice, the script finds what the first run did.
 */

int
aw_queue_replay(aw_job_t *job, aw_job_result_t *res)
{
    int          again;
    char         key[AW_JOB_ID_LEN + 16];
    json_t      *j;
    aw_redis_t  *r;
    redisReply  *reply;
    const char  *dead_id, *status, *new_id, *orig, *kind;
    const char  *argv[7];
    char         now[32], ttl[32];

    r = &aw_worker.redis;
    dead_id = aw_job_str(job, "id");

    snprintf(key, sizeof(key), "%s%s", aw_queue_job(), job->id);

    snprintf(now, sizeof(now), "%lld", (long long) aw_unix_msec());
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long) aw_worker.conf->job_state_ttl);

    argv[0] = AXON_KEY_JOBS_DEAD;
    argv[1] = AXON_KEY_JOBS;
    argv[2] = key;
    argv[3] = AXON_KEY_X402_JOBS;
    argv[4] = dead_id;
    argv[5] = now;
    argv[6] = ttl;

    reply = aw_redis_script(r, &aw_queue_replay_script, 4, 7, argv, NULL);
    if (reply == NULL) {
        aw_job_fail(res, 0, "redis: %s", r->error);
        return AW_ERROR;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        freeReplyObject(reply);
        aw_job_fail(res, 0, "redis: unexpected reply from the replay script");
        return AW_ERROR;
    }

    status = reply->element[0]->str;
    new_id = reply->element[1]->str;
    orig = reply->element[2]->str;
    kind = reply->element[3]->str;

    if (strcmp(status, "missing") == 0) {
        aw_job_fail(res, 1, "no entry %s in " AXON_KEY_JOBS_DEAD " (replayed "
                    "already, or never dead-lettered)", dead_id);
        freeReplyObject(reply);
        return AW_ERROR;
    }

    again = (strcmp(status, "again") == 0);

    if (!again) {
        aw_queue.stats.replayed++;
        aw_log(AW_LOG_NOTICE, "replayed dead job %s (%s) as job %s", orig,
               kind, new_id);
    }

    j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "via", "redis",
                  "dead_id", dead_id, "job_id", orig, "replayed_as", new_id,
                  "kind", kind);

    if (aw_job_audit(job, res, "job.replay", orig, j) != AW_OK) {
        freeReplyObject(reply);
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "%sreplayed dead job %s as job %s",
             again ? "already " : "", orig, new_id);

    freeReplyObject(reply);

    return AW_OK;
}


static int
aw_queue_retrying(const char *id)
{
    int  i;

    for (i = 0; i < aw_queue.nretry; i++) {
        if (strcmp(aw_queue.retry[i].id, id) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * A command failed: the connection (then the main loop reconnects), or an
 * error reply, e.g. NOGROUP after the stream was deleted.
 */

static int
aw_queue_failed(const char *what)
{
    aw_redis_t  *r;

    r = &aw_worker.redis;

    if (aw_redis_up(r) && strncmp(r->error, "NOGROUP", 7) == 0) {
        aw_log(AW_LOG_NOTICE, "queue: the group is gone (%s deleted?): "
               "creating it again", aw_queue_stream());
        aw_queue.group = 0;
    }

    return -1;
}


/* a name from outside, fit for a log line and a hash field */

static void
aw_queue_printable(char *dst, size_t size, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len && i < size - 1; i++) {
        dst[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
    }

    dst[i] = '\0';

    if (i == 0 && size > 1) {
        strcpy(dst, "?");
    }
}
