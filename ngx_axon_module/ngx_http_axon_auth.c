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


#define NGX_HTTP_AXON_NONCE_BYTES     16      /* 128 bits */
#define NGX_HTTP_AXON_NONCE_LEN       (2 * NGX_HTTP_AXON_NONCE_BYTES)
#define NGX_HTTP_AXON_ISO8601_LEN     (sizeof("1970-01-01T00:00:00Z") - 1)
#define NGX_HTTP_AXON_CHALLENGE_KEY   "axon:challenge:"


typedef struct {
    json_t                   *body;
    u_char                    key[sizeof(NGX_HTTP_AXON_CHALLENGE_KEY) - 1
                                  + NGX_HTTP_AXON_NONCE_LEN];
} ngx_http_axon_challenge_ctx_t;


static void ngx_http_axon_challenge_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static u_char *ngx_http_axon_iso8601(u_char *p, time_t t);


ngx_int_t
ngx_http_axon_challenge_handler(ngx_http_request_t *r)
{
    u_char                          *p, *message;
    size_t                           len;
    time_t                           now;
    ngx_str_t                        arg, domain, uri;
    ngx_int_t                        rc;
    char                             addr_text[AXON_ADDR_TEXT_LEN + 1];
    char                             lower[AXON_ADDR_TEXT_LEN];
    char                             px[NGX_INT_T_LEN];
    u_char                           nonce[NGX_HTTP_AXON_NONCE_LEN];
    u_char                           issued[NGX_HTTP_AXON_ISO8601_LEN + 1];
    u_char                           expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    uint8_t                          addr[AXON_ADDR_LEN];
    uint8_t                          rnd[NGX_HTTP_AXON_NONCE_BYTES];
    const char                      *argv[6];
    size_t                           argvlen[6];
    ngx_http_axon_loc_conf_t        *alcf;
    ngx_http_axon_challenge_ctx_t   *ctx;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

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

    if (ngx_http_axon_siwe_origin(r, alcf, &domain, &uri) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = domain.len + sizeof(" wants you to sign in with your Ethereum "
                              "account:\n") - 1
          + AXON_ADDR_TEXT_LEN + 2
          + alcf->siwe_statement.len + 2
          + sizeof("URI: \n") - 1 + uri.len
          + sizeof("Version: 1\n") - 1
          + sizeof("Chain ID: \n") - 1 + NGX_INT_T_LEN
          + sizeof("Nonce: \n") - 1 + NGX_HTTP_AXON_NONCE_LEN
          + sizeof("Issued At: \n") - 1 + NGX_HTTP_AXON_ISO8601_LEN
          + sizeof("Expiration Time: ") - 1 + NGX_HTTP_AXON_ISO8601_LEN;

    message = ngx_pnalloc(r->pool, len);
    if (message == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(message,
                    "%V wants you to sign in with your Ethereum account:\n"
                    "%s\n\n",
                    &domain, addr_text);

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
                    &uri, alcf->chain_id,
                    (size_t) NGX_HTTP_AXON_NONCE_LEN, nonce,
                    issued, expires);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_axon_challenge_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body = json_pack("{s:s, s:s#, s:s#, s:s, s:s}",
                          "address", addr_text,
                          "nonce", nonce, (size_t) NGX_HTTP_AXON_NONCE_LEN,
                          "message", message, (size_t) (p - message),
                          "issued_at", issued,
                          "expires_at", expires);
    if (ctx->body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ngx_cpymem(ctx->key, NGX_HTTP_AXON_CHALLENGE_KEY,
                          sizeof(NGX_HTTP_AXON_CHALLENGE_KEY) - 1),
               nonce, NGX_HTTP_AXON_NONCE_LEN);

    /* SET axon:challenge:NONCE 0xaddress PX ttl NX */

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->key;
    argvlen[1] = sizeof(ctx->key);
    argv[2] = lower;
    argvlen[2] = AXON_ADDR_TEXT_LEN;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = px;
    argvlen[4] = ngx_sprintf((u_char *) px, "%M", alcf->challenge_ttl)
                 - (u_char *) px;
    argv[5] = "NX";
    argvlen[5] = 2;

    rc = ngx_http_axon_redis_command(r, ngx_http_axon_challenge_reply, ctx,
                                     6, argv, argvlen);

    if (rc != NGX_OK) {
        json_decref(ctx->body);

        if (rc == NGX_DECLINED) {
            return ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "redis_unavailable",
                                            "the gate's Redis is down, try "
                                            "again shortly");
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_axon_challenge_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_challenge_ctx_t  *ctx = data;

    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        json_decref(ctx->body);
        rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "redis_unavailable",
                                      "the gate's Redis did not answer, try "
                                      "again shortly");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, ctx->body);
    ngx_http_axon_finalize(r, rc);
}


/*
 * The domain and URI a SIWE message names: axon_siwe_domain and
 * axon_siwe_uri when set; otherwise the request's Host header (which nginx
 * has validated) and SCHEME://HOST/.
 */

ngx_int_t
ngx_http_axon_siwe_origin(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, ngx_str_t *domain, ngx_str_t *uri)
{
    u_char  *p;

    if (alcf->siwe_domain.len) {
        *domain = alcf->siwe_domain;

    } else if (r->headers_in.host) {
        *domain = r->headers_in.host->value;

    } else {
        *domain = r->headers_in.server;
    }

    if (alcf->siwe_uri.len) {
        *uri = alcf->siwe_uri;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("https://") - 1 + domain->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    uri->data = p;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "https://", sizeof("https://") - 1);
    } else
#endif
    {
        p = ngx_cpymem(p, "http://", sizeof("http://") - 1);
    }

    p = ngx_cpymem(p, domain->data, domain->len);
    *p++ = '/';

    uri->len = p - uri->data;

    return NGX_OK;
}


static u_char *
ngx_http_axon_iso8601(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
