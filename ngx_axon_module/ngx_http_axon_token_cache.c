/*
 * The token cache: this nginx's memory of the tokens Redis confirmed, in a
 * shared-memory zone (axon_token_cache SIZE [valid=TIME]) that every
 * worker process sees, kept as limit_req keeps its zone: a red-black tree
 * by the token's hash, an LRU queue, eviction before failure.
 *
 * An entry lives at most valid= (a token revoked elsewhere stops within
 * that time) and never past the token's own end.  The zone counts
 * revocations (this nginx's logouts): a Redis answer is cached only when
 * none happened since its lookup began, since a GET that ran before a
 * logout's DEL, answered after the logout dropped the token, would put it
 * back.
 */


#include "ngx_http_axon_module.h"


#define NGX_HTTP_AXON_CACHE_SIZE    (1024 * 1024)
#define NGX_HTTP_AXON_CACHE_VALID   10000


/*
 * One cached token, 128 bytes in the slab.  The tree's key is the first
 * bytes of the token's hash; the rest of the hash is kept to tell apart
 * tokens whose keys collide.
 */

typedef struct {
    ngx_rbtree_node_t         node;
    ngx_queue_t               queue;            /* LRU, newest first */
    u_char                    rest[32 - sizeof(ngx_rbtree_key_t)];
    u_char                    wallet[AXON_ADDR_LEN];
    time_t                    expires;          /* the token's own end */
    ngx_msec_t                valid_until;      /* the cache's bound */
} ngx_http_axon_token_node_t;


typedef struct {
    ngx_rbtree_t              rbtree;
    ngx_rbtree_node_t         sentinel;
    ngx_queue_t               queue;
    ngx_uint_t                revoked;          /* revocations so far */
} ngx_http_axon_token_shctx_t;


typedef struct {
    ngx_http_axon_token_shctx_t  *sh;
    ngx_slab_pool_t              *shpool;
} ngx_http_axon_token_cache_t;


static ngx_http_axon_token_node_t *ngx_http_axon_cache_lookup(
    ngx_http_axon_token_cache_t *cache, const u_char hash[32]);
static void ngx_http_axon_cache_insert(ngx_http_axon_token_cache_t *cache,
    const u_char hash[32], const u_char wallet[AXON_ADDR_LEN],
    time_t expires, ngx_msec_t valid);
static void ngx_http_axon_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_axon_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


/*
 * Looks the token up.  NGX_OK: a hit, ctx has the wallet and the token's
 * end; NGX_DECLINED: ask Redis, then ngx_http_axon_token_cache_put().
 */

