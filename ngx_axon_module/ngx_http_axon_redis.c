/*
 * ngx_http_axon_redis: one hiredis async connection per worker process,
 * driven by nginx's own event loop.
 *
 * The socket hiredis opens is wrapped in an ngx_connection_t; hiredis'
 * addRead/delRead/addWrite/delWrite hooks become level-triggered nginx
 * events (hiredis reads at most one buffer per call, so edge-triggered
 * events could strand data).  With axon_redis_password, AUTH is the first
 * command, and the connection is up only once Redis accepted it.
 *
 * hiredis 0.14 has no timeouts: every wait is an nginx timer.  A connect
 * that takes too long, or a command whose reply does not come in time,
 * drops the connection; hiredis then calls every pending command's
 * callback with a NULL reply, so every waiting request gets its answer
 * (503) at once and nothing leaks.  Reconnects back off from 50ms to 1s.
 *
 * Writes are coalesced: a command issued while handling an event does not
 * arm the socket's write event (two epoll_ctl calls a command) but posts
 * it, so every command of one event-loop pass leaves in one write(2), a
 * pipeline; only a write that cannot finish arms the real event.
 *
 * Scripts go as EVALSHA with the SHA1 computed at build time: no load step
 * at start.  A Redis that has not seen the script (restarted, SCRIPT FLUSH)
 * answers NOSCRIPT, and that one command goes again as EVAL with the text,
 * which caches the script for the next ones; the caller sees one reply.
 *
 * A command's state lives in a small heap block, not in the request pool:
 * the request may finish (client gone) before Redis answers, and hiredis
 * still owns the callback until then.
 */


#include "ngx_http_axon_module.h"

#include <hiredis/async.h>


#define NGX_HTTP_AXON_REDIS_BACKOFF_MIN  50
#define NGX_HTTP_AXON_REDIS_BACKOFF_MAX  1000


typedef enum {
    NGX_HTTP_AXON_REDIS_DOWN = 0,
    NGX_HTTP_AXON_REDIS_CONNECTING,
    NGX_HTTP_AXON_REDIS_UP
} ngx_http_axon_redis_state_e;


typedef struct {
    redisAsyncContext            *ac;
    ngx_connection_t             *conn;
    ngx_http_axon_redis_state_e   state;
    ngx_event_t                   timer;     /* connect timeout, backoff */
    ngx_msec_t                    backoff;
    ngx_msec_t                    timeout;
    ngx_url_t                    *url;
    ngx_str_t                     password;
    ngx_log_t                    *log;
    unsigned                      quiet:1;    /* "down" already logged */
    unsigned                      exiting:1;
    unsigned                      writing:1;  /* in redisAsyncHandleWrite */
} ngx_http_axon_redis_t;


typedef struct {
    ngx_http_request_t              *request;  /* NULL: request gone */
    ngx_http_axon_redis_handler_pt   handler;
    void                            *data;
    ngx_event_t                      timer;
    ngx_msec_t                       sent;     /* for the round trip */
    ngx_pool_cleanup_t              *cleanup;

    /* a script's EVALSHA, kept to go again as EVAL on NOSCRIPT */
    const axon_script_t             *script;
    char                            *cmd;      /* RESP, hiredis-allocated */
    size_t                           cmd_len;
    size_t                           tail;     /* where numkeys begins */
    int                              argc;
} ngx_http_axon_redis_op_t;


static void ngx_http_axon_redis_connect(void);
static void ngx_http_axon_redis_log_down(const char *why);
static void ngx_http_axon_redis_schedule(ngx_msec_t delay);
static void ngx_http_axon_redis_drop(const char *reason);
static void ngx_http_axon_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_axon_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_axon_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_axon_redis_authed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_axon_redis_ready(ngx_http_axon_redis_t *rd);
static void ngx_http_axon_redis_read_handler(ngx_event_t *ev);
static void ngx_http_axon_redis_write_handler(ngx_event_t *ev);
static void ngx_http_axon_redis_add_read(void *data);
static void ngx_http_axon_redis_del_read(void *data);
static void ngx_http_axon_redis_add_write(void *data);
static void ngx_http_axon_redis_del_write(void *data);
static void ngx_http_axon_redis_cleanup(void *data);
static void ngx_http_axon_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_http_axon_redis_op_t *ngx_http_axon_redis_op(
    ngx_http_request_t *r, ngx_http_axon_redis_handler_pt handler,
    void *data);
