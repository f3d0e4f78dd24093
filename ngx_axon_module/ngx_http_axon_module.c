/*
 * ngx_http_axon_module: directives, configuration and process hooks.
 */


#include "ngx_http_axon_module.h"

#include "axon_eth.h"
#include "axon_siwe.h"


static ngx_int_t ngx_http_axon_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_axon_init(ngx_conf_t *cf);
static void *ngx_http_axon_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_axon_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_axon_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_axon_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_axon_init_process(ngx_cycle_t *cycle);
static void ngx_http_axon_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_axon_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_axon_authority(ngx_str_t *a);
static char *ngx_http_axon_siwe_domain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_siwe_text(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_siwe_merge(ngx_conf_t *cf,
    ngx_http_axon_loc_conf_t *prev, ngx_http_axon_loc_conf_t *conf);
static ngx_int_t ngx_http_axon_origin_of(ngx_conf_t *cf,
    ngx_str_t *scheme, ngx_str_t *domain, ngx_str_t *origin);

static char *ngx_http_axon_chain_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_gate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_gate_login(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_axon_bounds(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_axon_http_url(ngx_conf_t *cf, void *post, void *data);

/* the chain's RPC and explorer, which the page gives the wallet: http(s) */
static ngx_conf_post_t  ngx_http_axon_http_url_post = { ngx_http_axon_http_url };


/*
 * A time or size directive's bounds, checked as the directive is read (a
 * post handler of nginx's own slot), so that nginx -t names its line, not
 * the end of the block a merge checks it at.  low and high in the slot's
 * unit: ms (msec), s (sec) or bytes (size).
 */
typedef struct {
    ngx_conf_post_handler_pt   post_handler;
    ngx_uint_t                 type;
    ngx_uint_t                 low;
    ngx_uint_t                 high;
    char                      *why;
} ngx_http_axon_bounds_t;

#define NGX_HTTP_AXON_MSEC  0
#define NGX_HTTP_AXON_SEC   1
#define NGX_HTTP_AXON_SIZE  2

static ngx_http_axon_bounds_t  ngx_http_axon_redis_timeout_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_MSEC, 1, NGX_MAX_INT_T_VALUE,
    "must be greater than 0" };
static ngx_http_axon_bounds_t  ngx_http_axon_challenge_ttl_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_MSEC, 1000, NGX_MAX_INT_T_VALUE,
    "must be at least 1s" };
static ngx_http_axon_bounds_t  ngx_http_axon_token_ttl_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_MSEC, 60 * 1000, NGX_MAX_INT_T_VALUE,
    "must be at least 1m" };
static ngx_http_axon_bounds_t  ngx_http_axon_body_max_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_SIZE, 1024, 1024 * 1024,
    "must be between 1k and 1m" };
static ngx_http_axon_bounds_t  ngx_http_axon_activity_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_MSEC, 1000, NGX_MAX_INT_T_VALUE,
    "must be at least 1s" };
static ngx_http_axon_bounds_t  ngx_http_axon_x402_max_timeout_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_SEC, 10, 3600,
    "must be between 10s and 1h" };
static ngx_http_axon_bounds_t  ngx_http_axon_x402_wait_bounds = {
    ngx_http_axon_bounds, NGX_HTTP_AXON_MSEC, 0, 5 * 60 * 1000,
    "must be at most 5m" };


