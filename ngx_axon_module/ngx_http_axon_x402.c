/*
 * x402: agents pay for an SSH GPU session with a signed USDC authorization
 * (EIP-3009), protocol version 2 of the @x402 packages (docs/x402-notes.md).
 *
 *   GET  /.well-known/x402       (axon_x402_discovery) 402: every offer
 *   GET  /api/x402/session       the same
 *   POST /api/x402/session       {"profile", "minutes", "ssh_public_key"
 *                                [, "session_id"]}: without a payment 402
 *                                with the one offer; with PAYMENT-SIGNATURE
 *                                verified here, recorded and queued for the
 *                                worker (job x402.pay), then waited for
 *   GET  /api/x402/payment/NONCE the payment's record and its session
 *
 * Redis (README: "Redis keys"): axon:x402:pay:NONCE, a hash: the module
 * writes state=pending payer profile minutes amount network valid_before
 * created_at token_hash job_id [session_id]; the worker writes state
 * settled|failed, transaction, error_reason, settled_at, session_id,
 * paid_until, credit and, when no session could start, session_error.
 */


#include "ngx_http_axon_module.h"

#include <openssl/rand.h>

#include "axon_eip712.h"
#include "axon_sshkey.h"


#define NGX_HTTP_AXON_X402_NONCE_LEN   66          /* 0x + 64 hex */
#define NGX_HTTP_AXON_X402_HEADER_MAX  6144
#define NGX_HTTP_AXON_X402_POLL        250         /* ms between polls */
#define NGX_HTTP_AXON_X402_KEEP        86400       /* s past validBefore */
#define NGX_HTTP_AXON_X402_SKEW        60          /* s of clock skew */
#define NGX_HTTP_AXON_X402_MARGIN      6           /* s, as the SDK's */
#define NGX_HTTP_AXON_X402_MINUTES_MAX 10080       /* a week */


typedef struct {
    /* the request */
    ngx_str_t                 profile;
    ngx_int_t                 minutes;            /* 0: every offer */
    ngx_str_t                 ssh_key;
    ngx_int_t                 session_id;         /* top-up; 0: none */
    ngx_str_t                 header;             /* PAYMENT-SIGNATURE */

    /* the matched offer */
    json_t                   *requirement;
    char                      amount[AXON_UINT256_DEC_MAX + 1];

    /* the verified payment */
    char                      nonce[NGX_HTTP_AXON_X402_NONCE_LEN + 1];
    char                      payer[AXON_ADDR_TEXT_LEN + 1];    /* EIP-55 */
    char                      payer_lower[AXON_ADDR_TEXT_LEN + 1];
    u_char                    token[NGX_HTTP_AXON_TOKEN_LEN + 1];
    u_char                    pay_key[sizeof(AXON_KEY_X402_PAY)
                                      + NGX_HTTP_AXON_X402_NONCE_LEN];
    size_t                    pay_key_len;
    ngx_msec_t                until;              /* the wait's end */
    unsigned                  v1:1;               /* X-PAYMENT */
    ngx_event_t               timer;
    ngx_http_request_t       *request;
} ngx_http_axon_x402_ctx_t;


static ngx_int_t ngx_http_axon_x402_off(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_x402_offers(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static void ngx_http_axon_x402_profiles_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_x402_body(ngx_http_request_t *r,
    json_t *body);
static json_t *ngx_http_axon_x402_requirement(ngx_http_request_t *r,
    json_t *profile, ngx_int_t minutes, char *amount);
static json_t *ngx_http_axon_x402_resource(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_required(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *accepts, const char *code,
    const char *message);
static ngx_int_t ngx_http_axon_x402_header(ngx_http_request_t *r,
    const char *name, json_t *v);
static ngx_int_t ngx_http_axon_x402_pay(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_no_session(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t why, redisReply *id,
    redisReply *state);
static ngx_int_t ngx_http_axon_x402_busy(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t why);
static void ngx_http_axon_x402_pay_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_x402_poll(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static void ngx_http_axon_x402_poll_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_x402_timer(ngx_event_t *ev);
static void ngx_http_axon_x402_cleanup(void *data);
static ngx_int_t ngx_http_axon_x402_accepted(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *accepted);
static ngx_int_t ngx_http_axon_x402_answer(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *reply, ngx_uint_t last);
static ngx_int_t ngx_http_axon_x402_settled(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_str_t *reason, ngx_str_t *tx);
static ngx_int_t ngx_http_axon_x402_unstarted(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, redisReply *s,
    ngx_str_t *tx);
static ngx_int_t ngx_http_axon_x402_later(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, const char *state);
static u_char *ngx_http_axon_x402_status_url(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_unknown(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_str_t *ngx_http_axon_x402_field(redisReply *hash,
    const char *name, ngx_str_t *out);
static void ngx_http_axon_x402_status_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_x402_status_public(ngx_http_request_t *r,
    redisReply *p, redisReply *s);


/* the payment's record and, once it has one, its session */

static const axon_script_t  ngx_http_axon_x402_poll_script =
    AXON_SCRIPT(X402_POLL);


/*
 * The payment's checks that need Redis (a used nonce, the session it pays
 * for, the bounds of pending payments), then its record and its x402.pay
 * job, atomically: lua/x402_pay.lua says which answer means what.
 */

static const axon_script_t  ngx_http_axon_x402_pay_script =
    AXON_SCRIPT(X402_PAY);


/* GET /api/x402/payment/NONCE: the record, its session, whether the
 * caller is the payer (lua/x402_status.lua) */

static const axon_script_t  ngx_http_axon_x402_status_script =
    AXON_SCRIPT(X402_STATUS);


static ngx_str_t  ngx_http_axon_x402_sig = ngx_string("payment-signature");
static ngx_str_t  ngx_http_axon_x402_ended = ngx_string("the session ended");
static ngx_str_t  ngx_http_axon_x402_v1 = ngx_string("x-payment");


static ngx_int_t
ngx_http_axon_x402_off(ngx_http_request_t *r)
{
    return ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "x402 is not configured here");
}


static ngx_http_axon_x402_ctx_t *
ngx_http_axon_x402_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_axon_x402_ctx_t  *x;

    x = ngx_pcalloc(r->pool, sizeof(ngx_http_axon_x402_ctx_t));
    if (x == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_axon_x402_cleanup;
    cln->data = x;

    x->request = r;

    return x;
}


static void
ngx_http_axon_x402_cleanup(void *data)
{
    ngx_http_axon_x402_ctx_t  *x = data;

    if (x->timer.timer_set) {
        ngx_del_timer(&x->timer);
    }

    json_decref(x->requirement);
    x->requirement = NULL;
}


/* GET /.well-known/x402 (a location with axon_x402_discovery) */

ngx_int_t
ngx_http_axon_x402_discovery_handler(ngx_http_request_t *r)
{
    static ngx_str_t  allow_name = ngx_string("Allow");
    static ngx_str_t  allow = ngx_string("GET, HEAD");

    ngx_http_axon_loc_conf_t  *alcf;
    ngx_http_axon_x402_ctx_t  *x;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (alcf->x402_network.len == 0) {
        return ngx_http_axon_x402_off(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_axon_add_header(r, &allow_name, &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_axon_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                        "method_not_allowed",
                                        "method not allowed here");
    }

    x = ngx_http_axon_x402_ctx(r);
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_x402_offers(r, x);
}


/* GET|POST /api/x402/session */

ngx_int_t
ngx_http_axon_x402_session_handler(ngx_http_request_t *r)
{
    ngx_http_axon_loc_conf_t  *alcf;
    ngx_http_axon_x402_ctx_t  *x;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (alcf->x402_network.len == 0) {
        return ngx_http_axon_x402_off(r);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_axon_read_json(r, ngx_http_axon_x402_body);
    }

    x = ngx_http_axon_x402_ctx(r);
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_x402_offers(r, x);
}


/*
 * reads axon:profiles; the reply goes on with what x asks for.  An unpaid
 * top-up is not looked up: whose a session is, and whether it is live,
 * only the paid POST tells, to its payer (session ids are sequential).
 */

static ngx_int_t
ngx_http_axon_x402_offers(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x)
{
    const char  *argv[2];
    size_t       argvlen[2];

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = AXON_KEY_PROFILES;
    argvlen[1] = sizeof(AXON_KEY_PROFILES) - 1;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r,
                   ngx_http_axon_x402_profiles_reply, x, 2, argv, argvlen));
}


static ngx_int_t
ngx_http_axon_x402_body(ngx_http_request_t *r, json_t *body)
{
    u_char                    *p, *last;
    json_t                    *jp, *jm, *jk, *js;
    ngx_uint_t                 i;
    ngx_int_t                 *m;
    const char                *why;
    ngx_table_elt_t           *h;
    ngx_list_part_t           *part;
    ngx_http_axon_loc_conf_t  *alcf;
    ngx_http_axon_x402_ctx_t  *x;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    x = ngx_http_axon_x402_ctx(r);
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    jp = json_object_get(body, "profile");
    jm = json_object_get(body, "minutes");
    jk = json_object_get(body, "ssh_public_key");
    js = json_object_get(body, "session_id");

    if (!json_is_string(jp) || !json_is_integer(jm)) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "\"profile\" must be a string and "
                                        "\"minutes\" an integer");
    }

    x->profile.len = json_string_length(jp);
    x->profile.data = ngx_pnalloc(r->pool, x->profile.len + 1);
    if (x->profile.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(x->profile.data, json_string_value(jp), x->profile.len + 1);

    last = x->profile.data + x->profile.len;

    for (p = x->profile.data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    if (x->profile.len == 0 || x->profile.len > 32 || p != last) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "unknown_profile",
                                        "no such profile: see "
                                        "GET /api/x402/session");
    }

    m = alcf->x402_minutes->elts;

    for (i = 0; i < alcf->x402_minutes->nelts; i++) {
        if (m[i] == json_integer_value(jm)) {
            x->minutes = m[i];
        }
    }

    if (x->minutes == 0) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "unknown_minutes",
                                        "these minutes are not sold: see "
                                        "GET /api/x402/session");
    }

    if (js && !json_is_null(js)) {
        if (!json_is_integer(js) || json_integer_value(js) < 1) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_request",
                                            "\"session_id\" must be a "
                                            "positive integer");
        }

        x->session_id = (ngx_int_t) json_integer_value(js);
    }

    if (jk && !json_is_null(jk)) {
        if (!json_is_string(jk)) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_ssh_key",
                                            "\"ssh_public_key\" must be one "
                                            "authorized_keys line");
        }

        if (axon_ssh_key_check(json_string_value(jk), json_string_length(jk),
                               &why)
            != AXON_OK)
        {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_ssh_key", why);
        }

        x->ssh_key.len = json_string_length(jk);
        x->ssh_key.data = ngx_pnalloc(r->pool, x->ssh_key.len);
        if (x->ssh_key.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(x->ssh_key.data, json_string_value(jk), x->ssh_key.len);

    } else if (x->session_id == 0) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_ssh_key",
                                        "an SSH session needs "
                                        "\"ssh_public_key\": one "
                                        "authorized_keys line");
    }

    /* the payment headers */

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == ngx_http_axon_x402_sig.len
            && ngx_strncasecmp(h[i].key.data, ngx_http_axon_x402_sig.data,
                               h[i].key.len) == 0)
        {
            if (x->header.data) {
                return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                                "invalid_payment_header",
                                                "PAYMENT-SIGNATURE given "
                                                "twice");
            }

            x->header = h[i].value;
        }

        if (h[i].key.len == ngx_http_axon_x402_v1.len
            && ngx_strncasecmp(h[i].key.data, ngx_http_axon_x402_v1.data,
                               h[i].key.len) == 0
            && x->header.data == NULL)
        {
            /* version 1: answered with our version 2 requirements */
            x->v1 = 1;
        }
    }

    return ngx_http_axon_x402_offers(r, x);
}