static void ngx_http_axon_redis_op_sent(ngx_http_axon_redis_op_t *op);
static void ngx_http_axon_redis_op_free(ngx_http_axon_redis_op_t *op);
static ngx_int_t ngx_http_axon_redis_noscript(ngx_http_axon_redis_op_t *op,
    redisReply *reply);
static void ngx_http_axon_redis_op_timeout(ngx_event_t *ev);
static void ngx_http_axon_redis_op_cleanup(void *data);


static ngx_http_axon_redis_t  ngx_http_axon_redis;


ngx_int_t
ngx_http_axon_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_axon_main_conf_t *amcf)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    ngx_memzero(rd, sizeof(ngx_http_axon_redis_t));

    rd->url = &amcf->redis;
    rd->password = amcf->redis_password;
    rd->timeout = amcf->redis_timeout;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_AXON_REDIS_BACKOFF_MIN;

    rd->timer.handler = ngx_http_axon_redis_timer_handler;
    rd->timer.data = rd;
    rd->timer.log = cycle->log;
    rd->timer.cancelable = 1;

    ngx_http_axon_redis_connect();

    return NGX_OK;
}


void
ngx_http_axon_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    rd->exiting = 1;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->ac) {
        ngx_http_axon_redis_drop(NULL);
    }
}


ngx_uint_t
ngx_http_axon_redis_up(void)
{
    return ngx_http_axon_redis.state == NGX_HTTP_AXON_REDIS_UP;
}


/*
 * Sends a command.  NGX_OK: the handler will be called exactly once, later.
 * NGX_DECLINED: Redis is not connected (answer 503 now); NGX_ERROR: no
 * memory.  In neither failure case is the handler called.  r NULL: a
 * command no request waits for (no handler; its reply only counted), and
 * that takes nothing from a request's pool: what a long-lived request
 * sends again and again (a WebSocket's activity) would grow it until it
 * ends.
 */

