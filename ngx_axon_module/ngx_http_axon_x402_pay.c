/*
 * x402: a payment.  POST /api/x402/session with PAYMENT-SIGNATURE (or,
 * with axon_x402_v1, version 1's X-PAYMENT, put in version 2's form
 * first: one check, one record, one settlement) whose offer matched
 * (ngx_http_axon_x402_offers.c): the payment is checked here
 * (axon_x402_check(), no I/O), recorded and queued for the worker (job
 * x402.pay, lua/x402_pay.lua), then waited for, polling its record, up to
 * axon_x402_wait; the answer is the session, or where to ask later:
 *
 *   GET  /api/x402/payment/NONCE the payment's record and its session
 *
 * Redis (docs/protocol.md): axon:x402:pay:NONCE, a hash: the module
 * writes state=pending payer profile minutes amount network valid_before
 * created_at token_hash job_id [session_id]; the worker writes state
 * settled|failed, transaction, error_reason, settled_at, session_id,
 * paid_until, credit, balance and, when no session could start,
 * session_error.  A payment of the original gate's settle (axon_compat)
 * is credit_only: no session, answered with the credit once settled.
 */


#include "ngx_http_axon_x402.h"


static json_t *ngx_http_axon_x402_decode(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t *answer);
static json_t *ngx_http_axon_x402_v1(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *payload, ngx_int_t *answer);
static ngx_int_t ngx_http_axon_x402_record(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, json_t *payload, const u_char *hash,
    uint64_t before);
static ngx_int_t ngx_http_axon_x402_unknown(ngx_http_request_t *r,
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
static ngx_str_t *ngx_http_axon_x402_field(redisReply *hash,
    const char *name, ngx_str_t *out);
static ngx_int_t ngx_http_axon_x402_settled(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_str_t *reason, ngx_str_t *tx);
static ngx_int_t ngx_http_axon_x402_answer(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *reply, ngx_uint_t last);
static ngx_int_t ngx_http_axon_x402_credited(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, ngx_str_t *tx);
static ngx_int_t ngx_http_axon_x402_failed(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, ngx_str_t *tx);
static ngx_int_t ngx_http_axon_x402_running(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, redisReply *s,
    ngx_str_t *tx);
static u_char *ngx_http_axon_x402_unstarted_text(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t credit, const char *why,
    ngx_str_t *serr, ngx_str_t *reason);
static ngx_int_t ngx_http_axon_x402_unstarted(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, redisReply *s,
    ngx_str_t *tx);
static u_char *ngx_http_axon_x402_status_url(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);
static ngx_int_t ngx_http_axon_x402_later(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, const char *state);
static ngx_int_t ngx_http_axon_x402_status_public(ngx_http_request_t *r,
    redisReply *p, redisReply *s);
static void ngx_http_axon_x402_status_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);


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


static ngx_str_t  ngx_http_axon_x402_ended = ngx_string("the session ended");


/*
 * The payment, checked before anything is written (axon_x402_check(): the
 * offer it accepted, the authorization against our own domain, price and
 * payTo, its times, and the signer); then the token, and the script that
 * records it and queues it for the worker.
 */