/*
 * axon:profiles is here: the offers.  Without a profile asked for (GET),
 * every profile times every duration; else the one asked for, and then
 * the payment if there is one.
 */

static void
ngx_http_axon_x402_profiles_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_x402_ctx_t  *x = data;

    size_t                     i, k;
    json_t                    *all, *profiles, *q, *accepts, *req, *name;
    ngx_int_t                  rc, *m;
    ngx_http_axon_loc_conf_t  *alcf;
    char                       amount[AXON_UINT256_DEC_MAX + 1];

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    all = NULL;
    profiles = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        all = json_loadb(reply->str, reply->len, 0, NULL);
        profiles = json_object_get(all, "profiles");
    }

    if (!json_is_array(profiles)) {
        json_decref(all);
        rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "worker_unavailable",
                                      "the worker has not published the "
                                      "GPU profiles yet");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    accepts = json_array();
    if (accepts == NULL) {
        json_decref(all);
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m = alcf->x402_minutes->elts;

    json_array_foreach(profiles, i, q) {
        name = json_object_get(q, "name");

        if (!json_is_string(name)) {
            continue;
        }

        if (x->minutes) {
            if (json_string_length(name) != x->profile.len
                || ngx_strncmp(json_string_value(name), x->profile.data,
                               x->profile.len) != 0)
            {
                continue;
            }

            req = ngx_http_axon_x402_requirement(r, q, x->minutes, amount);

            if (req) {
                ngx_memcpy(x->amount, amount, sizeof(amount));
                x->requirement = json_incref(req);
                json_array_append_new(accepts, req);
            }

            break;
        }

        for (k = 0; k < alcf->x402_minutes->nelts; k++) {
            req = ngx_http_axon_x402_requirement(r, q, m[k], amount);

            if (req) {
                json_array_append_new(accepts, req);
            }
        }
    }

    json_decref(all);

    if (json_array_size(accepts) == 0) {
        json_decref(accepts);

        if (x->minutes) {
            rc = ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "unknown_profile",
                                          "no such profile: see "
                                          "GET /api/x402/session");
        } else {
            rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "worker_unavailable",
                                          "no profile has a price yet");
        }

        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (x->minutes == 0 || (x->header.data == NULL && !x->v1)) {
        rc = ngx_http_axon_x402_required(r, x, accepts, NULL, NULL);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (x->header.data == NULL) {
        rc = ngx_http_axon_x402_required(r, x, accepts,
                                         "invalid_x402_version",
                                         "this gate speaks x402 version 2: "
                                         "send PAYMENT-SIGNATURE");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    json_decref(accepts);

    rc = ngx_http_axon_x402_pay(r, x);

    if (rc == NGX_DONE) {
        /* pay_reply finishes it: the reference is handed on */
        r->main->count--;
        return;
    }

    ngx_http_axon_finalize(r, rc);
}


/* amount = minutes x the profile's credit minutes per minute x the price */

static json_t *
ngx_http_axon_x402_requirement(ngx_http_request_t *r, json_t *profile,
    ngx_int_t minutes, char *amount)
{
    json_t                    *jpm, *jg, *jpr;
    uint64_t                   per_minute, a;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    jpm = json_object_get(profile, "per_minute");
    jg = json_object_get(profile, "gpus");
    jpr = json_object_get(profile, "price");

    if (json_is_integer(jpm) && json_integer_value(jpm) > 0) {
        per_minute = (uint64_t) json_integer_value(jpm);

    } else if (json_is_integer(jg) && json_is_integer(jpr)
               && json_integer_value(jg) > 0 && json_integer_value(jpr) > 0)
    {
        per_minute = (uint64_t) json_integer_value(jg)
                     * (uint64_t) json_integer_value(jpr);

    } else {
        return NULL;
    }

    if (__builtin_mul_overflow(per_minute, (uint64_t) minutes, &a)
        || __builtin_mul_overflow(a, alcf->x402_price, &a))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "axon: x402: the price of %s for %i minutes "
                      "overflows", json_string_value(
                          json_object_get(profile, "name")), minutes);
        return NULL;
    }

    ngx_sprintf((u_char *) amount, "%uL%Z", a);

    return json_pack("{s:s, s:s#, s:s#, s:s, s:s#, s:I, s:{s:s#, s:s#, "
                     "s:O, s:I}}",
                     "scheme", "exact",
                     "network", alcf->x402_network.data,
                     alcf->x402_network.len,
                     "asset", alcf->x402_asset.data, alcf->x402_asset.len,
                     "amount", amount,
                     "payTo", alcf->x402_pay_to.data, alcf->x402_pay_to.len,
                     "maxTimeoutSeconds",
                     (json_int_t) alcf->x402_max_timeout,
                     "extra",
                     "name", alcf->x402_name.data, alcf->x402_name.len,
                     "version", alcf->x402_version.data,
                     alcf->x402_version.len,
                     "profile", json_object_get(profile, "name"),
                     "minutes", (json_int_t) minutes);
}


