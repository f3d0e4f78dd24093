/*
 * axon_compat original: the API of the gate axon replaces, for the pages,
 * scripts and agents written for it (docs/compat.md).  Each of its routes
 * is one of axon's handlers: the original's query arguments and body
 * fields are renamed to axon's before the handler runs, and axon's answer
 * is renamed to the original's field names and status conventions as it
 * is sent (ngx_http_axon_send_json).  Nothing here reads or writes Redis
 * on its own but the claim's look at the wallet's session, through the
 * same script as GET /api/session: axon's rules decide every answer.
 *
 * A request names its wallet in wallet_address (query or body); the token
 * decides the wallet, and a wallet_address that is not the token's is
 * refused: nobody acts for another wallet.
 */


#include "ngx_http_axon_module.h"

#include <stdio.h>

#include "axon_siwe.h"


static ngx_int_t ngx_http_axon_compat_challenge(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_quote(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_claim(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_claim_body(ngx_http_request_t *r,
    json_t *body);
static void ngx_http_axon_compat_claim_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_uint_t ngx_http_axon_compat_json_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_heartbeat(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_heartbeat_body(ngx_http_request_t *r,
    json_t *body);
static ngx_int_t ngx_http_axon_compat_release(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_release_body(ngx_http_request_t *r,
    json_t *body);
static ngx_int_t ngx_http_axon_compat_restart(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_wallet_arg(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_wallet_then(ngx_http_request_t *r,
    ngx_http_handler_pt handler);
static json_t *ngx_http_axon_compat_lower(json_t *wallet);
static ngx_int_t ngx_http_axon_compat_telemetry(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_access(ngx_http_request_t *r);
static void ngx_http_axon_compat_access_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_compat_settle(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_pay(ngx_http_request_t *r);
static ngx_uint_t ngx_http_axon_compat_paid(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_x402_body(ngx_http_request_t *r,
    json_t *body);
static json_t *ngx_http_axon_compat_x402_session_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_x402_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static void ngx_http_axon_compat_telemetry_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static json_t *ngx_http_axon_compat_telemetry_doc(ngx_http_request_t *r,
    json_t *t, json_t *pool);
static ngx_int_t ngx_http_axon_compat_wallet_status(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_status(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_compat_verify_body(ngx_http_request_t *r,
    json_t *body);
static json_t *ngx_http_axon_compat_challenge_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_verify_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_wallet_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_deposit_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_config_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_quote_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_claim_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_heartbeat_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_release_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static json_t *ngx_http_axon_compat_status_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
static const char *ngx_http_axon_compat_allocation(const char *state);
static ngx_int_t ngx_http_axon_compat_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static void ngx_http_axon_compat_set(json_t *o, const char *key, json_t *v);
static double ngx_http_axon_compat_base_eth(ngx_http_request_t *r);


/*
 * flag, refusals 200, path shared with axon (answered the original's way
 * only when wallet_address is named), body renaming, answer's renaming,
 * refusals kept axon's
 */

static ngx_http_axon_compat_t  ngx_http_axon_compat_challenge_c = {
    NULL, 0, 1, NULL, ngx_http_axon_compat_challenge_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_verify_c = {
    "verified", 0, 1, ngx_http_axon_compat_verify_body,
    ngx_http_axon_compat_verify_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_wallet_c = {
    "verified", 0, 0, NULL, ngx_http_axon_compat_wallet_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_deposit_c = {
    "verified", 0, 1, NULL, ngx_http_axon_compat_deposit_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_config_c = {
    NULL, 0, 0, NULL, ngx_http_axon_compat_config_answer, 1
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_quote_c = {
    "ok", 0, 0, NULL, ngx_http_axon_compat_quote_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_claim_c = {
    "granted", 1, 0, NULL, ngx_http_axon_compat_claim_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_heartbeat_c = {
    "ok", 1, 1, NULL, ngx_http_axon_compat_heartbeat_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_release_c = {
    "released", 1, 0, NULL, ngx_http_axon_compat_release_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_restart_c = {
    "restarted", 1, 0, NULL, NULL, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_status_c = {
    "active", 1, 0, NULL, ngx_http_axon_compat_status_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_telemetry_c = {
    NULL, 0, 0, NULL, NULL, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_access_c = {
    "access", 0, 0, NULL, ngx_http_axon_compat_x402_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_x402_session_c = {
    "granted", 0, 1, ngx_http_axon_compat_x402_body,
    ngx_http_axon_compat_x402_session_answer, 0
};

static ngx_http_axon_compat_t  ngx_http_axon_compat_settle_c = {
    "verified", 0, 0, NULL, ngx_http_axon_compat_x402_answer, 0
};


/*
 * The original's routes.  Those that share a path with axon's
 * (challenge, verify-wallet, verify-deposit, heartbeat) are answered the
 * original's way only when the request names wallet_address, as the
 * original's clients all do; GET /api/config gains the original's fields.
 */

typedef struct {
    ngx_http_axon_route_t     route;
    ngx_http_axon_compat_t   *compat;
} ngx_http_axon_compat_route_t;


static ngx_http_axon_compat_route_t  ngx_http_axon_compat_routes[] = {

    { { ngx_string("auth/challenge"), NGX_HTTP_GET, ngx_string("GET"),
      0, ngx_http_axon_compat_challenge }, &ngx_http_axon_compat_challenge_c },

    { { ngx_string("auth/verify-wallet"), NGX_HTTP_POST, ngx_string("POST"),
      0, ngx_http_axon_verify_handler }, &ngx_http_axon_compat_verify_c },

    { { ngx_string("auth/wallet-status"), NGX_HTTP_GET, ngx_string("GET"),
      1, ngx_http_axon_compat_wallet_status },
      &ngx_http_axon_compat_wallet_c },

    { { ngx_string("auth/verify-deposit"), NGX_HTTP_POST, ngx_string("POST"),
      1, ngx_http_axon_verify_deposit_handler },
      &ngx_http_axon_compat_deposit_c },

    { { ngx_string("config"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0, ngx_http_axon_config_handler }, &ngx_http_axon_compat_config_c },

    { { ngx_string("discount/quote"), NGX_HTTP_GET, ngx_string("GET"),
      1, ngx_http_axon_compat_quote }, &ngx_http_axon_compat_quote_c },

    { { ngx_string("session/claim"), NGX_HTTP_POST, ngx_string("POST"),
      1, ngx_http_axon_compat_claim }, &ngx_http_axon_compat_claim_c },

    { { ngx_string("session/heartbeat"), NGX_HTTP_POST, ngx_string("POST"),
      1, ngx_http_axon_compat_heartbeat }, &ngx_http_axon_compat_heartbeat_c },

    { { ngx_string("session/release"), NGX_HTTP_POST, ngx_string("POST"),
      1, ngx_http_axon_compat_release }, &ngx_http_axon_compat_release_c },

    { { ngx_string("session/restart"), NGX_HTTP_POST, ngx_string("POST"),
      1, ngx_http_axon_compat_restart }, &ngx_http_axon_compat_restart_c },

    { { ngx_string("session/status"), NGX_HTTP_GET, ngx_string("GET"),
      1, ngx_http_axon_compat_status }, &ngx_http_axon_compat_status_c },

    { { ngx_string("x402/access"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), NGX_HTTP_AXON_WALLET_BODY,
      ngx_http_axon_compat_access }, &ngx_http_axon_compat_access_c },

    { { ngx_string("x402/settle"), NGX_HTTP_POST, ngx_string("POST"),
      0, ngx_http_axon_compat_settle }, &ngx_http_axon_compat_settle_c },

    { { ngx_string("x402/session"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST,
      ngx_string("GET, HEAD, POST"), 0, ngx_http_axon_x402_session_handler },
      &ngx_http_axon_compat_x402_session_c },

#define NGX_HTTP_AXON_COMPAT_TELEMETRY(name)                                 \
    { { ngx_string("public/telemetry/" name), NGX_HTTP_GET|NGX_HTTP_HEAD,    \
      ngx_string("GET, HEAD"), 0, ngx_http_axon_compat_telemetry },          \
      &ngx_http_axon_compat_telemetry_c }

    NGX_HTTP_AXON_COMPAT_TELEMETRY("summary"),
    NGX_HTTP_AXON_COMPAT_TELEMETRY("sessions"),
    NGX_HTTP_AXON_COMPAT_TELEMETRY("events"),
    NGX_HTTP_AXON_COMPAT_TELEMETRY("wallets"),
    NGX_HTTP_AXON_COMPAT_TELEMETRY("live"),
    NGX_HTTP_AXON_COMPAT_TELEMETRY("webrtc"),

    { { ngx_null_string, 0, ngx_null_string, 0, NULL }, NULL }
};


static ngx_str_t  ngx_http_axon_compat_cookie = ngx_string("axgt_auth_token");


#define NGX_HTTP_AXON_COMPAT_ROUTES                                          \
    (sizeof(ngx_http_axon_compat_routes)                                     \
     / sizeof(ngx_http_axon_compat_route_t) - 1)


/* the metrics' index of one of the routes here */

ngx_uint_t
ngx_http_axon_compat_route_index(ngx_http_axon_route_t *rt)
{
    return (ngx_http_axon_compat_route_t *) rt - ngx_http_axon_compat_routes;
}


/* the metrics' label of the i-th route here: "original/" and its path */

ngx_str_t *
ngx_http_axon_compat_route_name(ngx_uint_t i)
{
    ngx_str_t  *path;

    static ngx_str_t  names[NGX_HTTP_AXON_COMPAT_ROUTES];
    static u_char     text[NGX_HTTP_AXON_COMPAT_ROUTES][64];

    if (i >= NGX_HTTP_AXON_COMPAT_ROUTES) {
        return NULL;
    }

    if (names[i].data == NULL) {
        path = &ngx_http_axon_compat_routes[i].route.path;

        names[i].data = text[i];
        names[i].len = ngx_snprintf(text[i], sizeof(text[i]), "original/%V",
                                    path)
                       - text[i];
    }

    return &names[i];
}


/*
 * The original's route of path (after the API's prefix), or NULL.  It
 * marks the request: the original's routes of their own are answered the
 * original's way from here on (the gate's 401 included), a shared one
 * once the request names wallet_address.
 */

ngx_http_axon_route_t *
ngx_http_axon_compat_route(ngx_http_request_t *r, ngx_str_t *path)
{
    ngx_str_t                      v;
    ngx_http_axon_ctx_t           *ctx;
    ngx_http_axon_compat_route_t  *rt;

    for (rt = ngx_http_axon_compat_routes; rt->route.handler; rt++) {
        if (rt->route.path.len == path->len
            && ngx_strncmp(rt->route.path.data, path->data, path->len) == 0)
        {
            break;
        }
    }

    if (rt->route.handler == NULL) {
        return NULL;
    }

    ctx = ngx_http_axon_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (!rt->compat->shared
        || ngx_http_arg(r, (u_char *) "wallet_address", 14, &v) == NGX_OK)
    {
        ctx->compat = rt->compat;
    }

    ctx->compat_route = rt->compat;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon compat: \"%V\" is the original's, answered %s",
                   &rt->route.path,
                   ctx->compat ? "its way" : "its way if wallet_address");

    return &rt->route;
}


/*
 * The original's carriers of the token, after axon's own (Authorization,
 * the axon_token cookie, ?token=), in the original's order: the
 * axgt_auth_token cookie, X-AXGT-Auth-Token, ?auth_token= (passed not
 * NULL: axon_gate_query off, the query passed over; one there is put in
 * *passed, unless it holds one already).
 */

ngx_int_t
ngx_http_axon_compat_token(ngx_http_request_t *r, ngx_str_t *token,
    ngx_uint_t *carrier, ngx_str_t *passed)
{
    ngx_table_elt_t  *h;

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie,
                                          &ngx_http_axon_compat_cookie, token)
        != NULL
        && token->len)
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies,
                                          &ngx_http_axon_compat_cookie, token)
        != NGX_DECLINED
        && token->len)
#endif
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token from the axgt_auth_token cookie");
        *carrier = NGX_HTTP_AXON_BY_COOKIE;
        return NGX_OK;
    }

    h = ngx_http_axon_header_in(r, "X-AXGT-Auth-Token",
                                sizeof("X-AXGT-Auth-Token") - 1);

    if (h && h->value.len) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token from X-AXGT-Auth-Token");
        *token = h->value;
        *carrier = NGX_HTTP_AXON_BY_HEADER;
        return NGX_OK;
    }

    if (ngx_http_arg(r, (u_char *) "auth_token", 10, token) == NGX_OK
        && token->len)
    {
        if (passed) {
            if (passed->len == 0) {
                *passed = *token;
            }

            return NGX_DECLINED;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon gate: token from the auth_token argument");
        *carrier = NGX_HTTP_AXON_BY_QUERY;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * wallet_address, where the request names one: a wallet's address, the
 * token's when there is a token.  NGX_DECLINED: it is; else the answer
 * refusing it was sent, and this is its code.
 */

static ngx_int_t
ngx_http_axon_compat_wallet(ngx_http_request_t *r, const u_char *s,
    size_t len)
{
    uint8_t               addr[AXON_ADDR_LEN];
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (len != AXON_ADDR_TEXT_LEN
        || axon_address_parse(addr, (const char *) s, len) != AXON_OK)
    {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                          "Valid wallet_address required");
    }

    if (ctx && ctx->has_wallet
        && ngx_memcmp(addr, ctx->wallet, AXON_ADDR_LEN) != 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "axon: compat: wallet_address is not the token's");

        return ngx_http_axon_compat_error(r, NGX_HTTP_UNAUTHORIZED,
                                          "wallet_address is not the wallet "
                                          "this auth token was issued to");
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_axon_compat_wallet_arg(ngx_http_request_t *r)
{
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) "wallet_address", 14, &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_axon_compat_wallet(r, v.data, v.len);
}


/* the query's wallet_address checked, then axon's handler */

static ngx_int_t
ngx_http_axon_compat_wallet_then(ngx_http_request_t *r,
    ngx_http_handler_pt handler)
{
    ngx_int_t  rc;

    rc = ngx_http_axon_compat_wallet_arg(r);

    return (rc == NGX_DECLINED) ? handler(r) : rc;
}


/* GET auth/wallet-status and session/status: axon's /api/me, session */

static ngx_int_t
ngx_http_axon_compat_wallet_status(ngx_http_request_t *r)
{
    return ngx_http_axon_compat_wallet_then(r, ngx_http_axon_me_handler);
}


static ngx_int_t
ngx_http_axon_compat_status(ngx_http_request_t *r)
{
    return ngx_http_axon_compat_wallet_then(r,
                                            ngx_http_axon_session_handler);
}


/*
 * GET x402/access?wallet_address=&minutes=[&requested_profile=]: 200
 * {access: true, remaining_minutes} to a signed-in wallet with credit;
 * else, or paid (a client of x402 sends the same GET again with its
 * payment), as POST x402/settle.  A token is optional here: without one
 * the answer is the 402, since a wallet's credit is its owner's.
 */

static ngx_int_t
ngx_http_axon_compat_access(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_axon_ctx_t           *ctx;
    ngx_http_axon_session_args_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet || ngx_http_axon_compat_paid(r)) {
        return ngx_http_axon_compat_pay(r);
    }

    rc = ngx_http_axon_compat_wallet_arg(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r,
                   ngx_http_axon_compat_access_reply, NULL, 3,
                   (const char *[]) { "HGET", (const char *) a->wallet_key,
                                      "balance" },
                   (const size_t[]) { 4, sizeof(a->wallet_key), 7 }));
}


static void
ngx_http_axon_compat_access_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t     *b;
    long long   balance;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    balance = (reply->type == REDIS_REPLY_STRING) ? atoll(reply->str) : 0;

    if (balance <= 0) {
        ngx_http_axon_finalize(r, ngx_http_axon_compat_pay(r));
        return;
    }

    b = json_pack("{s:b, s:I}", "access", 1,
                  "remaining_minutes", (json_int_t) balance);

    ngx_http_axon_finalize(r, b ? ngx_http_axon_send_json(r, NGX_HTTP_OK, b)
                                : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * POST x402/settle with X-PAYMENT (or PAYMENT-SIGNATURE): axon's x402
 * payment, credited to the payer's wallet with no session
 * (ngx_http_axon_x402_credit).  The authorization's signer is the payer:
 * no token is needed.
 */

static ngx_int_t
ngx_http_axon_compat_settle(ngx_http_request_t *r)
{
    return ngx_http_axon_compat_pay(r);
}


static ngx_int_t
ngx_http_axon_compat_pay(ngx_http_request_t *r)
{
    ngx_str_t   v, profile;
    ngx_int_t   minutes;

    minutes = 0;

    if (ngx_http_arg(r, (u_char *) "minutes", 7, &v) == NGX_OK) {
        minutes = ngx_atoi(v.data, v.len);

        if (minutes <= 0) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "unknown_minutes",
                                            "minutes must be a positive "
                                            "integer");
        }
    }

    if (ngx_http_arg(r, (u_char *) "requested_profile", 17, &profile)
        != NGX_OK)
    {
        ngx_str_null(&profile);
    }

    return ngx_http_axon_x402_credit(r, &profile, minutes);
}


/* a payment header, of either version */

static ngx_uint_t
ngx_http_axon_compat_paid(ngx_http_request_t *r)
{
    return ngx_http_axon_header_in(r, "X-PAYMENT", sizeof("X-PAYMENT") - 1)
           || ngx_http_axon_header_in(r, "PAYMENT-SIGNATURE",
                                      sizeof("PAYMENT-SIGNATURE") - 1);
}


/*
 * POST x402/session {wallet_address, ssh_pubkey, requested_profile?,
 * minutes?} with X-PAYMENT: axon's paid session {profile, minutes,
 * ssh_public_key}; minutes default to the first sold, the profile to
 * small.  The payer is the authorization's signer: wallet_address is only
 * checked to be an address.
 */

static ngx_int_t
ngx_http_axon_compat_x402_body(ngx_http_request_t *r, json_t *body)
{
    json_t                    *p, *m, *k, *b;
    ngx_int_t                 *sold;
    ngx_http_axon_ctx_t       *ctx;
    ngx_http_axon_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    p = json_object_get(body, "requested_profile");
    m = json_object_get(body, "minutes");
    k = json_object_get(body, "ssh_pubkey");

    sold = alcf->x402_minutes ? alcf->x402_minutes->elts : NULL;

    b = json_pack("{s:O?, s:O?, s:O?}",
                  "profile", json_is_string(p) ? p : NULL,
                  "minutes", json_is_integer(m) ? m : NULL,
                  "ssh_public_key", k);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_is_null(json_object_get(b, "profile"))) {
        json_object_set_new(b, "profile", json_string("small"));
    }

    if (json_is_null(json_object_get(b, "minutes")) && sold) {
        json_object_set_new(b, "minutes", json_integer(sold[0]));
    }

    ctx->compat_body = b;

    return NGX_DECLINED;
}


/* a paid session in the original's names: granted once it runs */

static json_t *
ngx_http_axon_compat_x402_session_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    const char  *state;

    if (json_is_object(json_object_get(body, "error"))
        || *status == 402)
    {
        return body;
    }

    state = json_string_value(json_object_get(body, "status"));

    ngx_http_axon_compat_set(body, "granted",
        json_boolean(*status == NGX_HTTP_OK && state
                     && ngx_strcmp(state, AXON_STATE_RUNNING) == 0));
    ngx_http_axon_compat_set(body, "remaining_minutes",
        json_incref(json_object_get(body, "balance_minutes")));

    return body;
}


/*
 * A credited payment in the original's names: its USDC credit result
 * (deposit_currency, usdc_amount, credited_minutes, remaining_minutes),
 * settlement_tx_hash, x402: true, and access: true for x402/access.
 */

static json_t *
ngx_http_axon_compat_x402_answer(ngx_http_request_t *r, ngx_uint_t *status,
    json_t *body)
{
    char         usdc[48];
    const char  *amount;

    if (*status != NGX_HTTP_OK
        || !json_is_string(json_object_get(body, "payment_id")))
    {
        return body;
    }

    /* the asset's 6 decimals, as the original wrote USDC amounts */
    amount = json_string_value(json_object_get(body, "amount"));
    snprintf(usdc, sizeof(usdc), "%.6f",
             amount ? strtod(amount, NULL) / 1e6 : 0.0);

    ngx_http_axon_compat_set(body, "verified", json_true());
    ngx_http_axon_compat_set(body, "access", json_true());
    ngx_http_axon_compat_set(body, "x402", json_true());
    ngx_http_axon_compat_set(body, "wallet_address",
        ngx_http_axon_compat_lower(json_object_get(body, "payer")));
    ngx_http_axon_compat_set(body, "tx_hash",
        json_incref(json_object_get(body, "transaction")));
    ngx_http_axon_compat_set(body, "settlement_tx_hash",
        json_incref(json_object_get(body, "transaction")));
    ngx_http_axon_compat_set(body, "deposit_currency", json_string("USDC"));
    ngx_http_axon_compat_set(body, "usdc_amount", json_string(usdc));
    ngx_http_axon_compat_set(body, "credited_minutes",
        json_incref(json_object_get(body, "credit_minutes")));
    ngx_http_axon_compat_set(body, "remaining_minutes",
        json_incref(json_object_get(body, "balance_minutes")));

    return body;
}


/*
 * GET public/telemetry/NAME: the totals the worker publishes
 * (axon:telemetry) and the pool of axon:profiles, in the original's
 * sections.  Every wallet's figures together, never one wallet's: the
 * original's per-session and per-wallet lists are not given.
 */

static ngx_int_t
ngx_http_axon_compat_telemetry(ngx_http_request_t *r)
{
    const char  *argv[3];
    size_t       argvlen[3];

    argv[0] = "MGET";
    argvlen[0] = 4;
    argv[1] = AXON_KEY_TELEMETRY;
    argvlen[1] = sizeof(AXON_KEY_TELEMETRY) - 1;
    argv[2] = AXON_KEY_PROFILES;
    argvlen[2] = sizeof(AXON_KEY_PROFILES) - 1;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r,
                   ngx_http_axon_compat_telemetry_reply, NULL, 3, argv,
                   argvlen));
}


static void
ngx_http_axon_compat_telemetry_reply(ngx_http_request_t *r,
    redisReply *reply, void *data)
{
    json_t      *t, *p, *doc;
    ngx_int_t    rc;
    redisReply  *e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    e = reply->element[0];
    t = (e->type == REDIS_REPLY_STRING)
        ? json_loadb(e->str, e->len, 0, NULL) : NULL;

    e = reply->element[1];
    p = (e->type == REDIS_REPLY_STRING)
        ? json_loadb(e->str, e->len, 0, NULL) : NULL;

    if (!json_is_object(json_object_get(t, "sessions"))
        || !json_is_object(json_object_get(p, "pool")))
    {
        json_decref(t);
        json_decref(p);
        rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "worker_unavailable",
                                      "the worker has not published its "
                                      "figures yet");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    doc = ngx_http_axon_compat_telemetry_doc(r, t, json_object_get(p,
                                                                   "pool"));
    json_decref(t);
    json_decref(p);

    ngx_http_axon_finalize(r, doc ? ngx_http_axon_send_json(r, NGX_HTTP_OK,
                                                            doc)
                                  : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* the section the path names (after "public/telemetry/") */

static json_t *
ngx_http_axon_compat_telemetry_doc(ngx_http_request_t *r, json_t *t,
    json_t *pool)
{
    u_char   *name;
    size_t    len;
    json_t   *s, *webrtc;

    name = r->uri.data + r->uri.len;

    while (name > r->uri.data && name[-1] != '/') {
        name--;
    }

    len = r->uri.data + r->uri.len - name;

    s = json_object_get(t, "sessions");

    /* axon's desktop is VNC: no WebRTC session was ever made */
    webrtc = json_pack("{s:i, s:i, s:i, s:i}", "total", 0, "closed", 0,
                       "failed", 0, "answered", 0);

#define ngx_http_axon_compat_is(s)                                           \
    (len == sizeof(s) - 1 && ngx_strncmp(name, s, len) == 0)

    if (ngx_http_axon_compat_is("summary")) {
        return json_pack("{s:O, s:O, s:o, s:O}",
                         "sessions", s,
                         "deposits", json_object_get(t, "deposits"),
                         "webrtc", webrtc,
                         "updated_at", json_object_get(t, "updated_at"));
    }

    if (ngx_http_axon_compat_is("webrtc")) {
        return json_pack("{s:o}", "webrtc", webrtc);
    }

    json_decref(webrtc);

    if (ngx_http_axon_compat_is("sessions")) {
        return json_pack("{s:O, s:O}", "sessions", s,
                         "updated_at", json_object_get(t, "updated_at"));
    }

    if (ngx_http_axon_compat_is("wallets")) {
        return json_pack("{s:O?, s:O}",
                         "wallets", json_object_get(t, "wallets"),
                         "updated_at", json_object_get(t, "updated_at"));
    }

    if (ngx_http_axon_compat_is("live")) {
        return json_pack("{s:{s:O?, s:O?, s:O?, s:O?}}",
                         "live",
                         "active_sessions", json_object_get(s, "active"),
                         "queued_sessions", json_object_get(pool, "queued"),
                         "total_gpus", json_object_get(pool, "gpus"),
                         "free_gpus", json_object_get(pool, "free"));
    }

#undef ngx_http_axon_compat_is

    /* events: the original listed each session's; axon none */
    return json_pack("{s:[], s:s}", "events",
                     "message", "not published: see "
                                "/api/public/telemetry/summary");
}


/*
 * The JSON body of a request on one of the original's routes, before
 * axon's handler takes it: NGX_DECLINED to go on (with ctx->compat_body
 * when renamed), or the answer.
 */

ngx_int_t
ngx_http_axon_compat_body(ngx_http_request_t *r, json_t *body)
{
    json_t                  *w;
    ngx_int_t                rc;
    ngx_http_axon_ctx_t     *ctx;
    ngx_http_axon_compat_t  *c;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || ctx->compat_route == NULL) {
        return NGX_DECLINED;
    }

    c = ctx->compat_route;
    w = json_object_get(body, "wallet_address");

    if (w == NULL && ctx->compat == NULL) {
        /* axon's own request on a shared path */
        return NGX_DECLINED;
    }

    ctx->compat = c;

    if (w) {
        if (!json_is_string(w)) {
            return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                              "Valid wallet_address "
                                              "required");
        }

        rc = ngx_http_axon_compat_wallet(r,
                                         (u_char *) json_string_value(w),
                                         json_string_length(w));

    } else {
        /* or in the query, as a GET's */
        rc = ngx_http_axon_compat_wallet_arg(r);
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    return c->body ? c->body(r, body) : NGX_DECLINED;
}


/* GET auth/challenge?wallet_address=: axon's challenge, ?address= */

static ngx_int_t
ngx_http_axon_compat_challenge(ngx_http_request_t *r)
{
    u_char               *p;
    ngx_str_t             v;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx && ctx->compat
        && ngx_http_arg(r, (u_char *) "wallet_address", 14, &v) == NGX_OK)
    {
        if (v.len == 0) {
            return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                              "wallet_address is required");
        }

        p = ngx_pnalloc(r->pool, sizeof("address=") - 1 + v.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->args.data = p;
        r->args.len = ngx_cpymem(p, "address=", sizeof("address=") - 1)
                      + v.len - p;
        ngx_memcpy(p + sizeof("address=") - 1, v.data, v.len);
    }

    return ngx_http_axon_challenge_handler(r);
}


/*
 * verify-wallet {wallet_address, message, signature|signature_hex}: the
 * message axon issued is signed as given; wallet_address must be the
 * address it names.
 */

static ngx_int_t
ngx_http_axon_compat_verify_body(ngx_http_request_t *r, json_t *body)
{
    json_t               *w, *m, *s, *b;
    const char           *why, *sig;
    axon_siwe_t           siwe;
    uint8_t               addr[AXON_ADDR_LEN];
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    w = json_object_get(body, "wallet_address");
    m = json_object_get(body, "message");
    s = json_object_get(body, "signature");

    if (s == NULL) {
        s = json_object_get(body, "signature_hex");
    }

    if (!json_is_string(w)) {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                          "wallet_address is required");
    }

    if (!json_is_string(m)) {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                          "message is required");
    }

    if (!json_is_string(s)) {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                          "signature is required");
    }

    if (axon_address_parse(addr, json_string_value(w), json_string_length(w))
        != AXON_OK)
    {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                   "Invalid wallet address format. Must be 0x followed by "
                   "40 hex characters.");
    }

    if (axon_siwe_parse(&siwe, json_string_value(m), json_string_length(m),
                        &why)
        == AXON_OK
        && ngx_memcmp(siwe.addr, addr, AXON_ADDR_LEN) != 0)
    {
        return ngx_http_axon_compat_error(r, NGX_HTTP_UNAUTHORIZED,
                                          "Wallet signature verification "
                                          "failed.");
    }

    /* a message axon cannot parse is refused by axon's own check */

    /* the original took the signature's hex with or without 0x */

    sig = json_string_value(s);

    b = (sig[0] == '0' && (sig[1] == 'x' || sig[1] == 'X'))
        ? json_pack("{s:O, s:O}", "message", m, "signature", s)
        : json_pack("{s:O, s:s+}", "message", m, "signature", "0x", sig);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->compat_body = b;

    return NGX_DECLINED;
}


/* GET discount/quote: axon's quote of an hour of a profile (small) */

static ngx_int_t
ngx_http_axon_compat_quote(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   v, profile;
    ngx_int_t   rc;

    rc = ngx_http_axon_compat_wallet_arg(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_axon_compat_base_eth(r) <= 0) {
        return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                          "Invalid base_eth value");
    }

    if (ngx_http_arg(r, (u_char *) "requested_profile", 17, &profile)
        != NGX_OK || profile.len == 0 || profile.len > 32)
    {
        ngx_str_set(&profile, "small");
    }

    p = ngx_pnalloc(r->pool, sizeof("profile=&minutes=60") - 1
                             + profile.len + r->args.len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* axon's arguments first: ngx_http_arg() takes the first of a name */

    v.data = p;
    p = ngx_sprintf(p, "profile=%V&minutes=60", &profile);

    if (r->args.len) {
        p = ngx_sprintf(p, "&%V", &r->args);
    }

    v.len = p - v.data;
    r->args = v;

    return ngx_http_axon_quote_handler(r);
}


/*
 * POST session/claim {wallet_address, requested_profile, requested_ssh,
 * ssh_pubkey}: the wallet's live session if it has one (the original's
 * "already owner"), else axon's claim.
 */

static ngx_int_t
ngx_http_axon_compat_claim(ngx_http_request_t *r)
{
    return ngx_http_axon_read_json(r, ngx_http_axon_compat_claim_body);
}


static ngx_int_t
ngx_http_axon_compat_claim_body(ngx_http_request_t *r, json_t *body)
{
    static const axon_script_t  status = AXON_SCRIPT(SESSION_STATUS);

    json_t                        *p, *ssh, *key, *b;
    ngx_int_t                      rc;
    ngx_http_axon_ctx_t           *ctx;
    ngx_http_axon_session_args_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    p = json_object_get(body, "requested_profile");
    ssh = json_object_get(body, "requested_ssh");
    key = json_object_get(body, "ssh_pubkey");

    b = json_pack("{s:O?, s:s}",
                  "profile", json_is_string(p) ? p : NULL,
                  "mode", json_is_true(ssh) ? "ssh" : "desktop");
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_is_null(json_object_get(b, "profile"))) {
        json_object_set_new(b, "profile", json_string("small"));
    }

    if (json_is_true(ssh)) {
        if (!json_is_string(key)) {
            json_decref(b);
            return ngx_http_axon_compat_error(r, NGX_HTTP_BAD_REQUEST,
                                              "A valid SSH public key is "
                                              "required for SSH access");
        }

        json_object_set(b, "ssh_public_key", key);
    }

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        json_decref(b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* kept for the claim, after the reply */
    ctx->compat_body = b;

    rc = ngx_http_axon_redis_wait(r,
             ngx_http_axon_redis_script(r, ngx_http_axon_compat_claim_reply,
                 NULL, &status, 1, 1,
                 (const char *[]) { (const char *) a->wallet_key },
                 (const size_t[]) { sizeof(a->wallet_key) }));

    if (rc != NGX_DONE) {
        json_decref(b);
        ctx->compat_body = NULL;
    }

    return rc;
}


static void
ngx_http_axon_compat_claim_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t               *s;
    ngx_int_t             rc;
    const char           *state;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        rc = ngx_http_axon_redis_unavailable(r);
        goto done;
    }

    s = NULL;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements) {
        s = ngx_http_axon_session_json(reply);

        if (s == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
    }

    state = json_string_value(json_object_get(s, "status"));

    if (state && ngx_strcmp(state, AXON_STATE_ENDED) != 0) {
        /* the caller's own session: the answer is its state */
        rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, s);
        goto done;
    }

    json_decref(s);

    rc = ngx_http_axon_claim_body(r, ctx->compat_body);

done:

    json_decref(ctx->compat_body);
    ctx->compat_body = NULL;

    ngx_http_axon_finalize(r, rc);
}


/*
 * POST session/heartbeat and session/release: a JSON body is read for its
 * wallet_address (ngx_http_axon_compat_body) before axon's handler, which
 * takes none.  Any other body (none, a form, text) names no wallet: the
 * request is axon's own, answered as without the layer, its body unread
 * (axon's heartbeat never read one; the token decides the wallet).
 */

static ngx_uint_t
ngx_http_axon_compat_json_body(ngx_http_request_t *r)
{
    return (r->headers_in.content_length_n > 0 || r->headers_in.chunked)
           && ngx_http_axon_is_json(r);
}


static ngx_int_t
ngx_http_axon_compat_heartbeat(ngx_http_request_t *r)
{
    if (!ngx_http_axon_compat_json_body(r)) {
        return ngx_http_axon_compat_wallet_then(r,
                   ngx_http_axon_heartbeat_handler);
    }

    return ngx_http_axon_read_json(r, ngx_http_axon_compat_heartbeat_body);
}


static ngx_int_t
ngx_http_axon_compat_heartbeat_body(ngx_http_request_t *r, json_t *body)
{
    return ngx_http_axon_heartbeat_handler(r);
}


static ngx_int_t
ngx_http_axon_compat_release(ngx_http_request_t *r)
{
    if (!ngx_http_axon_compat_json_body(r)) {
        return ngx_http_axon_compat_wallet_then(r,
                   ngx_http_axon_release_handler);
    }

    return ngx_http_axon_read_json(r, ngx_http_axon_compat_release_body);
}


static ngx_int_t
ngx_http_axon_compat_release_body(ngx_http_request_t *r, json_t *body)
{
    /* the gate found the wallet: axon's handler reads no body */
    return ngx_http_axon_release_handler(r);
}


/* axon keeps no stopped container to restart: release and claim again */

static ngx_int_t
ngx_http_axon_compat_restart(ngx_http_request_t *r)
{
    json_t  *b;

    b = json_pack("{s:b, s:s}", "restarted", 0,
                  "reason", "Restart is not supported: release the session "
                            "and claim again");

    return b ? ngx_http_axon_send_json(r, NGX_HTTP_OK, b)
             : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * axon's answer in the original's names (called by
 * ngx_http_axon_send_json): the route's own renaming, then axon's error
 * object as the original's {FLAG: false, "error": TEXT} (axon's code
 * kept beside), and the status the original gave.
 */

json_t *
ngx_http_axon_compat_answer(ngx_http_request_t *r, ngx_uint_t *status,
    json_t *body)
{
    json_t                  *e, *o;
    const char              *code, *msg;
    ngx_http_axon_ctx_t     *ctx;
    ngx_http_axon_compat_t  *c;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    c = ctx->compat;

    if (c->answer) {
        body = c->answer(r, status, body);

        if (body == NULL) {
            return NULL;
        }
    }

    e = json_object_get(body, "error");

    if (!json_is_object(e) || c->axon_errors) {
        return body;
    }

    code = json_string_value(json_object_get(e, "code"));
    msg = json_string_value(json_object_get(e, "message"));

    if (code && (ngx_strcmp(code, "no_token") == 0
                 || ngx_strcmp(code, "unknown_token") == 0
                 || ngx_strcmp(code, "expired_token") == 0))
    {
        msg = "Valid auth token required";
    }

    /* axon's other fields (a session_id, a balance) stay beside */

    o = json_pack("{s:s?, s:s?}", "error", msg, "code", code);

    if (o == NULL || json_object_update_missing(o, body) != 0) {
        json_decref(o);
        json_decref(body);
        return NULL;
    }

    if (c->flag) {
        ngx_http_axon_compat_set(o, c->flag, json_false());
    }

    json_decref(body);

    if (c->ok && (*status == 402 || *status == NGX_HTTP_NOT_FOUND
                  || *status == NGX_HTTP_CONFLICT))
    {
        *status = NGX_HTTP_OK;
    }

    return o;
}


static json_t *
ngx_http_axon_compat_challenge_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (*status == NGX_HTTP_OK) {
        ngx_http_axon_compat_set(body, "challenge",
                                 json_incref(json_object_get(body,
                                                             "message")));
        ngx_http_axon_compat_set(body, "challenge_expires_in_seconds",
            json_integer((json_int_t) (alcf->challenge_ttl / 1000)));
    }

    return body;
}


/* the wallet in the original's form: lowercase */

static json_t *
ngx_http_axon_compat_lower(json_t *wallet)
{
    size_t       i;
    const char  *s;
    char         lower[AXON_ADDR_TEXT_LEN + 1];

    s = json_string_value(wallet);

    if (s == NULL || ngx_strlen(s) != AXON_ADDR_TEXT_LEN) {
        return json_null();
    }

    for (i = 0; i < AXON_ADDR_TEXT_LEN; i++) {
        lower[i] = (char) ngx_tolower(s[i]);
    }

    lower[i] = '\0';

    return json_string(lower);
}


static json_t *
ngx_http_axon_compat_verify_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_t                    *e;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (*status == NGX_HTTP_OK) {
        ngx_http_axon_compat_set(body, "verified", json_true());
        ngx_http_axon_compat_set(body, "wallet_address",
            ngx_http_axon_compat_lower(json_object_get(body, "wallet")));
        ngx_http_axon_compat_set(body, "auth_token",
            json_incref(json_object_get(body, "token")));
        ngx_http_axon_compat_set(body, "auth_token_expires_in_seconds",
            json_integer((json_int_t) (alcf->token_ttl / 1000)));
        return body;
    }

    e = json_object_get(body, "error");

    if (*status == NGX_HTTP_UNAUTHORIZED && json_is_object(e)) {
        /* the original's one text; axon's code says which check failed */
        json_object_set_new(e, "message",
                            json_string("Wallet signature verification "
                                        "failed."));
    }

    return body;
}


/* GET auth/wallet-status: axon's /api/me in the original's names */

static json_t *
ngx_http_axon_compat_wallet_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_int_t            balance;
    ngx_uint_t            credit;
    const char           *reason;
    ngx_http_axon_ctx_t  *ctx;

    if (*status != NGX_HTTP_OK) {
        return body;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    balance = json_integer_value(json_object_get(body, "balance_minutes"));
    credit = balance > 0;
    reason = "No prepaid credit. Deposit AXGT/ETH to the revenue wallet and "
             "submit the transaction hash to get usage minutes.";

    ngx_http_axon_compat_set(body, "wallet_address",
        ngx_http_axon_compat_lower(json_object_get(body, "wallet")));
    ngx_http_axon_compat_set(body, "verified", json_boolean(credit));
    ngx_http_axon_compat_set(body, "locked", json_boolean(!credit));
    ngx_http_axon_compat_set(body, "access_type",
                             credit ? json_string("deposit_credit")
                                    : json_null());
    ngx_http_axon_compat_set(body, "remaining_minutes", json_integer(balance));
    ngx_http_axon_compat_set(body, "reason",
                             credit ? json_null() : json_string(reason));
    ngx_http_axon_compat_set(body, "auth_token_expires_in_seconds",
        json_integer((json_int_t) (ctx->token_expires - ngx_time())));
    ngx_http_axon_compat_set(body, "gpu_billing_enabled", json_true());

    if (!credit) {
        ngx_http_axon_compat_set(body, "error", json_string(reason));
    }

    return body;
}


/* verify-deposit: axon queues the check; the original's "pending" */

static json_t *
ngx_http_axon_compat_deposit_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_t               *o;
    char                  wallet[AXON_ADDR_TEXT_LEN + 1];
    ngx_http_axon_ctx_t  *ctx;

    if (*status != NGX_HTTP_ACCEPTED) {
        return body;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    axon_address_format_lower(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    o = json_pack("{s:b, s:b, s:s, s:O, s:s, s:i, s:n}",
                  "verified", 0, "pending", 1, "wallet_address", wallet,
                  "tx_hash", json_object_get(body, "tx_hash"),
                  "error", "Transaction submitted: the worker checks it; "
                           "its credit shows in GET /api/deposits and "
                           "wallet-status",
                  "confirmations", 0, "required");

    json_decref(body);
    *status = NGX_HTTP_OK;

    return o;
}


/*
 * GET /api/config: the original's flat fields beside axon's, from the
 * same answer (tokens, tiers, profiles).
 */

static json_t *
ngx_http_axon_compat_config_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    size_t       i;
    json_t      *t, *tiers, *profiles, *p, *eth, *axgt;
    const char  *sym;

    if (*status != NGX_HTTP_OK) {
        return body;
    }

    eth = NULL;
    axgt = NULL;

    json_array_foreach(json_object_get(body, "tokens"), i, t) {
        sym = json_string_value(json_object_get(t, "address"));

        if (sym && ngx_strcmp(sym, "ETH") == 0) {
            eth = t;

        } else if (axgt == NULL) {
            axgt = t;
        }
    }

    tiers = json_array();
    profiles = json_object();

    json_array_foreach(json_object_get(body, "tiers"), i, t) {
        json_array_append_new(tiers, json_pack("{s:O?, s:O?}",
                              "min_axgt", json_object_get(t, "min"),
                              "discount_percent",
                              json_object_get(t, "discount_pct")));
    }

    json_array_foreach(json_object_get(body, "profiles"), i, p) {
        sym = json_string_value(json_object_get(p, "name"));

        if (sym) {
            json_object_set(profiles, sym, json_object_get(p, "gpus"));
        }
    }

    ngx_http_axon_compat_set(body, "axgt_chain_id",
        json_incref(json_object_get(json_object_get(body, "chain"), "id")));
    ngx_http_axon_compat_set(body, "axgt_revenue_wallet",
        json_incref(json_object_get(body, "revenue_wallet")));
    ngx_http_axon_compat_set(body, "axgt_contract_address",
        axgt ? json_incref(json_object_get(axgt, "address")) : json_null());
    ngx_http_axon_compat_set(body, "axgt_token_decimals",
        axgt ? json_incref(json_object_get(axgt, "decimals")) : json_null());
    ngx_http_axon_compat_set(body, "eth_deposits_enabled",
                             json_boolean(eth != NULL));
    ngx_http_axon_compat_set(body, "eth_credit_per_eth_minutes",
        eth ? json_incref(json_object_get(eth, "minutes_per_token"))
            : json_null());
    ngx_http_axon_compat_set(body, "axgt_direct_deposits_enabled",
                             json_boolean(axgt != NULL));
    ngx_http_axon_compat_set(body, "axgt_credit_per_100_axgt_minutes",
        axgt ? json_integer(100 * json_integer_value(
                   json_object_get(axgt, "minutes_per_token")))
             : json_null());
    ngx_http_axon_compat_set(body, "axgt_discount_tiers", tiers);
    ngx_http_axon_compat_set(body, "axgt_warning_threshold_minutes",
        json_incref(json_object_get(body, "grace_minutes")));
    ngx_http_axon_compat_set(body, "multi_session_enabled", json_true());
    ngx_http_axon_compat_set(body, "gpu_profiles_enabled", json_true());
    ngx_http_axon_compat_set(body, "gpu_profiles", profiles);
    ngx_http_axon_compat_set(body, "gpu_weighted_billing_enabled",
                             json_true());

    return body;
}


/*
 * discount/quote: from axon's quote of 60 minutes of a profile in ETH,
 * the wallet's discount and what base_eth buys.  Figures to show, not
 * money: a deposit is credited by the worker at its confirmation.
 */

static json_t *
ngx_http_axon_compat_quote_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    size_t                i;
    double                base, amount, credit, pct, rate;
    json_t               *o, *p;
    const char           *a, *wei;
    char                  final[48], wallet[AXON_ADDR_TEXT_LEN + 1];
    ngx_http_axon_ctx_t  *ctx;

    if (*status != NGX_HTTP_OK) {
        return body;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    axon_address_format_lower(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    base = ngx_http_axon_compat_base_eth(r);
    wei = NULL;

    json_array_foreach(json_object_get(body, "prices"), i, p) {
        a = json_string_value(json_object_get(p, "asset"));

        if (a && ngx_strcmp(a, "ETH") == 0) {
            wei = json_string_value(json_object_get(p, "amount"));
        }
    }

    pct = (double) json_integer_value(json_object_get(body, "discount_pct"));
    credit = (double) json_integer_value(json_object_get(body,
                                                         "credit_minutes"));
    amount = wei ? strtod(wei, NULL) / 1e18 : 0;

    /* the undiscounted minutes an ETH buys (amount is discounted) */
    rate = (amount > 0 && pct < 100) ? credit * (1 - pct / 100) / amount : 0;

    snprintf(final, sizeof(final), "%.12g", base * (1 - pct / 100));

    o = json_pack("{s:b, s:s, s:f, s:s, s:I, s:n, s:n, s:n, s:n, s:n,"
                  " s:O?, s:n, s:[], s:I, s:I, s:O}",
                  "ok", 1, "wallet_address", wallet,
                  "base_eth", base, "final_eth", final,
                  "discount_percent", (json_int_t) pct,
                  "tier_index", "tier_label", "tier_min_axgt",
                  "axgt_balance", "axgt_balance_floor",
                  "balance_check_ok",
                  json_object_get(body, "tier_known"),
                  "balance_check_error", "tiers",
                  "estimated_minutes", (json_int_t) (base * rate),
                  "eth_credit_per_eth_minutes", (json_int_t) rate,
                  "quote", body);

    json_decref(body);

    return o;
}


/*
 * A session's answer in the original's names: granted once running, the
 * SSH fields of an SSH session.  From GET /api/session's object, or the
 * 202 of a claim just queued.
 */

static json_t *
ngx_http_axon_compat_claim_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_t       *e;
    const char   *state, *code;
    ngx_uint_t    running;

    e = json_object_get(body, "error");

    if (json_is_object(e)) {
        code = json_string_value(json_object_get(e, "code"));

        if (code == NULL) {
            return body;
        }

        if (ngx_strcmp(code, "bad_ssh_key") == 0) {
            json_object_set_new(e, "message",
                                json_string("A valid SSH public key is "
                                            "required for SSH access"));
            return body;
        }

        if (ngx_strcmp(code, "insufficient_credits") == 0) {
            json_object_set_new(e, "message",
                                json_string("No prepaid credit. Deposit "
                                            "AXGT and verify tx hash."));
        }

        if (ngx_strcmp(code, "insufficient_credits") == 0
            || ngx_strcmp(code, "unknown_profile") == 0
            || ngx_strcmp(code, "ssh_disabled") == 0
            || ngx_strcmp(code, "session_exists") == 0)
        {
            /* the original refuses a claim with 200 and a reason */
            ngx_http_axon_compat_set(body, "reason",
                json_incref(json_object_get(e, "message")));
            *status = NGX_HTTP_OK;
        }

        return body;
    }

    state = json_string_value(json_object_get(body, "status"));
    running = state && ngx_strcmp(state, AXON_STATE_RUNNING) == 0;

    ngx_http_axon_compat_set(body, "granted", json_boolean(running));
    ngx_http_axon_compat_set(body, "allocation_status",
        json_string(ngx_http_axon_compat_allocation(state)));
    ngx_http_axon_compat_set(body, "requested_profile",
        json_incref(json_object_get(body, "profile")));
    ngx_http_axon_compat_set(body, "assigned_gpu_ids", json_array());
    ngx_http_axon_compat_set(body, "container_id", json_null());

    if (json_object_get(body, "ssh_host")) {
        ngx_http_axon_compat_set(body, "ssh_enabled", json_true());
    }

    if (!running) {
        ngx_http_axon_compat_set(body, "reason",
            json_string("Queued: axon starts the session when GPUs are "
                        "free; claim again or poll /api/session/status"));
    }

    *status = NGX_HTTP_OK;

    return body;
}


static json_t *
ngx_http_axon_compat_heartbeat_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_t  *e, *b;

    e = json_object_get(body, "error");

    if (json_is_object(e)) {
        if (*status == NGX_HTTP_NOT_FOUND) {
            json_object_set_new(e, "message",
                                json_string("No active session for this "
                                            "wallet"));
            ngx_http_axon_compat_set(body, "reason",
                                     json_string("No active session for "
                                                 "this wallet"));
        }

        return body;
    }

    b = json_object_get(body, "balance_minutes");

    ngx_http_axon_compat_set(body, "ok", json_true());
    ngx_http_axon_compat_set(body, "remaining_minutes", json_incref(b));
    ngx_http_axon_compat_set(body, "remaining_seconds",
        json_integer(60 * json_integer_value(b)));
    ngx_http_axon_compat_set(body, "allocation_status",
        json_string(ngx_http_axon_compat_allocation(
            json_string_value(json_object_get(body, "status")))));
    ngx_http_axon_compat_set(body, "container_id", json_null());
    ngx_http_axon_compat_set(body, "assigned_gpu_ids", json_array());
    ngx_http_axon_compat_set(body, "gpu_billing_enabled", json_true());

    /* not in axon's heartbeat: GET /api/session/status has the profile */
    ngx_http_axon_compat_set(body, "requested_profile", json_null());
    ngx_http_axon_compat_set(body, "billing_gpu_count", json_null());

    return body;
}


static json_t *
ngx_http_axon_compat_release_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    if (json_is_object(json_object_get(body, "error"))) {
        if (*status == NGX_HTTP_NOT_FOUND) {
            ngx_http_axon_compat_set(body, "reason",
                                     json_string("No active session for "
                                                 "this wallet"));
        }

        return body;
    }

    ngx_http_axon_compat_set(body, "released", json_true());
    ngx_http_axon_compat_set(body, "released_gpu_ids", json_array());
    ngx_http_axon_compat_set(body, "container_id", json_null());
    *status = NGX_HTTP_OK;

    return body;
}


/* GET session/status: the caller's own session (axon shows no other's) */

static json_t *
ngx_http_axon_compat_status_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body)
{
    json_t               *o, *s;
    const char           *state;
    ngx_uint_t            live;
    ngx_http_axon_ctx_t  *ctx;
    char                  wallet[AXON_ADDR_TEXT_LEN + 1];

    if (*status != NGX_HTTP_OK && *status != NGX_HTTP_NOT_FOUND) {
        return body;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);
    axon_address_format_lower(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    state = json_string_value(json_object_get(body, "status"));
    live = *status == NGX_HTTP_OK && state
           && ngx_strcmp(state, AXON_STATE_ENDED) != 0;

    o = json_pack("{s:b, s:b, s:b, s:b, s:i, s:n, s:n, s:[]}",
                  "active", live, "is_owner", live,
                  "multi_session_enabled", 1, "gpu_profiles_enabled", 1,
                  "active_sessions_count", live ? 1 : 0,
                  "active_wallet", "session_remaining_seconds",
                  "active_sessions");

    if (o && live) {
        ngx_http_axon_compat_set(o, "active_wallet", json_string(wallet));
        ngx_http_axon_compat_set(o, "queue_position",
            json_incref(json_object_get(body, "position")));

        s = json_pack("{s:O?, s:s, s:O?, s:[], s:n, s:s, s:O?}",
                      "session_id", json_object_get(body, "session_id"),
                      "wallet_address", wallet,
                      "requested_profile", json_object_get(body, "profile"),
                      "assigned_gpu_ids", "container_id",
                      "allocation_status",
                      ngx_http_axon_compat_allocation(state),
                      "started_at", json_object_get(body, "started_at"));

        json_array_append_new(json_object_get(o, "active_sessions"), s);
    }

    if (o) {
        /* axon's session, or none yet (not axon's 404 error) */
        ngx_http_axon_compat_set(o, "session",
                                 *status == NGX_HTTP_OK ? json_incref(body)
                                                        : json_null());
    }

    json_decref(body);
    *status = NGX_HTTP_OK;

    return o;
}


/* axon's session state as the original's allocation_status */

static const char *
ngx_http_axon_compat_allocation(const char *state)
{
    if (state == NULL) {
        return "unavailable";
    }

    if (ngx_strcmp(state, AXON_STATE_RUNNING) == 0) {
        return "allocated";
    }

    if (ngx_strcmp(state, "ending") == 0
        || ngx_strcmp(state, AXON_STATE_ENDED) == 0)
    {
        return "released";
    }

    return state;   /* queued, starting */
}


/* a refusal in axon's form: ngx_http_axon_compat_answer() renames it */

static ngx_int_t
ngx_http_axon_compat_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    return ngx_http_axon_send_error(r, status,
                                    status == NGX_HTTP_UNAUTHORIZED
                                    ? "wallet_mismatch" : "bad_request",
                                    message);
}


/* sets key to v (taking it), NULL (no memory) as null */

static void
ngx_http_axon_compat_set(json_t *o, const char *key, json_t *v)
{
    (void) json_object_set_new(o, key, v ? v : json_null());
}


/* ?base_eth=, 0.0005 by default; -1: not a positive number */

static double
ngx_http_axon_compat_base_eth(ngx_http_request_t *r)
{
    char       *end, text[32];
    double      d;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) "base_eth", 8, &v) != NGX_OK) {
        return 0.0005;
    }

    if (v.len == 0 || v.len >= sizeof(text)) {
        return -1;
    }

    ngx_memcpy(text, v.data, v.len);
    text[v.len] = '\0';

    d = strtod(text, &end);

    return (*end == '\0' && d > 0 && d < 1e9) ? d : -1;
}