ngx_int_t
ngx_http_axon_x402_pay(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x)
{
    int                        rc;
    u_char                     md[32], hash[64];
    json_t                    *payload;
    ngx_int_t                  answer;
    const char                *code, *why;
    axon_x402_terms_t          t;
    axon_x402_payment_t        p;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    answer = NGX_HTTP_INTERNAL_SERVER_ERROR;

    payload = ngx_http_axon_x402_decode(r, x, &answer);
    if (payload == NULL) {
        return answer;
    }

    if (x->v1) {
        payload = ngx_http_axon_x402_v1(r, x, payload, &answer);
        if (payload == NULL) {
            return answer;
        }
    }

    t.network = (const char *) alcf->x402_network.data;
    t.network_len = alcf->x402_network.len;
    ngx_memcpy(t.asset, alcf->x402_asset_addr, AXON_ADDR_LEN);
    ngx_memcpy(t.pay_to, alcf->x402_pay_to_addr, AXON_ADDR_LEN);
    t.amount = x->amount;
    t.domain = alcf->x402_domain;
    t.max_timeout = (uint64_t) alcf->x402_max_timeout;

    rc = axon_x402_check(&p, payload, &t, (uint64_t) ngx_time(), &code, &why);

    if (p.read) {
        ngx_memcpy(x->nonce, p.nonce, sizeof(x->nonce));
        axon_address_format(x->payer, p.auth.from);
        axon_address_format_lower(x->payer_lower, p.auth.from);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon x402: payment %s checked: %d %s",
                   p.read ? x->nonce : "-", rc, code ? code : "");

    if (rc != AXON_X402_OK) {
        json_decref(payload);

        return rc == AXON_X402_REFUSED
               ? ngx_http_axon_x402_refuse(r, x, code, why)
               : ngx_http_axon_x402_malformed(r, why);
    }

    /*
     * the auth token, as a sign-in's: 256 random bits; the record has its
     * hash, and the worker stores it once the payment settled
     */

    if (ngx_http_axon_token_new(r->connection->log, x->token, md) != NGX_OK) {
        json_decref(payload);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    axon_hex_encode((char *) hash, md, sizeof(md));

    rc = ngx_http_axon_x402_record(r, x, payload, hash, p.valid_before);

    json_decref(payload);

    return rc;
}


/*
 * The message of a settled payment without a session: what was credited,
 * why no session (why, or the session's error or end), and how to use the
 * credit.
 */

static u_char *
ngx_http_axon_x402_unstarted_text(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, ngx_int_t credit, const char *why,
    ngx_str_t *serr, ngx_str_t *reason)
{
    u_char  *msg, *m, *end;

    msg = ngx_pnalloc(r->pool, 1024);
    if (msg == NULL) {
        return NULL;
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
                         serr->len ? serr
                                   : reason->len ? reason
                                                 : &ngx_http_axon_x402_ended);
    }

    m = ngx_slprintf(m, end, " with POST /api/session {\"profile\", "
                     "\"mode\": \"ssh\", \"ssh_public_key\"} and "
                     "auth_token as Bearer; the credit stays in the wallet "
                     "until used");
    *m = '\0';

    return msg;
}


/*
 * The header: its size, base64 (standard, padded), a JSON object without
 * duplicate keys.  The object, or NULL and *answer, the response's rc.
 */

static json_t *
ngx_http_axon_x402_decode(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    ngx_int_t *answer)
{
    json_t     *payload;
    ngx_str_t   dst;

    if (x->header.len > NGX_HTTP_AXON_X402_HEADER_MAX) {
        *answer = ngx_http_axon_x402_malformed(r, x->v1
                                           ? "X-PAYMENT is too large"
                                           : "PAYMENT-SIGNATURE is too large");
        return NULL;
    }

    if (!axon_x402_base64_form((const char *) x->header.data,
                               x->header.len))
    {
        *answer = ngx_http_axon_x402_malformed(r, x->v1
                                           ? "X-PAYMENT is not base64"
                                           : "PAYMENT-SIGNATURE is not base64");
        return NULL;
    }

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(x->header.len));
    if (dst.data == NULL) {
        *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }

    if (ngx_decode_base64(&dst, &x->header) != NGX_OK) {
        *answer = ngx_http_axon_x402_malformed(r, x->v1
                                           ? "X-PAYMENT is not base64"
                                           : "PAYMENT-SIGNATURE is not base64");
        return NULL;
    }

    payload = json_loadb((char *) dst.data, dst.len, JSON_REJECT_DUPLICATES,
                         NULL);

    if (!json_is_object(payload)) {
        json_decref(payload);
        *answer = ngx_http_axon_x402_malformed(r, x->v1
                                           ? "X-PAYMENT is not a JSON object"
                                           : "PAYMENT-SIGNATURE is not a JSON "
                                             "object");
        return NULL;
    }

    return payload;
}