static json_t *
ngx_http_axon_x402_resource(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x)
{
    u_char                    *p, *url;
    size_t                     len;
    ngx_str_t                  host, path;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (r->headers_in.host) {
        host = r->headers_in.host->value;
    } else {
        host = r->headers_in.server;
    }

    if (alcf->api) {
        path = alcf->api_prefix;
    } else {
        path = alcf->x402_resource;
    }

    len = sizeof("https://") + host.len + path.len + sizeof("/x402/session");

    url = ngx_pnalloc(r->pool, len);
    if (url == NULL) {
        return NULL;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_sprintf(url, "https://%V%V", &host, &path);
    } else
#endif
    {
        p = ngx_sprintf(url, "http://%V%V", &host, &path);
    }

    if (alcf->api) {
        if (p[-1] != '/') {
            *p++ = '/';
        }

        p = ngx_cpymem(p, "x402/session", sizeof("x402/session") - 1);
    }

    if (x->minutes) {
        return json_pack("{s:s#, s:s, s:s}",
                         "url", url, (size_t) (p - url),
                         "description", "an SSH GPU session: the profile "
                                        "and minutes asked for",
                         "mimeType", "application/json");
    }

    return json_pack("{s:s#, s:s, s:s}",
                     "url", url, (size_t) (p - url),
                     "description", "SSH GPU sessions: POST {\"profile\", "
                                    "\"minutes\", \"ssh_public_key\"} here",
                     "mimeType", "application/json");
}


/* 402: PAYMENT-REQUIRED (base64 of PaymentRequired) and a JSON body */

static ngx_int_t
ngx_http_axon_x402_required(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *accepts, const char *code,
    const char *message)
{
    json_t  *pr, *body, *resource;

    resource = ngx_http_axon_x402_resource(r, x);

    pr = json_pack("{s:i, s:o, s:o, s:{}}",
                   "x402Version", 2,
                   "resource", resource ? resource : json_null(),
                   "accepts", accepts,
                   "extensions");
    if (pr == NULL || resource == NULL) {
        json_decref(pr);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (code) {
        json_object_set_new(pr, "error", json_string(code));
    }

    if (ngx_http_axon_x402_header(r, "PAYMENT-REQUIRED", pr) != NGX_OK) {
        json_decref(pr);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = json_deep_copy(pr);
    json_decref(pr);

    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_object_set_new(body, "error",
                        json_pack("{s:s, s:s}",
                                  "code", code ? code : "payment_required",
                                  "message",
                                  message ? message
                                          : "pay with x402 (version 2): "
                                            "see PAYMENT-REQUIRED"));

    return ngx_http_axon_send_json(r, 402, body);
}


/* NAME: base64 of the compact JSON of v */

static ngx_int_t
ngx_http_axon_x402_header(ngx_http_request_t *r, const char *name, json_t *v)
{
    char       *text;
    ngx_str_t   src, dst, key;

    text = json_dumps(v, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    src.data = (u_char *) text;
    src.len = ngx_strlen(text);

    dst.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(src.len));
    if (dst.data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_encode_base64(&dst, &src);
    free(text);

    key.data = (u_char *) name;
    key.len = ngx_strlen(name);

    return ngx_http_axon_add_header(r, &key, &dst);
}


static json_t *
ngx_http_axon_x402_one(ngx_http_axon_x402_ctx_t *x)
{
    json_t  *a;

    a = json_array();

    if (a && json_array_append(a, x->requirement) != 0) {
        json_decref(a);
        return NULL;
    }

    return a;
}


/* a refused payment: 402 with a fresh PAYMENT-REQUIRED saying why */

static ngx_int_t
ngx_http_axon_x402_refuse(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    const char *code, const char *message)
{
    json_t  *a;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "axon: x402: payment refused: %s (%s), payer %s",
                  code, message, x->payer[0] ? x->payer : "unknown");

    a = ngx_http_axon_x402_one(x);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_x402_required(r, x, a, code, message);
}


static ngx_int_t
ngx_http_axon_x402_malformed(ngx_http_request_t *r, const char *message)
{
    return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_payment_header", message);
}


static int
ngx_http_axon_x402_string(json_t *o, const char *key, const char **s,
    size_t *len)
{
    json_t  *v;

    v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return 0;
    }

    *s = json_string_value(v);
    *len = json_string_length(v);

    return 1;
}


/*
 * The payment, checked before anything is written: the header's form, the
 * offer it accepted (ours, field by field), the authorization against our
 * own domain, price and payTo, its times, and the signer.  Then the script.
 */

static ngx_int_t
ngx_http_axon_x402_pay(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x)
{
    u_char                    *p;
    size_t                     len, siglen;
    time_t                     now;
    json_t                    *payload, *accepted, *inner, *auth, *jv;
    uint64_t                   after, before;
    ngx_str_t                  src, dst;
    const char                *s, *sig;
    axon_eip3009_auth_t        a;
    uint8_t                    amount[32], signer[AXON_ADDR_LEN];
    u_char                     md[32], hash[64];
    u_char                     created[NGX_TIME_T_LEN], keep[NGX_TIME_T_LEN];
    u_char                     exp[NGX_TIME_T_LEN], minutes[NGX_INT_T_LEN];
    u_char                     sid[NGX_INT_T_LEN], vb[NGX_INT_T_LEN];
    u_char                     max[NGX_INT_T_LEN], max_payer[NGX_INT_T_LEN];
    char                      *payload_text, *req_text;
    u_char                     wallet_key[sizeof(AXON_KEY_WALLET)
                                          + AXON_ADDR_TEXT_LEN];
    u_char                     pending_key[sizeof(AXON_KEY_X402_PENDING)
                                           + 1 + AXON_ADDR_TEXT_LEN];
    const char                *argv[22];
    size_t                     argvlen[22];
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    /* the header: size, base64 (standard, padded), a JSON object */

    if (x->header.len > NGX_HTTP_AXON_X402_HEADER_MAX) {
        return ngx_http_axon_x402_malformed(r, "PAYMENT-SIGNATURE is too "
                                               "large");
    }

    for (len = 0; len < x->header.len; len++) {
        p = &x->header.data[len];

        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '+' || *p == '/'))
        {
            break;
        }
    }

    if (x->header.len == 0 || x->header.len % 4
        || x->header.len - len > 2
        || (len < x->header.len && x->header.data[len] != '=')
        || (len + 1 < x->header.len && x->header.data[len + 1] != '='))
    {
        return ngx_http_axon_x402_malformed(r, "PAYMENT-SIGNATURE is not "
                                               "base64");
    }

    src = x->header;
    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len));
    if (dst.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_decode_base64(&dst, &src) != NGX_OK) {
        return ngx_http_axon_x402_malformed(r, "PAYMENT-SIGNATURE is not "
                                               "base64");
    }

    payload = json_loadb((char *) dst.data, dst.len, JSON_REJECT_DUPLICATES,
                         NULL);

    if (!json_is_object(payload)) {
        json_decref(payload);
        return ngx_http_axon_x402_malformed(r, "PAYMENT-SIGNATURE is not a "
                                               "JSON object");
    }

    /* from here on: "goto refused" with code and why, or "malformed" */

    {
    const char  *code, *why;

    code = NULL;
    why = NULL;

    jv = json_object_get(payload, "x402Version");

    if (!json_is_integer(jv) || json_integer_value(jv) != 2) {
        code = "invalid_x402_version";
        why = "this gate speaks x402 version 2";
        goto refused;
    }

    accepted = json_object_get(payload, "accepted");
    inner = json_object_get(payload, "payload");
    auth = json_object_get(inner, "authorization");

    if (!json_is_object(accepted) || !json_is_object(auth)
        || !ngx_http_axon_x402_string(inner, "signature", &sig, &siglen))
    {
        why = "the payload needs \"accepted\" and \"payload\": "
              "{\"authorization\", \"signature\"}";
        goto malformed;
    }

    /* the authorization's fields */

    if (!ngx_http_axon_x402_string(auth, "from", &s, &len)
        || axon_address_parse(a.from, s, len) != AXON_OK
        || !ngx_http_axon_x402_string(auth, "to", &s, &len)
        || axon_address_parse(a.to, s, len) != AXON_OK)
    {
        why = "authorization.from and .to must be addresses";
        goto malformed;
    }

    if (!ngx_http_axon_x402_string(auth, "value", &s, &len)
        || axon_uint256_parse_dec(a.value, s, len) != AXON_OK
        || !ngx_http_axon_x402_string(auth, "validAfter", &s, &len)
        || axon_uint256_parse_dec(a.valid_after, s, len) != AXON_OK
        || !ngx_http_axon_x402_string(auth, "validBefore", &s, &len)
        || axon_uint256_parse_dec(a.valid_before, s, len) != AXON_OK)
    {
        why = "authorization.value, .validAfter and .validBefore must be "
              "decimal strings";
        goto malformed;
    }

    if (!ngx_http_axon_x402_string(auth, "nonce", &s, &len)
        || len != NGX_HTTP_AXON_X402_NONCE_LEN
        || s[0] != '0' || s[1] != 'x'
        || axon_hex_decode(a.nonce, 32, s, len) != AXON_OK)
    {
        why = "authorization.nonce must be 0x and 64 hex digits";
        goto malformed;
    }

    x->nonce[0] = '0';
    x->nonce[1] = 'x';
    axon_hex_encode(x->nonce + 2, a.nonce, 32);

    axon_address_format(x->payer, a.from);
    axon_address_format_lower(x->payer_lower, a.from);

    /* the offer it accepted: ours, exactly */

    rc = ngx_http_axon_x402_accepted(r, x, accepted);

    if (rc == 1) {
        code = "invalid_exact_evm_scheme";
        why = "the scheme must be \"exact\"";
        goto refused;
    }

    if (rc == 2) {
        code = "invalid_exact_evm_network_mismatch";
        why = "the payment is for another network";
        goto refused;
    }

    if (rc != 0) {
        code = "no_matching_payment_requirements";
        why = "\"accepted\" is not this offer (asset, amount or payTo)";
        goto refused;
    }

    /* the authorization against our terms */

    if (!axon_memeq_ct(a.to, alcf->x402_pay_to_addr, AXON_ADDR_LEN)) {
        code = "invalid_exact_evm_recipient_mismatch";
        why = "authorization.to is not this gate's payTo";
        goto refused;
    }

    (void) axon_uint256_parse_dec(amount, x->amount, ngx_strlen(x->amount));

    if (axon_uint256_cmp(a.value, amount) < 0) {
        code = "invalid_exact_evm_payload_authorization_value_mismatch";
        why = "authorization.value is less than the price";
        goto refused;
    }

    now = ngx_time();

    if (axon_uint256_to_u64(&after, a.valid_after) != AXON_OK
        || after > (uint64_t) now)
    {
        code = "invalid_exact_evm_payload_authorization_valid_after";
        why = "the authorization is not valid yet";
        goto refused;
    }

    if (axon_uint256_to_u64(&before, a.valid_before) != AXON_OK
        || before < (uint64_t) now + NGX_HTTP_AXON_X402_MARGIN)
    {
        code = "invalid_exact_evm_payload_authorization_valid_before";
        why = "the authorization has expired or expires too soon";
        goto refused;
    }

    if (before > (uint64_t) now + alcf->x402_max_timeout
                 + NGX_HTTP_AXON_X402_SKEW)
    {
        code = "invalid_exact_evm_payload_authorization_valid_before";
        why = "the authorization is valid for longer than "
              "maxTimeoutSeconds";
        goto refused;
    }

    rc = axon_eip3009_recover(signer, alcf->x402_domain,
                              AXON_EIP3009_TRANSFER, &a, sig, siglen);

    if (rc != AXON_OK || !axon_memeq_ct(signer, a.from, AXON_ADDR_LEN)) {
        code = "invalid_exact_evm_signature";
        why = rc != AXON_OK ? "the signature is malformed"
                            : "the signature is not by authorization.from";
        goto refused;
    }

    goto verified;

refused:

    json_decref(payload);
    return ngx_http_axon_x402_refuse(r, x, code, why);

malformed:

    json_decref(payload);
    return ngx_http_axon_x402_malformed(r, why);
    }

