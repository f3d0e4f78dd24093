/*
 * Wallet sign-in: Sign-In with Ethereum (EIP-4361) challenges.
 *
 * GET /api/auth/challenge?address=0x...  makes a random nonce, keeps it in
 * Redis for the challenge's lifetime (axon:challenge:NONCE -> the address,
 * lowercase), and answers the message the wallet is to sign.
 */


#include "ngx_http_axon_module.h"

#include <openssl/rand.h>

#include "axon_eth.h"
#include "axon_siwe.h"


#define NGX_HTTP_AXON_NONCE_BYTES     16      /* 128 bits */
#define NGX_HTTP_AXON_NONCE_LEN       (2 * NGX_HTTP_AXON_NONCE_BYTES)


typedef struct {
    json_t                   *body;
    u_char                    key[sizeof(AXON_KEY_CHALLENGE) - 1
                                  + NGX_HTTP_AXON_NONCE_LEN];
} ngx_http_axon_challenge_ctx_t;


static ngx_int_t ngx_http_axon_challenge_store(ngx_http_request_t *r,
    ngx_http_axon_challenge_ctx_t *ctx, const char *lower, ngx_msec_t ttl);
static void ngx_http_axon_challenge_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_refuse(ngx_http_request_t *r,
    const char *code, const char *message, const char *wallet);
static u_char *ngx_http_axon_challenge_message(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, ngx_http_axon_siwe_t *siwe,
    const char *addr_text, const u_char *nonce, const u_char *issued,
    const u_char *expires, size_t *len);


ngx_int_t
ngx_http_axon_challenge_handler(ngx_http_request_t *r)
{
    u_char                          *message;
    size_t                           len;
    time_t                           now;
    ngx_str_t                        arg;
    ngx_int_t                        rc;
    ngx_table_elt_t                 *origin;
    char                             addr_text[AXON_ADDR_TEXT_LEN + 1];
    char                             lower[AXON_ADDR_TEXT_LEN];
    u_char                           nonce[NGX_HTTP_AXON_NONCE_LEN];
    u_char                           issued[NGX_HTTP_AXON_ISO8601_LEN + 1];
    u_char                           expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    uint8_t                          addr[AXON_ADDR_LEN];
    uint8_t                          rnd[NGX_HTTP_AXON_NONCE_BYTES];
    ngx_http_axon_siwe_t            *siwe;
    ngx_http_axon_loc_conf_t        *alcf;
    ngx_http_axon_challenge_ctx_t   *ctx;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    origin = ngx_http_axon_header_in(r, "Origin", sizeof("Origin") - 1);
    siwe = ngx_http_axon_siwe_origin(r, alcf, origin);

    if (siwe == NULL) {
        return ngx_http_axon_refuse(r, "domain_mismatch",
                                    "the page asking (its Origin) is not "
                                    "this gate's", NULL);
    }

    if (ngx_http_arg(r, (u_char *) "address", 7, &arg) != NGX_OK) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_address",
                                        "the address query argument is "
                                        "missing");
    }

    rc = axon_address_parse(addr, (const char *) arg.data, arg.len);

    if (rc != AXON_OK) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                   "bad_address",
                   rc == AXON_ERR_CHECKSUM
                   ? "the address has a wrong EIP-55 checksum"
                   : "the address must be 0x followed by 40 hex digits");
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "axon: RAND_bytes() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    axon_hex_encode((char *) nonce, rnd, sizeof(rnd));

    axon_address_format(addr_text, addr);
    addr_text[AXON_ADDR_TEXT_LEN] = '\0';
    axon_address_format_lower(lower, addr);

    now = ngx_time();
    *ngx_http_axon_iso8601(issued, now) = '\0';
    *ngx_http_axon_iso8601(expires,
                           now + (time_t) (alcf->challenge_ttl / 1000)) = '\0';

    message = ngx_http_axon_challenge_message(r, alcf, siwe, addr_text,
                                              nonce, issued, expires, &len);
    if (message == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_axon_challenge_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body = json_pack("{s:s, s:s#, s:s#, s:s, s:s}",
                          "address", addr_text,
                          "nonce", nonce, (size_t) NGX_HTTP_AXON_NONCE_LEN,
                          "message", message, len,
                          "issued_at", issued,
                          "expires_at", expires);
    if (ctx->body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ngx_cpymem(ctx->key, AXON_KEY_CHALLENGE,
                          sizeof(AXON_KEY_CHALLENGE) - 1),
               nonce, NGX_HTTP_AXON_NONCE_LEN);

    rc = ngx_http_axon_challenge_store(r, ctx, lower, alcf->challenge_ttl);

    return ngx_http_axon_redis_wait(r, rc);
}