/*
 * X-PAYMENT's version 1 payment in version 2's form, with the offer it
 * pays (axon_x402_from_v1()); payload is released.  The new object, or
 * NULL and *answer.
 */

static json_t *
ngx_http_axon_x402_v1(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    json_t *payload, ngx_int_t *answer)
{
    int                        rc;
    json_t                    *v2, *jv;
    const char                *code, *why;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    jv = json_object_get(payload, "x402Version");

    if (!json_is_integer(jv) || json_integer_value(jv) != 1) {
        json_decref(payload);
        *answer = ngx_http_axon_x402_refuse(r, x, "invalid_x402_version",
                                            "X-PAYMENT carries x402 "
                                            "version 1; version 2 goes in "
                                            "PAYMENT-SIGNATURE");
        return NULL;
    }

    rc = axon_x402_from_v1(&v2, payload, x->requirement,
                           axon_x402_network_name(alcf->x402_chain_id),
                           &code, &why);
    json_decref(payload);

    if (rc != AXON_X402_OK) {
        *answer = rc == AXON_X402_REFUSED
                  ? ngx_http_axon_x402_refuse(r, x, code, why)
                  : ngx_http_axon_x402_malformed(r, why);
        return NULL;
    }

    return v2;
}


/*
 * The checked payment: its record and its x402.pay job, by one script
 * (lua/x402_pay.lua), whose reply ngx_http_axon_x402_pay_reply() reads.
 */

