/*
 * The token gate: an access-phase check of the token a sign-in issued.
 *
 * The token comes from "Authorization: Bearer", the axon_token cookie or a
 * "token" query argument (a browser cannot set headers on a WebSocket);
 * with axon_compat original, then from the original gate's carriers.
 * Its SHA-256 is looked up in the token cache first (axon_token_cache,
 * ngx_http_axon_token_cache.c); a miss costs one Redis GET of
 * axon:token:HASH, and a valid answer is cached.
 *
 * A token from the cookie is ambient: the browser sends it whoever made
 * the page.  A request that acts with it (not GET, HEAD or OPTIONS; or a
 * WebSocket upgrade) must come from this gate's own pages: Sec-Fetch-Site
 * same-origin, or an Origin that is one of axon_siwe_domain's or the
 * request's own; else 403 cross_site.  Bearer and the query are not ambient.
 *
 * Once found, the token is replaced by "-" in the request line and the
 * Referer, which nginx's log lines about the request show.
 *
 * The check runs for locations with `axon_gate on` and for the API routes
 * that need a wallet (/api/me, /api/auth/logout, ...).  A success sets
 * $axon_wallet.
 */


#include "ngx_http_axon_module.h"

#include "axon_eth.h"


static ngx_int_t ngx_http_axon_gate_token(ngx_http_request_t *r,
    ngx_str_t *token, ngx_uint_t *carrier);
static void ngx_http_axon_gate_redact(ngx_http_request_t *r,
    ngx_str_t *token);
static void ngx_http_axon_redact(ngx_pool_t *pool, ngx_str_t *s,
    ngx_str_t *token);