ngx_int_t
ngx_http_axon_redis_command(ngx_http_request_t *r,
    ngx_http_axon_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_axon_redis_op_t  *op;

    if (ngx_http_axon_redis.state != NGX_HTTP_AXON_REDIS_UP) {
        return NGX_DECLINED;
    }

    op = ngx_http_axon_redis_op(r, handler, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    if (redisAsyncCommandArgv(ngx_http_axon_redis.ac,
                              ngx_http_axon_redis_reply, op, argc, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_http_axon_redis_op_free(op);
        return NGX_DECLINED;
    }

    ngx_http_axon_redis_op_sent(op);

    return NGX_OK;
}


/*
 * Runs a script of lua/ with the first nkeys of its n arguments as keys:
 * EVALSHA, then EVAL on NOSCRIPT.  Returns as ngx_http_axon_redis_command;
 * the handler sees the script's reply, never NOSCRIPT.
 */

ngx_int_t
ngx_http_axon_redis_script(ngx_http_request_t *r,
    ngx_http_axon_redis_handler_pt handler, void *data,
    const axon_script_t *script, ngx_uint_t nkeys, ngx_uint_t n,
    const char **args, const size_t *lens)
{
    int                        len;
    u_char                     nk[NGX_INT_T_LEN], head[64];
    ngx_uint_t                 i;
    const char                *argv[NGX_HTTP_AXON_SCRIPT_ARGS + 3];
    size_t                     argvlen[NGX_HTTP_AXON_SCRIPT_ARGS + 3];
    ngx_http_axon_redis_op_t  *op;

    if (n > NGX_HTTP_AXON_SCRIPT_ARGS) {
        return NGX_ERROR;
    }

    if (ngx_http_axon_redis.state != NGX_HTTP_AXON_REDIS_UP) {
        return NGX_DECLINED;
    }

    argv[0] = "EVALSHA";
    argvlen[0] = sizeof("EVALSHA") - 1;
    argv[1] = script->sha1;
    argvlen[1] = AXON_SHA1_HEX_LEN;
    argv[2] = (const char *) nk;
    argvlen[2] = ngx_sprintf(nk, "%ui", nkeys) - nk;

    for (i = 0; i < n; i++) {
        argv[3 + i] = args[i];
        argvlen[3 + i] = lens[i];
    }

    op = ngx_http_axon_redis_op(r, handler, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->script = script;
    op->argc = (int) (n + 3);

    len = redisFormatCommandArgv(&op->cmd, op->argc, argv, argvlen);
    if (len < 0) {
        ngx_http_axon_redis_op_free(op);
        return NGX_ERROR;
    }

    op->cmd_len = (size_t) len;

    /* the EVALSHA and the SHA1 as RESP: numkeys and the rest follow */
    op->tail = ngx_sprintf(head, "*%d\r\n$7\r\nEVALSHA\r\n$%d\r\n",
                           op->argc, AXON_SHA1_HEX_LEN)
               - head + AXON_SHA1_HEX_LEN + 2;

    if (redisAsyncFormattedCommand(ngx_http_axon_redis.ac,
                                   ngx_http_axon_redis_reply, op, op->cmd,
                                   op->cmd_len)
        != REDIS_OK)
    {
        ngx_http_axon_redis_op_free(op);
        return NGX_DECLINED;
    }

    ngx_http_axon_redis_op_sent(op);

    return NGX_OK;
}


static ngx_http_axon_redis_op_t *
ngx_http_axon_redis_op(ngx_http_request_t *r,
    ngx_http_axon_redis_handler_pt handler, void *data)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_axon_redis_op_t  *op;

    cln = NULL;

    if (r) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }
    }

    op = ngx_calloc(sizeof(ngx_http_axon_redis_op_t),
                    r ? r->connection->log : ngx_http_axon_redis.log);
    if (op == NULL) {
        return NULL;
    }

    op->request = r;
    op->handler = handler;
    op->data = data;
    op->cleanup = cln;

    return op;
}


/* hiredis owns the op's callback now: the request may go, the wait counts */

static void
ngx_http_axon_redis_op_sent(ngx_http_axon_redis_op_t *op)
{
    if (op->cleanup) {
        op->cleanup->handler = ngx_http_axon_redis_op_cleanup;
        op->cleanup->data = op;
    }

    op->timer.handler = ngx_http_axon_redis_op_timeout;
    op->timer.data = op;
    op->timer.log = op->request ? op->request->connection->log
                                : ngx_http_axon_redis.log;
    ngx_add_timer(&op->timer, ngx_http_axon_redis.timeout);
    op->sent = ngx_current_msec;
}


static void
ngx_http_axon_redis_op_free(ngx_http_axon_redis_op_t *op)
{
    if (op->cmd) {
        redisFreeCommand(op->cmd);
    }

    ngx_free(op);
}


static void
ngx_http_axon_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_http_axon_redis_op_t  *op = privdata;

    redisReply          *rr = reply;
    ngx_http_request_t  *r;

    r = op->request;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    if (op->script && rr && rr->type == REDIS_REPLY_ERROR
        && rr->len >= 8 && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0)
    {
        if (ngx_http_axon_redis_noscript(op, rr) == NGX_OK) {
            return;
        }

        rr = NULL;
    }

    if (rr) {
        ngx_http_axon_metrics_rtt(ngx_current_msec - op->sent);

    } else {
        ngx_http_axon_count(redis_errors[NGX_HTTP_AXON_REDIS_ERR_FAILED]);
    }

    if (rr && rr->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_count(redis_errors[NGX_HTTP_AXON_REDIS_ERR_REPLY]);
    }

    if (r) {
        op->cleanup->handler = NULL;

        if (rr && rr->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: redis error: %s", rr->str);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon redis: reply: %s",
                       rr == NULL ? "none (redis failed)"
                       : rr->type == REDIS_REPLY_STRING ? "string"
                       : rr->type == REDIS_REPLY_ARRAY ? "array"
                       : rr->type == REDIS_REPLY_INTEGER ? "integer"
                       : rr->type == REDIS_REPLY_NIL ? "nil"
                       : rr->type == REDIS_REPLY_STATUS ? "status"
                       : "error");

        op->handler(r, rr, op->data);
    }

    ngx_http_axon_redis_op_free(op);
}