/* axon_compat: off, or the original gate's API beside axon's */
static ngx_conf_enum_t  ngx_http_axon_compat_modes[] = {
    { ngx_string("off"), NGX_HTTP_AXON_COMPAT_OFF },
    { ngx_string("original"), NGX_HTTP_AXON_COMPAT_ORIGINAL },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_axon_commands[] = {

    { ngx_string("axon_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_axon_main_conf_t, redis_timeout),
      &ngx_http_axon_redis_timeout_bounds },

    { ngx_string("axon_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_axon_main_conf_t, redis_password),
      NULL },

    { ngx_string("axon_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_axon_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_siwe_domain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_axon_siwe_domain,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_siwe_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_siwe_text,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, siwe_uri),
      NULL },

    { ngx_string("axon_siwe_statement"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_siwe_text,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, siwe_statement),
      NULL },

    { ngx_string("axon_chain_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_chain_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, chain_id),
      NULL },

    { ngx_string("axon_chain_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, chain_name),
      NULL },

    { ngx_string("axon_chain_rpc_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, chain_rpc),
      &ngx_http_axon_http_url_post },

    { ngx_string("axon_chain_explorer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, chain_explorer),
      &ngx_http_axon_http_url_post },

    { ngx_string("axon_challenge_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, challenge_ttl),
      &ngx_http_axon_challenge_ttl_bounds },

    { ngx_string("axon_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, token_ttl),
      &ngx_http_axon_token_ttl_bounds },

    { ngx_string("axon_body_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, body_max),
      &ngx_http_axon_body_max_bounds },

    { ngx_string("axon_gate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_gate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, gate),
      NULL },

    { ngx_string("axon_compat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, compat),
      &ngx_http_axon_compat_modes },

    { ngx_string("axon_gate_login"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_gate_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, gate_login),
      NULL },

    { ngx_string("axon_gate_query"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, gate_query),
      NULL },

    { ngx_string("axon_activity_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, activity_interval),
      &ngx_http_axon_activity_bounds },

    { ngx_string("axon_x402_network"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_x402_network,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_asset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE3,
      ngx_http_axon_x402_asset,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_pay_to"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_x402_pay_to,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_minutes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_axon_x402_minutes,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_price"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_axon_x402_price,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_max_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, x402_max_timeout),
      &ngx_http_axon_x402_max_timeout_bounds },

    { ngx_string("axon_x402_wait"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, x402_wait),
      &ngx_http_axon_x402_wait_bounds },

    { ngx_string("axon_x402_pending"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_axon_x402_pending,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_x402_v1"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_axon_loc_conf_t, x402_v1),
      NULL },

    { ngx_string("axon_x402_discovery"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_axon_x402_discovery,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_axon_token_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("axon_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_axon_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_variable_t  ngx_http_axon_vars[] = {

    { ngx_string("axon_wallet"), NULL, ngx_http_axon_wallet_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("axon_upstream_cookie"), NULL,
      ngx_http_axon_upstream_cookie_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("axon_upstream"), NULL, ngx_http_axon_session_variable,
      offsetof(ngx_http_axon_ctx_t, upstream), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("axon_session"), NULL, ngx_http_axon_session_variable,
      offsetof(ngx_http_axon_ctx_t, session_id), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

      ngx_http_null_variable
};


static ngx_http_module_t  ngx_http_axon_module_ctx = {
    ngx_http_axon_add_variables,           /* preconfiguration */
    ngx_http_axon_init,                    /* postconfiguration */

    ngx_http_axon_create_main_conf,        /* create main configuration */
    ngx_http_axon_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_axon_create_loc_conf,         /* create location configuration */
    ngx_http_axon_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_axon_module = {
    NGX_MODULE_V1,
    &ngx_http_axon_module_ctx,             /* module context */
    ngx_http_axon_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_axon_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_axon_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_axon_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_axon_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* The gate's access handler, in an nginx where some location uses axon. */

static ngx_int_t
ngx_http_axon_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_axon_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);

    if (!amcf->enabled) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_axon_gate_handler;

    return ngx_http_axon_metrics_init(cf);
}


static void *
ngx_http_axon_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_axon_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_axon_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->redis = { 0 };
     *     amcf->enabled = 0;
     *     amcf->token_cache = NULL;
     *     amcf->redis_password = { 0, NULL };
     */

    amcf->redis_timeout = NGX_CONF_UNSET_MSEC;

    return amcf;
}


static char *
ngx_http_axon_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_axon_main_conf_t  *amcf = conf;

    ngx_conf_init_msec_value(amcf->redis_timeout, 1000);

    if (amcf->redis.url.len == 0) {
        ngx_str_set(&amcf->redis.url, "127.0.0.1:6379");
        amcf->redis.default_port = 6379;

        if (ngx_parse_url(cf->pool, &amcf->redis) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (amcf->enabled
        && ngx_http_axon_metrics_zone(cf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (amcf->enabled && amcf->token_cache == NULL) {
        return ngx_http_axon_token_cache_add(cf, amcf, 0, 0);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_axon_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_axon_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_axon_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->api_prefix = { 0, NULL };
     *     alcf->siwe_uri = { 0, NULL };
     *     alcf->siwe = NULL;
     *     alcf->siwe_statement = { 0, NULL };
     *     alcf->chain_name = { 0, NULL };
     *     alcf->chain_rpc = { 0, NULL };
     *     alcf->chain_explorer = { 0, NULL };
     *     alcf->gate_login = { 0, NULL };
     */

    alcf->api = NGX_CONF_UNSET;
    alcf->siwe_domains = NGX_CONF_UNSET_PTR;
    alcf->chain_id = NGX_CONF_UNSET_UINT;
    alcf->challenge_ttl = NGX_CONF_UNSET_MSEC;
    alcf->token_ttl = NGX_CONF_UNSET_MSEC;
    alcf->body_max = NGX_CONF_UNSET_SIZE;
    alcf->gate = NGX_CONF_UNSET_UINT;
    alcf->gate_query = NGX_CONF_UNSET;
    alcf->compat = NGX_CONF_UNSET_UINT;
    alcf->activity_interval = NGX_CONF_UNSET_MSEC;
    alcf->x402_minutes = NGX_CONF_UNSET_PTR;
    alcf->x402_price = (uint64_t) -1;
    alcf->x402_max_timeout = NGX_CONF_UNSET;
    alcf->x402_wait = NGX_CONF_UNSET_MSEC;
    alcf->x402_pending = NGX_CONF_UNSET_UINT;
    alcf->x402_pending_payer = NGX_CONF_UNSET_UINT;
    alcf->x402_v1 = NGX_CONF_UNSET;

    return alcf;
}


static char *
ngx_http_axon_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_axon_loc_conf_t  *prev = parent;
    ngx_http_axon_loc_conf_t  *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    /*
     * axon_api is inherited by a nested location with no content handler
     * of its own, so that one can add limits to some of the API's routes:
     *     location /api/ { axon_api; location /api/auth/ { limit_req ...; } }
     */

    if (conf->api == NGX_CONF_UNSET) {
        conf->api = 0;

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (prev->api == 1 && clcf->handler == NULL) {
            conf->api = 1;
            conf->api_prefix = prev->api_prefix;
            clcf->handler = ngx_http_axon_api_handler;
        }
    }

    ngx_conf_merge_uint_value(conf->gate, prev->gate, NGX_HTTP_AXON_GATE_OFF);
    ngx_conf_merge_str_value(conf->gate_login, prev->gate_login, "");
    ngx_conf_merge_value(conf->gate_query, prev->gate_query, 1);
    ngx_conf_merge_uint_value(conf->compat, prev->compat,
                              NGX_HTTP_AXON_COMPAT_OFF);
    ngx_conf_merge_msec_value(conf->activity_interval,
                              prev->activity_interval, 30 * 1000);

    if (ngx_http_axon_siwe_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_str_value(conf->siwe_statement, prev->siwe_statement,
                             "Sign in to the axon GPU gate.");
    ngx_conf_merge_uint_value(conf->chain_id, prev->chain_id, 1);
    ngx_conf_merge_str_value(conf->chain_name, prev->chain_name, "");
    ngx_conf_merge_str_value(conf->chain_rpc, prev->chain_rpc, "");
    ngx_conf_merge_str_value(conf->chain_explorer, prev->chain_explorer,
                             "");
    ngx_conf_merge_msec_value(conf->challenge_ttl, prev->challenge_ttl,
                              5 * 60 * 1000);

    ngx_conf_merge_msec_value(conf->token_ttl, prev->token_ttl,
                              12 * 60 * 60 * 1000);
    ngx_conf_merge_size_value(conf->body_max, prev->body_max, 16 * 1024);

    return ngx_http_axon_x402_merge(cf, prev, conf);
}


/*
 * The location's content handler, h, set by one of the module's
 * directives: one a location.  Another one's, taken over, was lost
 * (axon_api after axon_metrics answered the API at the metrics' place).
 */

char *
ngx_http_axon_content_handler(ngx_conf_t *cf, ngx_http_handler_pt h)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return clcf->handler == h
               ? "is duplicate"
               : "is in a location that has another handler (axon_api, "
                 "axon_metrics, axon_x402_discovery, proxy_pass...)";
    }

    clcf->handler = h;

    return NGX_CONF_OK;
}


/* an http:// or https:// URL with a host (what a wallet is given) */

static char *
ngx_http_axon_http_url(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *url = data;

    size_t      skip;

    skip = url->len > 7 && ngx_strncasecmp(url->data, (u_char *) "http://", 7)
                           == 0
           ? 7
           : url->len > 8 && ngx_strncasecmp(url->data,
                                             (u_char *) "https://", 8) == 0
           ? 8 : 0;

    if (skip == 0 || url->data[skip] == '/'
        || ngx_strlchr(url->data, url->data + url->len, ' ') != NULL)
    {
        return "must be an http:// or https:// URL";
    }

    return NGX_CONF_OK;
}


/* a time or size directive within its bounds (ngx_http_axon_bounds_t) */

static char *
ngx_http_axon_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_axon_bounds_t  *b = post;

    ngx_uint_t  v;

    switch (b->type) {
    case NGX_HTTP_AXON_SEC:
        v = (ngx_uint_t) *(time_t *) data;
        break;
    case NGX_HTTP_AXON_SIZE:
        v = *(size_t *) data;
        break;
    default:
        v = *(ngx_msec_t *) data;
    }

    return v < b->low || v > b->high ? b->why : NGX_CONF_OK;
}


static ngx_int_t
ngx_http_axon_init_process(ngx_cycle_t *cycle)
{
    ngx_http_axon_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_axon_module);

    if (amcf == NULL || !amcf->enabled) {
        return NGX_OK;
    }

    return ngx_http_axon_redis_init_process(cycle, amcf);
}


static void
ngx_http_axon_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_axon_redis_exit_process(cycle);
}


static char *
ngx_http_axon_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_main_conf_t  *amcf = conf;

    ngx_str_t  *value;

    if (amcf->redis.url.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    amcf->redis.url = value[1];
    amcf->redis.default_port = 6379;

    if (ngx_parse_url(cf->pool, &amcf->redis) != NGX_OK) {
        if (amcf->redis.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"%V\" of the \"axon_redis\" directive",
                               amcf->redis.err, &value[1]);
        }

        return NGX_CONF_ERROR;
    }

    if (amcf->redis.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for \"%V\" in the \"axon_redis\" "
                           "directive", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_axon_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    char                       *rv;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_axon_main_conf_t  *amcf;

    if (alcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        return "cannot be used in a regex location: the API routes by "
               "the part of the URI after a prefix location's name";
    }
#endif

    if (clcf->named) {
        return "cannot be used in a named location";
    }

    rv = ngx_http_axon_content_handler(cf, ngx_http_axon_api_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    alcf->api = 1;
    alcf->api_prefix = clcf->name;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


/*
 * HOST, HOST:PORT, [V6] or [V6]:PORT (of the characters the caller
 * allowed): one host, the port 1 to 65535, nothing else.
 */

static ngx_int_t
ngx_http_axon_authority(ngx_str_t *a)
{
    u_char  *p, *last, *colon;

    p = a->data;
    last = a->data + a->len;

    if (*p == '[') {
        p = ngx_strlchr(p, last, ']');

        if (p == NULL || p == a->data + 1) {
            return NGX_ERROR;
        }

        if (ngx_strlchr(a->data + 1, p, '[') != NULL) {
            return NGX_ERROR;
        }

        colon = ++p < last ? p : NULL;

        if (colon && *colon != ':') {
            return NGX_ERROR;
        }

    } else {
        colon = ngx_strlchr(p, last, ':');

        if (colon == p || ngx_strlchr(p, last, '[') != NULL
            || ngx_strlchr(p, last, ']') != NULL
            || (colon && ngx_strlchr(colon + 1, last, ':') != NULL))
        {
            return NGX_ERROR;
        }
    }

    if (colon == NULL) {
        return NGX_OK;
    }

    /* ngx_atoi: digits only; 1 to 65535, one to five of them */
    if (last - colon < 2 || last - colon > 6) {
        return NGX_ERROR;
    }

    p = colon + 1;

    return ngx_atoi(p, last - p) >= 1 && ngx_atoi(p, last - p) <= 65535
           ? NGX_OK : NGX_ERROR;
}


/*
 * axon_siwe_domain HOST[:PORT] ...: the domains (EIP-4361: the authority)
 * a sign-in message may name; the first is the one named when the request
 * does not choose another (docs/api.md, "Sign-in").
 */

static char *
ngx_http_axon_siwe_domain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char      *p, *last;
    ngx_str_t   *value, *d, *domain;
    ngx_uint_t   i, j;

    if (alcf->siwe_domains != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    alcf->siwe_domains = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_str_t));
    if (alcf->siwe_domains == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            return "must not be empty";
        }

        last = value[i].data + value[i].len;

        for (p = value[i].data; p < last; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                return "must be one line of printable text";
            }
        }

        for (p = value[i].data; p < last; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9')
                  || *p == '.' || *p == '-' || *p == '_' || *p == ':'
                  || *p == '[' || *p == ']'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"axon_siwe_domain\" must be HOST or "
                                   "HOST:PORT, such as gate.example.com, "
                                   "not \"%V\" (no scheme, no path)",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        if (ngx_http_axon_authority(&value[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_siwe_domain\" must be HOST or "
                               "HOST:PORT (an IPv6 address in brackets, the "
                               "port 1 to 65535), not \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        d = alcf->siwe_domains->elts;

        for (j = 0; j < alcf->siwe_domains->nelts; j++) {
            if (d[j].len == value[i].len
                && ngx_strncasecmp(d[j].data, value[i].data, d[j].len) == 0)
            {
                return "names a domain twice";
            }
        }

        domain = ngx_array_push(alcf->siwe_domains);
        if (domain == NULL) {
            return NGX_CONF_ERROR;
        }

        *domain = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * The origins sign-in is bound to.  Where the API is served, both
 * directives are required: the message's domain and URI never come from
 * the request.  Each domain gets the URI; when the URI's authority is the
 * first domain, the others get it with their own (http://127.0.0.1:6080/
 * for 127.0.0.1:6080, http://localhost:6080/ for localhost:6080).
 */

static char *
ngx_http_axon_siwe_merge(ngx_conf_t *cf, ngx_http_axon_loc_conf_t *prev,
    ngx_http_axon_loc_conf_t *conf)
{
    u_char                *p, *host, *rest, *last;
    size_t                 len;
    ngx_str_t              scheme, *d;
    ngx_uint_t             i, same;
    ngx_http_axon_siwe_t  *s;

    ngx_conf_merge_ptr_value(conf->siwe_domains, prev->siwe_domains, NULL);
    ngx_conf_merge_str_value(conf->siwe_uri, prev->siwe_uri, "");

    if (conf->api == 1) {
        if (conf->siwe_domains == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_api\" needs \"axon_siwe_domain\": "
                               "the domain sign-in messages name (this "
                               "gate's, as a browser's address bar shows "
                               "it), never taken from the request");
            return NGX_CONF_ERROR;
        }

        if (conf->siwe_uri.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_api\" needs \"axon_siwe_uri\": "
                               "the URI sign-in messages name, such as "
                               "https://gate.example.com/");
            return NGX_CONF_ERROR;
        }
    }

    if (conf->siwe_domains == NULL || conf->siwe_uri.len == 0) {
        conf->siwe = NULL;
        return NGX_CONF_OK;
    }

    if (prev->siwe && prev->siwe_domains == conf->siwe_domains
        && prev->siwe_uri.data == conf->siwe_uri.data)
    {
        conf->siwe = prev->siwe;
        return NGX_CONF_OK;
    }

    last = conf->siwe_uri.data + conf->siwe_uri.len;

    /* axon_siwe_uri has "://" (checked when read) */

    p = ngx_strlcasestrn(conf->siwe_uri.data, last, (u_char *) "://", 3 - 1);

    scheme.data = conf->siwe_uri.data;
    scheme.len = p - scheme.data;
    host = p + 3;

    for (rest = host;
         rest < last && *rest != '/' && *rest != '?' && *rest != '#';
         rest++)
    {
        /* void */
    }

    d = conf->siwe_domains->elts;

    same = ((size_t) (rest - host) == d[0].len
            && ngx_strncasecmp(host, d[0].data, d[0].len) == 0);

    conf->siwe = ngx_array_create(cf->pool, conf->siwe_domains->nelts,
                                  sizeof(ngx_http_axon_siwe_t));
    if (conf->siwe == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < conf->siwe_domains->nelts; i++) {
        s = ngx_array_push(conf->siwe);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        s->domain = d[i];
        s->scheme = scheme;

        if (i == 0 || !same) {
            s->uri = conf->siwe_uri;

        } else {
            len = (host - conf->siwe_uri.data) + d[i].len + (last - rest);

            p = ngx_pnalloc(cf->pool, len);
            if (p == NULL) {
                return NGX_CONF_ERROR;
            }

            s->uri.data = p;
            p = ngx_cpymem(p, conf->siwe_uri.data, host - conf->siwe_uri.data);
            p = ngx_cpymem(p, d[i].data, d[i].len);
            p = ngx_cpymem(p, rest, last - rest);
            s->uri.len = p - s->uri.data;
        }

        if (ngx_http_axon_origin_of(cf, &scheme, &d[i], &s->origin)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* a browser's Origin for a domain: lowercase, without the scheme's own port */

static ngx_int_t
ngx_http_axon_origin_of(ngx_conf_t *cf, ngx_str_t *scheme,
    ngx_str_t *domain, ngx_str_t *origin)
{
    u_char  *p;
    size_t   len;

    len = domain->len;

    if (scheme->len == 5
        && ngx_strncasecmp(scheme->data, (u_char *) "https", 5) == 0
        && len > 4
        && ngx_strncmp(domain->data + len - 4, ":443", 4) == 0)
    {
        len -= 4;

    } else if (scheme->len == 4
               && ngx_strncasecmp(scheme->data, (u_char *) "http", 4) == 0
               && len > 3
               && ngx_strncmp(domain->data + len - 3, ":80", 3) == 0)
    {
        len -= 3;
    }

    origin->len = scheme->len + sizeof("://") - 1 + len;
    origin->data = ngx_pnalloc(cf->pool, origin->len);
    if (origin->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(origin->data, scheme->data, scheme->len);
    p = ngx_cpymem(p, "://", sizeof("://") - 1);
    ngx_memcpy(p, domain->data, len);
    ngx_strlow(origin->data, origin->data, origin->len);

    return NGX_OK;
}



/*
 * axon_siwe_uri, axon_siwe_statement: text that goes into the message a
 * wallet signs, one line each (EIP-4361).
 */

static char *
ngx_http_axon_siwe_text(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value, *field;
    u_char     *p, *last;

    field = (ngx_str_t *) ((char *) conf + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "must not be empty";
    }

    last = value[1].data + value[1].len;

    for (p = value[1].data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return "must be one line of printable text";
        }

        if (*p == ' ' && cmd->offset
                         != offsetof(ngx_http_axon_loc_conf_t, siwe_statement))
        {
            return "must not contain spaces";
        }
    }

    if (cmd->offset == offsetof(ngx_http_axon_loc_conf_t, siwe_statement)
        && axon_siwe_statement_check((const char *) value[1].data,
                                     value[1].len)
           != AXON_OK)
    {
        return "has a character EIP-4361 does not allow in a statement";
    }

    if (cmd->offset == offsetof(ngx_http_axon_loc_conf_t, siwe_uri)
        && ngx_http_axon_http_url(cf, NULL, &value[1]) != NGX_CONF_OK)
    {
        return "must be an http:// or https:// URI, such as "
               "https://gate.example/";
    }

    *field = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_axon_chain_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (alcf->chain_id != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1) {
        return "must be a positive integer (1 is Ethereum mainnet)";
    }

    alcf->chain_id = (ngx_uint_t) n;

    return NGX_CONF_OK;
}


/* axon_gate off|on|session */

static char *
ngx_http_axon_gate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t                  *value;
    ngx_http_axon_main_conf_t  *amcf;

    if (alcf->gate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        alcf->gate = NGX_HTTP_AXON_GATE_OFF;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") == 0) {
        alcf->gate = NGX_HTTP_AXON_GATE_ON;

    } else if (ngx_strcmp(value[1].data, "session") == 0) {
        alcf->gate = NGX_HTTP_AXON_GATE_SESSION;

    } else {
        return "must be \"on\", \"off\" or \"session\"";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


/* axon_gate_login URL: where a browser that is not signed in is sent */

static char *
ngx_http_axon_gate_login(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char     *p;
    ngx_str_t  *value;

    if (alcf->gate_login.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0
        || !(value[1].data[0] == '/'
             || ngx_strlcasestrn(value[1].data, value[1].data + value[1].len,
                                 (u_char *) "://", 3 - 1)
                != NULL))
    {
        return "must be a path (/login.html) or an absolute URL";
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return "must not contain spaces or control characters";
        }
    }

    alcf->gate_login = value[1];

    return NGX_CONF_OK;
}