static ngx_uint_t ngx_http_axon_gate_cross_site(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf);
static ngx_int_t ngx_http_axon_gate_deny(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx, ngx_uint_t api);
static void ngx_http_axon_gate_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_uint_t ngx_http_axon_gate_navigation(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_gate_redirect(ngx_http_request_t *r,
    ngx_str_t *login);

static ngx_str_t  ngx_http_axon_cookie_name = ngx_string("axon_token");


/*
 * The access-phase handler.  Returns NGX_DECLINED where no check applies,
 * NGX_OK when the token (and, for `axon_gate session`, the session) is
 * good, NGX_AGAIN while Redis is asked (the reply runs the phases again),
 * NGX_DONE after answering a refusal.
 */

ngx_int_t
ngx_http_axon_gate_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  token;
    ngx_uint_t                 api, need, carrier;
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    api = 0;
    need = 0;

    if (alcf->gate == NGX_HTTP_AXON_GATE_OFF) {
        if (!alcf->api) {
            return NGX_DECLINED;
        }

        need = ngx_http_axon_api_needs_wallet(r);

        if (need == NGX_HTTP_AXON_WALLET_NO) {
            return NGX_DECLINED;
        }

        api = 1;
    }

    ctx = ngx_http_axon_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->gate_waiting) {
        /* a write event ran the phases while Redis is being asked */
        return NGX_AGAIN;
    }

    if (!ctx->gate_done) {
        ctx->gate_done = 1;

        rc = ngx_http_axon_gate_token(r, &token, &carrier);

        if (rc != NGX_OK && carrier == NGX_HTTP_AXON_BY_QUERY) {
            /* axon_gate_query off: the query goes on upstream */
            ngx_http_axon_gate_redact(r, &token);
            ctx->gate_query = 1;
        }

        if (rc != NGX_OK) {
            if (need == NGX_HTTP_AXON_WALLET_BODY) {
                /* the JSON body may carry it: the handler checks */
                return NGX_DECLINED;
            }

            ctx->gate_code = "no_token";

        } else {
            ngx_http_axon_gate_redact(r, &token);

            if (carrier == NGX_HTTP_AXON_BY_COOKIE
                && ngx_http_axon_gate_cross_site(r, alcf))
            {
                ctx->gate_code = "cross_site";

            } else {
                ctx->resume = ngx_http_axon_gate_resume;

                rc = ngx_http_axon_token_check(r, ctx, &token);

                if (rc != NGX_OK) {
                    return (rc == NGX_AGAIN) ? NGX_AGAIN
                                             : NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }

    if (ctx->gate_code) {
        return ngx_http_axon_gate_deny(r, ctx, api);
    }

    if (alcf->gate != NGX_HTTP_AXON_GATE_SESSION) {
        ngx_http_axon_metrics_websocket(r);
        return NGX_OK;
    }

    if (!ctx->session_done) {
        ctx->session_done = 1;

        rc = ngx_http_axon_session_route(r, ctx);

        if (rc != NGX_OK) {
            return (rc == NGX_AGAIN) ? NGX_AGAIN
                                     : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->gate_code) {
        return ngx_http_axon_gate_deny(r, ctx, api);
    }

    ngx_http_axon_metrics_websocket(r);

    return NGX_OK;
}


/* a Redis reply came for a request waiting in the access phase */

void
ngx_http_axon_gate_resume(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * Checks a token: from the cache, or else with one Redis GET.  NGX_OK: the
 * outcome is known (ctx->gate_code NULL, and ctx->wallet set, or the code
 * of the refusal); NGX_AGAIN: Redis was asked, and ctx->resume(r) is called
 * with the outcome; NGX_ERROR.
 */

ngx_int_t
ngx_http_axon_token_check(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx,
    ngx_str_t *token)
{
    u_char       hash[32];
    ngx_int_t    rc;
    const char  *argv[2];
    size_t       argvlen[2];
    u_char       key[sizeof(AXON_KEY_TOKEN) - 1 + 64];

    if (token->len != NGX_HTTP_AXON_TOKEN_LEN) {
        ctx->gate_code = "unknown_token";
        return NGX_OK;
    }

    if (ngx_http_axon_token_digest(hash, token->data, token->len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    axon_hex_encode((char *) ctx->token_hash, hash, sizeof(hash));

    if (ngx_http_axon_token_cache_get(r, ctx, hash) == NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token %*s... found in the cache",
                       (size_t) 8, ctx->token_hash);
        ctx->gate_code = NULL;
        return NGX_OK;
    }

    /* a miss (or a stale entry): ask Redis */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon gate: token %*s... not in the cache, asking redis",
                   (size_t) 8, ctx->token_hash);

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) key;
    argvlen[1] = ngx_sprintf(key, AXON_KEY_TOKEN "%*s",
                             (size_t) 64, ctx->token_hash)
                 - key;

    rc = ngx_http_axon_redis_command(r, ngx_http_axon_gate_reply, ctx, 2,
                                     argv, argvlen);

    if (rc == NGX_DECLINED) {
        ctx->gate_code = "redis_unavailable";
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->gate_waiting = 1;

    return NGX_AGAIN;
}


static void
ngx_http_axon_gate_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_ctx_t  *ctx = data;

    u_char   hash[32];
    time_t   exp;
    json_t  *v, *jw, *je;

    ctx->gate_waiting = 0;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ctx->gate_code = "redis_unavailable";
        goto done;
    }

    ctx->gate_code = "unknown_token";

    if (reply->type != REDIS_REPLY_STRING) {
        /* nil: never issued, revoked, or expired in Redis */
        goto done;
    }

    v = json_loadb(reply->str, reply->len, 0, NULL);
    jw = json_object_get(v, "wallet");
    je = json_object_get(v, "exp");

    if (!json_is_string(jw) || !json_is_integer(je)
        || axon_address_parse(ctx->wallet, json_string_value(jw),
                              json_string_length(jw))
           != AXON_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "axon: gate: malformed token entry in redis: "
                      AXON_KEY_TOKEN "%*s...", (size_t) 8, ctx->token_hash);
        json_decref(v);
        goto done;
    }

    exp = (time_t) json_integer_value(je);
    json_decref(v);

    if (exp <= ngx_time()) {
        ctx->gate_code = "expired_token";
        goto done;
    }

    ctx->gate_code = NULL;
    ctx->token_expires = exp;
    ctx->has_wallet = 1;

    (void) axon_hex_decode(hash, sizeof(hash), (const char *) ctx->token_hash,
                           64);

    ngx_http_axon_token_cache_put(r, ctx, hash);

done:

    ctx->resume(r);
}


/*
 * The token, from (in this order) "Authorization: Bearer", the axon_token
 * cookie, the "token" query argument (then the compat gate's carriers);
 * *carrier says which.  An empty one is none: the next carrier is read.
 * With axon_gate_query off the query's are passed over; one there and
 * none elsewhere: NGX_DECLINED with it in *token, *carrier BY_QUERY.
 */

static ngx_int_t
ngx_http_axon_gate_token(ngx_http_request_t *r, ngx_str_t *token,
    ngx_uint_t *carrier)
{
    ngx_str_t                  h, query;
    ngx_table_elt_t           *auth;
    ngx_http_axon_loc_conf_t  *alcf;

    *carrier = NGX_HTTP_AXON_BY_HEADER;

    auth = r->headers_in.authorization;

    if (auth) {
        h = auth->value;

        if (h.len > sizeof("Bearer ") - 1
            && ngx_strncasecmp(h.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1)
               == 0)
        {
            token->data = h.data + sizeof("Bearer ") - 1;
            token->len = h.len - (sizeof("Bearer ") - 1);

            while (token->len && token->data[0] == ' ') {
                token->data++;
                token->len--;
            }

            if (token->len) {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "axon gate: token from Authorization");
                return NGX_OK;
            }
        }
    }

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie,
                                          &ngx_http_axon_cookie_name, token)
        != NULL
        && token->len)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token from the cookie");
        *carrier = NGX_HTTP_AXON_BY_COOKIE;
        return NGX_OK;
    }
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies,
                                          &ngx_http_axon_cookie_name, token)
        != NGX_DECLINED
        && token->len)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token from the cookie");
        *carrier = NGX_HTTP_AXON_BY_COOKIE;
        return NGX_OK;
    }