static ngx_int_t
ngx_http_axon_x402_record(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    json_t *payload, const u_char *hash, uint64_t before)
{
    time_t                     now;
    ngx_int_t                  rc;
    u_char                     created[NGX_TIME_T_LEN], keep[NGX_TIME_T_LEN];
    u_char                     exp[NGX_TIME_T_LEN], minutes[NGX_INT_T_LEN];
    u_char                     sid[NGX_INT_T_LEN], vb[NGX_INT_T_LEN];
    u_char                     max[NGX_INT_T_LEN], max_payer[NGX_INT_T_LEN];
    char                      *payload_text, *req_text;
    u_char                     wallet_key[sizeof(AXON_KEY_WALLET)
                                          + AXON_ADDR_TEXT_LEN];
    u_char                     pending_key[sizeof(AXON_KEY_X402_PENDING)
                                           + 1 + AXON_ADDR_TEXT_LEN];
    const char                *argv[23];
    size_t                     argvlen[23];
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    payload_text = json_dumps(payload, JSON_COMPACT);
    req_text = json_dumps(x->requirement, JSON_COMPACT);

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
    argvlen[13] = AXON_X402_NONCE_LEN;
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
    argv[22] = x->credit_only ? "1" : "0";                      /* 18 */
    argvlen[22] = 1;

    rc = ngx_http_axon_redis_script(r, ngx_http_axon_x402_pay_reply, x,
             &ngx_http_axon_x402_pay_script, 5, 23, argv, argvlen);

    free(payload_text);
    free(req_text);

    return ngx_http_axon_redis_wait(r, rc);
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

    case AXON_X402_PAY_LIVE:
        code = "session_exists";
        status = NGX_HTTP_CONFLICT;
        message = "the wallet already has a live session: top it up "
                  "(the same POST with its \"session_id\"), or release it "
                  "(POST /api/release) first";
        break;

    case AXON_X402_PAY_DESKTOP:
        code = "desktop_session";
        status = NGX_HTTP_CONFLICT;
        message = "x402 pays for SSH sessions: a desktop session is topped "
                  "up with credit minutes (a deposit), not here";
        break;

    case AXON_X402_PAY_ENDED:
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

    ngx_http_axon_count(x402[NGX_HTTP_AXON_X402_BUSY]);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "axon: x402: payment %s of %s refused: %s payments are "
                  "pending settlement already", x->nonce, x->payer,
                  why == AXON_X402_PAY_PAYER_MAX ? "the payer's" : "too many");

    if (ngx_http_axon_add_header(r, &name, &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (why == AXON_X402_PAY_PAYER_MAX) {
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

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon x402: payment %s: record script answered %i",
                   x->nonce, code);

    if (code == AXON_X402_PAY_USED) {
        rc = ngx_http_axon_x402_refuse(r, x,
                                       "invalid_exact_evm_nonce_already_used",
                                       "this authorization was used "
                                       "already");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (code == AXON_X402_PAY_PAYER_MAX || code == AXON_X402_PAY_ALL_MAX) {
        ngx_http_axon_finalize(r, ngx_http_axon_x402_busy(r, x, code));
        return;
    }

    if (code != AXON_X402_PAY_QUEUED) {
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

    ngx_http_axon_count(x402[NGX_HTTP_AXON_X402_QUEUED]);

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

    /*
     * Not NGX_AGAIN: that is also an answer sent in part (a slow client),
     * which ngx_http_finalize_request() leaves to nginx's writer; polled
     * again, it would be sent twice ("header already sent").
     */

    if (rc == NGX_DECLINED) {
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


/*
 * PAYMENT-RESPONSE: the SettleResponse; reason NULL when it settled.  To
 * version 1's X-PAYMENT, X-PAYMENT-RESPONSE with the network's name.
 */

static ngx_int_t
ngx_http_axon_x402_settled(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    ngx_str_t *reason, ngx_str_t *tx)
{
    json_t                    *settle;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (x->v1) {
        settle = json_pack("{s:b, s:s#, s:s, s:s}",
                           "success", reason == NULL,
                           "transaction", tx->data, tx->len,
                           "network",
                           axon_x402_network_name(alcf->x402_chain_id),
                           "payer", x->payer);
    } else {
        settle = json_pack("{s:b, s:s#, s:s#, s:s}",
                           "success", reason == NULL,
                           "transaction", tx->data, tx->len,
                           "network", alcf->x402_network.data,
                           alcf->x402_network.len,
                           "payer", x->payer);
    }

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

    rc = ngx_http_axon_x402_header(r, x->v1 ? "X-PAYMENT-RESPONSE"
                                            : "PAYMENT-RESPONSE", settle);
    json_decref(settle);

    return rc;
}


/*
 * The outcome, from {record, session}: settled and running -> 200 with the
 * SSH coordinates and PAYMENT-RESPONSE; settled but no session (the
 * worker's session_error, or the session ended) -> 409 or 503 at once,
 * with PAYMENT-RESPONSE and the credit; failed -> 402 with
 * PAYMENT-RESPONSE {success: false}; else NGX_DECLINED (ask again), or
 * 202 when last.  What an answer's sending returned, otherwise.
 */

static ngx_int_t
ngx_http_axon_x402_answer(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    redisReply *reply, ngx_uint_t last)
{
    u_char      *st;
    ngx_int_t    rc;
    ngx_str_t    state, sstate, tx, reason;
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

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon x402: payment %s: %V, session %V", x->nonce,
                   &state, &sstate);

    if (state.len == 6 && ngx_strncmp(state.data, "failed", 6) == 0) {
        return ngx_http_axon_x402_failed(r, x, p, &tx);
    }

    if (state.len == 7 && ngx_strncmp(state.data, "settled", 7) == 0) {

        if (x->credit_only) {
            return ngx_http_axon_x402_credited(r, x, p, &tx);
        }

        if (ngx_http_axon_x402_field(p, "session_error", &reason) != NULL
            || (sstate.len == 5 && ngx_strncmp(sstate.data, "ended", 5) == 0))
        {
            return ngx_http_axon_x402_unstarted(r, x, p, s, &tx);
        }

        if (sstate.len == 7 && ngx_strncmp(sstate.data, "running", 7) == 0) {
            rc = ngx_http_axon_x402_running(r, x, p, s, &tx);

            if (rc != NGX_DECLINED) {
                return rc;
            }
        }
    }

    /* not settled, or its session not running yet */

    if (!last) {
        return NGX_DECLINED;
    }

    st = ngx_pnalloc(r->pool, state.len + 1);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(st, state.data, state.len) = '\0';

    return ngx_http_axon_x402_later(r, x, (char *) st);
}


/*
 * Settled, a payment with no session (the original gate's settle): 200,
 * the credit and the balance after it, the token of the payer's wallet.
 */

static ngx_int_t
ngx_http_axon_x402_credited(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, redisReply *p, ngx_str_t *tx)
{
    json_t     *body;
    ngx_str_t   credit, balance;

    if (ngx_http_axon_x402_field(p, "credit", &credit) == NULL) {
        ngx_str_set(&credit, "0");
    }

    if (ngx_http_axon_x402_field(p, "balance", &balance) == NULL) {
        ngx_str_null(&balance);
    }

    body = json_pack("{s:s, s:s, s:s, s:s, s:s#, s:I, s:o, s:s}",
                     "status", "credited",
                     "payer", x->payer,
                     "auth_token", (char *) x->token,
                     "payment_id", x->nonce,
                     "transaction", tx->data, tx->len,
                     "credit_minutes",
                     (json_int_t) ngx_atoi(credit.data, credit.len),
                     "balance_minutes",
                     balance.len ? json_integer(ngx_atoi(balance.data,
                                                         balance.len))
                                 : json_null(),
                     "amount", x->amount);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_axon_x402_settled(r, x, NULL, tx) != NGX_OK) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: x402: payment %s credited to %s, no session",
                  x->nonce, x->payer);

    return ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
}


/* the payment failed: 402 with the reason, nothing charged */

static ngx_int_t
ngx_http_axon_x402_failed(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    redisReply *p, ngx_str_t *tx)
{
    json_t     *body;
    ngx_str_t   reason;

    if (ngx_http_axon_x402_field(p, "error_reason", &reason) == NULL) {
        ngx_str_set(&reason, "settlement_failed");
    }

    if (ngx_http_axon_x402_settled(r, x, &reason, tx) != NGX_OK) {
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


/*
 * Settled, its session running: 200 with the token and where to connect.
 * NGX_DECLINED: not usable yet (no SSH coordinates): wait on.
 */

static ngx_int_t
ngx_http_axon_x402_running(ngx_http_request_t *r, ngx_http_axon_x402_ctx_t *x,
    redisReply *p, redisReply *s, ngx_str_t *tx)
{
    u_char      iso[NGX_HTTP_AXON_ISO8601_LEN + 1];
    time_t      expires;
    json_t     *body;
    ngx_int_t   rc;
    ngx_str_t   sid, host, port, user, paid, started, balance;

    if (ngx_http_axon_x402_field(p, "session_id", &sid) == NULL
        || ngx_http_axon_x402_field(s, "connect_host", &host) == NULL
        || ngx_http_axon_x402_field(s, "connect_port", &port) == NULL
        || ngx_http_axon_x402_field(s, "connect_user", &user) == NULL)
    {
        return NGX_DECLINED;
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
                     "transaction", tx->data, tx->len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the wallet's balance just after the credit */
    if (ngx_http_axon_x402_field(p, "balance", &balance)) {
        json_object_set_new(body, "balance_minutes",
                            json_integer(ngx_atoi(balance.data,
                                                  balance.len)));
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
        return NGX_DECLINED;
    }

    if (ngx_http_axon_x402_settled(r, x, NULL, tx) != NGX_OK) {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: x402: payment %s: session %V running", x->nonce,
                  &sid);

    return ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
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
    u_char      *msg;
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

    msg = ngx_http_axon_x402_unstarted_text(r, x, credit, why, &serr,
                                            &reason);
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
                               + AXON_X402_NONCE_LEN);
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

    if (arg.len != AXON_X402_NONCE_LEN
        || arg.data[0] != '0' || arg.data[1] != 'x'
        || axon_hex_decode(nonce, 32, (char *) arg.data, arg.len) != AXON_OK)
    {
        return ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND,
                                        "unknown_payment",
                                        "a payment id is 0x and 64 hex "
                                        "digits");
    }

    key = ngx_pnalloc(r->pool, sizeof(AXON_KEY_X402_PAY)
                               + AXON_X402_NONCE_LEN);
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