verified:

    /*
     * the auth token, as a sign-in's: 256 random bits; the record has its
     * hash, and the worker stores it once the payment settled
     */

    if (ngx_http_axon_token_new(r->connection->log, x->token, md) != NGX_OK) {
        json_decref(payload);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    axon_hex_encode((char *) hash, md, sizeof(md));

    payload_text = json_dumps(payload, JSON_COMPACT);
    req_text = json_dumps(x->requirement, JSON_COMPACT);
    json_decref(payload);

    if (payload_text == NULL || req_text == NULL) {
        free(payload_text);
        free(req_text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_time();

    x->pay_key_len = ngx_sprintf(x->pay_key, AXON_KEY_X402_PAY "%s",
                                 x->nonce)
                     - x->pay_key;

    argv[0] = (const char *) x->pay_key;
    argvlen[0] = x->pay_key_len;
    argv[1] = AXON_KEY_X402_JOBS;
    argvlen[1] = sizeof(AXON_KEY_X402_JOBS) - 1;
    argv[2] = (const char *) wallet_key;
    argvlen[2] = ngx_sprintf(wallet_key, AXON_KEY_WALLET "%*s",
                             (size_t) AXON_ADDR_TEXT_LEN, x->payer_lower)
                 - wallet_key;
    argv[3] = AXON_KEY_X402_PENDING;
    argvlen[3] = sizeof(AXON_KEY_X402_PENDING) - 1;
    argv[4] = (const char *) pending_key;
    argvlen[4] = ngx_sprintf(pending_key, AXON_KEY_X402_PENDING ":%*s",
                             (size_t) AXON_ADDR_TEXT_LEN, x->payer_lower)
                 - pending_key;

    argv[5] = x->payer_lower;                                   /* 1 */
    argvlen[5] = AXON_ADDR_TEXT_LEN;
    argv[6] = (const char *) x->profile.data;                   /* 2 */
    argvlen[6] = x->profile.len;
    argv[7] = (const char *) minutes;                          /* 3 */
    argvlen[7] = ngx_sprintf(minutes, "%i", x->minutes) - minutes;
    argv[8] = x->amount;                                       /* 4 */
    argvlen[8] = ngx_strlen(x->amount);
    argv[9] = (const char *) created;                          /* 5 */
    argvlen[9] = ngx_sprintf(created, "%T", now) - created;
    argv[10] = (const char *) keep;                             /* 6 */
    argvlen[10] = ngx_sprintf(keep, "%uL",
                              before - (uint64_t) now
                              + NGX_HTTP_AXON_X402_KEEP)
                  - keep;
    argv[11] = (const char *) exp;                              /* 7 */
    argvlen[11] = ngx_sprintf(exp, "%T",
                              now + (time_t) (alcf->token_ttl / 1000))
                  - exp;
    argv[12] = (const char *) max;                              /* 8 */
    argvlen[12] = ngx_sprintf(max, "%ui", alcf->x402_pending) - max;
    argv[13] = x->nonce;                                        /* 9 */
    argvlen[13] = NGX_HTTP_AXON_X402_NONCE_LEN;
    argv[14] = x->ssh_key.len ? (const char *) x->ssh_key.data : "";
    argvlen[14] = x->ssh_key.len;                               /* 10 */
    argv[15] = payload_text;                                    /* 11 */
    argvlen[15] = ngx_strlen(payload_text);
    argv[16] = req_text;                                        /* 12 */
    argvlen[16] = ngx_strlen(req_text);
    argv[17] = (const char *) hash;                             /* 13 */
    argvlen[17] = 64;
    argv[18] = (const char *) sid;                              /* 14 */
    argvlen[18] = x->session_id
                  ? (size_t) (ngx_sprintf(sid, "%i", x->session_id) - sid)
                  : 0;
    argv[19] = (const char *) alcf->x402_network.data;          /* 15 */
    argvlen[19] = alcf->x402_network.len;
    argv[20] = (const char *) vb;                               /* 16 */
    argvlen[20] = ngx_sprintf(vb, "%uL", before) - vb;
    argv[21] = (const char *) max_payer;                        /* 17 */
    argvlen[21] = ngx_sprintf(max_payer, "%ui", alcf->x402_pending_payer)
                  - max_payer;

    rc = ngx_http_axon_redis_script(r, ngx_http_axon_x402_pay_reply, x,
             &ngx_http_axon_x402_pay_script, 5, 22, argv, argvlen);

    free(payload_text);
    free(req_text);

    return ngx_http_axon_redis_wait(r, rc);
}


/* 0: accepted is our requirement; 1 scheme, 2 network, 3 the rest */

static ngx_int_t
ngx_http_axon_x402_accepted(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *accepted)
{
    size_t                     len;
    uint8_t                    addr[AXON_ADDR_LEN];
    const char                *s;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (!ngx_http_axon_x402_string(accepted, "scheme", &s, &len)
        || len != 5 || ngx_strncmp(s, "exact", 5) != 0)
    {
        return 1;
    }

    if (!ngx_http_axon_x402_string(accepted, "network", &s, &len)
        || len != alcf->x402_network.len
        || ngx_strncmp(s, alcf->x402_network.data, len) != 0)
    {
        return 2;
    }

    if (!ngx_http_axon_x402_string(accepted, "asset", &s, &len)
        || axon_address_parse(addr, s, len) != AXON_OK
        || !axon_memeq_ct(addr, alcf->x402_asset_addr, AXON_ADDR_LEN))
    {
        return 3;
    }

    if (!ngx_http_axon_x402_string(accepted, "payTo", &s, &len)
        || axon_address_parse(addr, s, len) != AXON_OK
        || !axon_memeq_ct(addr, alcf->x402_pay_to_addr, AXON_ADDR_LEN))
    {
        return 3;
    }

    if (!ngx_http_axon_x402_string(accepted, "amount", &s, &len)
        || len != ngx_strlen(x->amount)
        || ngx_strncmp(s, x->amount, len) != 0)
    {
        return 3;
    }

    return 0;
}


static ngx_int_t
ngx_http_axon_x402_unknown(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x)
{
    u_char  *url;
    json_t  *body;

    url = ngx_http_axon_x402_status_url(r, x);
    if (url == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = json_pack("{s:{s:s, s:s}, s:s, s:s}",
                     "error", "code", "redis_unavailable",
                     "message", "the gate's Redis failed while recording "
                                "the payment: ask status_url; 404 there "
                                "means nothing was recorded and the same "
                                "payment may be sent again",
                     "payment_id", x->nonce,
                     "status_url", (char *) url);

    return body ? ngx_http_axon_send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          body)
                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * A payment that cannot give a session, refused before anything is
 * recorded: -1 the payer has a live session (id, state), -2 no such
 * session of the payer's to top up (another wallet's reads the same), -3
 * it has ended, -4 it is a desktop session (x402 answers carry SSH
 * coordinates, never a VNC password).  The authorization is never
 * submitted.
 */

static ngx_int_t
ngx_http_axon_x402_no_session(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t why, redisReply *id,
    redisReply *state)
{
    json_t      *body;
    ngx_int_t    status;
    const char  *code, *message, *charged;

    charged = x->header.data ? "this authorization was not submitted: "
                               "nothing was charged"
                             : "nothing was charged";

    switch (why) {

    case -1:
        code = "session_exists";
        status = NGX_HTTP_CONFLICT;
        message = "the wallet already has a live session: top it up "
                  "(the same POST with its \"session_id\"), or release it "
                  "(POST /api/release) first";
        break;

    case -4:
        code = "desktop_session";
        status = NGX_HTTP_CONFLICT;
        message = "x402 pays for SSH sessions: a desktop session is topped "
                  "up with credit minutes (a deposit), not here";
        break;

    case -3:
        code = "session_ended";
        status = NGX_HTTP_CONFLICT;
        message = "this session has ended and cannot be topped up: leave "
                  "out \"session_id\" (and give \"ssh_public_key\") for a "
                  "new session";
        break;

    default:
        code = "unknown_session";
        status = NGX_HTTP_NOT_FOUND;
        message = x->header.data
                  ? "the payer has no such session to top up: leave out "
                    "\"session_id\" (and give \"ssh_public_key\") for a "
                    "new session"
                  : "no such session to top up: leave out \"session_id\" "
                    "(and give \"ssh_public_key\") for a new session";
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "axon: x402: %s refused: %s, payer %s, session %i",
                  x->header.data ? "payment" : "offer", code,
                  x->payer[0] ? x->payer : "unknown",
                  id ? ngx_atoi((u_char *) id->str, id->len)
                     : x->session_id);

    body = json_pack("{s:{s:s, s:s++}}",
                     "error", "code", code,
                     "message", message, "; ", charged);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id && state
        && id->type == REDIS_REPLY_STRING
        && state->type == REDIS_REPLY_STRING)
    {
        if (json_object_set_new(json_object_get(body, "error"), "session_id",
                                json_integer(ngx_atoi((u_char *) id->str,
                                                      id->len)))
            != 0
            || json_object_set_new(json_object_get(body, "error"), "status",
                                   json_stringn(state->str, state->len))
               != 0)
        {
            json_decref(body);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_axon_send_json(r, status, body);
}


/*
 * Past the bound of payments waiting for settlement: -5 the payer's (429),
 * -6 everyone's (503).  Nothing was recorded: the same authorization may
 * be sent again after Retry-After, while it is valid.
 */

static ngx_int_t
ngx_http_axon_x402_busy(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    ngx_int_t why)
{
    static ngx_str_t  name = ngx_string("Retry-After");
    static ngx_str_t  value = ngx_string("10");

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "axon: x402: payment %s of %s refused: %s payments are "
                  "pending settlement already", x->nonce, x->payer,
                  why == -5 ? "the payer's" : "too many");

    if (ngx_http_axon_add_header(r, &name, &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (why == -5) {
        return ngx_http_axon_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                        "too_many_pending",
                                        "this payer has the most payments "
                                        "waiting for settlement already: "
                                        "this authorization was not "
                                        "submitted, nothing was charged; "
                                        "send it again after Retry-After");
    }

    return ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "x402_busy",
                                    "too many payments are waiting for "
                                    "settlement: this authorization was not "
                                    "submitted, nothing was charged; send "
                                    "it again after Retry-After");
}


static void
ngx_http_axon_x402_pay_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_x402_ctx_t  *x = data;

    long long                  code;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        /*
         * Unknown whether the script ran: the status URL tells (404: it
         * did not, and the same payment may be sent again).
         */
        ngx_http_axon_finalize(r, ngx_http_axon_x402_unknown(r, x));
        return;
    }

    code = reply->element[0]->integer;

    if (code == 0) {
        rc = ngx_http_axon_x402_refuse(r, x,
                                       "invalid_exact_evm_nonce_already_used",
                                       "this authorization was used "
                                       "already");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (code == -5 || code == -6) {
        ngx_http_axon_finalize(r, ngx_http_axon_x402_busy(r, x, code));
        return;
    }

    if (code != 1) {
        rc = ngx_http_axon_x402_no_session(r, x, code,
                 reply->elements == 3 ? reply->element[1] : NULL,
                 reply->elements == 3 ? reply->element[2] : NULL);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: x402: payment %s queued: payer %s, profile %V, "
                  "%i minutes, amount %s", x->nonce, x->payer, &x->profile,
                  x->minutes, x->amount);

    x->until = ngx_current_msec + alcf->x402_wait;

    x->timer.handler = ngx_http_axon_x402_timer;
    x->timer.data = x;
    x->timer.log = r->connection->log;

    rc = ngx_http_axon_x402_poll(r, x);

    if (rc != NGX_DONE) {
        ngx_http_axon_finalize(r, rc);
    }
}


/* one look at the record; NGX_DONE while the reply is awaited */

static ngx_int_t
ngx_http_axon_x402_poll(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x)
{
    ngx_int_t    rc;
    const char  *argv[1];
    size_t       argvlen[1];

    argv[0] = (const char *) x->pay_key;
    argvlen[0] = x->pay_key_len;

    rc = ngx_http_axon_redis_script(r, ngx_http_axon_x402_poll_reply, x,
             &ngx_http_axon_x402_poll_script, 1, 1, argv, argvlen);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    /* Redis is gone: the payment is recorded, the client asks later */
    return ngx_http_axon_x402_later(r, x, "pending");
}


static void
ngx_http_axon_x402_poll_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_x402_ctx_t  *x = data;

    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_axon_finalize(r, ngx_http_axon_x402_later(r, x, "pending"));
        return;
    }

    rc = ngx_http_axon_x402_answer(r, x, reply,
                                   (ngx_msec_int_t) (ngx_current_msec
                                                     - x->until) >= 0);

    if (rc == NGX_AGAIN) {
        ngx_add_timer(&x->timer, NGX_HTTP_AXON_X402_POLL);
        return;
    }

    ngx_http_axon_finalize(r, rc);
}


