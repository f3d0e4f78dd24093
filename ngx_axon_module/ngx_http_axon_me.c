/*
 * GET /api/me: the signed-in wallet, its credit balance in minutes and its
 * session.  The gate has found the wallet; the balance is what axon-worker
 * keeps in Redis after each ledger change (axon:wallet:ADDRESS, field
 * balance): none yet means 0.
 */


#include "ngx_http_axon_module.h"


static void ngx_http_axon_me_reply(ngx_http_request_t *r, redisReply *reply,
    void *data);


ngx_int_t
ngx_http_axon_me_handler(ngx_http_request_t *r)
{
    const char           *argv[3];
    size_t                argvlen[3];
    u_char                key[sizeof(AXON_KEY_WALLET) - 1
                              + AXON_ADDR_TEXT_LEN];
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(key, AXON_KEY_WALLET,
               sizeof(AXON_KEY_WALLET) - 1);
    axon_address_format_lower((char *) key
                              + sizeof(AXON_KEY_WALLET) - 1,
                              ctx->wallet);

    argv[0] = "HGET";
    argvlen[0] = 4;
    argv[1] = (const char *) key;
    argvlen[1] = sizeof(key);
    argv[2] = "balance";
    argvlen[2] = 7;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r, ngx_http_axon_me_reply, ctx, 3,
                                           argv, argvlen));
}


static void
ngx_http_axon_me_reply(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_http_axon_ctx_t  *ctx = data;

    char       wallet[AXON_ADDR_TEXT_LEN + 1];
    u_char     expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    json_t    *body;
    ngx_int_t  rc, balance;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    balance = 0;

    if (reply->type == REDIS_REPLY_STRING) {
        balance = ngx_atoi((u_char *) reply->str, reply->len);

        if (balance == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: me: malformed balance \"%*s\" in redis",
                          ngx_min(reply->len, 32), reply->str);
            ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    axon_address_format(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';
    *ngx_http_axon_iso8601(expires, ctx->token_expires) = '\0';

    body = json_pack("{s:s, s:I, s:n, s:s}",
                     "wallet", wallet,
                     "balance_minutes", (json_int_t) balance,
                     "session",
                     "token_expires_at", (char *) expires);

    if (body == NULL) {
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
    ngx_http_axon_finalize(r, rc);
}
