/*
 * Deposits, the gate's side.  The worker checks transactions on chain and
 * credits them; the module queues what a wallet submits and shows what the
 * worker published:
 *
 *   axon:deposits:ADDR   hash: TXHASH -> JSON of a submission (module:
 *                        "submitted"; worker: "rejected" with a reason),
 *                        TXHASH:LOGINDEX -> JSON of a deposit (worker:
 *                        "confirming" n/N, "credited", "orphaned",
 *                        "rejected")
 *
 * POST /api/auth/verify-deposit {"tx_hash": "0x..."}  202 and a
 *                              deposit.verify job
 * GET  /api/deposits           the wallet's deposits
 * GET  /api/quote?profile=P&minutes=M   the price of M minutes of profile
 *                              P in each accepted token, the wallet's tier
 *                              applied (axon:deposits:config, the worker's;
 *                              axon:wallet:ADDR tier_pct tier_at, refreshed
 *                              by a deposit.tier job when older than 5m)
 */


#include "ngx_http_axon_module.h"


#define NGX_HTTP_AXON_QUOTE_TTL     600         /* seconds a quote holds */
#define NGX_HTTP_AXON_TIER_STALE    "300"       /* seconds */


typedef struct {
    u_char    key[sizeof(AXON_KEY_DEPOSITS) - 1 + AXON_ADDR_TEXT_LEN];
    u_char    wallet_key[sizeof(AXON_KEY_WALLET) - 1
                         + AXON_ADDR_TEXT_LEN];
    ngx_str_t profile;
    ngx_int_t minutes;
    char      wallet[AXON_ADDR_TEXT_LEN + 1];         /* lowercase */
    u_char    tx[66];
    u_char    now[NGX_TIME_T_LEN];
    size_t    now_len;
} ngx_http_axon_deposit_args_t;


static ngx_int_t ngx_http_axon_verify_deposit_body(ngx_http_request_t *r,
    json_t *body);
static void ngx_http_axon_verify_deposit_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_deposits_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_http_axon_deposit_args_t *ngx_http_axon_deposit_args(
    ngx_http_request_t *r);
static void ngx_http_axon_quote_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);


/*
 * The submission is recorded for GET /api/deposits at once (unless the
 * worker already wrote an answer for this hash) and the job queued, in one
 * script.
 */

static const axon_script_t  ngx_http_axon_verify_deposit_script =
    AXON_SCRIPT(DEPOSIT_VERIFY);


ngx_int_t
ngx_http_axon_verify_deposit_handler(ngx_http_request_t *r)
{
    return ngx_http_axon_read_json(r, ngx_http_axon_verify_deposit_body);
}


static ngx_int_t
ngx_http_axon_verify_deposit_body(ngx_http_request_t *r, json_t *body)
{
    size_t                         i, len;
    json_t                        *jt;
    const char                    *s;
    ngx_http_axon_deposit_args_t  *a;

    jt = json_object_get(body, "tx_hash");

    s = json_is_string(jt) ? json_string_value(jt) : NULL;
    len = s ? json_string_length(jt) : 0;

    if (s == NULL || len != 66 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    {
        goto bad;
    }

    for (i = 2; i < len; i++) {
        if (!isxdigit((u_char) s[i])) {
            goto bad;
        }
    }

    a = ngx_http_axon_deposit_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a->tx[0] = '0';
    a->tx[1] = 'x';

    for (i = 2; i < len; i++) {
        a->tx[i] = ngx_tolower((u_char) s[i]);
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r,
                   ngx_http_axon_verify_deposit_reply, a,
                   &ngx_http_axon_verify_deposit_script, 2, 5,
                   (const char *[]) {
                       (const char *) a->key, AXON_KEY_JOBS,
                       (const char *) a->tx, a->wallet,
                       (const char *) a->now },
                   (const size_t[]) {
                       sizeof(a->key), sizeof(AXON_KEY_JOBS) - 1,
                       sizeof(a->tx), AXON_ADDR_TEXT_LEN, a->now_len }));

bad:

    return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_tx_hash",
                                    "\"tx_hash\" must be 0x and 64 hex "
                                    "digits");
}


static void
ngx_http_axon_verify_deposit_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_deposit_args_t  *a = data;

    json_t  *body;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: deposit %*s submitted by %s, job %*s",
                  (size_t) 66, a->tx, a->wallet, (size_t) reply->len,
                  reply->str);

    body = json_pack("{s:s#, s:s, s:s#}", "tx_hash", (char *) a->tx,
                     (size_t) 66, "status", "submitted", "job_id",
                     reply->str, (size_t) reply->len);

    ngx_http_axon_finalize(r, body
                              ? ngx_http_axon_send_json(r, NGX_HTTP_ACCEPTED,
                                                        body)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* GET /api/deposits */

ngx_int_t
ngx_http_axon_deposits_handler(ngx_http_request_t *r)
{
    ngx_http_axon_deposit_args_t  *a;

    a = ngx_http_axon_deposit_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r, ngx_http_axon_deposits_reply, a,
                   2, (const char *[]) { "HVALS", (const char *) a->key },
                   (const size_t[]) { 5, sizeof(a->key) }));
}