ngx_int_t
ngx_http_axon_token_cache_get(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx,
    const u_char hash[32])
{
    time_t                        now;
    ngx_int_t                     rc;
    ngx_http_axon_main_conf_t    *amcf;
    ngx_http_axon_token_cache_t  *cache;
    ngx_http_axon_token_node_t   *tn;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_axon_module);
    cache = amcf->token_cache->data;
    now = ngx_time();
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* a revocation from now on keeps Redis's answer out of the cache */
    ctx->cache_gen = cache->sh->revoked;

    tn = ngx_http_axon_cache_lookup(cache, hash);

    if (tn) {
        if (tn->expires <= now) {
            ngx_queue_remove(&tn->queue);
            ngx_rbtree_delete(&cache->sh->rbtree, &tn->node);
            ngx_slab_free_locked(cache->shpool, tn);

        } else if ((ngx_msec_int_t) (tn->valid_until - ngx_current_msec)
                   > 0)
        {
            ngx_memcpy(ctx->wallet, tn->wallet, AXON_ADDR_LEN);
            ctx->token_expires = tn->expires;
            ctx->has_wallet = 1;

            /* most recently used first: the tail is evicted */
            ngx_queue_remove(&tn->queue);
            ngx_queue_insert_head(&cache->sh->queue, &tn->queue);

            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    if (rc == NGX_OK) {
        ngx_http_axon_count(cache_hits);

    } else {
        ngx_http_axon_count(cache_misses);
    }

    return rc;
}


/* Redis confirmed the token of ctx: cached, unless revoked meanwhile. */

void
ngx_http_axon_token_cache_put(ngx_http_request_t *r, ngx_http_axon_ctx_t *ctx,
    const u_char hash[32])
{
    ngx_http_axon_main_conf_t    *amcf;
    ngx_http_axon_token_cache_t  *cache;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_axon_module);
    cache = amcf->token_cache->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    if (cache->sh->revoked == ctx->cache_gen) {
        ngx_http_axon_cache_insert(cache, hash, ctx->wallet,
                                   ctx->token_expires,
                                   amcf->token_cache_valid);

    } else {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "axon token cache: a logout came meanwhile, "
                       "not cached");
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* Drops a token from this nginx's cache: /api/auth/logout. */

void
ngx_http_axon_token_forget(ngx_http_request_t *r, const u_char hex[64])
{
    u_char                        hash[32];
    ngx_http_axon_main_conf_t    *amcf;
    ngx_http_axon_token_cache_t  *cache;
    ngx_http_axon_token_node_t   *tn;

    if (axon_hex_decode(hash, sizeof(hash), (const char *) hex, 64)
        != AXON_OK)
    {
        return;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_axon_module);
    cache = amcf->token_cache->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* lookups under way when it was revoked do not cache it again */
    cache->sh->revoked++;

    tn = ngx_http_axon_cache_lookup(cache, hash);

    if (tn) {
        ngx_queue_remove(&tn->queue);
        ngx_rbtree_delete(&cache->sh->rbtree, &tn->node);
        ngx_slab_free_locked(cache->shpool, tn);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* the cache; every function below runs with the zone's mutex held */

static ngx_http_axon_token_node_t *
ngx_http_axon_cache_lookup(ngx_http_axon_token_cache_t *cache,
    const u_char hash[32])
{
    ngx_rbtree_key_t             key;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_http_axon_token_node_t  *tn;

    ngx_memcpy(&key, hash, sizeof(key));

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        tn = (ngx_http_axon_token_node_t *) node;

        if (ngx_memcmp(hash + sizeof(key), tn->rest, sizeof(tn->rest)) == 0)
        {
            return tn;
        }

        node = (ngx_memcmp(hash + sizeof(key), tn->rest, sizeof(tn->rest))
                < 0)
               ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_axon_cache_insert(ngx_http_axon_token_cache_t *cache,
    const u_char hash[32], const u_char wallet[AXON_ADDR_LEN],
    time_t expires, ngx_msec_t valid)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_axon_token_node_t  *tn;

    tn = ngx_http_axon_cache_lookup(cache, hash);

    if (tn) {
        ngx_queue_remove(&tn->queue);

    } else {
        tn = ngx_slab_alloc_locked(cache->shpool,
                                   sizeof(ngx_http_axon_token_node_t));

        /* full: evict the least recently used, a few at most */

        for (n = 0; tn == NULL && n < 8; n++) {

            if (ngx_queue_empty(&cache->sh->queue)) {
                break;
            }

            q = ngx_queue_last(&cache->sh->queue);
            ngx_queue_remove(q);

            tn = ngx_queue_data(q, ngx_http_axon_token_node_t, queue);
            ngx_rbtree_delete(&cache->sh->rbtree, &tn->node);
            ngx_slab_free_locked(cache->shpool, tn);
            ngx_http_axon_count(cache_evictions);

            tn = ngx_slab_alloc_locked(cache->shpool,
                                       sizeof(ngx_http_axon_token_node_t));
        }

        if (tn == NULL) {
            /* the next request asks Redis again: slower, not wrong */
            return;
        }

        ngx_memcpy(&tn->node.key, hash, sizeof(ngx_rbtree_key_t));
        ngx_memcpy(tn->rest, hash + sizeof(ngx_rbtree_key_t),
                   sizeof(tn->rest));
        ngx_rbtree_insert(&cache->sh->rbtree, &tn->node);
    }

    ngx_memcpy(tn->wallet, wallet, AXON_ADDR_LEN);
    tn->expires = expires;
    tn->valid_until = ngx_current_msec + valid;

    ngx_queue_insert_head(&cache->sh->queue, &tn->queue);
}


static void
ngx_http_axon_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_http_axon_token_node_t   *tn, *tnt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            tn = (ngx_http_axon_token_node_t *) node;
            tnt = (ngx_http_axon_token_node_t *) temp;

            p = (ngx_memcmp(tn->rest, tnt->rest, sizeof(tn->rest)) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * axon_token_cache SIZE [valid=TIME]: the zone, in the http block.  Without
 * the directive a gate gets a 1m zone with valid=10s.
 */

char *
ngx_http_axon_token_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_main_conf_t  *amcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;
    ngx_msec_t  valid;

    if (amcf->token_cache) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_token_cache\" size \"%V\" is invalid: it "
                           "must be at least %uzk", &value[1],
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    valid = NGX_HTTP_AXON_CACHE_VALID;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "valid=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"axon_token_cache\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        valid = ngx_parse_time(&s, 0);

        if (valid == (ngx_msec_t) NGX_ERROR || valid == 0
            || valid > 60 * 60 * 1000)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_token_cache\" valid= must be a time "
                               "between 1ms and 1h, not \"%V\"", &s);
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_axon_token_cache_add(cf, amcf, size, valid);
}


char *
ngx_http_axon_token_cache_add(ngx_conf_t *cf, ngx_http_axon_main_conf_t *amcf,
    size_t size, ngx_msec_t valid)
{
    ngx_shm_zone_t               *zone;
    ngx_http_axon_token_cache_t  *cache;

    static ngx_str_t  name = ngx_string("axon_tokens");

    if (size == 0) {
        size = NGX_HTTP_AXON_CACHE_SIZE;
        valid = NGX_HTTP_AXON_CACHE_VALID;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_axon_token_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_axon_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->init = ngx_http_axon_cache_init_zone;
    zone->data = cache;

    amcf->token_cache = zone;
    amcf->token_cache_valid = valid;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_axon_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_axon_token_cache_t  *ocache = data;

    size_t                        len;
    ngx_http_axon_token_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache) {
        /* a reload: the tokens cached so far stay */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_http_axon_token_shctx_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_axon_cache_rbtree_insert);
    ngx_queue_init(&cache->sh->queue);
    cache->sh->revoked = 0;

    len = sizeof(" in axon_token_cache \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in axon_token_cache \"%V\"%Z",
                &shm_zone->shm.name);

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}