/*
 * Redis does not know the script: the same command as EVAL with its text,
 * which Redis caches.  It goes even when the request is gone, as the
 * EVALSHA would have run: a logout whose client left still revokes.
 * NGX_OK: sent, the op waits again.
 */

static ngx_int_t
ngx_http_axon_redis_noscript(ngx_http_axon_redis_op_t *op, redisReply *reply)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    u_char     *cmd, *p;
    size_t      len;
    ngx_log_t  *log;
    ngx_int_t   rc;

    log = op->request ? op->request->connection->log : rd->log;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "axon redis: script %s not cached, sending it",
                   op->script->name);

    if (rd->ac == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("*\r\n$4\r\nEVAL\r\n$\r\n\r\n") - 1 + 2 * NGX_INT_T_LEN
          + op->script->len + op->cmd_len - op->tail;

    cmd = ngx_alloc(len, log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(cmd, "*%d\r\n$4\r\nEVAL\r\n$%uz\r\n", op->argc,
                    op->script->len);
    p = ngx_cpymem(p, op->script->src, op->script->len);
    *p++ = '\r';
    *p++ = '\n';
    p = ngx_cpymem(p, op->cmd + op->tail, op->cmd_len - op->tail);

    /* once is enough: a second NOSCRIPT is an error like any other */
    op->script = NULL;

    rc = redisAsyncFormattedCommand(rd->ac, ngx_http_axon_redis_reply, op,
                                    (char *) cmd, p - cmd);
    ngx_free(cmd);

    if (rc != REDIS_OK) {
        return NGX_ERROR;
    }

    op->timer.log = log;
    ngx_add_timer(&op->timer, rd->timeout);

    return NGX_OK;
}


static void
ngx_http_axon_redis_op_timeout(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "axon: redis did not answer in %M ms, reconnecting",
                  ngx_http_axon_redis.timeout);

    ngx_http_axon_count(redis_errors[NGX_HTTP_AXON_REDIS_ERR_TIMEOUT]);

    /* fails every pending command, this one included */
    ngx_http_axon_redis_drop("command timed out");
}


static void
ngx_http_axon_redis_op_cleanup(void *data)
{
    ngx_http_axon_redis_op_t  *op = data;

    /* the request is gone before Redis answered */

    op->request = NULL;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }
}


static void
ngx_http_axon_redis_connect(void)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    u_char                 text[NGX_SOCKADDR_STRLEN + 1];
    size_t                 len;
    redisAsyncContext     *ac;
    ngx_connection_t      *c;
#if (NGX_HAVE_UNIX_DOMAIN)
    struct sockaddr_un    *sun;
#endif

#if (NGX_HAVE_UNIX_DOMAIN)
    if (rd->url->family == AF_UNIX) {
        sun = (struct sockaddr_un *) rd->url->addrs[0].sockaddr;
        ac = redisAsyncConnectUnix(sun->sun_path);
    } else
