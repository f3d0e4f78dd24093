/*
 * `axon_gate session`: a request goes to the caller's running session.
 * Asked from Redis on every request (a session's container and port
 * change when it ends; the token cache does not hold them), the answer
 * is exported as $axon_upstream (host:port) and $axon_session for
 * proxy_pass and proxy_set_header.
 *
 * Liveness from traffic.  A WebSocket to a session (noVNC's) lives long
 * and needs no heartbeat: while bytes flow through it either way, every
 * axon_activity_interval one HSET axon:session:ID activity NOW tells the
 * worker's idle check the session is in use, so a desktop watched in a
 * background tab (whose timers the browser throttles) is not culled.  One
 * timer per proxied WebSocket, checking two counters; nothing per byte.
 */


#include "ngx_http_axon_module.h"


typedef struct {
    ngx_http_request_t       *request;
    ngx_event_t               ev;
    off_t                     down;       /* bytes to the client */
    off_t                     up;         /* bytes to the container */
} ngx_http_axon_activity_t;


static void ngx_http_axon_route_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_activity_start(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx);
static void ngx_http_axon_activity_check(ngx_event_t *ev);
static void ngx_http_axon_activity_stop(void *data);


/*
 * `axon_gate session`: the caller's running session, asked from Redis on
 * every request (a session's container and port change when it ends; the
 * token's cache does not hold them).  NGX_OK with ctx->gate_code set or
 * not, NGX_AGAIN, NGX_ERROR.
 */

ngx_int_t
ngx_http_axon_session_route(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx)
{
    static const axon_script_t  route = AXON_SCRIPT(SESSION_ROUTE);

    ngx_int_t                      rc;
    ngx_http_axon_session_args_t  *a;

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_axon_redis_script(r, ngx_http_axon_route_reply,
             NULL, &route, 1, 2,
             (const char *[]) { (const char *) a->wallet_key,
                                (const char *) a->now },
             (const size_t[]) { sizeof(a->wallet_key), a->now_len });

    if (rc == NGX_OK) {
        ctx->gate_waiting = 1;
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        ctx->gate_code = "redis_unavailable";
        return NGX_OK;
    }

    return NGX_ERROR;
}


static void
ngx_http_axon_route_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    u_char               *p, *last;
    redisReply          **e;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    ctx->gate_waiting = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        ctx->gate_code = "redis_unavailable";
        goto done;
    }

    e = reply->element;

    if (e[0]->integer == AXON_LIVE_NONE || reply->elements != 4) {
        ctx->gate_code = "no_session";
        goto done;
    }

    if (e[1]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING
        || e[3]->type != REDIS_REPLY_STRING)
    {
        ctx->gate_code = "no_session";
        goto done;
    }

    if (e[2]->len != 7 || ngx_strncmp(e[2]->str, "running", 7) != 0
        || e[3]->len == 0 || e[3]->len > NGX_SOCKADDR_STRLEN)
    {
        ctx->gate_code = "session_not_running";
        goto done;
    }

    /* host:port as the worker wrote it; nothing that could end a URL */

    last = (u_char *) e[3]->str + e[3]->len;

    for (p = (u_char *) e[3]->str; p < last; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
              || (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == ':'
              || *p == '-' || *p == '[' || *p == ']'))
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: session %*s: bad upstream in redis",
                          (size_t) e[1]->len, e[1]->str);
            ctx->gate_code = "session_not_running";
            goto done;
        }
    }

    ctx->upstream.data = ngx_pnalloc(r->pool, e[3]->len + e[1]->len);
    if (ctx->upstream.data == NULL) {
        ctx->gate_code = "session_not_running";
        goto done;
    }

    ctx->upstream.len = e[3]->len;
    ngx_memcpy(ctx->upstream.data, e[3]->str, e[3]->len);

    ctx->session_id.data = ctx->upstream.data + e[3]->len;
    ctx->session_id.len = e[1]->len;
    ngx_memcpy(ctx->session_id.data, e[1]->str, e[1]->len);

    ctx->gate_code = NULL;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon route: session %V at %V", &ctx->session_id,
                   &ctx->upstream);

    if (r->headers_in.upgrade) {
        ngx_http_axon_activity_start(r, ctx);
    }

done:

    if (ctx->gate_code) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon route: none: %s", ctx->gate_code);
    }

    ngx_http_axon_gate_resume(r);
}


/* a proxied WebSocket: its activity timer (see the head of this file) */

static void
ngx_http_axon_activity_start(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_axon_activity_t   *act;
    ngx_http_axon_loc_conf_t   *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_axon_activity_t));
    if (cln == NULL) {
        return;
    }

    act = cln->data;
    ngx_memzero(act, sizeof(ngx_http_axon_activity_t));

    act->request = r;
    act->ev.handler = ngx_http_axon_activity_check;
    act->ev.data = act;
    act->ev.log = r->connection->log;
    act->ev.cancelable = 1;

    cln->handler = ngx_http_axon_activity_stop;

    ngx_add_timer(&act->ev, alcf->activity_interval);
}


static void
ngx_http_axon_activity_check(ngx_event_t *ev)
{
    ngx_http_axon_activity_t  *act = ev->data;

    off_t                      down, up;
    u_char                     key[sizeof(AXON_KEY_SESSION) + NGX_INT64_LEN];
    u_char                     now[NGX_TIME_T_LEN];
    size_t                     key_len, now_len;
    ngx_http_request_t        *r;
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    r = act->request;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    down = r->connection->sent;
    up = (r->upstream && r->upstream->peer.connection)
         ? r->upstream->peer.connection->sent : act->up;

    if (ctx && (down != act->down || up != act->up)) {
        act->down = down;
        act->up = up;

        if (ctx->session_id.len <= NGX_INT64_LEN) {
            key_len = ngx_sprintf(key, AXON_KEY_SESSION "%V",
                                  &ctx->session_id)
                      - key;
            now_len = ngx_sprintf(now, "%T", ngx_time()) - now;

            /*
             * No request waits for it, and nothing is taken from the
             * stream's pool, which lives as long as the stream: a tick
             * that allocated there grew it by ~140 bytes each time.
             * Redis down: the next check tries again.
             */
            (void) ngx_http_axon_redis_command(NULL, NULL, NULL, 4,
                       (const char *[]) {
                           "HSET", (const char *) key,
                           AXON_SESSION_ACTIVITY, (const char *) now },
                       (const size_t[]) {
                           4, key_len, sizeof(AXON_SESSION_ACTIVITY) - 1,
                           now_len });
        }
    }

    ngx_add_timer(&act->ev, alcf->activity_interval);
}


static void
ngx_http_axon_activity_stop(void *data)
{
    ngx_http_axon_activity_t  *act = data;

    if (act->ev.timer_set) {
        ngx_del_timer(&act->ev);
    }
}


/* $axon_upstream, $axon_session */

ngx_int_t
ngx_http_axon_session_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            *s;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
