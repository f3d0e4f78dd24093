/*
 * axon-worker: the Redis connection (hiredis 0.14, synchronous).
 */


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "config.h"
#include "log.h"
#include "redis.h"


static redisReply *aw_redis_reply(aw_redis_t *r, redisReply *reply,
    const char *what);
static int aw_redis_connect_reply(aw_redis_t *r, redisContext *ctx,
    redisReply *reply, const char *what);
static char *aw_redis_errstr(redisContext *ctx);
static void aw_redis_lost(aw_redis_t *r, const char *reason);
static void aw_redis_set_error(aw_redis_t *r, const char *msg, size_t len);
static int aw_redis_script_argv(aw_redis_t *r, aw_script_t *s, int eval,
    int nkeys, int argc, const char **argv, const size_t *argvlen,
    const char **av, size_t *avlen, char *num);
static int aw_redis_noscript(aw_redis_t *r, redisReply *reply);


/* the most arguments a script takes: a dead job's fields and more */
#define AW_REDIS_SCRIPT_ARGS  192


void
aw_redis_init(aw_redis_t *r, const char *name)
{
    memset(r, 0, sizeof(aw_redis_t));

    r->name = name;
    r->port = 6379;
    r->timeout = 1000;

    aw_backoff_init(&r->backoff, 100, 5000);
}


/*
 * Takes new settings, used from the next connect (the caller closes the
 * connection to reconnect at once).
 */

int
aw_redis_configure(aw_redis_t *r, const char *host, int port,
    const char *password, aw_msec_t timeout, aw_msec_t reconnect_min,
    aw_msec_t reconnect_max)
{
    char  *h, *p;

    h = strdup(host);
    p = strdup(password);

    if (h == NULL || p == NULL) {
        free(h);
        free(p);
        aw_log(AW_LOG_ERR, "%s: out of memory", r->name);
        return AW_ERROR;
    }

    free(r->host);
    free(r->password);

    r->host = h;
    r->port = port;
    r->password = p;
    r->timeout = timeout;

    aw_backoff_bounds(&r->backoff, reconnect_min, reconnect_max);

    return AW_OK;
}


/*
 * One attempt to connect (and AUTH) now; on failure the next attempt is
 * scheduled with backoff.
 */

int
aw_redis_connect(aw_redis_t *r)
{
    char            *p, *end, min[32], max[32];
    aw_msec_t        now;
    redisReply      *reply;
    redisContext    *ctx;
    struct timeval   tv;

    aw_redis_close(r);

    now = aw_monotonic_msec();

    tv.tv_sec = r->timeout / 1000;
    tv.tv_usec = (r->timeout % 1000) * 1000;

    ctx = redisConnectWithTimeout(r->host, r->port, tv);

    if (ctx == NULL) {
        aw_redis_set_error(r, "out of memory", 13);
        goto failed;
    }

    if (ctx->err) {
        p = aw_redis_errstr(ctx);
        aw_redis_set_error(r, p, strlen(p));
        goto failed;
    }

    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        aw_redis_set_error(r, "cannot set timeout", 18);
        goto failed;
    }

    (void) redisEnableKeepAlive(ctx);

    if (r->password[0]) {
        reply = redisCommand(ctx, "AUTH %s", r->password);
        if (aw_redis_connect_reply(r, ctx, reply, "AUTH") != AW_OK) {
            goto failed;
        }

        freeReplyObject(reply);
    }

    /* proves the server answers (not LOADING) and names its version */

    reply = redisCommand(ctx, "INFO server");
    if (aw_redis_connect_reply(r, ctx, reply, "INFO") != AW_OK) {
        goto failed;
    }

    p = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        p = strstr(reply->str, "redis_version:");
    }

    if (p) {
        p += sizeof("redis_version:") - 1;
        end = p + strcspn(p, "\r\n");
    } else {
        p = end = "";
    }

    aw_log(AW_LOG_INFO, "%s: connected to %s:%d (redis %.*s)",
           r->name, r->host, r->port, (int) (end - p), p);

    freeReplyObject(reply);

    r->ctx = ctx;
    r->connects++;
    r->script_gen++;                /* a new server, maybe: no scripts */

    aw_backoff_reset(&r->backoff, now);
    r->down_logged = 0;
    r->error[0] = '\0';

    return AW_OK;

failed:

    if (ctx) {
        redisFree(ctx);
    }

    aw_backoff_fail(&r->backoff, now);

    aw_log(r->down_logged ? AW_LOG_DEBUG : AW_LOG_ERR,
           "%s: cannot connect to %s:%d: %s (retrying with backoff %s .. "
           "%s)", r->name, r->host, r->port, r->error,
           aw_conf_format_msec(min, sizeof(min), r->backoff.min),
           aw_conf_format_msec(max, sizeof(max), r->backoff.max));

    r->down_logged = 1;

    return AW_ERROR;
}