static void
ngx_http_axon_x402_timer(ngx_event_t *ev)
{
    ngx_http_axon_x402_ctx_t  *x = ev->data;

    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = x->request;

    rc = ngx_http_axon_x402_poll(r, x);

    if (rc != NGX_DONE) {
        ngx_http_axon_finalize(r, rc);
    }
}


static ngx_str_t *
ngx_http_axon_x402_field(redisReply *hash, const char *name, ngx_str_t *out)
{
    size_t       i, len;
    redisReply  *k, *v;

    len = ngx_strlen(name);

    for (i = 0; i + 1 < hash->elements; i += 2) {
        k = hash->element[i];
        v = hash->element[i + 1];

        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING
            && k->len == len && ngx_strncmp(k->str, name, len) == 0
            && v->len)
        {
            out->data = (u_char *) v->str;
            out->len = v->len;
            return out;
        }
    }

    return NULL;
}


/* PAYMENT-RESPONSE: the SettleResponse; reason NULL when it settled */

static ngx_int_t
ngx_http_axon_x402_settled(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    ngx_str_t *reason, ngx_str_t *tx)
{
    json_t                    *settle;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    settle = json_pack("{s:b, s:s#, s:s#, s:s}",
                       "success", reason == NULL,
                       "transaction", tx->data, tx->len,
                       "network", alcf->x402_network.data,
                       alcf->x402_network.len,
                       "payer", x->payer);
    if (settle == NULL) {
        return NGX_ERROR;
    }

    if (reason
        && json_object_set_new(settle, "errorReason",
                               json_stringn((char *) reason->data,
                                            reason->len))
           != 0)
    {
        json_decref(settle);
        return NGX_ERROR;
    }

    rc = ngx_http_axon_x402_header(r, "PAYMENT-RESPONSE", settle);
    json_decref(settle);

    return rc;
}


