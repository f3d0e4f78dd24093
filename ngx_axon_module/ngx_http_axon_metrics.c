/*
 * ngx_http_axon_metrics: the gate's counters, and `axon_metrics`, the
 * handler that writes them in Prometheus' text exposition format.
 *
 * The counters are one fixed struct (ngx_http_axon_metrics.h) in the
 * shared-memory zone "axon_metrics", allocated once when the zone is set
 * up: a request adds to them with ngx_atomic_fetch_add, no lock, no
 * allocation.  Each label value is an index into a fixed table, never
 * request input, so the series stay few whatever clients send.  A reload
 * keeps the counters; a restart starts them at 0, as Prometheus expects
 * of a counter.
 *
 * Requests are counted in the log phase, by route and status, for the
 * requests the module answered (those with its ctx): the API's routes,
 * and "gate" for the access check of an `axon_gate` location or of an API
 * route that needs a wallet and was refused there.  nginx's own answers
 * before the module (limit_req's 429) are not the module's.
 */


#include "ngx_http_axon_module.h"


typedef struct {
    ngx_http_axon_metrics_t  *sh;
} ngx_http_axon_metrics_zone_t;


static ngx_int_t ngx_http_axon_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_axon_metrics_log(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_metrics_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_axon_metrics_status(ngx_uint_t status);
static ngx_str_t *ngx_http_axon_metrics_route_name(ngx_uint_t i);
static u_char *ngx_http_axon_metrics_requests(u_char *p,
    ngx_http_axon_metrics_t *m);
static u_char *ngx_http_axon_metrics_gate(u_char *p,
    ngx_http_axon_metrics_t *m);
static u_char *ngx_http_axon_metrics_redis(u_char *p,
    ngx_http_axon_metrics_t *m);


ngx_http_axon_metrics_t  *ngx_http_axon_metrics;


static ngx_uint_t  ngx_http_axon_metrics_statuses[NGX_HTTP_AXON_STATUSES] = {
    101, 200, 201, 202, 204, 302, 304, 400, 401, 402, 403, 404, 405, 409,
    410, 413, 415, 429, 499, 500, 502, 503, 504,
    0   /* other */
};


/* index 0 is a sign-in that succeeded; the last one any other refusal */
static const char  *ngx_http_axon_metrics_reasons[] = {
    "ok",
    "bad_message",
    "domain_mismatch",
    "uri_mismatch",
    "chain_mismatch",
    "expired",
    "not_yet_valid",
    "bad_signature_length",
    "bad_signature_hex",
    "bad_signature_v",
    "bad_signature_high_s",
    "bad_signature",
    "wrong_signer",
    "unknown_nonce",
    "redis_unavailable",
    "other",
    NULL
};


static ngx_str_t  ngx_http_axon_metrics_fixed_routes[] = {
    ngx_string("gate"),
    ngx_string("unknown"),
    ngx_string("x402_discovery")
};


/* milliseconds: nginx's clock is its cached millisecond time */
static ngx_uint_t  ngx_http_axon_metrics_rtt_le[NGX_HTTP_AXON_RTT_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};


static const char  *ngx_http_axon_metrics_redis_errors[] = {
    "connect", "timeout", "failed", "reply"
};


static const char  *ngx_http_axon_metrics_x402[] = {
    "malformed", "refused", "busy", "queued"
};


/* postconfiguration: the log-phase counter */

ngx_int_t
ngx_http_axon_metrics_init(ngx_conf_t *cf)
{
    ngx_uint_t                  n;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    for (n = 0; ngx_http_axon_metrics_route_name(n); n++) { /* void */ }

    if (n > NGX_HTTP_AXON_ROUTES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "axon: %ui routes, NGX_HTTP_AXON_ROUTES is %d",
                           n, NGX_HTTP_AXON_ROUTES);
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_axon_metrics_log;

    return NGX_OK;
}


/* the zone, where some location uses axon */

char *
ngx_http_axon_metrics_zone(ngx_conf_t *cf)
{
    size_t                         size;
    ngx_shm_zone_t                *zone;
    ngx_http_axon_metrics_zone_t  *mz;

    static ngx_str_t  name = ngx_string("axon_metrics");

    mz = ngx_pcalloc(cf->pool, sizeof(ngx_http_axon_metrics_zone_t));
    if (mz == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the slab pool's own pages, and the struct */
    size = 8 * ngx_pagesize
           + ngx_align(sizeof(ngx_http_axon_metrics_t), ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_axon_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->init = ngx_http_axon_metrics_init_zone;
    zone->data = mz;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_axon_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_axon_metrics_zone_t  *omz = data;

    ngx_slab_pool_t               *shpool;
    ngx_http_axon_metrics_zone_t  *mz;

    mz = shm_zone->data;

    if (omz) {
        /* a reload: the counters go on */
        mz->sh = omz->sh;
        ngx_http_axon_metrics = mz->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mz->sh = shpool->data;
        ngx_http_axon_metrics = mz->sh;
        return NGX_OK;
    }

    mz->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_axon_metrics_t));
    if (mz->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = mz->sh;
    ngx_http_axon_metrics = mz->sh;

    return NGX_OK;
}


/* axon_metrics: this location answers with the counters */

char *
ngx_http_axon_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                       *rv;
    ngx_http_axon_main_conf_t  *amcf;

    rv = ngx_http_axon_content_handler(cf, ngx_http_axon_metrics_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


/* the route the module answers a request by; one line at each */

void
ngx_http_axon_metrics_route(ngx_http_request_t *r, ngx_uint_t route)
{
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_axon_get_ctx(r);

    if (ctx) {
        ctx->route = route;
    }
}


/* a sign-in's outcome: code NULL when it succeeded */

void
ngx_http_axon_metrics_signin(const char *code)
{
    ngx_uint_t  i;

    if (ngx_http_axon_metrics == NULL) {
        return;
    }

    i = 0;

    if (code) {
        for (i = 1; ngx_http_axon_metrics_reasons[i + 1]; i++) {
            if (ngx_strcmp(code, ngx_http_axon_metrics_reasons[i]) == 0) {
                break;
            }
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->signins[i], 1);
}


/* a Redis command's round trip, from the write to the reply */

void
ngx_http_axon_metrics_rtt(ngx_msec_t ms)
{
    ngx_uint_t  i;

    if (ngx_http_axon_metrics == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_AXON_RTT_BUCKETS; i++) {
        if (ms <= ngx_http_axon_metrics_rtt_le[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->redis_rtt[i], 1);
    (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->redis_rtt_sum, ms);
}


/* the gate of an axon_gate location let an upgrade request through */

void
ngx_http_axon_metrics_websocket(ngx_http_request_t *r)
{
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (alcf->gate == NGX_HTTP_AXON_GATE_OFF || ctx == NULL
        || ctx->websocket || r->headers_in.upgrade == NULL
        || ngx_http_axon_metrics == NULL)
    {
        return;
    }

    ctx->websocket = 1;
    (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->ws_open, 1);
    (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->ws_total, 1);
}


static ngx_int_t
ngx_http_axon_metrics_log(ngx_http_request_t *r)
{
    off_t                     in;
    ngx_uint_t                status;
    ngx_http_axon_ctx_t      *ctx;
    ngx_http_axon_metrics_t  *m;

    m = ngx_http_axon_metrics;
    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || m == NULL) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    (void) ngx_atomic_fetch_add(
               &m->requests[ctx->route][ngx_http_axon_metrics_status(status)],
               1);

    if (!ctx->websocket) {
        return NGX_OK;
    }

    (void) ngx_atomic_fetch_add(&m->ws_open, (ngx_atomic_int_t) -1);

    if (status == NGX_HTTP_SWITCHING_PROTOCOLS) {
        in = (r->upstream && r->upstream->state)
             ? r->upstream->state->bytes_sent : 0;

        (void) ngx_atomic_fetch_add(&m->ws_bytes_in, in);
        (void) ngx_atomic_fetch_add(&m->ws_bytes_out, r->connection->sent);
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_axon_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_AXON_STATUSES - 1; i++) {
        if (ngx_http_axon_metrics_statuses[i] == status) {
            break;
        }
    }

    return i;
}


static ngx_str_t *
ngx_http_axon_metrics_route_name(ngx_uint_t i)
{
    if (i < NGX_HTTP_AXON_ROUTE_API) {
        return &ngx_http_axon_metrics_fixed_routes[i];
    }

    return ngx_http_axon_api_route_name(i - NGX_HTTP_AXON_ROUTE_API);
}


/*
 * GET /metrics.  The text is at most one line per counter: its size is
 * known before it is written.
 */

static ngx_int_t
ngx_http_axon_metrics_handler(ngx_http_request_t *r)
{
    size_t                    size;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_http_axon_metrics_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_axon_metrics;

    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    size = (sizeof(m->requests) / sizeof(ngx_atomic_t)
            + sizeof(ngx_http_axon_metrics_t) / sizeof(ngx_atomic_t)) * 128
           + 4096;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_axon_metrics_requests(b->last, m);
    b->last = ngx_http_axon_metrics_gate(b->last, m);
    b->last = ngx_http_axon_metrics_redis(b->last, m);

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->method == NGX_HTTP_HEAD) {
        b->pos = b->last;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the requests by route and status: only the pairs that were seen */

static u_char *
ngx_http_axon_metrics_requests(u_char *p, ngx_http_axon_metrics_t *m)
{
    ngx_str_t         *name;
    ngx_uint_t         i, j;
    ngx_atomic_uint_t  v;

    p = ngx_sprintf(p, "# HELP axon_http_requests_total Requests the axon "
                    "module answered, by route and status.\n"
                    "# TYPE axon_http_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_AXON_ROUTES; i++) {
        name = ngx_http_axon_metrics_route_name(i);
        if (name == NULL) {
            break;
        }

        for (j = 0; j < NGX_HTTP_AXON_STATUSES; j++) {
            v = m->requests[i][j];

            if (v == 0) {
                continue;
            }

            p = ngx_sprintf(p, "axon_http_requests_total{route=\"%V\","
                            "status=\"", name);

            if (ngx_http_axon_metrics_statuses[j]) {
                p = ngx_sprintf(p, "%ui", ngx_http_axon_metrics_statuses[j]);

            } else {
                p = ngx_cpymem(p, "other", 5);
            }

            p = ngx_sprintf(p, "\"} %uA\n", v);
        }
    }

    return p;
}


/* sign-ins, the token cache, WebSockets and x402 */

static u_char *
ngx_http_axon_metrics_gate(u_char *p, ngx_http_axon_metrics_t *m)
{
    ngx_uint_t  i;

    p = ngx_sprintf(p, "# HELP axon_signins_total Wallet sign-ins "
                    "(verify-wallet), by outcome and the refusal's code.\n"
                    "# TYPE axon_signins_total counter\n");

    for (i = 0; ngx_http_axon_metrics_reasons[i]; i++) {
        p = ngx_sprintf(p, "axon_signins_total{outcome=\"%s\","
                        "reason=\"%s\"} %uA\n",
                        i ? "refused" : "ok",
                        i ? ngx_http_axon_metrics_reasons[i] : "",
                        m->signins[i]);
    }

    p = ngx_sprintf(p,
        "# HELP axon_token_cache_hits_total Tokens found in the cache.\n"
        "# TYPE axon_token_cache_hits_total counter\n"
        "axon_token_cache_hits_total %uA\n"
        "# HELP axon_token_cache_misses_total Tokens Redis was asked for.\n"
        "# TYPE axon_token_cache_misses_total counter\n"
        "axon_token_cache_misses_total %uA\n"
        "# HELP axon_token_cache_evictions_total Tokens evicted from a "
        "full cache.\n"
        "# TYPE axon_token_cache_evictions_total counter\n"
        "axon_token_cache_evictions_total %uA\n",
        m->cache_hits, m->cache_misses, m->cache_evictions);

    p = ngx_sprintf(p,
        "# HELP axon_websocket_connections Upgrade requests an axon_gate "
        "let through (the desktops), open now.\n"
        "# TYPE axon_websocket_connections gauge\n"
        "axon_websocket_connections %A\n"
        "# HELP axon_websocket_connections_total Upgrades the gate let "
        "through.\n"
        "# TYPE axon_websocket_connections_total counter\n"
        "axon_websocket_connections_total %uA\n"
        "# HELP axon_websocket_bytes_total Bytes of closed WebSocket "
        "connections, in: from the client, out: to it.\n"
        "# TYPE axon_websocket_bytes_total counter\n"
        "axon_websocket_bytes_total{direction=\"in\"} %uA\n"
        "axon_websocket_bytes_total{direction=\"out\"} %uA\n",
        (ngx_atomic_int_t) m->ws_open, m->ws_total, m->ws_bytes_in,
        m->ws_bytes_out);

    p = ngx_sprintf(p, "# HELP axon_x402_payments_total x402 payments "
                    "the gate was sent, by what it did with them.\n"
                    "# TYPE axon_x402_payments_total counter\n");

    for (i = 0; i < NGX_HTTP_AXON_X402_OUTCOMES; i++) {
        p = ngx_sprintf(p, "axon_x402_payments_total{outcome=\"%s\"} %uA\n",
                        ngx_http_axon_metrics_x402[i], m->x402[i]);
    }

    return p;
}


static u_char *
ngx_http_axon_metrics_redis(u_char *p, ngx_http_axon_metrics_t *m)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n;

    p = ngx_sprintf(p, "# HELP axon_redis_errors_total Redis failures "
                    "the gate saw, by kind.\n"
                    "# TYPE axon_redis_errors_total counter\n");

    for (i = 0; i < NGX_HTTP_AXON_REDIS_ERRORS; i++) {
        p = ngx_sprintf(p, "axon_redis_errors_total{kind=\"%s\"} %uA\n",
                        ngx_http_axon_metrics_redis_errors[i],
                        m->redis_errors[i]);
    }

    p = ngx_sprintf(p, "# HELP axon_redis_rtt_seconds A Redis command's "
                    "round trip, from the write to the reply (ms "
                    "resolution).\n"
                    "# TYPE axon_redis_rtt_seconds histogram\n");

    n = 0;

    for (i = 0; i < NGX_HTTP_AXON_RTT_BUCKETS; i++) {
        n += m->redis_rtt[i];
        p = ngx_sprintf(p, "axon_redis_rtt_seconds_bucket{le=\"%ui.%03ui\"}"
                        " %uA\n", ngx_http_axon_metrics_rtt_le[i] / 1000,
                        ngx_http_axon_metrics_rtt_le[i] % 1000, n);
    }

    n += m->redis_rtt[i];

    return ngx_sprintf(p, "axon_redis_rtt_seconds_bucket{le=\"+Inf\"} %uA\n"
                       "axon_redis_rtt_seconds_sum %uA.%03uA\n"
                       "axon_redis_rtt_seconds_count %uA\n",
                       n, m->redis_rtt_sum / 1000, m->redis_rtt_sum % 1000,
                       n);
}