#endif

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    query.len = 0;

    if (ngx_http_arg(r, (u_char *) "token", 5, token) == NGX_OK
        && token->len)
    {
        if (alcf->gate_query) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "axon gate: token from the query");
            *carrier = NGX_HTTP_AXON_BY_QUERY;
            return NGX_OK;
        }

        query = *token;
    }

    /* then the original gate's carriers, where axon_compat accepts them */

    if (alcf->compat != NGX_HTTP_AXON_COMPAT_OFF
        && ngx_http_axon_compat_token(r, token, carrier,
                                      alcf->gate_query ? NULL : &query)
           == NGX_OK)
    {
        return NGX_OK;
    }

    if (query.len) {
        /* axon_gate_query off: one in the query, not taken */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: a token in the query only, refused");
        *token = query;
        *carrier = NGX_HTTP_AXON_BY_QUERY;
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon gate: no token");

    return NGX_DECLINED;
}


/*
 * The token is kept out of what nginx logs about the request: a token in
 * the query is in the request line ($request, and the "request:" of every
 * error log line, such as a proxied desktop's connect() failing), and a
 * page whose URL held it names it in Referer (the "referrer:" of those
 * lines, and what a proxy passes on).  From here on both are copies with
 * "-" for it.
 */

static void
ngx_http_axon_gate_redact(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_http_axon_redact(r->pool, &r->request_line, token);

    if (r->headers_in.referer) {
        ngx_http_axon_redact(r->pool, &r->headers_in.referer->value, token);
    }
}


/* every occurrence of the token in s becomes "-", in a copy */

static void
ngx_http_axon_redact(ngx_pool_t *pool, ngx_str_t *s, ngx_str_t *token)
{
    u_char      *p, *q, *last;
    size_t       len;
    ngx_uint_t   n;

    if (token->len < 2 || s->len < token->len) {
        return;
    }

    n = 0;
    last = s->data + s->len - token->len;

    for (p = s->data; p <= last; p++) {
        if (ngx_memcmp(p, token->data, token->len) == 0) {
            n++;
            p += token->len - 1;
        }
    }

    if (n == 0) {
        return;
    }

    len = s->len - n * (token->len - 1);

    q = ngx_pnalloc(pool, len);
    if (q == NULL) {
        return;
    }

    p = s->data;
    s->data = q;

    while ((size_t) (q - s->data) < len) {

        if (p <= last && ngx_memcmp(p, token->data, token->len) == 0) {
            *q++ = '-';
            p += token->len;
            continue;
        }

        *q++ = *p++;
    }

    s->len = len;
}


/*
 * A request that acts with the cookie's token and does not come from this
 * gate's pages: 1 (refused).  Reading is free (GET, HEAD, OPTIONS); acting
 * is any other method, and a WebSocket upgrade (a desktop).  A browser
 * says where the request comes from in Sec-Fetch-Site and Origin; a client
 * that sends neither (curl with a cookie) is refused too: it can use
 * Authorization: Bearer.
 */

static ngx_uint_t
ngx_http_axon_gate_cross_site(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf)
{
    size_t                 len;
    ngx_str_t              o, host;
    ngx_uint_t             i;
    ngx_table_elt_t       *h;
    ngx_http_axon_siwe_t  *siwe;

    if ((r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS))
        && ngx_http_axon_header_in(r, "Upgrade", sizeof("Upgrade") - 1)
           == NULL)
    {
        return 0;
    }

    h = ngx_http_axon_header_in(r, "Sec-Fetch-Site",
                                sizeof("Sec-Fetch-Site") - 1);

    if (h && h->value.len == sizeof("same-origin") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "same-origin",
                           sizeof("same-origin") - 1)
           == 0)
    {
        return 0;
    }

    h = ngx_http_axon_header_in(r, "Origin", sizeof("Origin") - 1);

    if (h == NULL) {
        return 1;
    }

    o = h->value;

    /* one of the origins sign-in is bound to */

    if (alcf->siwe) {
        siwe = alcf->siwe->elts;

        for (i = 0; i < alcf->siwe->nelts; i++) {
            if (o.len == siwe[i].origin.len
                && ngx_strncasecmp(o.data, siwe[i].origin.data, o.len) == 0)
            {
                return 0;
            }
        }
    }

    /* or this request's own: SCHEME://HOST */

    if (r->headers_in.host == NULL) {
        return 1;
    }

    host = r->headers_in.host->value;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        len = sizeof("https://") - 1;

        if (o.len <= len
            || ngx_strncasecmp(o.data, (u_char *) "https://", len) != 0)
        {
            return 1;
        }

    } else