/*
 * The outcome, from {record, session}: settled and running -> 200 with the
 * SSH coordinates and PAYMENT-RESPONSE; settled but no session (the
 * worker's session_error, or the session ended) -> 409 or 503 at once,
 * with PAYMENT-RESPONSE and the credit; failed -> 402 with
 * PAYMENT-RESPONSE {success: false}; else NGX_AGAIN, or 202 when last.
 */

static ngx_int_t
ngx_http_axon_x402_answer(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    redisReply *reply, ngx_uint_t last)
{
    u_char      *st, iso[NGX_HTTP_AXON_ISO8601_LEN + 1];
    time_t       expires;
    json_t      *body;
    ngx_int_t    rc;
    ngx_str_t    state, sstate, tx, reason, sid, host, port, user, paid;
    ngx_str_t    started;
    redisReply  *p, *s;

    if (reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return ngx_http_axon_x402_later(r, x, "unknown");
    }

    p = reply->element[0];
    s = reply->element[1];

    if (ngx_http_axon_x402_field(p, "state", &state) == NULL) {
        ngx_str_set(&state, "pending");
    }

    if (ngx_http_axon_x402_field(p, "transaction", &tx) == NULL) {
        ngx_str_set(&tx, "");
    }

    if (ngx_http_axon_x402_field(s, "state", &sstate) == NULL) {
        ngx_str_null(&sstate);
    }

    if (state.len == 6 && ngx_strncmp(state.data, "failed", 6) == 0) {
        if (ngx_http_axon_x402_field(p, "error_reason", &reason) == NULL) {
            ngx_str_set(&reason, "settlement_failed");
        }

        if (ngx_http_axon_x402_settled(r, x, &reason, &tx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "axon: x402: payment %s failed: %V", x->nonce, &reason);

        body = json_pack("{s:{s:s#, s:s}, s:s}",
                         "error", "code", reason.data, reason.len,
                         "message", "the payment was not settled: nothing "
                                    "was charged for a session",
                         "payment_id", x->nonce);

        return body ? ngx_http_axon_send_json(r, 402, body)
                    : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(state.len == 7 && ngx_strncmp(state.data, "settled", 7) == 0)) {
        goto wait;
    }

    if (ngx_http_axon_x402_field(p, "session_error", &reason) != NULL
        || (sstate.len == 5 && ngx_strncmp(sstate.data, "ended", 5) == 0))
    {
        return ngx_http_axon_x402_unstarted(r, x, p, s, &tx);
    }

    if (!(sstate.len == 7 && ngx_strncmp(sstate.data, "running", 7) == 0)
        || ngx_http_axon_x402_field(p, "session_id", &sid) == NULL
        || ngx_http_axon_x402_field(s, "connect_host", &host) == NULL
        || ngx_http_axon_x402_field(s, "connect_port", &port) == NULL
        || ngx_http_axon_x402_field(s, "connect_user", &user) == NULL)
    {
        goto wait;
    }

    if (ngx_http_axon_x402_field(p, "paid_until", &paid)) {
        expires = ngx_atotm(paid.data, paid.len);

    } else if (ngx_http_axon_x402_field(s, "started_at", &started)) {
        expires = ngx_atotm(started.data, started.len) + x->minutes * 60;

    } else {
        expires = ngx_time() + x->minutes * 60;
    }

    *ngx_http_axon_iso8601(iso, expires) = '\0';

    body = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s#}",
                     "session_id", (json_int_t) ngx_atoi(sid.data, sid.len),
                     "status", "running",
                     "auth_token", (char *) x->token,
                     "expires_at", (char *) iso,
                     "payment_id", x->nonce,
                     "transaction", tx.data, tx.len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the one ssh_command builder; hiredis ends its strings with a NUL */

    rc = ngx_http_axon_session_ssh(body, (char *) host.data,
                                   (char *) port.data, (char *) user.data);

    if (rc == NGX_ERROR) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        json_decref(body);
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "axon: x402: payment %s: session %V has no usable "
                      "SSH coordinates", x->nonce, &sid);
        goto wait;
    }

    if (ngx_http_axon_x402_settled(r, x, NULL, &tx) != NGX_OK) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: x402: payment %s: session %V running", x->nonce,
                  &sid);

    return ngx_http_axon_send_json(r, NGX_HTTP_OK, body);

wait:

    if (!last) {
        return NGX_AGAIN;
    }

    st = ngx_pnalloc(r->pool, state.len + 1);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(st, state.data, state.len) = '\0';

    return ngx_http_axon_x402_later(r, x, (char *) st);
}


/*
 * Settled, credited, but no session: the worker's session_error (a race
 * with another session: 409 session_exists or session_ended; else no
 * profile, no host, a failed launch: 503) or the session ended before it
 * ran (503, its end_reason).  The money is in the payer's wallet as credit
 * minutes: the answer says how to use them.
 */

static ngx_int_t
ngx_http_axon_x402_unstarted(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, redisReply *s, ngx_str_t *tx)
{
    u_char      *msg, *m, *end;
    json_t      *body, *v;
    ngx_int_t    credit, status;
    ngx_str_t    serr, reason, sid, text;
    const char  *code, *why;

    credit = NGX_ERROR;

    if (ngx_http_axon_x402_field(p, "credit", &text)) {
        credit = ngx_atoi(text.data, text.len);
    }

    if (ngx_http_axon_x402_field(p, "session_id", &sid) == NULL) {
        ngx_str_null(&sid);
    }

    if (ngx_http_axon_x402_field(p, "session_error", &serr) == NULL) {
        ngx_str_null(&serr);
    }

    if (ngx_http_axon_x402_field(s, "end_reason", &reason) == NULL) {
        ngx_str_null(&reason);
    }

    if (serr.len == 14 && ngx_strncmp(serr.data, "session_exists", 14) == 0)
    {
        code = "session_exists";
        status = NGX_HTTP_CONFLICT;
        why = ", but the wallet already has a live session: release it "
              "(POST /api/release with auth_token) to start another";

    } else if (serr.len == 13
               && ngx_strncmp(serr.data, "session_ended", 13) == 0)
    {
        code = "session_ended";
        status = NGX_HTTP_CONFLICT;
        why = ", but the session to top up has ended: start a new one";

    } else {
        code = "session_not_started";
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        why = NULL;
    }

    msg = ngx_pnalloc(r->pool, 1024);
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    end = msg + 1023;

    m = ngx_slprintf(msg, end, "the payment was settled and credited to "
                     "wallet %s as ", x->payer);

    if (credit >= 0) {
        m = ngx_slprintf(m, end, "%i credit minutes", credit);

    } else {
        m = ngx_slprintf(m, end, "credit minutes");
    }

    if (why) {
        m = ngx_slprintf(m, end, "%s", why);

    } else {
        m = ngx_slprintf(m, end, ", but no session could be started (%V): "
                         "start one when capacity allows",
                         serr.len ? &serr
                                  : reason.len ? &reason
                                               : &ngx_http_axon_x402_ended);
    }

    m = ngx_slprintf(m, end, " with POST /api/session {\"profile\", "
                     "\"mode\": \"ssh\", \"ssh_public_key\"} and "
                     "auth_token as Bearer; the credit stays in the wallet "
                     "until used");
    *m = '\0';

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "axon: x402: payment %s settled, no session: %s "
                  "(session_error \"%V\", end_reason \"%V\")",
                  x->nonce, code, &serr, &reason);

    body = json_pack("{s:{s:s, s:s}, s:s, s:s#, s:s}",
                     "error", "code", code, "message", (char *) msg,
                     "payment_id", x->nonce,
                     "transaction", tx->data, tx->len,
                     "auth_token", (char *) x->token);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v = credit >= 0 ? json_integer(credit) : json_null();

    if (json_object_set_new(body, "credit_minutes", v) != 0
        || (sid.len
            && json_object_set_new(body, "session_id",
                                   json_integer(ngx_atoi(sid.data, sid.len)))
               != 0)
        || (serr.len
            && json_object_set_new(body, "session_error",
                                   json_stringn((char *) serr.data,
                                                serr.len))
               != 0)
        || (reason.len
            && json_object_set_new(body, "end_reason",
                                   json_stringn((char *) reason.data,
                                                reason.len))
               != 0))
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_axon_x402_settled(r, x, NULL, tx) != NGX_OK) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_send_json(r, status, body);
}