/*
 * SET axon:challenge:NONCE 0xaddress PX ttl NX, with
 * ngx_http_axon_challenge_reply() to answer; ctx->body is freed if the
 * command cannot be sent
 */

static ngx_int_t
ngx_http_axon_challenge_store(ngx_http_request_t *r,
    ngx_http_axon_challenge_ctx_t *ctx, const char *lower, ngx_msec_t ttl)
{
    ngx_int_t    rc;
    const char  *argv[6];
    size_t       argvlen[6];
    char         px[NGX_INT_T_LEN];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->key;
    argvlen[1] = sizeof(ctx->key);
    argv[2] = lower;
    argvlen[2] = AXON_ADDR_TEXT_LEN;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = px;
    argvlen[4] = ngx_sprintf((u_char *) px, "%M", ttl) - (u_char *) px;
    argv[5] = "NX";
    argvlen[5] = 2;

    rc = ngx_http_axon_redis_command(r, ngx_http_axon_challenge_reply, ctx,
                                     6, argv, argvlen);

    if (rc != NGX_OK) {
        json_decref(ctx->body);
    }

    return rc;
}


/* the EIP-4361 message of a challenge: *len bytes, not NUL-terminated */

static u_char *
ngx_http_axon_challenge_message(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, ngx_http_axon_siwe_t *siwe,
    const char *addr_text, const u_char *nonce, const u_char *issued,
    const u_char *expires, size_t *len)
{
    u_char  *p, *message;

    *len = siwe->domain.len
           + sizeof(" wants you to sign in with your Ethereum account:\n") - 1
           + AXON_ADDR_TEXT_LEN + 2
           + alcf->siwe_statement.len + 2
           + sizeof("URI: \n") - 1 + siwe->uri.len
           + sizeof("Version: 1\n") - 1
           + sizeof("Chain ID: \n") - 1 + NGX_INT_T_LEN
           + sizeof("Nonce: \n") - 1 + NGX_HTTP_AXON_NONCE_LEN
           + sizeof("Issued At: \n") - 1 + NGX_HTTP_AXON_ISO8601_LEN
           + sizeof("Expiration Time: ") - 1 + NGX_HTTP_AXON_ISO8601_LEN;

    message = ngx_pnalloc(r->pool, *len);
    if (message == NULL) {
        return NULL;
    }

    p = ngx_sprintf(message,
                    "%V wants you to sign in with your Ethereum account:\n"
                    "%s\n\n",
                    &siwe->domain, addr_text);

    if (alcf->siwe_statement.len) {
        p = ngx_sprintf(p, "%V\n\n", &alcf->siwe_statement);
    }

    p = ngx_sprintf(p,
                    "URI: %V\n"
                    "Version: 1\n"
                    "Chain ID: %ui\n"
                    "Nonce: %*s\n"
                    "Issued At: %s\n"
                    "Expiration Time: %s",
                    &siwe->uri, alcf->chain_id,
                    (size_t) NGX_HTTP_AXON_NONCE_LEN, nonce,
                    issued, expires);

    *len = p - message;

    return message;
}


static void
ngx_http_axon_challenge_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_challenge_ctx_t  *ctx = data;

    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        json_decref(ctx->body);
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, ctx->body);
    ngx_http_axon_finalize(r, rc);
}


/*
 * The origin (axon_siwe_domain, axon_siwe_uri) a sign-in is for.  A
 * browser's request names it in Origin: one of the configured origins, or
 * NULL (the caller refuses).  Without Origin (an agent, curl) the Host
 * header may choose among the configured domains; any other Host gets the
 * first.  The request never puts a domain of its own in a message.
 */

