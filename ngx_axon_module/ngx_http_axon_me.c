/*
 * GET /api/me: the signed-in wallet, its credit balance in minutes and its
 * session; GET /api/usage: its sessions.  The gate has found the wallet;
 * the balance is what axon-worker keeps in Redis after each ledger change
 * (axon:wallet:ADDRESS, field balance): none yet means 0.  home_kept_until
 * (field home_until, unix seconds) is there while the worker keeps the
 * files of the wallet's last session.
 */


#include "ngx_http_axon_module.h"


static void ngx_http_axon_me_reply(ngx_http_request_t *r, redisReply *reply,
    void *data);
static void ngx_http_axon_usage_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);


ngx_int_t
ngx_http_axon_me_handler(ngx_http_request_t *r)
{
    const char           *argv[4];
    size_t                argvlen[4];
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

    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (const char *) key;
    argvlen[1] = sizeof(key);
    argv[2] = AXON_WALLET_BALANCE;
    argvlen[2] = sizeof(AXON_WALLET_BALANCE) - 1;
    argv[3] = AXON_WALLET_HOME_UNTIL;
    argvlen[3] = sizeof(AXON_WALLET_HOME_UNTIL) - 1;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r, ngx_http_axon_me_reply, ctx, 4,
                                           argv, argvlen));
}


static void
ngx_http_axon_me_reply(ngx_http_request_t *r, redisReply *reply, void *data)
{
    ngx_http_axon_ctx_t  *ctx = data;

    char         wallet[AXON_ADDR_TEXT_LEN + 1];
    u_char       expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    json_t      *body;
    ngx_int_t    rc, balance, home;
    redisReply  *v;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        rc = ngx_http_axon_redis_unavailable(r);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    balance = 0;
    v = reply->element[0];

    if (v->type == REDIS_REPLY_STRING) {
        balance = ngx_atoi((u_char *) v->str, v->len);

        if (balance == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: me: malformed balance \"%*s\" in redis",
                          ngx_min(v->len, 32), v->str);
            ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    /* a malformed one is left out: the balance is what matters here */
    home = NGX_ERROR;
    v = reply->element[1];

    if (v->type == REDIS_REPLY_STRING) {
        home = ngx_atoi((u_char *) v->str, v->len);

        if (home == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: me: malformed %s \"%*s\" in redis",
                          AXON_WALLET_HOME_UNTIL, ngx_min(v->len, 32),
                          v->str);
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

    if (body != NULL && home != NGX_ERROR
        && json_object_set_new(body, "home_kept_until",
                               json_integer((json_int_t) home)) != 0)
    {
        json_decref(body);
        body = NULL;
    }

    if (body == NULL) {
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_axon_send_json(r, NGX_HTTP_OK, body);
    ngx_http_axon_finalize(r, rc);
}


/*
 * GET /api/usage: the wallet's sessions, newest first (the last
 * AXON_USAGE_KEEP the worker published; at most limit=N, default 50), each
 * with its profile, mode, GPUs, times, end reason and the minutes billed.
 */

ngx_int_t
ngx_http_axon_usage_handler(ngx_http_request_t *r)
{
    static const axon_script_t  usage = AXON_SCRIPT(SESSION_USAGE);

    u_char                key[sizeof(AXON_KEY_USAGE) - 1
                              + AXON_ADDR_TEXT_LEN];
    u_char                lim[NGX_INT_T_LEN];
    ngx_int_t             n;
    ngx_str_t             v;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 50;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);

        if (n < 1 || n > ngx_atoi((u_char *) AXON_USAGE_KEEP,
                                  sizeof(AXON_USAGE_KEEP) - 1))
        {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_request",
                                            "limit=N takes 1 to "
                                            AXON_USAGE_KEEP);
        }
    }

    ngx_memcpy(key, AXON_KEY_USAGE, sizeof(AXON_KEY_USAGE) - 1);
    axon_address_format_lower((char *) key + sizeof(AXON_KEY_USAGE) - 1,
                              ctx->wallet);

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_usage_reply,
                   ctx, &usage, 1, 2,
                   (const char *[]) { (const char *) key,
                                      (const char *) lim },
                   (const size_t[]) { sizeof(key),
                                      ngx_sprintf(lim, "%i", n) - lim }));
}


static void
ngx_http_axon_usage_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_ctx_t  *ctx = data;

    char       wallet[AXON_ADDR_TEXT_LEN + 1];
    size_t     i;
    json_t    *body, *list, *s;
    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    list = json_array();

    for (i = 0; list && i < reply->elements; i++) {
        s = reply->element[i]->type == REDIS_REPLY_ARRAY
            ? ngx_http_axon_session_json(reply->element[i]) : NULL;

        if (s == NULL || json_array_append_new(list, s) != 0) {
            json_decref(list);
            list = NULL;
        }
    }

    axon_address_format(wallet, ctx->wallet);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    body = list ? json_pack("{s:s, s:o}", "wallet", wallet, "sessions", list)
                : NULL;

    rc = body ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
              : NGX_HTTP_INTERNAL_SERVER_ERROR;

    ngx_http_axon_finalize(r, rc);
}