#endif
    {
        len = sizeof("http://") - 1;

        if (o.len <= len
            || ngx_strncasecmp(o.data, (u_char *) "http://", len) != 0)
        {
            return 1;
        }
    }

    return !(o.len - len == host.len
             && ngx_strncasecmp(o.data + len, host.data, host.len) == 0);
}


/* a request header by name, the first of its kind; NULL: none */

ngx_table_elt_t *
ngx_http_axon_header_in(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }

    return NULL;
}


/*
 * Answers a refusal.  In the API, and for requests that are not browser
 * navigations, it is JSON: 401 for the token, 404 or 409 for the session,
 * 503 when Redis is down.  A browser navigation to a gated location goes to
 * axon_gate_login when it is set.
 */

static ngx_int_t
ngx_http_axon_gate_deny(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx,
    ngx_uint_t api)
{
    ngx_int_t                  rc;
    ngx_uint_t                 status, token;
    ngx_str_t                  challenge;
    const char                *code, *message;
    ngx_http_axon_loc_conf_t  *alcf;
    ngx_http_core_loc_conf_t  *clcf;

    static ngx_str_t  www_authenticate = ngx_string("WWW-Authenticate");

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);
    code = ctx->gate_code;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon gate: refused: %s", code);

    if (ngx_strcmp(code, "redis_unavailable") == 0) {
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    token = 1;

    if (ngx_strcmp(code, "no_token") == 0 && ctx->gate_query) {
        status = NGX_HTTP_UNAUTHORIZED;
        message = "no token: here the token goes in the axon_token cookie "
                  "or Authorization: Bearer, never in the query (which "
                  "goes on upstream)";

    } else if (ngx_strcmp(code, "no_token") == 0) {
        status = NGX_HTTP_UNAUTHORIZED;
        message = "sign in first: no token in the Authorization header, "
                  "the axon_token cookie or the token argument";

    } else if (ngx_strcmp(code, "expired_token") == 0) {
        status = NGX_HTTP_UNAUTHORIZED;
        message = "the token has expired, sign in again";

    } else if (ngx_strcmp(code, "unknown_token") == 0) {
        status = NGX_HTTP_UNAUTHORIZED;
        message = "unknown, expired or revoked token, sign in again";

    } else if (ngx_strcmp(code, "cross_site") == 0) {
        status = NGX_HTTP_FORBIDDEN;
        message = "a request with the axon_token cookie that changes "
                  "something must come from this gate's own page (Origin "
                  "or Sec-Fetch-Site: same-origin); other clients send "
                  "Authorization: Bearer";
        token = 0;

    } else if (ngx_strcmp(code, "session_not_running") == 0) {
        status = NGX_HTTP_CONFLICT;
        message = "the session is not running yet (or is ending): see "
                  "GET /api/session";
        token = 0;

    } else {
        status = NGX_HTTP_NOT_FOUND;
        message = "no running session: claim one with POST /api/session";
        token = 0;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: gate: refused: %s%s%*s", code,
                  ctx->token_hash[0] ? ", token hash " : "",
                  (size_t) (ctx->token_hash[0] ? 8 : 0), ctx->token_hash);

    if (!api) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (token && clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
            /* another access module may still let the request in */
            return NGX_HTTP_UNAUTHORIZED;
        }

        if (alcf->gate_login.len && ngx_http_axon_gate_navigation(r)) {
            return ngx_http_axon_gate_redirect(r, &alcf->gate_login);
        }
    }

    if (token) {
        if (ngx_strcmp(code, "no_token") == 0) {
            ngx_str_set(&challenge, "Bearer realm=\"axon\"");

        } else {
            ngx_str_set(&challenge,
                        "Bearer realm=\"axon\", error=\"invalid_token\"");
        }

        if (ngx_http_axon_add_header(r, &www_authenticate, &challenge)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_axon_send_error(r, status, code, message);
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * A browser's top-level navigation, which a login page can answer: Fetch
 * metadata says so, or (older browsers) a GET that accepts HTML.
 */

static ngx_uint_t
ngx_http_axon_gate_navigation(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 0;
    }

    h = ngx_http_axon_header_in(r, "Sec-Fetch-Mode",
                                sizeof("Sec-Fetch-Mode") - 1);

    if (h) {
        return h->value.len == sizeof("navigate") - 1
               && ngx_strncmp(h->value.data, "navigate",
                              sizeof("navigate") - 1)
                  == 0;
    }

#if (NGX_HTTP_GZIP || NGX_HTTP_HEADERS)
    h = r->headers_in.accept;
#else
    h = NULL;
#endif

    return h && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                                 (u_char *) "text/html", 9 - 1)
                != NULL;
}