#endif
    {
        /* the address was resolved by nginx at configuration time */
        len = ngx_sock_ntop(rd->url->addrs[0].sockaddr,
                            rd->url->addrs[0].socklen, text,
                            NGX_SOCKADDR_STRLEN, 0);
        text[len] = '\0';

        ac = redisAsyncConnect((char *) text, (int) rd->url->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "axon: redis: cannot allocate a context");
        ngx_http_axon_redis_schedule(NGX_HTTP_AXON_REDIS_BACKOFF_MAX);
        return;
    }

    if (ac->err) {
        ngx_http_axon_redis_log_down(ac->errstr);
        redisAsyncFree(ac);
        ngx_http_axon_redis_schedule(rd->backoff);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_axon_redis_schedule(NGX_HTTP_AXON_REDIS_BACKOFF_MAX);
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_axon_redis_read_handler;
    c->write->handler = ngx_http_axon_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->ac = ac;
    rd->conn = c;
    rd->state = NGX_HTTP_AXON_REDIS_CONNECTING;

    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_axon_redis_add_read;
    ac->ev.delRead = ngx_http_axon_redis_del_read;
    ac->ev.addWrite = ngx_http_axon_redis_add_write;
    ac->ev.delWrite = ngx_http_axon_redis_del_write;
    ac->ev.cleanup = ngx_http_axon_redis_cleanup;

    redisAsyncSetDisconnectCallback(ac, ngx_http_axon_redis_disconnected);

    /* waits for the first write event, which completes the connect */
    redisAsyncSetConnectCallback(ac, ngx_http_axon_redis_connected);

    ngx_add_timer(&rd->timer, rd->timeout);
}


static void
ngx_http_axon_redis_log_down(const char *why)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    ngx_http_axon_count(redis_errors[NGX_HTTP_AXON_REDIS_ERR_CONNECT]);

    /* one line per outage, not one per retry */

    if (!rd->quiet) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "axon: redis: cannot connect to %V: %s, "
                      "retrying every %d ms at most",
                      &rd->url->url, why ? why : "unknown error",
                      NGX_HTTP_AXON_REDIS_BACKOFF_MAX);
        rd->quiet = 1;
    }
}


static void
ngx_http_axon_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_axon_redis_t  *rd = ac->ev.data;

    const char  *argv[2];
    size_t       argvlen[2];

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (status != REDIS_OK) {
        ngx_http_axon_redis_log_down(ac->errstr);

        /* hiredis frees the context when this callback returns */
        rd->ac = NULL;
        rd->state = NGX_HTTP_AXON_REDIS_DOWN;
        ngx_http_axon_redis_schedule(rd->backoff);
        return;
    }

    if (rd->password.len == 0) {
        ngx_http_axon_redis_ready(rd);
        return;
    }

    /* still "connecting" until AUTH is answered, within the same timeout */

    argv[0] = "AUTH";
    argvlen[0] = 4;
    argv[1] = (const char *) rd->password.data;
    argvlen[1] = rd->password.len;

    if (redisAsyncCommandArgv((redisAsyncContext *) ac,
                              ngx_http_axon_redis_authed, NULL, 2, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_http_axon_redis_log_down("cannot send AUTH");
        ngx_http_axon_redis_drop("cannot send AUTH");
        return;
    }

    ngx_add_timer(&rd->timer, rd->timeout);
}


static void
ngx_http_axon_redis_authed(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_http_axon_redis_t  *rd = ac->ev.data;

    redisReply  *r = reply;
    u_char       why[320];

    if (r == NULL || rd->ac != ac) {
        /* the connection went away first: that path reconnects */
        return;
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (r->type == REDIS_REPLY_ERROR) {
        /* Redis's refusals run to ~150 bytes ("... Are you sure your
         * configuration is correct?"): whole, or cut with a mark */
        *ngx_snprintf(why, sizeof(why) - 1, "AUTH refused: %*s%s",
                      ngx_min(r->len, 256), r->str,
                      r->len > 256 ? "..." : "") = '\0';
        ngx_http_axon_redis_log_down((char *) why);
        ngx_http_axon_redis_drop((char *) why);
        return;
    }

    ngx_http_axon_redis_ready(rd);
}


static void
ngx_http_axon_redis_ready(ngx_http_axon_redis_t *rd)
{
    ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                  "axon: redis: connected to %V%s", &rd->url->url,
                  rd->password.len ? " (authenticated)" : "");

    rd->state = NGX_HTTP_AXON_REDIS_UP;
    rd->quiet = 0;
    rd->backoff = NGX_HTTP_AXON_REDIS_BACKOFF_MIN;
}