int
aw_redis_ready(aw_redis_t *r, aw_msec_t now)
{
    if (r->ctx) {
        return AW_OK;
    }

    if (!aw_backoff_due(&r->backoff, now)) {
        return AW_ERROR;
    }

    return aw_redis_connect(r);
}


void
aw_redis_close(aw_redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}


void
aw_redis_free(aw_redis_t *r)
{
    aw_redis_close(r);

    free(r->host);
    free(r->password);
    r->host = NULL;
    r->password = NULL;
}


aw_msec_t
aw_redis_wakeup(aw_redis_t *r)
{
    return r->ctx ? AW_MSEC_NEVER : r->backoff.next;
}


int
aw_redis_fd(aw_redis_t *r)
{
    return r->ctx ? r->ctx->fd : -1;
}


/*
 * The idle connection is readable: nothing is expected from the server
 * between commands, so it is EOF, an error, or data we cannot place.
 */

void
aw_redis_readable(aw_redis_t *r)
{
    char     c;
    ssize_t  n;

    if (r->ctx == NULL) {
        return;
    }

    n = recv(r->ctx->fd, &c, 1, MSG_PEEK|MSG_DONTWAIT);

    if (n == 0) {
        aw_redis_lost(r, "server closed the connection");

    } else if (n > 0) {
        aw_redis_lost(r, "unexpected data from server");

    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        aw_redis_lost(r, strerror(errno));
    }
}


/*
 * Runs a command; returns its reply (the caller freeReplyObject()s it), or
 * NULL if the connection is down or failed (it is then closed and a
 * reconnect scheduled) or if Redis answered with an error (kept in
 * r->error, e.g. "BUSYGROUP ...").
 */

redisReply *
aw_redis_command(aw_redis_t *r, const char *fmt, ...)
{
    va_list      args;
    redisReply  *reply;

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return NULL;
    }

    va_start(args, fmt);
    reply = redisvCommand(r->ctx, fmt, args);
    va_end(args);

    return aw_redis_reply(r, reply, fmt);
}


redisReply *
aw_redis_command_argv(aw_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    redisReply  *reply;

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return NULL;
    }

    reply = redisCommandArgv(r->ctx, argc, argv, argvlen);

    return aw_redis_reply(r, reply, argc > 0 ? argv[0] : "");
}


int
aw_redis_append(aw_redis_t *r, const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return AW_ERROR;
    }

    va_start(args, fmt);
    rc = redisvAppendCommand(r->ctx, fmt, args);
    va_end(args);

    if (rc != REDIS_OK) {
        aw_redis_lost(r, aw_redis_errstr(r->ctx));
        return AW_ERROR;
    }

    return AW_OK;
}


int
aw_redis_append_argv(aw_redis_t *r, int argc, const char **argv,
    const size_t *argvlen)
{
    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return AW_ERROR;
    }

    if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
        aw_redis_lost(r, aw_redis_errstr(r->ctx));
        return AW_ERROR;
    }

    return AW_OK;
}


redisReply *
aw_redis_get_reply(aw_redis_t *r)
{
    void  *reply;

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return NULL;
    }

    if (redisGetReply(r->ctx, &reply) != REDIS_OK || reply == NULL) {
        aw_redis_lost(r, aw_redis_errstr(r->ctx));
        return NULL;
    }

    (void) aw_redis_noscript(r, reply);

    return reply;
}


redisReply *
aw_redis_script(aw_redis_t *r, aw_script_t *s, int nkeys, int argc,
    const char **argv, const size_t *argvlen)
{
    int          n;
    char         num[16];
    size_t       avlen[AW_REDIS_SCRIPT_ARGS];
    redisReply  *reply;
    const char  *av[AW_REDIS_SCRIPT_ARGS];

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return NULL;
    }

    n = aw_redis_script_argv(r, s, s->gen != r->script_gen, nkeys, argc,
                             argv, argvlen, av, avlen, num);
    if (n < 0) {
        return NULL;
    }

    reply = redisCommandArgv(r->ctx, n, av, avlen);

    if (reply != NULL && aw_redis_noscript(r, reply)) {
        freeReplyObject(reply);

        n = aw_redis_script_argv(r, s, 1, nkeys, argc, argv, argvlen, av,
                                 avlen, num);
        reply = redisCommandArgv(r->ctx, n, av, avlen);
    }

    return aw_redis_reply(r, reply, s->s.name);
}