static int
ngx_http_axon_deposit_cmp(const void *one, const void *two)
{
    json_int_t  a, b;

    a = json_integer_value(json_object_get(*(json_t **) one, "updated"));
    b = json_integer_value(json_object_get(*(json_t **) two, "updated"));

    return (a < b) ? 1 : (a > b) ? -1 : 0;
}


static void
ngx_http_axon_deposits_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_deposit_args_t  *a = data;

    size_t     i, n;
    json_t    *list, *v, **all;
    char       wallet[AXON_ADDR_TEXT_LEN + 1];
    uint8_t    addr[AXON_ADDR_LEN];

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    all = ngx_palloc(r->pool, (reply->elements + 1) * sizeof(json_t *));
    if (all == NULL) {
        ngx_http_axon_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = 0;

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        v = json_loadb(reply->element[i]->str, reply->element[i]->len, 0,
                       NULL);

        if (!json_is_object(v)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: malformed deposit entry in redis for %s",
                          a->wallet);
            json_decref(v);
            continue;
        }

        all[n++] = v;
    }

    ngx_qsort(all, n, sizeof(json_t *), ngx_http_axon_deposit_cmp);

    list = json_array();

    for (i = 0; i < n; i++) {
        if (list) {
            json_array_append(list, all[i]);
        }

        json_decref(all[i]);
    }

    axon_address_parse(addr, a->wallet, AXON_ADDR_TEXT_LEN);
    axon_address_format(wallet, addr);
    wallet[AXON_ADDR_TEXT_LEN] = '\0';

    v = list ? json_pack("{s:s, s:o}", "wallet", wallet, "deposits", list)
             : NULL;

    ngx_http_axon_finalize(r, v ? ngx_http_axon_send_json(r, NGX_HTTP_OK, v)
                                : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * GET /api/quote: one script reads the worker's deposit configuration,
 * the profiles and the wallet's tier, and queues a deposit.tier job when
 * the tier is unknown or stale (at most one per 10 s per wallet).
 */

static const axon_script_t  ngx_http_axon_quote_script =
    AXON_SCRIPT(DEPOSIT_QUOTE);


ngx_int_t
ngx_http_axon_quote_handler(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_str_t                      v;
    ngx_http_axon_deposit_args_t  *a;

    a = ngx_http_axon_deposit_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_arg(r, (u_char *) "profile", 7, &a->profile) != NGX_OK
        || a->profile.len == 0 || a->profile.len > 32)
    {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "profile=NAME is required");
    }

    for (p = a->profile.data; p < a->profile.data + a->profile.len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
        {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "unknown_profile",
                                            "no such profile: see "
                                            "GET /api/profiles");
        }
    }

    a->minutes = NGX_ERROR;

    if (ngx_http_arg(r, (u_char *) "minutes", 7, &v) == NGX_OK) {
        a->minutes = ngx_atoi(v.data, v.len);
    }

    if (a->minutes < 1 || a->minutes > 10000000) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "minutes=N (1 to 10000000) is "
                                        "required");
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_quote_reply, a,
                   &ngx_http_axon_quote_script, 4, 7,
                   (const char *[]) {
                       AXON_KEY_DEPOSITS_CONFIG, AXON_KEY_PROFILES,
                       (const char *) a->wallet_key, AXON_KEY_JOBS,
                       a->wallet, (const char *) a->now,
                       NGX_HTTP_AXON_TIER_STALE },
                   (const size_t[]) {
                       sizeof(AXON_KEY_DEPOSITS_CONFIG) - 1,
                       sizeof(AXON_KEY_PROFILES) - 1, sizeof(a->wallet_key),
                       sizeof(AXON_KEY_JOBS) - 1, AXON_ADDR_TEXT_LEN,
                       a->now_len, sizeof(NGX_HTTP_AXON_TIER_STALE) - 1 }));
}


/* a non-negative 128-bit integer in decimal */

static void
ngx_http_axon_u128_text(char *buf, unsigned __int128 v)
{
    char    tmp[48];
    size_t  n, i;

    n = 0;

    do {
        tmp[n++] = (char) ('0' + (int) (v % 10));
        v /= 10;
    } while (v);

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    buf[n] = '\0';
}