/* 302 to the login page, with the place to come back to in "next" */

static ngx_int_t
ngx_http_axon_gate_redirect(ngx_http_request_t *r, ngx_str_t *login)
{
    u_char           *p;
    size_t            len;
    uintptr_t         escape;
    ngx_table_elt_t  *location;

    escape = 2 * ngx_escape_uri(NULL, r->unparsed_uri.data,
                                r->unparsed_uri.len, NGX_ESCAPE_URI_COMPONENT);

    len = login->len + sizeof("?next=") - 1 + r->unparsed_uri.len + escape;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location->hash = 1;
    ngx_str_set(&location->key, "Location");
    location->value.data = p;

    p = ngx_cpymem(p, login->data, login->len);
    p = ngx_cpymem(p, ngx_strlchr(login->data, login->data + login->len, '?')
                      ? "&next=" : "?next=",
                   sizeof("?next=") - 1);
    p = (u_char *) ngx_escape_uri(p, r->unparsed_uri.data,
                                  r->unparsed_uri.len,
                                  NGX_ESCAPE_URI_COMPONENT);

    location->value.len = p - location->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * $axon_upstream_cookie: the request's cookies (every Cookie header), each
 * one but the gate's own tokens (axon_token, the compat gate's
 * axgt_auth_token, however many times they come), joined with "; "; not
 * found when none is left, so that proxy_set_header sends no Cookie.  For
 * a location whose upstream takes cookies of its own (Jupyter), where
 * the gate's token must not go.
 */

ngx_int_t
ngx_http_axon_upstream_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    size_t            len;
    u_char           *p, *q, *next, *end, *name, *name_end, *buf, *b;
    ngx_table_elt_t  *h;
#if (nginx_version < 1023000)
    ngx_uint_t        i;
    ngx_table_elt_t **hs;
#endif

    len = 0;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h; h = h->next) {
        len += h->value.len + 2;
    }
#else
    hs = r->headers_in.cookies.elts;

    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        len += hs[i]->value.len + 2;
    }
#endif

    buf = len ? ngx_pnalloc(r->pool, len) : NULL;

    if (len && buf == NULL) {
        return NGX_ERROR;
    }

    b = buf;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h; h = h->next) {
#else
    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        h = hs[i];
#endif
        p = h->value.data;
        end = h->value.data + h->value.len;

        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ';')) {
                p++;
            }

            if (p == end) {
                break;
            }

            /* one NAME=VALUE, p to q */
            next = ngx_strlchr(p, end, ';');
            q = next ? next : end;

            name = p;
            name_end = ngx_strlchr(p, q, '=');
            if (name_end == NULL) {
                name_end = q;
            }

            while (name_end > name
                   && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            {
                name_end--;
            }

            len = name_end - name;

            if (!(len == ngx_http_axon_cookie_name.len
                  && ngx_strncmp(name, ngx_http_axon_cookie_name.data, len)
                     == 0)
                && !(len == sizeof("axgt_auth_token") - 1
                     && ngx_strncmp(name, "axgt_auth_token", len) == 0))
            {
                while (q > p && (q[-1] == ' ' || q[-1] == '\t')) {
                    q--;
                }

                if (b != buf) {
                    *b++ = ';';
                    *b++ = ' ';
                }

                b = ngx_cpymem(b, p, q - p);
            }

            if (next == NULL) {
                break;
            }

            p = next;
        }
    }

    if (b == buf) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = buf;
    v->len = b - buf;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $axon_wallet: the signed-in wallet, EIP-55 */

ngx_int_t
ngx_http_axon_wallet_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, AXON_ADDR_TEXT_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    axon_address_format((char *) p, ctx->wallet);

    v->data = p;
    v->len = AXON_ADDR_TEXT_LEN;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