int
aw_redis_append_script(aw_redis_t *r, aw_script_t *s, int nkeys, int argc,
    const char **argv, const size_t *argvlen)
{
    int          n;
    char         num[16];
    size_t       avlen[AW_REDIS_SCRIPT_ARGS];
    const char  *av[AW_REDIS_SCRIPT_ARGS];

    if (r->ctx == NULL) {
        aw_redis_set_error(r, "not connected", 13);
        return AW_ERROR;
    }

    n = aw_redis_script_argv(r, s, s->gen != r->script_gen, nkeys, argc,
                             argv, argvlen, av, avlen, num);
    if (n < 0) {
        return AW_ERROR;
    }

    return aw_redis_append_argv(r, n, av, avlen);
}


/* EVAL TEXT (or EVALSHA SHA1) NKEYS argv...: the count of av, or -1 */

static int
aw_redis_script_argv(aw_redis_t *r, aw_script_t *s, int eval, int nkeys,
    int argc, const char **argv, const size_t *argvlen, const char **av,
    size_t *avlen, char *num)
{
    int  i;

    if (argc + 3 > AW_REDIS_SCRIPT_ARGS) {
        aw_redis_set_error(r, "too many script arguments", 25);
        aw_log(AW_LOG_ERR, "%s: %s: %d arguments, at most %d", r->name,
               s->s.name, argc, AW_REDIS_SCRIPT_ARGS - 3);
        return -1;
    }

    if (eval) {
        av[0] = "EVAL";
        av[1] = s->s.src;
        avlen[1] = s->s.len;
        s->gen = r->script_gen;

    } else {
        av[0] = "EVALSHA";
        av[1] = s->s.sha1;
        avlen[1] = AXON_SHA1_HEX_LEN;
    }

    avlen[0] = strlen(av[0]);

    snprintf(num, 16, "%d", nkeys);
    av[2] = num;
    avlen[2] = strlen(num);

    for (i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        avlen[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }

    return argc + 3;
}


/* Redis lost its scripts (SCRIPT FLUSH): each goes by EVAL again */

static int
aw_redis_noscript(aw_redis_t *r, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ERROR
        || strncmp(reply->str, "NOSCRIPT", 8) != 0)
    {
        return 0;
    }

    r->script_gen++;

    return 1;
}


static redisReply *
aw_redis_reply(aw_redis_t *r, redisReply *reply, const char *what)
{
    if (reply == NULL) {
        aw_redis_lost(r, aw_redis_errstr(r->ctx));
        return NULL;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        aw_redis_set_error(r, reply->str, reply->len);
        aw_log(AW_LOG_ERR, "%s: \"%.*s\" failed: %s", r->name,
               (int) strcspn(what, " "), what, r->error);
        freeReplyObject(reply);
        return NULL;
    }

    return reply;
}


static int
aw_redis_connect_reply(aw_redis_t *r, redisContext *ctx, redisReply *reply,
    const char *what)
{
    char  msg[256];

    if (reply == NULL) {
        snprintf(msg, sizeof(msg), "%s: %s", what, aw_redis_errstr(ctx));
        aw_redis_set_error(r, msg, strlen(msg));
        return AW_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(msg, sizeof(msg), "%s: %.*s", what, (int) reply->len,
                 reply->str);
        aw_redis_set_error(r, msg, strlen(msg));
        freeReplyObject(reply);
        return AW_ERROR;
    }

    return AW_OK;
}


static void
aw_redis_lost(aw_redis_t *r, const char *reason)
{
    char  msg[256];

    /* reason may be r->ctx->errstr, freed below */
    snprintf(msg, sizeof(msg), "%s", reason);

    aw_redis_set_error(r, msg, strlen(msg));

    aw_log(r->down_logged ? AW_LOG_DEBUG : AW_LOG_ERR,
           "%s: connection lost: %s", r->name, r->error);

    r->down_logged = 1;

    aw_redis_close(r);
    aw_backoff_fail(&r->backoff, aw_monotonic_msec());
}


/*
 * hiredis reports a timeout as the text of EAGAIN.
 */

static char *
aw_redis_errstr(redisContext *ctx)
{
    if (ctx->err == REDIS_ERR_IO && strcmp(ctx->errstr, strerror(EAGAIN)) == 0)
    {
        return "timed out";
    }

    return ctx->errstr[0] ? ctx->errstr : "no reply";
}


static void
aw_redis_set_error(aw_redis_t *r, const char *msg, size_t len)
{
    len = aw_min(len, sizeof(r->error) - 1);

    memmove(r->error, msg, len);
    r->error[len] = '\0';
}
