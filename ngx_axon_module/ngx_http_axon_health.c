/*
 * GET /api/health: the state of each part, from one real Redis round trip.
 *
 * The worker refreshes axon:worker:heartbeat (with a TTL) only after its
 * own Postgres check succeeds, and sets axon:worker:postgres (with a TTL)
 * when that check fails.  So:
 *
 *   Redis unreachable          -> 503, redis down
 *   axon:worker:postgres set   -> 503, postgres down (worker up)
 *   no heartbeat               -> 503, worker down
 *   heartbeat                  -> 200, all up
 */


#include "ngx_http_axon_module.h"


static void ngx_http_axon_health_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_health_send(ngx_http_request_t *r,
    const char *redis, const char *worker, const char *postgres,
    redisReply *heartbeat, redisReply *pg_error);


static const char  *ngx_http_axon_health_argv[] = {
    "MGET", AXON_KEY_HEARTBEAT, AXON_KEY_POSTGRES
};

static const size_t  ngx_http_axon_health_argvlen[] = {
    sizeof("MGET") - 1,
    sizeof(AXON_KEY_HEARTBEAT) - 1,
    sizeof(AXON_KEY_POSTGRES) - 1
};


ngx_int_t
ngx_http_axon_health_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_axon_redis_command(r, ngx_http_axon_health_reply, NULL, 3,
                                     ngx_http_axon_health_argv,
                                     ngx_http_axon_health_argvlen);

    if (rc == NGX_DECLINED) {
        return ngx_http_axon_health_send(r, "down", "unknown", "unknown",
                                         NULL, NULL);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_axon_health_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_int_t    rc;
    redisReply  *hb, *pg;

    if (reply == NULL
        || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        rc = ngx_http_axon_health_send(r, "down", "unknown", "unknown",
                                       NULL, NULL);
        ngx_http_axon_finalize(r, rc);
        return;
    }

    hb = reply->element[0];
    pg = reply->element[1];

    if (pg->type == REDIS_REPLY_STRING) {
        rc = ngx_http_axon_health_send(r, "up", "up", "down", NULL, pg);

    } else if (hb->type == REDIS_REPLY_STRING) {
        rc = ngx_http_axon_health_send(r, "up", "up", "up", hb, NULL);

    } else {
        rc = ngx_http_axon_health_send(r, "up", "down", "unknown", NULL,
                                       NULL);
    }

    ngx_http_axon_finalize(r, rc);
}


static ngx_int_t
ngx_http_axon_health_send(ngx_http_request_t *r, const char *redis,
    const char *worker, const char *postgres, redisReply *heartbeat,
    redisReply *pg_error)
{
    json_t       *body, *down, *info;
    ngx_uint_t    ok;
    json_error_t  err;

    down = json_array();
    if (down == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_strcmp(redis, "down") == 0) {
        json_array_append_new(down, json_string("redis"));
    }

    if (ngx_strcmp(worker, "down") == 0) {
        json_array_append_new(down, json_string("worker"));
    }

    if (ngx_strcmp(postgres, "down") == 0) {
        json_array_append_new(down, json_string("postgres"));
    }

    ok = (json_array_size(down) == 0);

    body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
                     "status", ok ? "ok" : "down",
                     "version", NGX_HTTP_AXON_VERSION,
                     "redis", redis,
                     "worker", worker,
                     "postgres", postgres,
                     "down", down);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (heartbeat) {
        info = json_loadb(heartbeat->str, heartbeat->len, 0, &err);
        if (info) {
            json_object_set_new(body, "worker_info", info);
        }
    }

    if (pg_error) {
        json_object_set_new(body, "postgres_error",
                            json_stringn(pg_error->str, pg_error->len));
    }

    return ngx_http_axon_send_json(r, ok ? NGX_HTTP_OK
                                         : NGX_HTTP_SERVICE_UNAVAILABLE,
                                   body);
}