ngx_http_axon_siwe_t *
ngx_http_axon_siwe_origin(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, ngx_table_elt_t *origin)
{
    ngx_str_t              host;
    ngx_uint_t             i;
    ngx_http_axon_siwe_t  *s;

    if (alcf->siwe == NULL) {
        /* nginx -t refuses axon_api without them */
        return NULL;
    }

    s = alcf->siwe->elts;

    if (origin) {
        for (i = 0; i < alcf->siwe->nelts; i++) {
            if (origin->value.len == s[i].origin.len
                && ngx_strncasecmp(origin->value.data, s[i].origin.data,
                                   s[i].origin.len)
                   == 0)
            {
                return &s[i];
            }
        }

        return NULL;
    }

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

        for (i = 0; i < alcf->siwe->nelts; i++) {
            if (host.len == s[i].domain.len
                && ngx_strncasecmp(host.data, s[i].domain.data, host.len)
                   == 0)
            {
                return &s[i];
            }
        }
    }

    return &s[0];
}


/*
 * POST /api/auth/verify-wallet {"message": SIWE, "signature": "0x..."}
 *
 * The local checks come first (parse, domain, URI, chain, times, the
 * signature's recovery: no I/O); then one Redis script consumes the nonce
 * (atomic: of two concurrent uses exactly one wins; one issued for another
 * wallet is left to its owner), stores the token's
 * hash and queues the sign-in for the worker's audit, atomically.
 */

static const axon_script_t  ngx_http_axon_signin_script =
    AXON_SCRIPT(SIGNIN);


#define NGX_HTTP_AXON_UA_MAX        256
#define NGX_HTTP_AXON_COOKIE        "axon_token"


typedef struct {
    u_char                    token[NGX_HTTP_AXON_TOKEN_LEN + 1];
    u_char                    expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    char                      wallet[AXON_ADDR_TEXT_LEN + 1];
    time_t                    expires_unix;
} ngx_http_axon_signin_ctx_t;


static ngx_int_t ngx_http_axon_verify_body(ngx_http_request_t *r,
    json_t *body);
static ngx_http_axon_siwe_t *ngx_http_axon_verify_domain(
    ngx_http_request_t *r, ngx_http_axon_loc_conf_t *alcf, axon_siwe_t *m,
    const char **why);
static ngx_int_t ngx_http_axon_verify_message(ngx_http_axon_loc_conf_t *alcf,
    ngx_http_axon_siwe_t *siwe, axon_siwe_t *m, time_t now, json_t *jmsg,
    json_t *jsig, const char **code, const char **why);
static ngx_int_t ngx_http_axon_signin_send(ngx_http_request_t *r,
    ngx_http_axon_signin_ctx_t *ctx, axon_siwe_t *m, const char *lower,
    const u_char *hash, time_t now);
static void ngx_http_axon_verify_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_set_cookie(ngx_http_request_t *r,
    u_char *token, time_t max_age);
static void ngx_http_axon_logout_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);


ngx_int_t
ngx_http_axon_verify_handler(ngx_http_request_t *r)
{
    return ngx_http_axon_read_json(r, ngx_http_axon_verify_body);
}


static ngx_int_t
ngx_http_axon_verify_body(ngx_http_request_t *r, json_t *body)
{
    u_char                       md[32], hash[64];
    time_t                       now;
    json_t                      *jmsg, *jsig;
    axon_siwe_t                  m;
    const char                  *why, *code;
    char                         lower[AXON_ADDR_TEXT_LEN + 1];
    ngx_http_axon_siwe_t        *siwe;
    ngx_http_axon_loc_conf_t    *alcf;
    ngx_http_axon_signin_ctx_t  *ctx;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    jmsg = json_object_get(body, "message");
    jsig = json_object_get(body, "signature");

    if (!json_is_string(jmsg) || !json_is_string(jsig)) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "\"message\" and \"signature\" must "
                                        "be strings");
    }

    if (axon_siwe_parse(&m, json_string_value(jmsg),
                        json_string_length(jmsg), &why)
        != AXON_OK)
    {
        ngx_http_axon_metrics_signin("bad_message");
        return ngx_http_axon_refuse(r, "bad_message", why, NULL);
    }

    axon_address_format_lower(lower, m.addr);
    lower[AXON_ADDR_TEXT_LEN] = '\0';

    siwe = ngx_http_axon_verify_domain(r, alcf, &m, &why);

    if (siwe == NULL) {
        ngx_http_axon_metrics_signin("domain_mismatch");
        return ngx_http_axon_refuse(r, "domain_mismatch", why, lower);
    }

    now = ngx_time();

    if (ngx_http_axon_verify_message(alcf, siwe, &m, now, jmsg, jsig, &code,
                                     &why)
        != NGX_OK)
    {
        ngx_http_axon_metrics_signin(code);
        return ngx_http_axon_refuse(r, code, why, lower);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon sign-in: message and signature of %s good", lower);

    /* the token: 256 random bits; Redis and the worker see only its hash */

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_axon_signin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_axon_token_new(r->connection->log, ctx->token, md)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    axon_hex_encode((char *) hash, md, sizeof(md));

    axon_address_format(ctx->wallet, m.addr);
    ctx->wallet[AXON_ADDR_TEXT_LEN] = '\0';
    ctx->expires_unix = now + (time_t) (alcf->token_ttl / 1000);
    *ngx_http_axon_iso8601(ctx->expires, ctx->expires_unix) = '\0';

    return ngx_http_axon_signin_send(r, ctx, &m, lower, hash, now);
}