/* 202: recorded, not settled or not running yet: where to ask */

static u_char *
ngx_http_axon_x402_status_url(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x)
{
    u_char                    *url, *p;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    url = ngx_pnalloc(r->pool, alcf->api_prefix.len + sizeof("/x402/payment/")
                               + NGX_HTTP_AXON_X402_NONCE_LEN);
    if (url == NULL) {
        return NULL;
    }

    p = ngx_cpymem(url, alcf->api_prefix.data, alcf->api_prefix.len);

    if (p == url || p[-1] != '/') {
        *p++ = '/';
    }

    *ngx_sprintf(p, "x402/payment/%s", x->nonce) = '\0';

    return url;
}


static ngx_int_t
ngx_http_axon_x402_later(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    const char *state)
{
    u_char  *url;
    json_t  *body;

    url = ngx_http_axon_x402_status_url(r, x);
    if (url == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = json_pack("{s:s, s:s, s:s, s:s, s:s}",
                     "payment_id", x->nonce,
                     "status", state,
                     "status_url", (char *) url,
                     "auth_token", (char *) x->token,
                     "message",
                     ngx_strcmp(state, "settled") == 0
                     ? "the payment is settled and credited; the session "
                       "is not running yet (queued for a GPU or a port, or "
                       "starting): ask status_url.  POST /api/release with "
                       "auth_token leaves the queue and keeps the minutes "
                       "as credit"
                     : "the payment is recorded and is being settled: ask "
                       "status_url.  auth_token works once the payment has "
                       "settled (never if it fails); as Bearer it shows "
                       "status_url's full answer");

    return body ? ngx_http_axon_send_json(r, NGX_HTTP_ACCEPTED, body)
                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * GET /api/x402/payment/NONCE: with a live token of the payer's wallet
 * (Authorization: Bearer), the record and its session in full; without,
 * only their states: the nonce is public on chain once settled, and the
 * session's coordinates are the payer's.
 */

ngx_int_t
ngx_http_axon_x402_payment_handler(ngx_http_request_t *r)
{
    u_char                    *p, *key, *th;
    u_char                     md[32], now[NGX_TIME_T_LEN];
    size_t                     i, thlen;
    uint8_t                    nonce[32];
    ngx_str_t                  arg, token;
    const char                *argv[3];
    size_t                     argvlen[3];
    ngx_table_elt_t           *auth;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (alcf->x402_network.len == 0) {
        return ngx_http_axon_x402_off(r);
    }

    p = ngx_strlcasestrn(r->uri.data, r->uri.data + r->uri.len,
                         (u_char *) "x402/payment/", 13 - 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    arg.data = p + 13;
    arg.len = r->uri.data + r->uri.len - arg.data;

    if (arg.len != NGX_HTTP_AXON_X402_NONCE_LEN
        || arg.data[0] != '0' || arg.data[1] != 'x'
        || axon_hex_decode(nonce, 32, (char *) arg.data, arg.len) != AXON_OK)
    {
        return ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND,
                                        "unknown_payment",
                                        "a payment id is 0x and 64 hex "
                                        "digits");
    }

    key = ngx_pnalloc(r->pool, sizeof(AXON_KEY_X402_PAY)
                               + NGX_HTTP_AXON_X402_NONCE_LEN);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(key, AXON_KEY_X402_PAY "0x",
                   sizeof(AXON_KEY_X402_PAY "0x") - 1);
    axon_hex_encode((char *) p, nonce, 32);

    for (i = 0; i < 64; i++) {
        p[i] = ngx_tolower(p[i]);
    }

    /* the caller's token, as Bearer: the payer's sees everything */

    th = ngx_pnalloc(r->pool, 64);
    if (th == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    thlen = 0;
    auth = r->headers_in.authorization;

    if (auth && auth->value.len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) == 0)
    {
        token.data = auth->value.data + sizeof("Bearer ") - 1;
        token.len = auth->value.len - (sizeof("Bearer ") - 1);

        while (token.len && token.data[0] == ' ') {
            token.data++;
            token.len--;
        }

        if (token.len
            && ngx_http_axon_token_digest(md, token.data, token.len)
               == NGX_OK)
        {
            axon_hex_encode((char *) th, md, sizeof(md));
            thlen = 64;
        }
    }

    argv[0] = (const char *) key;
    argvlen[0] = p + 64 - key;
    argv[1] = (const char *) th;
    argvlen[1] = thlen;
    argv[2] = (const char *) now;
    argvlen[2] = ngx_sprintf(now, "%T", ngx_time()) - now;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_x402_status_reply,
                   NULL, &ngx_http_axon_x402_status_script, 1, 3, argv,
                   argvlen));
}


/* the answer to anyone but the payer: the states, nothing else */

