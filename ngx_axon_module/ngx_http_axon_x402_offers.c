/*
 * x402: the offers.  Agents pay for an SSH GPU session with a signed USDC
 * authorization (EIP-3009), protocol version 2 of the @x402 packages
 * (docs/x402.md).
 *
 *   GET  /.well-known/x402       (axon_x402_discovery) 402: every offer
 *                                (with axon_x402_v1, the body is the
 *                                discovery document of version 1)
 *   GET  /api/x402/session       the same
 *   POST /api/x402/session       {"profile", "minutes", "ssh_public_key"
 *                                [, "session_id"]}: without a payment 402
 *                                with the one offer; with PAYMENT-SIGNATURE
 *                                (or X-PAYMENT), the payment
 *                                (ngx_http_axon_x402_pay.c)
 *
 * An offer is a profile's price for some minutes: minutes x the profile's
 * credit minutes per minute x axon_x402_price, in the asset's units.
 *
 * Version 1 (axon_x402_v1 on): its client reads the offers from the 402's
 * JSON body, version 2's from PAYMENT-REQUIRED, so one 402 serves both:
 * the header version 2's, the body version 1's.  Its payment (X-PAYMENT)
 * is put in version 2's form and goes the same way from there.
 */


#include "ngx_http_axon_x402.h"

#include "axon_sshkey.h"


static void ngx_http_axon_x402_cleanup(void *data);
static ngx_int_t ngx_http_axon_x402_paid_offers(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_offers(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_body(ngx_http_request_t *r,
    json_t *body);
static ngx_int_t ngx_http_axon_x402_profile_name(ngx_str_t *name);
static ngx_int_t ngx_http_axon_x402_ssh_key(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *jk, const char **why);
static ngx_int_t ngx_http_axon_x402_payment_header(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static void ngx_http_axon_x402_profiles_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static json_t *ngx_http_axon_x402_accepts(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *profiles);
static json_t *ngx_http_axon_x402_requirement(ngx_http_request_t *r,
    json_t *profile, ngx_int_t minutes, char *amount);
static json_t *ngx_http_axon_x402_resource(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_required(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *accepts, const char *code,
    const char *message);
static json_t *ngx_http_axon_x402_v1_body(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *pr, const char *code,
    const char *message);
static json_t *ngx_http_axon_x402_v1_requirement(ngx_http_request_t *r,
    json_t *req, json_t *resource);
static ngx_int_t ngx_http_axon_x402_v1_discovery(ngx_http_request_t *r,
    json_t *body);


static ngx_str_t  ngx_http_axon_x402_sig = ngx_string("payment-signature");
static ngx_str_t  ngx_http_axon_x402_v1 = ngx_string("x-payment");


ngx_int_t
ngx_http_axon_x402_off(ngx_http_request_t *r)
{
    return ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "x402 is not configured here");
}


ngx_http_axon_x402_ctx_t *
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

    ngx_http_axon_metrics_route(r, NGX_HTTP_AXON_ROUTE_DISCOVERY);

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

    x->discovery = 1;

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
 * The original gate's x402 access and settle (axon_compat original): a
 * payment for minutes of a profile (none: the first published) that is
 * credited to the payer's wallet and starts no session; without a payment
 * header, 402 with that one offer.  The same check, record, job and
 * settlement as a session's payment: one authorization pays once.
 */

ngx_int_t
ngx_http_axon_x402_credit(ngx_http_request_t *r, ngx_str_t *profile,
    ngx_int_t minutes)
{
    ngx_int_t                 *m;
    ngx_uint_t                 i;
    ngx_http_axon_loc_conf_t  *alcf;
    ngx_http_axon_x402_ctx_t  *x;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (alcf->x402_network.len == 0) {
        return ngx_http_axon_x402_off(r);
    }

    x = ngx_http_axon_x402_ctx(r);
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    x->credit_only = 1;
    x->profile = *profile;

    if (x->profile.len
        && ngx_http_axon_x402_profile_name(&x->profile) != NGX_OK)
    {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "unknown_profile",
                                        "no such profile: see "
                                        "GET /api/x402/session");
    }

    m = alcf->x402_minutes->elts;
    x->minutes = minutes ? 0 : m[0];

    for (i = 0; minutes && i < alcf->x402_minutes->nelts; i++) {
        if (m[i] == minutes) {
            x->minutes = minutes;
        }
    }

    if (x->minutes == 0) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "unknown_minutes",
                                        "these minutes are not sold: see "
                                        "GET /api/x402/session");
    }

    return ngx_http_axon_x402_paid_offers(r, x);
}


/* a request that may carry a payment: its one header, then the offers */

