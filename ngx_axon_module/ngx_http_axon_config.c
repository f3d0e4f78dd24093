/*
 * GET /api/config: what a page or an agent needs before it pays, with no
 * token: the chain (its id, and where the operator sets them its name, the
 * RPC URL a wallet should use and a block explorer: axon_chain_name,
 * axon_chain_rpc_url, axon_chain_explorer), the accepted tokens, the
 * revenue wallet, the discount tiers, the confirmations a deposit needs,
 * each profile with its price per hour (in credit minutes and in each
 * token, no tier applied: GET /api/quote applies the wallet's), the free
 * GPUs and the queue, and whether SSH sessions and x402 are on.
 *
 * One Redis round trip: the worker's axon:deposits:config and
 * axon:profiles.  Nothing here is secret: both are what the worker
 * publishes for every page.
 */


#include "ngx_http_axon_module.h"


static void ngx_http_axon_config_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static json_t *ngx_http_axon_config_chain(ngx_http_axon_loc_conf_t *alcf,
    json_t *deposits);
static json_t *ngx_http_axon_config_tokens(json_t *deposits);
static json_t *ngx_http_axon_config_profiles(json_t *published,
    json_t *deposits);
static json_t *ngx_http_axon_config_url(ngx_str_t *s);


static const char  *ngx_http_axon_config_argv[] = {
    "MGET", AXON_KEY_DEPOSITS_CONFIG, AXON_KEY_PROFILES
};

static const size_t  ngx_http_axon_config_argvlen[] = {
    sizeof("MGET") - 1,
    sizeof(AXON_KEY_DEPOSITS_CONFIG) - 1,
    sizeof(AXON_KEY_PROFILES) - 1
};


ngx_int_t
ngx_http_axon_config_handler(ngx_http_request_t *r)
{
    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r, ngx_http_axon_config_reply,
                                           NULL, 3,
                                           ngx_http_axon_config_argv,
                                           ngx_http_axon_config_argvlen));
}


static void
ngx_http_axon_config_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t                    *deposits, *published, *body, *v;
    ngx_int_t                  rc;
    ngx_http_axon_loc_conf_t  *alcf;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    /* no deposit config: the worker takes no deposits (no chain) */
    deposits = NULL;

    if (reply->element[0]->type == REDIS_REPLY_STRING) {
        deposits = json_loadb(reply->element[0]->str,
                              reply->element[0]->len, 0, NULL);
    }

    published = NULL;

    if (reply->element[1]->type == REDIS_REPLY_STRING) {
        published = json_loadb(reply->element[1]->str,
                               reply->element[1]->len, 0, NULL);
    }

    if (!json_is_array(json_object_get(published, "profiles"))) {
        json_decref(deposits);
        json_decref(published);
        ngx_http_axon_finalize(r,
            ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "worker_unavailable",
                                     "the worker has not published the "
                                     "GPU profiles yet"));
        return;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_axon_module);

    v = json_object_get(published, "pool");

    body = json_pack("{s:o, s:o, s:O?, s:O?, s:O?, s:O?, s:O?, s:o,"
                     " s:{s:O?, s:O?, s:O?}, s:b, s:b, s:b}",
                     "chain", ngx_http_axon_config_chain(alcf, deposits),
                     "tokens", ngx_http_axon_config_tokens(deposits),
                     "revenue_wallet",
                     json_object_get(deposits, "revenue_wallet"),
                     "confirmations",
                     json_object_get(deposits, "confirmations"),
                     "tiers", json_object_get(deposits, "tiers"),
                     "billing_minute_s",
                     json_object_get(v, "billing_minute_s"),
                     "grace_minutes",
                     json_object_get(published, "grace_minutes"),
                     "profiles",
                     ngx_http_axon_config_profiles(published, deposits),
                     "pool", "gpus", json_object_get(v, "gpus"),
                     "free", json_object_get(v, "free"),
                     "queued", json_object_get(v, "queued"),
                     "deposits", deposits != NULL,
                     "ssh", json_is_true(json_object_get(published, "ssh")),
                     "x402", alcf->x402_network.len != 0);

    json_decref(deposits);
    json_decref(published);

    rc = body ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
              : NGX_HTTP_INTERNAL_SERVER_ERROR;

    ngx_http_axon_finalize(r, rc);
}


/* {"id", "name", "rpc_url", "explorer"}: null where the operator set none */

static json_t *
ngx_http_axon_config_chain(ngx_http_axon_loc_conf_t *alcf, json_t *deposits)
{
    json_t  *id;

    /* the chain deposits are paid on; else the one sign-in names */
    id = json_object_get(deposits, "chain_id");

    return json_pack("{s:o, s:o, s:o, s:o}",
                     "id", json_is_integer(id)
                           ? json_incref(id)
                           : json_integer((json_int_t) alcf->chain_id),
                     "name", ngx_http_axon_config_url(&alcf->chain_name),
                     "rpc_url", ngx_http_axon_config_url(&alcf->chain_rpc),
                     "explorer",
                     ngx_http_axon_config_url(&alcf->chain_explorer));
}


static json_t *
ngx_http_axon_config_url(ngx_str_t *s)
{
    return s->len ? json_stringn((char *) s->data, s->len) : json_null();
}


/*
 * [{"symbol", "address" ("ETH" for native ether), "decimals",
 * "minutes_per_token"}]: a whole token buys minutes_per_token credit
 * minutes before any discount
 */

static json_t *
ngx_http_axon_config_tokens(json_t *deposits)
{
    size_t   i;
    json_t  *tokens, *t;

    tokens = json_array();

    json_array_foreach(json_object_get(deposits, "tokens"), i, t) {
        json_array_append_new(tokens, json_pack("{s:O?, s:O?, s:O?, s:O?}",
            "symbol", json_object_get(t, "symbol"),
            "address", json_object_get(t, "asset"),
            "decimals", json_object_get(t, "decimals"),
            "minutes_per_token", json_object_get(t, "price")));
    }

    return tokens;
}


/*
 * The profiles as the worker published them, each with "per_hour" (credit
 * minutes an hour of it costs: an hour's billing minutes x gpus x price)
 * and "prices_per_hour" (that hour in each token, atomic units, no
 * discount: the same arithmetic as a quote)
 */

static json_t *
ngx_http_axon_config_profiles(json_t *published, json_t *deposits)
{
    size_t      i;
    json_t     *profiles, *p, *q, *tokens;
    json_int_t  hour, minute_s;

    profiles = json_array();
    tokens = json_object_get(deposits, "tokens");

    /* billing minutes in an hour: 60 unless the operator's minute differs */
    minute_s = json_integer_value(json_object_get(
                   json_object_get(published, "pool"), "billing_minute_s"));

    if (minute_s < 1 || minute_s > 3600) {
        minute_s = 60;
    }

    json_array_foreach(json_object_get(published, "profiles"), i, p) {
        hour = (3600 + minute_s - 1) / minute_s
               * AXON_PRICE_PER_MINUTE(
                     json_integer_value(json_object_get(p, "gpus")),
                     json_integer_value(json_object_get(p, "price")));

        q = json_deep_copy(p);
        if (q == NULL) {
            continue;
        }

        json_object_set_new(q, "per_hour", json_integer(hour));
        json_object_set_new(q, "prices_per_hour",
                            json_is_array(tokens)
                            ? ngx_http_axon_quote_prices(tokens, hour, 0)
                            : json_array());
        json_array_append_new(profiles, q);
    }

    return profiles;
}