static ngx_int_t
ngx_http_axon_x402_status_public(ngx_http_request_t *r, redisReply *p,
    redisReply *s)
{
    json_t     *body, *session;
    ngx_str_t   state, sstate;

    if (ngx_http_axon_x402_field(p, "state", &state) == NULL) {
        ngx_str_set(&state, "pending");
    }

    session = json_null();

    if (ngx_http_axon_x402_field(s, "state", &sstate)) {
        session = json_pack("{s:s#}", "status", sstate.data, sstate.len);
    }

    body = json_pack("{s:{s:s#}, s:o, s:s}",
                     "payment", "state", state.data, state.len,
                     "session", session ? session : json_null(),
                     "message", "the payment's details and its session's "
                                "coordinates are shown to the payer: send "
                                "its auth_token (or a sign-in's token of "
                                "the paying wallet) as Bearer");

    return body ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_axon_x402_status_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    size_t       i;
    json_t      *body, *pay, *session, *v;
    redisReply  *p, *k, *val;

    static const char  *fields[] = {
        "state", "payer", "profile", "minutes", "amount", "network",
        "valid_before", "created_at", "session_id", "transaction",
        "error_reason", "paid_until", "settled_at", "credit",
        "session_error", NULL
    };

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[1]->type != REDIS_REPLY_ARRAY
        || reply->element[2]->type != REDIS_REPLY_INTEGER)
    {
        ngx_http_axon_finalize(r,
            ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND,
                                     "unknown_payment",
                                     "no such payment (or it is too old)"));
        return;
    }

    p = reply->element[0];

    if (reply->element[2]->integer != 1) {
        ngx_http_axon_finalize(r,
            ngx_http_axon_x402_status_public(r, p, reply->element[1]));
        return;
    }

    pay = json_object();
    if (pay == NULL) {
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i + 1 < p->elements; i += 2) {
        size_t  n;

        k = p->element[i];
        val = p->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING
            || val->len == 0)
        {
            continue;
        }

        for (n = 0; fields[n]; n++) {
            if (k->len == ngx_strlen(fields[n])
                && ngx_strncmp(k->str, fields[n], k->len) == 0)
            {
                break;
            }
        }

        if (fields[n] == NULL) {
            continue;
        }

        if (ngx_strcmp(fields[n], "minutes") == 0
            || ngx_strcmp(fields[n], "session_id") == 0
            || ngx_strcmp(fields[n], "credit") == 0)
        {
            v = json_integer(ngx_atoi((u_char *) val->str, val->len));

        } else {
            v = json_stringn(val->str, val->len);
        }

        json_object_setn_new(pay, k->str, k->len, v);
    }

    session = json_null();

    if (reply->element[1]->elements) {
        session = ngx_http_axon_session_json(reply->element[1]);
        if (session == NULL) {
            session = json_null();
        }
    }

    body = json_pack("{s:o, s:o}", "payment", pay, "session", session);

    ngx_http_axon_finalize(r, body
                              ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* ---- directives ---- */

char *
ngx_http_axon_x402_network(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char     *p;
    uint64_t    n;
    ngx_str_t  *value;

    if (alcf->x402_network.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len <= 7 || value[1].len > 7 + 16
        || ngx_strncmp(value[1].data, "eip155:", 7) != 0
        || value[1].data[7] == '0')
    {
        return "must be eip155:CHAIN_ID (eip155:8453 is Base)";
    }

    n = 0;

    for (p = value[1].data + 7; p < value[1].data + value[1].len; p++) {
        if (*p < '0' || *p > '9') {
            return "must be eip155:CHAIN_ID (eip155:8453 is Base)";
        }

        n = n * 10 + (*p - '0');
    }

    if (n > 9007199254740991ULL) {
        return "has a chain id over 2^53 - 1";
    }

    alcf->x402_network = value[1];
    alcf->x402_chain_id = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_axon_x402_address(ngx_conf_t *cf, ngx_str_t *text, uint8_t *addr,
    ngx_str_t *out)
{
    static const uint8_t  zero[AXON_ADDR_LEN];

    if (axon_address_parse(addr, (const char *) text->data, text->len)
        != AXON_OK
        || ngx_memcmp(addr, zero, AXON_ADDR_LEN) == 0)
    {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(cf->pool, AXON_ADDR_TEXT_LEN);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    axon_address_format((char *) out->data, addr);
    out->len = AXON_ADDR_TEXT_LEN;

    return NGX_OK;
}


static ngx_int_t
ngx_http_axon_x402_printable(ngx_str_t *s, size_t max)
{
    u_char  *p;

    if (s->len == 0 || s->len > max) {
        return NGX_ERROR;
    }

    for (p = s->data; p < s->data + s->len; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* axon_x402_asset ADDRESS NAME VERSION: the token and its EIP-712 domain */

char *
ngx_http_axon_x402_asset(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->x402_asset.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_axon_x402_address(cf, &value[1], alcf->x402_asset_addr,
                                   &alcf->x402_asset)
        != NGX_OK)
    {
        return "needs the token's address: 0x and 40 hex digits (a valid "
               "EIP-55 checksum if mixed case), then its EIP-712 name and "
               "version";
    }

    if (ngx_http_axon_x402_printable(&value[2], 64) != NGX_OK) {
        return "has a bad EIP-712 name: 1 to 64 printable characters "
               "(\"USD Coin\" for USDC)";
    }

    if (ngx_http_axon_x402_printable(&value[3], 32) != NGX_OK) {
        return "has a bad EIP-712 version: 1 to 32 printable characters "
               "(\"2\" for USDC)";
    }

    alcf->x402_name = value[2];
    alcf->x402_version = value[3];

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_pay_to(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->x402_pay_to.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_axon_x402_address(cf, &value[1], alcf->x402_pay_to_addr,
                                   &alcf->x402_pay_to)
        != NGX_OK)
    {
        return "must be the revenue wallet: 0x and 40 hex digits, not the "
               "zero address (a valid EIP-55 checksum if mixed case)";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_minutes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_int_t   n, *m, *all;
    ngx_str_t  *value;
    ngx_uint_t  i, k;

    if (alcf->x402_minutes != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts - 1 > 16) {
        return "takes at most 16 durations";
    }

    alcf->x402_minutes = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_int_t));
    if (alcf->x402_minutes == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        n = ngx_atoi(value[i].data, value[i].len);

        if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_AXON_X402_MINUTES_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_x402_minutes\": \"%V\" is not a "
                               "number of minutes from 1 to %d",
                               &value[i], NGX_HTTP_AXON_X402_MINUTES_MAX);
            return NGX_CONF_ERROR;
        }

        all = alcf->x402_minutes->elts;

        for (k = 0; k < alcf->x402_minutes->nelts; k++) {
            if (all[k] == n) {
                return "names a duration twice";
            }
        }

        m = ngx_array_push(alcf->x402_minutes);
        if (m == NULL) {
            return NGX_CONF_ERROR;
        }

        *m = n;
    }

    return NGX_CONF_OK;
}


/* axon_x402_price UNITS: atomic asset units per credit minute */

char *
ngx_http_axon_x402_price(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char     *p;
    uint64_t    n;
    ngx_str_t  *value;

    if (alcf->x402_price != (uint64_t) -1) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 18 || value[1].data[0] == '0') {
        return "must be a positive integer: atomic units of the asset per "
               "credit minute (10000 is 0.01 USDC)";
    }

    n = 0;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p < '0' || *p > '9') {
            return "must be a positive integer: atomic units of the asset "
                   "per credit minute (10000 is 0.01 USDC)";
        }

        n = n * 10 + (*p - '0');
    }

    alcf->x402_price = n;

    return NGX_CONF_OK;
}


/*
 * axon_x402_pending MAX [PER_PAYER]: how many payments may wait for their
 * settlement at once, in all and per payer (past them: 503 and 429)
 */

char *
ngx_http_axon_x402_pending(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_int_t   n, m;
    ngx_str_t  *value;

    if (alcf->x402_pending != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    m = cf->args->nelts == 3 ? ngx_atoi(value[2].data, value[2].len) : 4;

    if (n < 1 || n > 1000000 || m < 1 || m > n) {
        return "takes the most payments pending settlement in all (1 to "
               "1000000) and, optionally, per payer (1 to that; 4 if not "
               "given)";
    }

    alcf->x402_pending = n;
    alcf->x402_pending_payer = m;

    return NGX_CONF_OK;
}


/* axon_x402_discovery [PATH]: this location answers the offers */

char *
ngx_http_axon_x402_discovery(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t                  *value;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_axon_main_conf_t  *amcf;

    if (alcf->x402_resource.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (value[1].len == 0 || value[1].data[0] != '/') {
            return "takes the path of POST x402/session, such as "
                   "/api/x402/session";
        }

        alcf->x402_resource = value[1];

    } else {
        ngx_str_set(&alcf->x402_resource, "/api/x402/session");
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_axon_x402_discovery_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_merge(ngx_conf_t *cf, ngx_http_axon_loc_conf_t *prev,
    ngx_http_axon_loc_conf_t *conf)
{
    ngx_int_t  *m;

    if (conf->x402_network.data == NULL) {
        conf->x402_network = prev->x402_network;
        conf->x402_chain_id = prev->x402_chain_id;
    }

    if (conf->x402_asset.data == NULL) {
        conf->x402_asset = prev->x402_asset;
        conf->x402_name = prev->x402_name;
        conf->x402_version = prev->x402_version;
        ngx_memcpy(conf->x402_asset_addr, prev->x402_asset_addr,
                   AXON_ADDR_LEN);
    }

    if (conf->x402_pay_to.data == NULL) {
        conf->x402_pay_to = prev->x402_pay_to;
        ngx_memcpy(conf->x402_pay_to_addr, prev->x402_pay_to_addr,
                   AXON_ADDR_LEN);
    }

    if (conf->x402_price == (uint64_t) -1) {
        conf->x402_price = prev->x402_price;
    }

    ngx_conf_merge_ptr_value(conf->x402_minutes, prev->x402_minutes, NULL);
    ngx_conf_merge_value(conf->x402_max_timeout, prev->x402_max_timeout,
                         300);
    ngx_conf_merge_msec_value(conf->x402_wait, prev->x402_wait, 20000);
    ngx_conf_merge_uint_value(conf->x402_pending, prev->x402_pending, 1000);
    ngx_conf_merge_uint_value(conf->x402_pending_payer,
                              prev->x402_pending_payer, 4);

    if (conf->x402_resource.data == NULL) {
        conf->x402_resource = prev->x402_resource;
    }

    if (conf->x402_max_timeout < 10 || conf->x402_max_timeout > 3600) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_max_timeout\" must be between 10s "
                           "and 1h");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_wait > 5 * 60 * 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_wait\" must be at most 5m");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_network.data == NULL) {
        if (conf->x402_asset.data || conf->x402_pay_to.data
            || conf->x402_price != (uint64_t) -1
            || conf->x402_minutes != NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_x402_asset\", \"axon_x402_pay_to\", "
                               "\"axon_x402_price\" and "
                               "\"axon_x402_minutes\" need "
                               "\"axon_x402_network\"");
            return NGX_CONF_ERROR;
        }

        ngx_str_null(&conf->x402_network);
        return NGX_CONF_OK;
    }

    if (conf->x402_asset.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_asset\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_pay_to.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_pay_to\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_price == (uint64_t) -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_price\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_minutes == NULL) {
        conf->x402_minutes = ngx_array_create(cf->pool, 3, sizeof(ngx_int_t));
        if (conf->x402_minutes == NULL) {
            return NGX_CONF_ERROR;
        }

        m = ngx_array_push_n(conf->x402_minutes, 3);
        if (m == NULL) {
            return NGX_CONF_ERROR;
        }

        m[0] = 30;
        m[1] = 60;
        m[2] = 120;
    }

    axon_eip712_domain_separator(conf->x402_domain,
                                 (const char *) conf->x402_name.data,
                                 conf->x402_name.len,
                                 (const char *) conf->x402_version.data,
                                 conf->x402_version.len,
                                 conf->x402_chain_id, conf->x402_asset_addr);

    return NGX_CONF_OK;
}