static void
ngx_http_axon_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_axon_redis_t  *rd = ac->ev.data;

    if (rd->ac != ac) {
        /* dropped by us: ngx_http_axon_redis_drop() scheduled what's next */
        return;
    }

    rd->ac = NULL;
    rd->state = NGX_HTTP_AXON_REDIS_DOWN;

    if (rd->exiting) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "axon: redis: connection to %V lost: %s",
                      &rd->url->url, ac->errstr ? ac->errstr : "closed");
    }

    rd->backoff = NGX_HTTP_AXON_REDIS_BACKOFF_MIN;
    ngx_http_axon_redis_schedule(0);
}


/*
 * Drops the connection now: hiredis calls every pending callback with a
 * NULL reply, then our cleanup, then (if it was up) the disconnect callback.
 */

static void
ngx_http_axon_redis_drop(const char *reason)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    redisAsyncContext  *ac;

    ac = rd->ac;
    if (ac == NULL) {
        return;
    }

    rd->ac = NULL;
    rd->state = NGX_HTTP_AXON_REDIS_DOWN;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    redisAsyncFree(ac);

    if (reason && !rd->exiting) {
        ngx_http_axon_redis_schedule(rd->backoff);
    }
}


static void
ngx_http_axon_redis_schedule(ngx_msec_t delay)
{
    ngx_http_axon_redis_t  *rd = &ngx_http_axon_redis;

    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (delay) {
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_AXON_REDIS_BACKOFF_MAX);
    }

    ngx_add_timer(&rd->timer, delay ? delay : 1);
}


static void
ngx_http_axon_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_axon_redis_t  *rd = ev->data;

    if (rd->state == NGX_HTTP_AXON_REDIS_CONNECTING) {
        ngx_http_axon_redis_log_down("connect timed out");
        ngx_http_axon_redis_drop("connect timed out");
        return;
    }

    if (rd->state == NGX_HTTP_AXON_REDIS_DOWN && rd->ac == NULL) {
        ngx_http_axon_redis_connect();
    }
}


static void
ngx_http_axon_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t       *c = ev->data;
    ngx_http_axon_redis_t  *rd = c->data;

    /* may free the context and c */
    if (rd->ac) {
        redisAsyncHandleRead(rd->ac);
    }
}


static void
ngx_http_axon_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t       *c = ev->data;
    ngx_http_axon_redis_t  *rd = c->data;

    if (rd->ac) {
        /* an unfinished write calls add_write, which then arms the event */
        rd->writing = 1;
        redisAsyncHandleWrite(rd->ac);
        rd->writing = 0;
    }
}


static void
ngx_http_axon_redis_add_read(void *data)
{
    ngx_http_axon_redis_t  *rd = data;

    if (rd->conn && !rd->conn->read->active) {
        (void) ngx_add_event(rd->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_axon_redis_del_read(void *data)
{
    ngx_http_axon_redis_t  *rd = data;

    if (rd->conn && rd->conn->read->active) {
        (void) ngx_del_event(rd->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_axon_redis_add_write(void *data)
{
    ngx_http_axon_redis_t  *rd = data;

    ngx_event_t  *wev;

    if (rd->conn == NULL) {
        return;
    }

    wev = rd->conn->write;

    if (rd->state == NGX_HTTP_AXON_REDIS_UP && !rd->writing) {
        /* a new command: write it (and the others of this pass) soon */
        if (!wev->active && !wev->posted) {
            ngx_post_event(wev, &ngx_posted_events);
        }

        return;
    }

    /* connecting, or the socket's buffer is full: wait until writable */

    if (!wev->active) {
        (void) ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_axon_redis_del_write(void *data)
{
    ngx_http_axon_redis_t  *rd = data;

    if (rd->conn && rd->conn->write->active) {
        (void) ngx_del_event(rd->conn->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


/*
 * hiredis is about to close the socket: forget the nginx side of it.  May be
 * called more than once for one context.
 */

static void
ngx_http_axon_redis_cleanup(void *data)
{
    ngx_http_axon_redis_t  *rd = data;

    ngx_connection_t  *c;

    c = rd->conn;
    if (c == NULL) {
        return;
    }

    rd->conn = NULL;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    /* the socket is hiredis' to close */
    c->fd = (ngx_socket_t) -1;
}