static void
ngx_http_axon_quote_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_http_axon_deposit_args_t  *a = data;

    u_char               expires[NGX_HTTP_AXON_ISO8601_LEN + 1];
    size_t               i;
    json_t              *cfg, *profiles, *prof, *q, *prices, *t;
    ngx_int_t            pct, rc;
    json_int_t           gpus, price, need;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 4)
    {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    cfg = json_loadb(reply->element[0]->str, reply->element[0]->len, 0,
                     NULL);
    profiles = json_loadb(reply->element[1]->str, reply->element[1]->len, 0,
                          NULL);

    if (!json_is_array(json_object_get(cfg, "tokens"))
        || !json_is_array(json_object_get(profiles, "profiles")))
    {
        json_decref(cfg);
        json_decref(profiles);
        ngx_http_axon_finalize(r,
            ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "worker_unavailable",
                                     "the worker has not published the "
                                     "deposit prices or the profiles yet"));
        return;
    }

    prof = NULL;

    json_array_foreach(json_object_get(profiles, "profiles"), i, q) {
        t = json_object_get(q, "name");

        if (json_is_string(t) && json_string_length(t) == a->profile.len
            && ngx_strncmp(json_string_value(t), a->profile.data,
                           a->profile.len) == 0)
        {
            prof = q;
        }
    }

    if (prof == NULL) {
        json_decref(cfg);
        json_decref(profiles);
        ngx_http_axon_finalize(r,
            ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "unknown_profile",
                                     "no such profile: see "
                                     "GET /api/profiles"));
        return;
    }

    gpus = json_integer_value(json_object_get(prof, "gpus"));
    price = json_integer_value(json_object_get(prof, "price"));
    need = (json_int_t) a->minutes * AXON_PRICE_PER_MINUTE(gpus, price);

    pct = 0;

    if (reply->element[2]->len) {
        pct = ngx_atoi((u_char *) reply->element[2]->str,
                       reply->element[2]->len);
        if (pct < 0 || pct > 99) {
            pct = 0;
        }
    }

    prices = ngx_http_axon_quote_prices(json_object_get(cfg, "tokens"),
                                        need, pct);

    *ngx_http_axon_iso8601(expires, ngx_time() + NGX_HTTP_AXON_QUOTE_TTL)
        = '\0';

    q = prices ? json_pack("{s:s#, s:I, s:I, s:i, s:b, s:O, s:o, s:s}",
                           "profile", a->profile.data, a->profile.len,
                           "minutes", (json_int_t) a->minutes,
                           "credit_minutes", need,
                           "discount_pct", (int) pct,
                           "tier_known", reply->element[3]->len > 0,
                           "pay_to", json_object_get(cfg, "revenue_wallet"),
                           "prices", prices,
                           "expires_at", (char *) expires)
               : NULL;

    json_decref(cfg);
    json_decref(profiles);

    rc = q ? ngx_http_axon_send_json(r, NGX_HTTP_OK, q)
           : NGX_HTTP_INTERNAL_SERVER_ERROR;

    ngx_http_axon_finalize(r, rc);
}


/*
 * The deposit of each token that buys need credit minutes at a discount
 * of pct: an array of {symbol, asset, decimals, amount}; NULL: no memory.
 */

json_t *
ngx_http_axon_quote_prices(json_t *tokens, json_int_t need, ngx_int_t pct)
{
    char                amount[48];
    size_t              i;
    json_t             *q, *prices;
    json_int_t          tprice, dec;
    unsigned __int128   num, den, scale;

    prices = json_array();

    /*
     * atomic units = ceil(need x 10^dec x (100 - pct) / (100 x price)):
     * the deposit that buys at least need minutes at this tier
     */

    json_array_foreach(tokens, i, q) {
        tprice = json_integer_value(json_object_get(q, "price"));
        dec = json_integer_value(json_object_get(q, "decimals"));

        if (tprice < 1 || dec < 0 || dec > 24 || prices == NULL) {
            continue;
        }

        for (scale = 1; dec > 0; dec--) {
            scale *= 10;
        }

        num = (unsigned __int128) need * scale * (100 - pct);
        den = (unsigned __int128) tprice * 100;
        ngx_http_axon_u128_text(amount, (num + den - 1) / den);

        json_array_append_new(prices, json_pack("{s:O, s:O, s:O, s:s}",
            "symbol", json_object_get(q, "symbol"),
            "asset", json_object_get(q, "asset"),
            "decimals", json_object_get(q, "decimals"),
            "amount", amount));
    }

    return prices;
}


static ngx_http_axon_deposit_args_t *
ngx_http_axon_deposit_args(ngx_http_request_t *r)
{
    ngx_http_axon_ctx_t           *ctx;
    ngx_http_axon_deposit_args_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        return NULL;
    }

    a = ngx_palloc(r->pool, sizeof(ngx_http_axon_deposit_args_t));
    if (a == NULL) {
        return NULL;
    }

    ngx_memcpy(a->key, AXON_KEY_DEPOSITS,
               sizeof(AXON_KEY_DEPOSITS) - 1);
    axon_address_format_lower((char *) a->key
                              + sizeof(AXON_KEY_DEPOSITS) - 1,
                              ctx->wallet);

    ngx_memcpy(a->wallet_key, AXON_KEY_WALLET,
               sizeof(AXON_KEY_WALLET) - 1);
    axon_address_format_lower((char *) a->wallet_key
                              + sizeof(AXON_KEY_WALLET) - 1,
                              ctx->wallet);

    axon_address_format_lower(a->wallet, ctx->wallet);
    a->wallet[AXON_ADDR_TEXT_LEN] = '\0';

    a->now_len = ngx_sprintf(a->now, "%T", ngx_time()) - a->now;

    return a;
}