/*
 * The message names one of this gate's origins: that origin, or NULL and
 * *why.
 */

static ngx_http_axon_siwe_t *
ngx_http_axon_verify_domain(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, axon_siwe_t *m, const char **why)
{
    ngx_uint_t             i;
    ngx_table_elt_t       *origin;
    ngx_http_axon_siwe_t  *siwe;

    /*
     * The message names one of this gate's origins; a browser's request
     * comes from a page there, and the message names that page's domain.
     */

    origin = ngx_http_axon_header_in(r, "Origin", sizeof("Origin") - 1);

    if (origin) {
        siwe = ngx_http_axon_siwe_origin(r, alcf, origin);

        if (siwe == NULL) {
            *why = "the page asking (its Origin) is not this gate's";
            return NULL;
        }

        if (!(m->domain.len == siwe->domain.len
              && ngx_strncmp(m->domain.data, siwe->domain.data,
                             siwe->domain.len)
                 == 0))
        {
            siwe = NULL;
        }

    } else {
        siwe = NULL;

        for (i = 0; alcf->siwe && i < alcf->siwe->nelts; i++) {
            siwe = (ngx_http_axon_siwe_t *) alcf->siwe->elts + i;

            if (m->domain.len == siwe->domain.len
                && ngx_strncmp(m->domain.data, siwe->domain.data,
                               siwe->domain.len)
                   == 0)
            {
                break;
            }

            siwe = NULL;
        }
    }

    if (siwe == NULL) {
        *why = "the message is for another domain";
    }

    return siwe;
}


/*
 * The rest of the local checks, no I/O: the scheme, URI, chain and times
 * the message names, then its signature and signer.  NGX_OK, or
 * NGX_DECLINED with *code and *why.
 */

