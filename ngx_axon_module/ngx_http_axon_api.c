/*
 * ngx_http_axon_api: the JSON API.  `axon_api` in a prefix location routes
 * the rest of the URI (after the location's name) through one table.
 * Every answer is JSON, errors included:
 * {"error": {"code": CODE, "message": TEXT}}.
 */


#include "ngx_http_axon_module.h"


static ngx_http_axon_route_t  ngx_http_axon_routes[] = {

    { ngx_string("health"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_axon_health_handler },

    { ngx_string("auth/challenge"),
      NGX_HTTP_GET,
      ngx_string("GET"),
      0,
      ngx_http_axon_challenge_handler },

    { ngx_string("auth/verify-wallet"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      0,
      ngx_http_axon_verify_handler },

    { ngx_string("auth/logout"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      1,
      ngx_http_axon_logout_handler },

    { ngx_string("auth/verify-deposit"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      1,
      ngx_http_axon_verify_deposit_handler },

    { ngx_string("deposits"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      1,
      ngx_http_axon_deposits_handler },

    { ngx_string("quote"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      1,
      ngx_http_axon_quote_handler },

    { ngx_string("me"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      1,
      ngx_http_axon_me_handler },

    { ngx_string("usage"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      1,
      ngx_http_axon_usage_handler },

    { ngx_string("config"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_axon_config_handler },

    { ngx_string("profiles"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_axon_profiles_handler },

    { ngx_string("session"),
      NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST,
      ngx_string("GET, HEAD, POST"),
      1,
      ngx_http_axon_session_handler },

    { ngx_string("session/queue"),
      NGX_HTTP_DELETE,
      ngx_string("DELETE"),
      1,
      ngx_http_axon_leave_handler },

    { ngx_string("session/heartbeat"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      1,
      ngx_http_axon_heartbeat_handler },

    { ngx_string("release"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      2,
      ngx_http_axon_release_handler },

    { ngx_string("x402/session"),
      NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST,
      ngx_string("GET, HEAD, POST"),
      0,
      ngx_http_axon_x402_session_handler },

    /* a path ending in "/" takes what follows: x402/payment/NONCE */
    { ngx_string("x402/payment/"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_axon_x402_payment_handler },

    { ngx_null_string, 0, ngx_null_string, 0, NULL }
};


static ngx_http_axon_route_t *ngx_http_axon_api_route(ngx_http_request_t *r);
static ngx_uint_t ngx_http_axon_api_metric(ngx_http_axon_route_t *rt);


static void ngx_http_axon_body_ready(ngx_http_request_t *r);


static ngx_str_t  ngx_http_axon_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_axon_cache_control = ngx_string("Cache-Control");
static ngx_str_t  ngx_http_axon_no_store = ngx_string("no-store");
static ngx_str_t  ngx_http_axon_allow = ngx_string("Allow");
#if (NGX_DEBUG)
static ngx_str_t  ngx_http_axon_no_route = ngx_string("nothing");
#endif


ngx_int_t
ngx_http_axon_api_handler(ngx_http_request_t *r)
{
    ngx_http_axon_route_t  *rt;

    rt = ngx_http_axon_api_route(r);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon api: \"%V\" routed to %V", &r->uri,
                   rt ? &rt->path : &ngx_http_axon_no_route);

    ngx_http_axon_metrics_route(r, rt ? ngx_http_axon_api_metric(rt)
                                      : NGX_HTTP_AXON_ROUTE_UNKNOWN);

    if (rt == NULL) {
        return ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such API endpoint");
    }

    if (!(r->method & rt->methods)) {
        if (ngx_http_axon_add_header(r, &ngx_http_axon_allow, &rt->allow)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_axon_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method_not_allowed",
                                        "method not allowed here");
    }

    return rt->handler(r);
}


/* For the gate: what does this API request need of it? */

ngx_uint_t
ngx_http_axon_api_needs_wallet(ngx_http_request_t *r)
{
    ngx_http_axon_route_t  *rt;

    rt = ngx_http_axon_api_route(r);

    if (rt == NULL || !(r->method & rt->methods)) {
        return NGX_HTTP_AXON_WALLET_NO;
    }

    return rt->wallet;
}


/*
 * The metrics' index of a route: axon's by its place in the table; one of
 * the original gate's (axon_compat) as axon's route of the same path if
 * there is one, else after axon's.
 */

static ngx_uint_t
ngx_http_axon_api_metric(ngx_http_axon_route_t *rt)
{
    ngx_uint_t              i, n;
    ngx_http_axon_route_t  *a;

    n = sizeof(ngx_http_axon_routes) / sizeof(ngx_http_axon_route_t) - 1;

    for (i = 0; i < n; i++) {
        a = &ngx_http_axon_routes[i];

        if (rt == a
            || (rt->path.len == a->path.len
                && ngx_strncmp(rt->path.data, a->path.data, a->path.len)
                   == 0))
        {
            return NGX_HTTP_AXON_ROUTE_API + i;
        }
    }

    return NGX_HTTP_AXON_ROUTE_API + n + ngx_http_axon_compat_route_index(rt);
}


/*
 * The metrics' label of the i-th route: its path, without a last "/";
 * after axon's, the original gate's (ngx_http_axon_compat_route_name).
 */

ngx_str_t *
ngx_http_axon_api_route_name(ngx_uint_t i)
{
    ngx_uint_t  n;

    static ngx_str_t  names[sizeof(ngx_http_axon_routes)
                            / sizeof(ngx_http_axon_route_t)];

    n = sizeof(ngx_http_axon_routes) / sizeof(ngx_http_axon_route_t) - 1;

    if (i >= n) {
        return ngx_http_axon_compat_route_name(i - n);
    }

    if (names[i].data == NULL) {
        names[i] = ngx_http_axon_routes[i].path;

        if (names[i].data[names[i].len - 1] == '/') {
            names[i].len--;
        }
    }

    return &names[i];
}


static ngx_http_axon_route_t *
ngx_http_axon_api_route(ngx_http_request_t *r)
{
    ngx_str_t                  path;
    ngx_http_axon_route_t     *rt;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    path = r->uri;

    if (path.len >= alcf->api_prefix.len
        && ngx_strncmp(path.data, alcf->api_prefix.data,
                       alcf->api_prefix.len) == 0)
    {
        path.data += alcf->api_prefix.len;
        path.len -= alcf->api_prefix.len;
    }

    while (path.len && path.data[0] == '/') {
        path.data++;
        path.len--;
    }

    /* the original gate's routes first: some share axon's paths */

    if (alcf->compat != NGX_HTTP_AXON_COMPAT_OFF) {
        rt = ngx_http_axon_compat_route(r, &path);

        if (rt) {
            return rt;
        }
    }

    for (rt = ngx_http_axon_routes; rt->handler; rt++) {

        if (rt->path.len == path.len
            && ngx_strncmp(rt->path.data, path.data, path.len) == 0)
        {
            return rt;
        }

        if (rt->path.data[rt->path.len - 1] == '/'
            && path.len > rt->path.len
            && ngx_strncmp(rt->path.data, path.data, rt->path.len) == 0)
        {
            return rt;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_axon_add_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value = *value;

    return NGX_OK;
}


/*
 * Reads the request body as a JSON object and calls handler with it, as a
 * content handler would be called: its return value finalizes the request.
 * Bodies over axon_body_max_size are 413, bad JSON is 400.
 */

ngx_int_t
ngx_http_axon_read_json(ngx_http_request_t *r,
    ngx_http_axon_json_handler_pt handler)
{
    ngx_int_t                  rc;
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    /* refused before the body: no "100 Continue" for it (see send_json) */

    if (r->headers_in.content_length_n > (off_t) alcf->body_max) {
        return ngx_http_axon_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body_too_large",
                                        "the request body is too large");
    }

    /*
     * application/json only: a form or a text/plain POST, which a page of
     * another site can send without asking (no CORS preflight), is not an
     * API call
     */

    if ((r->headers_in.content_length_n > 0 || r->headers_in.chunked)
        && !ngx_http_axon_is_json(r))
    {
        return ngx_http_axon_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "unsupported_media_type",
                                        "the request body must be sent as "
                                        "Content-Type: application/json");
    }

    ctx = ngx_http_axon_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->json_handler = handler;

    rc = ngx_http_read_client_request_body(r, ngx_http_axon_body_ready);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* Content-Type: application/json, parameters (charset) allowed */

ngx_uint_t
ngx_http_axon_is_json(ngx_http_request_t *r)
{
    size_t   n;
    u_char  *p, *last;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;
    n = sizeof("application/json") - 1;

    if ((size_t) (last - p) < n
        || ngx_strncasecmp(p, (u_char *) "application/json", n) != 0)
    {
        return 0;
    }

    for (p += n; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    return p == last || *p == ';';
}


static void
ngx_http_axon_body_ready(ngx_http_request_t *r)
{
    u_char                    *p, *text;
    off_t                      len, size;
    json_t                    *body, *renamed;
    ssize_t                    n;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    json_error_t               err;
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (len > (off_t) alcf->body_max) {
        rc = ngx_http_axon_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "body_too_large",
                                      "the request body is too large");
        ngx_http_finalize_request(r, rc);
        return;
    }

    text = ngx_pnalloc(r->pool, len + 1);
    if (text == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = text;

    /*
     * What nginx hands over: memory buffers, a buffer in the temp file the
     * body was spooled to, and with a chunked body an empty special buffer
     * (last_buf, neither in memory nor in a file) at the end.
     */

    for (cl = len ? r->request_body->bufs : NULL; cl; cl = cl->next) {
        b = cl->buf;
        size = ngx_buf_size(b);

        if (size == 0) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, size);
            continue;
        }

        if (!b->in_file || b->file == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "axon: request body buffer neither in memory "
                          "nor in a file");
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        n = ngx_read_file(b->file, p, (size_t) size, b->file_pos);
        if (n != (ssize_t) size) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p += n;
    }

    body = json_loadb((char *) text, len, JSON_REJECT_DUPLICATES, &err);

    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        rc = ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_json",
                                      "the request body must be a JSON "
                                      "object");
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = (alcf->compat != NGX_HTTP_AXON_COMPAT_OFF)
         ? ngx_http_axon_compat_body(r, body) : NGX_DECLINED;

    if (rc == NGX_DECLINED) {
        /* the original's body, renamed to axon's fields */
        renamed = ctx->compat_body;

        rc = ctx->json_handler(r, renamed ? renamed : body);

        if (renamed) {
            json_decref(renamed);
            ctx->compat_body = NULL;
        }
    }

    json_decref(body);

    ngx_http_finalize_request(r, rc);
}


ngx_http_axon_ctx_t *
ngx_http_axon_get_ctx(ngx_http_request_t *r)
{
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_axon_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_axon_module);
    }

    return ctx;
}


/* Sends body (and drops the reference to it). */

ngx_int_t
ngx_http_axon_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body)
{
    char                 *text;
    size_t                len;
    ngx_int_t             rc;
    ngx_buf_t            *b;
    ngx_chain_t           out;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx && ctx->compat && body) {
        /* the original gate's names and status conventions */
        body = ngx_http_axon_compat_answer(r, &status, body);

        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = LF;
    free(text);

    if (r->method == NGX_HTTP_HEAD) {
        b->pos = b->last;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    /*
     * An answer given without the body: a client that waits for
     * "100 Continue" gets the answer instead (as nginx's own 413 does),
     * and what it sends anyway is discarded.
     */

    if (r->request_body == NULL) {
        r->expect_tested = 1;
    }

    ngx_http_discard_request_body(r);

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_axon_json_type;
    r->headers_out.content_type_len = ngx_http_axon_json_type.len;
    r->headers_out.content_length_n = len + 1;

    if (ngx_http_axon_add_header(r, &ngx_http_axon_cache_control,
                                 &ngx_http_axon_no_store)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_axon_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    json_t  *body;

    body = json_pack("{s:{s:s, s:s}}", "error", "code", code,
                     "message", message);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_send_json(r, status, body);
}


ngx_int_t
ngx_http_axon_redis_unavailable(ngx_http_request_t *r)
{
    return ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "redis_unavailable",
                                    "the gate's Redis is unreachable, try "
                                    "again shortly");
}


/*
 * What a content handler returns after ngx_http_axon_redis_command(): the
 * request waits for the reply (NGX_DONE, one more reference), or Redis is
 * down (503 now), or no memory.
 */

ngx_int_t
ngx_http_axon_redis_wait(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_OK) {
        r->main->count++;
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_axon_redis_unavailable(r);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * Finishes a request that was waiting for Redis: the reply arrives outside
 * the request's own event handler, so posted subrequests are run here.
 */

void
ngx_http_axon_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