static ngx_int_t
ngx_http_axon_x402_paid_offers(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x)
{
    if (ngx_http_axon_x402_payment_header(r, x) != NGX_OK) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_payment_header",
                                        "send one payment header, once: "
                                        "PAYMENT-SIGNATURE (version 2) or "
                                        "X-PAYMENT (version 1)");
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
    json_t                    *jp, *jm, *jk, *js;
    ngx_int_t                  rc, *m;
    ngx_uint_t                 i;
    const char                *why;
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

    if (ngx_http_axon_x402_profile_name(&x->profile) != NGX_OK) {
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
        rc = ngx_http_axon_x402_ssh_key(r, x, jk, &why);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_ssh_key", why);
        }

    } else if (x->session_id == 0) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_ssh_key",
                                        "an SSH session needs "
                                        "\"ssh_public_key\": one "
                                        "authorized_keys line");
    }

    return ngx_http_axon_x402_paid_offers(r, x);
}


/* a profile's name: 1 to 32 of [a-z0-9_-] */

static ngx_int_t
ngx_http_axon_x402_profile_name(ngx_str_t *name)
{
    u_char  *p, *last;

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    if (name->len == 0 || name->len > 32 || p != last) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * "ssh_public_key", one authorized_keys line, into x->ssh_key; NGX_DECLINED
 * with the reason in *why if it is not one.
 */

static ngx_int_t
ngx_http_axon_x402_ssh_key(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *jk, const char **why)
{
    if (!json_is_string(jk)) {
        *why = "\"ssh_public_key\" must be one authorized_keys line";
        return NGX_DECLINED;
    }

    if (axon_ssh_key_check(json_string_value(jk), json_string_length(jk),
                           why)
        != AXON_OK)
    {
        return NGX_DECLINED;
    }

    x->ssh_key.len = json_string_length(jk);
    x->ssh_key.data = ngx_pnalloc(r->pool, x->ssh_key.len);
    if (x->ssh_key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(x->ssh_key.data, json_string_value(jk), x->ssh_key.len);

    return NGX_OK;
}


/*
 * The payment header: PAYMENT-SIGNATURE, or X-PAYMENT (version 1's), one
 * of them once (NGX_DECLINED: more).  Whether version 1 is taken is the
 * offer's to say (axon_x402_v1).
 */

static ngx_int_t
ngx_http_axon_x402_payment_header(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x)
{
    ngx_uint_t        i, n;
    ngx_table_elt_t  *h;
    ngx_list_part_t  *part;

    n = 0;

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
            x->header = h[i].value;
            x->v1 = 0;
            n++;
        }

        if (h[i].key.len == ngx_http_axon_x402_v1.len
            && ngx_strncasecmp(h[i].key.data, ngx_http_axon_x402_v1.data,
                               h[i].key.len) == 0)
        {
            x->header = h[i].value;
            x->v1 = 1;
            n++;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon x402: payment header: %s, %ui",
                   x->header.data ? (x->v1 ? "X-PAYMENT" : "PAYMENT-SIGNATURE")
                                  : "none", n);

    return n > 1 ? NGX_DECLINED : NGX_OK;
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

    json_t                    *all, *profiles, *accepts;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

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

    accepts = ngx_http_axon_x402_accepts(r, x, profiles);
    if (accepts == NULL) {
        json_decref(all);
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
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

    if (x->minutes == 0 || x->header.data == NULL) {
        rc = ngx_http_axon_x402_required(r, x, accepts, NULL, NULL);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (x->v1 && !alcf->x402_v1) {
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


/*
 * The offers of the published profiles: with x->minutes, the one of
 * x->profile for those minutes (kept in x as the requirement the payment
 * must accept); without, every profile for every axon_x402_minutes.  An
 * array, empty when nothing has a price; NULL: no memory.
 */

static json_t *
ngx_http_axon_x402_accepts(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    json_t *profiles)
{
    size_t                     i, k;
    json_t                    *q, *accepts, *req, *name;
    ngx_int_t                 *m;
    ngx_http_axon_loc_conf_t  *alcf;
    char                       amount[AXON_UINT256_DEC_MAX + 1];

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    accepts = json_array();
    if (accepts == NULL) {
        return NULL;
    }

    m = alcf->x402_minutes->elts;

    json_array_foreach(profiles, i, q) {
        name = json_object_get(q, "name");

        if (!json_is_string(name)) {
            continue;
        }

        if (x->minutes && x->profile.len == 0) {
            /* a credit of no profile named: the first one's price */
            x->profile.len = json_string_length(name);
            x->profile.data = ngx_pnalloc(r->pool, x->profile.len);
            if (x->profile.data == NULL) {
                json_decref(accepts);
                return NULL;
            }

            ngx_memcpy(x->profile.data, json_string_value(name),
                       x->profile.len);
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

    return accepts;
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
        per_minute = AXON_PRICE_PER_MINUTE(
                         (uint64_t) json_integer_value(jg),
                         (uint64_t) json_integer_value(jpr));

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
    json_t                    *pr, *body, *resource;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

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

    if (alcf->x402_v1) {
        body = ngx_http_axon_x402_v1_body(r, x, pr, code, message);
        json_decref(pr);

        return body ? ngx_http_axon_send_json(r, 402, body)
                    : NGX_HTTP_INTERNAL_SERVER_ERROR;
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


/*
 * Version 1's 402 body, from version 2's PaymentRequired pr: {x402Version:
 * 1, error (the code), message, accepts} with each offer as version 1
 * writes it; on the discovery path, the discovery document of version 1
 * around it.
 */

static json_t *
ngx_http_axon_x402_v1_body(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *pr, const char *code,
    const char *message)
{
    size_t   i;
    json_t  *body, *accepts, *req, *v1;

    accepts = json_array();
    if (accepts == NULL) {
        return NULL;
    }

    json_array_foreach(json_object_get(pr, "accepts"), i, req) {
        v1 = ngx_http_axon_x402_v1_requirement(r, req,
                                               json_object_get(pr,
                                                               "resource"));
        if (v1 == NULL || json_array_append_new(accepts, v1) != 0) {
            json_decref(accepts);
            return NULL;
        }
    }

    body = json_pack("{s:i, s:s, s:s, s:o}",
                     "x402Version", 1,
                     "error", code ? code : "payment_required",
                     "message", message ? message
                                        : "pay with x402: version 1 in "
                                          "X-PAYMENT (accepts here), "
                                          "version 2 in PAYMENT-SIGNATURE "
                                          "(see PAYMENT-REQUIRED)",
                     "accepts", accepts);
    if (body == NULL) {
        return NULL;
    }

    if (x->discovery && ngx_http_axon_x402_v1_discovery(r, body) != NGX_OK) {
        json_decref(body);
        return NULL;
    }

    return body;
}


/* one offer as version 1 writes it: the amount, the resource, a name */

static json_t *
ngx_http_axon_x402_v1_requirement(ngx_http_request_t *r, json_t *req,
    json_t *resource)
{
    u_char                    *p;
    u_char                     text[128];
    json_t                    *extra;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    extra = json_object_get(req, "extra");

    p = ngx_snprintf(text, sizeof(text) - 1,
                     "an SSH GPU session: profile %s, %L minutes",
                     json_string_value(json_object_get(extra, "profile")),
                     (int64_t) json_integer_value(json_object_get(extra,
                                                                  "minutes")));
    *p = '\0';

    return json_pack("{s:O, s:s, s:O, s:O, s:s, s:s, s:O, s:O, s:O, s:O}",
                     "scheme", json_object_get(req, "scheme"),
                     "network", axon_x402_network_name(alcf->x402_chain_id),
                     "maxAmountRequired", json_object_get(req, "amount"),
                     "resource", json_object_get(resource, "url"),
                     "description", (char *) text,
                     "mimeType", "application/json",
                     "payTo", json_object_get(req, "payTo"),
                     "maxTimeoutSeconds",
                     json_object_get(req, "maxTimeoutSeconds"),
                     "asset", json_object_get(req, "asset"),
                     "extra", extra);
}


/*
 * GET /.well-known/x402 as the original gate's clients read it: a name,
 * what it sells, the offers, the endpoints and a session's course
 */

static ngx_int_t
ngx_http_axon_x402_v1_discovery(ngx_http_request_t *r, json_t *body)
{
    json_t  *doc;

    doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[s, s, s, s], "
                    "s:[s, s]}",
        "name", "AxonOS GPU compute",
        "description", "exclusive GPU containers reached over SSH, paid "
                       "per session with USDC (x402, EIP-3009)",
        "endpoints",
          "offers", "GET /api/x402/session",
          "session", "POST /api/x402/session {\"profile\", \"minutes\", "
                     "\"ssh_public_key\"[, \"session_id\"]} with "
                     "X-PAYMENT (version 1) or PAYMENT-SIGNATURE "
                     "(version 2)",
          "payment", "GET /api/x402/payment/{payment_id}",
          "release", "POST /api/release (auth_token as Bearer)",
        "session_lifecycle",
          "the unpaid POST answers 402 with the offer asked for",
          "the paid POST is checked, settled on chain and credited once",
          "200: ssh_command, auth_token, expires_at; 202: ask status_url",
          "the session ends at expires_at, or at POST /api/release, "
          "the unused minutes kept as credit",
        "notes",
          "one authorization pays once, whichever version carries it",
          "version 2 reads PAYMENT-REQUIRED; version 1 this body");
    if (doc == NULL) {
        return NGX_ERROR;
    }

    if (json_object_update(body, doc) != 0) {
        json_decref(doc);
        return NGX_ERROR;
    }

    json_decref(doc);

    return NGX_OK;
}


/* NAME: base64 of the compact JSON of v */

ngx_int_t
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

ngx_int_t
ngx_http_axon_x402_refuse(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    const char *code, const char *message)
{
    json_t  *a;

    ngx_http_axon_count(x402[NGX_HTTP_AXON_X402_REFUSED]);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "axon: x402: payment refused: %s (%s), payer %s",
                  code, message, x->payer[0] ? x->payer : "unknown");

    a = ngx_http_axon_x402_one(x);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_x402_required(r, x, a, code, message);
}


ngx_int_t
ngx_http_axon_x402_malformed(ngx_http_request_t *r, const char *message)
{
    ngx_http_axon_count(x402[NGX_HTTP_AXON_X402_MALFORMED]);

    return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_payment_header", message);
}