static ngx_int_t
ngx_http_axon_verify_message(ngx_http_axon_loc_conf_t *alcf,
    ngx_http_axon_siwe_t *siwe, axon_siwe_t *m, time_t now, json_t *jmsg,
    json_t *jsig, const char **code, const char **why)
{
    int      rc;
    uint8_t  signer[AXON_ADDR_LEN];

    *code = NULL;

    /* a "scheme://" before the domain must be the URI's (EIP-4361) */

    if (m->scheme.len
        && !(m->scheme.len == siwe->scheme.len
             && ngx_strncasecmp((u_char *) m->scheme.data, siwe->scheme.data,
                                siwe->scheme.len)
                == 0))
    {
        *code = "domain_mismatch";
        *why = "the message is for another scheme";

    } else if (m->uri.len != siwe->uri.len
               || ngx_strncmp(m->uri.data, siwe->uri.data, siwe->uri.len)
                  != 0)
    {
        *code = "uri_mismatch";
        *why = "the message is for another URI";

    } else if (m->chain_id != alcf->chain_id) {
        *code = "chain_mismatch";
        *why = "the message is for another chain id";

    } else if (m->expiration_unix != -1 && now >= m->expiration_unix) {
        *code = "expired";
        *why = "the challenge has expired";

    } else if (m->issued_at_unix > now
               || (m->not_before_unix != -1 && now < m->not_before_unix))
    {
        *code = "not_yet_valid";
        *why = "the message is not valid yet";
    }

    if (*code) {
        return NGX_DECLINED;
    }

    rc = axon_personal_recover(signer, json_string_value(jmsg),
                               json_string_length(jmsg),
                               json_string_value(jsig),
                               json_string_length(jsig));

    if (rc != AXON_OK) {
        switch (rc) {
        case AXON_ERR_LEN:
            *code = "bad_signature_length";
            break;
        case AXON_ERR_HEX:
            *code = "bad_signature_hex";
            break;
        case AXON_ERR_SIG_V:
            *code = "bad_signature_v";
            break;
        case AXON_ERR_SIG_HIGH_S:
            *code = "bad_signature_high_s";
            break;
        default:
            *code = "bad_signature";
        }

        *why = "the signature is not valid";
        return NGX_DECLINED;
    }

    if (!axon_memeq_ct(signer, m->addr, AXON_ADDR_LEN)) {
        *code = "wrong_signer";
        *why = "the signature is not by the message's address";
        return NGX_DECLINED;
    }

    if (m->nonce.len > 48) {
        *code = "unknown_nonce";
        *why = "unknown, used or expired nonce";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* one script: the nonce consumed, the token stored, the sign-in queued */

static ngx_int_t
ngx_http_axon_signin_send(ngx_http_request_t *r,
    ngx_http_axon_signin_ctx_t *ctx, axon_siwe_t *m, const char *lower,
    const u_char *hash, time_t now)
{
    u_char                     *p;
    size_t                      ualen;
    u_char                      value[96];
    u_char                      ttl[NGX_INT_T_LEN], exp[NGX_INT_T_LEN];
    u_char                      issued[NGX_INT_T_LEN];
    u_char                      challenge_key[64], token_key[80];
    const char                 *argv[12];
    size_t                      argvlen[12];
    ngx_http_axon_loc_conf_t   *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    p = ngx_sprintf(challenge_key, AXON_KEY_CHALLENGE "%*s",
                    m->nonce.len, m->nonce.data);
    argv[0] = (const char *) challenge_key;
    argvlen[0] = p - challenge_key;

    p = ngx_sprintf(token_key, AXON_KEY_TOKEN "%*s",
                    (size_t) 64, hash);
    argv[1] = (const char *) token_key;
    argvlen[1] = p - token_key;

    argv[2] = AXON_KEY_JOBS;
    argvlen[2] = sizeof(AXON_KEY_JOBS) - 1;

    argv[3] = lower;
    argvlen[3] = AXON_ADDR_TEXT_LEN;

    p = ngx_sprintf(value, "{\"wallet\":\"%*s\",\"exp\":%T}",
                    (size_t) AXON_ADDR_TEXT_LEN, lower, ctx->expires_unix);
    argv[4] = (const char *) value;
    argvlen[4] = p - value;

    argv[5] = (const char *) ttl;
    argvlen[5] = ngx_sprintf(ttl, "%M", alcf->token_ttl) - ttl;

    argv[6] = (const char *) r->connection->addr_text.data;
    argvlen[6] = r->connection->addr_text.len;

    ualen = 0;
    argv[7] = "";

    if (r->headers_in.user_agent) {
        argv[7] = (const char *) r->headers_in.user_agent->value.data;
        ualen = ngx_min(r->headers_in.user_agent->value.len,
                        NGX_HTTP_AXON_UA_MAX);
    }

    argvlen[7] = ualen;

    argv[8] = m->nonce.data;
    argvlen[8] = m->nonce.len;

    argv[9] = (const char *) hash;
    argvlen[9] = 64;

    argv[10] = (const char *) exp;
    argvlen[10] = ngx_sprintf(exp, "%T", ctx->expires_unix) - exp;

    argv[11] = (const char *) issued;
    argvlen[11] = ngx_sprintf(issued, "%T", now) - issued;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_verify_reply, ctx,
                                          &ngx_http_axon_signin_script, 3, 12,
                                          argv, argvlen));
}


static void
ngx_http_axon_verify_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_signin_ctx_t  *ctx = data;

    json_t                    *body;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_axon_metrics_signin("redis_unavailable");
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_http_axon_metrics_signin(reply->integer == AXON_SIGNIN_OK
                                 ? NULL : "unknown_nonce");

    if (reply->integer != AXON_SIGNIN_OK) {
        rc = ngx_http_axon_refuse(r, "unknown_nonce",
                                  reply->integer == AXON_SIGNIN_NO_NONCE
                                  ? "unknown, used or expired nonce"
                                  : "the nonce was issued for another "
                                    "address",
                                  ctx->wallet);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: sign-in: wallet %s", ctx->wallet);

    body = json_pack("{s:s, s:s, s:s}",
                     "token", (char *) ctx->token,
                     "wallet", ctx->wallet,
                     "expires_at", (char *) ctx->expires);

    if (body == NULL
        || ngx_http_axon_set_cookie(r, ctx->token,
                                    (time_t) (alcf->token_ttl / 1000))
           != NGX_OK)
    {
        json_decref(body);
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
    ngx_http_axon_finalize(r, rc);
}


/* 401 with the check that failed; one log line an operator can read */

static ngx_int_t
ngx_http_axon_refuse(ngx_http_request_t *r, const char *code,
    const char *message, const char *wallet)
{
    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "axon: sign-in refused: %s (%s), wallet %s",
                  code, message, wallet ? wallet : "unknown");

    return ngx_http_axon_send_error(r, NGX_HTTP_UNAUTHORIZED, code, message);
}


/* the token's cookie; an empty token with max_age 0 clears it */

static ngx_int_t
ngx_http_axon_set_cookie(ngx_http_request_t *r, u_char *token,
    time_t max_age)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   value;

    static ngx_str_t  set_cookie = ngx_string("Set-Cookie");

    len = sizeof(NGX_HTTP_AXON_COOKIE "=") - 1 + NGX_HTTP_AXON_TOKEN_LEN
          + sizeof("; Path=/; Max-Age=; HttpOnly; SameSite=Lax; Secure") - 1
          + NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;

    p = ngx_sprintf(p, NGX_HTTP_AXON_COOKIE "=%s; Path=/; Max-Age=%T; "
                    "HttpOnly; SameSite=Lax", token, max_age);

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }
#endif

    value.len = p - value.data;

    return ngx_http_axon_add_header(r, &set_cookie, &value);
}


/*
 * POST /api/auth/logout: the gate has found the token (the route needs a
 * wallet).  One script deletes it from Redis and queues the revocation
 * for Postgres; this nginx's cache forgets it at once, other hosts' caches
 * within axon_token_cache's valid= time.
 */

static const axon_script_t  ngx_http_axon_logout_script =
    AXON_SCRIPT(LOGOUT);


ngx_int_t
ngx_http_axon_logout_handler(ngx_http_request_t *r)
{
    const char           *argv[5];
    size_t                argvlen[5];
    char                  wallet[AXON_ADDR_TEXT_LEN];
    u_char                at[NGX_TIME_T_LEN];
    u_char                key[sizeof(AXON_KEY_TOKEN) - 1 + 64];
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    axon_address_format_lower(wallet, ctx->wallet);

    /* the script's keys, then its arguments */

    argv[0] = (const char *) key;
    argvlen[0] = ngx_sprintf(key, AXON_KEY_TOKEN "%*s",
                             (size_t) 64, ctx->token_hash)
                 - key;
    argv[1] = AXON_KEY_JOBS;
    argvlen[1] = sizeof(AXON_KEY_JOBS) - 1;
    argv[2] = (const char *) ctx->token_hash;
    argvlen[2] = 64;
    argv[3] = wallet;
    argvlen[3] = AXON_ADDR_TEXT_LEN;
    argv[4] = (const char *) at;
    argvlen[4] = ngx_sprintf(at, "%T", ngx_time()) - at;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_logout_reply, ctx,
                                          &ngx_http_axon_logout_script, 2, 5,
                                          argv, argvlen));
}


static void
ngx_http_axon_logout_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_ctx_t  *ctx = data;

    char       wallet[AXON_ADDR_TEXT_LEN + 1];
    json_t    *body;
    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_http_axon_token_forget(r, ctx->token_hash);

    axon_address_format(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: logout: wallet %s, token hash %*s", wallet,
                  (size_t) 8, ctx->token_hash);

    body = json_pack("{s:b, s:s}", "revoked", 1, "wallet", wallet);

    if (body == NULL
        || ngx_http_axon_set_cookie(r, (u_char *) "", 0) != NGX_OK)
    {
        json_decref(body);
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
    ngx_http_axon_finalize(r, rc);
}
