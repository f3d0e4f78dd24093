/*
 * ngx_http_axon_module: the axon gate inside nginx.
 *
 * Shared declarations of the module's files:
 *   ngx_http_axon_module.c   directives, configuration, process hooks
 *   ngx_http_axon_redis.c    hiredis async client on nginx events
 *   ngx_http_axon_api.c      the JSON API router and its responses
 *   ngx_http_axon_auth.c     wallet sign-in (EIP-4361, EIP-191), logout
 *   ngx_http_axon_token.c    tokens: new ones, their digest; ISO 8601 times
 *   ngx_http_axon_gate.c     the token check in the access phase
 *   ngx_http_axon_token_cache.c  the tokens Redis confirmed, in shared memory
 *   ngx_http_axon_me.c       GET /api/me
 *   ngx_http_axon_session.c  GPU sessions: claim, status, release
 *   ngx_http_axon_route.c    axon_gate session: to the caller's session
 *   ngx_http_axon_health.c   GET /api/health
 *   ngx_http_axon_deposit.c  deposits: verify-deposit, GET /api/deposits
 *   ngx_http_axon_compat.c   axon_compat: the original gate's API
 *   ngx_http_axon_x402_*.c   agents paying with x402: offers, payment,
 *                            directives (ngx_http_axon_x402.h)
 *   ngx_http_axon_metrics.c  counters, axon_metrics (Prometheus)
 */

#ifndef _NGX_HTTP_AXON_MODULE_H_INCLUDED_
#define _NGX_HTTP_AXON_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "axon_contract.h"
#include "axon_eth.h"
#include "axon_lua.h"
#include "ngx_http_axon_metrics.h"


#define NGX_HTTP_AXON_VERSION       "0.1.0"

#define NGX_HTTP_AXON_TOKEN_BYTES   32      /* 256 random bits */
#define NGX_HTTP_AXON_TOKEN_LEN     43      /* base64url, no padding */
#define NGX_HTTP_AXON_ISO8601_LEN   (sizeof("1970-01-01T00:00:00Z") - 1)
#define NGX_HTTP_AXON_SCRIPT_ARGS   24      /* a script's keys and args */

/* axon_gate */
#define NGX_HTTP_AXON_GATE_OFF      0
#define NGX_HTTP_AXON_GATE_ON       1       /* a signed-in wallet */
#define NGX_HTTP_AXON_GATE_SESSION  2       /* and its running session */

/* where the gate found the token */
#define NGX_HTTP_AXON_BY_HEADER     0       /* Authorization, X-AXGT-... */
#define NGX_HTTP_AXON_BY_COOKIE     1
#define NGX_HTTP_AXON_BY_QUERY      2

/* what an API route needs of the gate */
#define NGX_HTTP_AXON_WALLET_NO     0
#define NGX_HTTP_AXON_WALLET_YES    1
#define NGX_HTTP_AXON_WALLET_BODY   2       /* or a token in the JSON body */

/* axon_compat */
#define NGX_HTTP_AXON_COMPAT_OFF    0
#define NGX_HTTP_AXON_COMPAT_ORIGINAL 1     /* the original gate's API too */


typedef struct {
    ngx_url_t                 redis;          /* axon_redis */
    ngx_msec_t                redis_timeout;  /* axon_redis_timeout */
    ngx_str_t                 redis_password; /* axon_redis_password */
    ngx_flag_t                enabled;        /* some location uses axon */

    ngx_shm_zone_t           *token_cache;    /* axon_token_cache */
    ngx_msec_t                token_cache_valid;
} ngx_http_axon_main_conf_t;


/*
 * One origin sign-in is bound to (axon_siwe_domain, axon_siwe_uri): the
 * message's domain and URI, and the browser Origin of a page there.
 */
typedef struct {
    ngx_str_t                 domain;         /* HOST[:PORT] */
    ngx_str_t                 uri;            /* the message's URI */
    ngx_str_t                 scheme;         /* the URI's scheme */
    ngx_str_t                 origin;         /* SCHEME://HOST[:PORT] */
} ngx_http_axon_siwe_t;


typedef struct {
    ngx_flag_t                api;            /* axon_api */
    ngx_str_t                 api_prefix;     /* the location's name */

    ngx_array_t              *siwe_domains;   /* axon_siwe_domain */
    ngx_str_t                 siwe_uri;       /* axon_siwe_uri */
    ngx_array_t              *siwe;           /* of ngx_http_axon_siwe_t */
    ngx_str_t                 siwe_statement; /* axon_siwe_statement */
    ngx_uint_t                chain_id;       /* axon_chain_id */
    ngx_str_t                 chain_name;     /* axon_chain_name */
    ngx_str_t                 chain_rpc;      /* axon_chain_rpc_url */
    ngx_str_t                 chain_explorer; /* axon_chain_explorer */
    ngx_msec_t                challenge_ttl;  /* axon_challenge_ttl */
    ngx_msec_t                token_ttl;      /* axon_token_ttl */
    size_t                    body_max;       /* axon_body_max_size */

    ngx_uint_t                gate;           /* axon_gate */
    ngx_str_t                 gate_login;     /* axon_gate_login */
    ngx_flag_t                gate_query;     /* axon_gate_query */
    ngx_msec_t                activity_interval; /* axon_activity_interval */
    ngx_uint_t                compat;         /* axon_compat */

    /* x402 (ngx_http_axon_x402_*.c); on when axon_x402_network is set */
    ngx_str_t                 x402_network;   /* axon_x402_network */
    uint64_t                  x402_chain_id;
    ngx_str_t                 x402_asset;     /* axon_x402_asset, EIP-55 */
    ngx_str_t                 x402_name;      /*   its EIP-712 name */
    ngx_str_t                 x402_version;   /*   and version */
    ngx_str_t                 x402_pay_to;    /* axon_x402_pay_to, EIP-55 */
    ngx_array_t              *x402_minutes;   /* axon_x402_minutes */
    uint64_t                  x402_price;     /* axon_x402_price */
    time_t                    x402_max_timeout; /* axon_x402_max_timeout */
    ngx_msec_t                x402_wait;      /* axon_x402_wait */
    ngx_uint_t                x402_pending;   /* axon_x402_pending */
    ngx_uint_t                x402_pending_payer;
    uint8_t                   x402_asset_addr[AXON_ADDR_LEN];
    uint8_t                   x402_pay_to_addr[AXON_ADDR_LEN];
    uint8_t                   x402_domain[32]; /* EIP-712 domain separator */
    ngx_str_t                 x402_resource;  /* axon_x402_discovery PATH */
    ngx_flag_t                x402_v1;        /* axon_x402_v1 */
} ngx_http_axon_loc_conf_t;


/* what most scripts of a wallet's session take */
typedef struct {
    u_char                    wallet_key[sizeof(AXON_KEY_WALLET) - 1
                                         + AXON_ADDR_TEXT_LEN];
    char                      wallet[AXON_ADDR_TEXT_LEN + 1];   /* lower */
    u_char                    now[NGX_TIME_T_LEN];
    size_t                    now_len;
} ngx_http_axon_session_args_t;


/* An API handler that takes the request's JSON object body. */
typedef ngx_int_t (*ngx_http_axon_json_handler_pt)(ngx_http_request_t *r,
    json_t *body);


/*
 * How a route of the original gate (axon_compat original) is answered by
 * one of axon's handlers: its parameters and body renamed to axon's before
 * (ngx_http_axon_compat.c), axon's answer renamed to the original's as it
 * is sent (ngx_http_axon_send_json).
 */
typedef struct ngx_http_axon_compat_s  ngx_http_axon_compat_t;

typedef json_t *(*ngx_http_axon_compat_answer_pt)(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);

struct ngx_http_axon_compat_s {
    const char                     *flag;    /* false in a refusal */
    ngx_uint_t                      ok;      /* refusals are 200 */
    ngx_uint_t                      shared;  /* axon has the path too */
    ngx_int_t                     (*body)(ngx_http_request_t *r,
                                          json_t *body);
    ngx_http_axon_compat_answer_pt  answer;
    ngx_uint_t                      axon_errors;  /* refusals in axon's
                                                     form: its clients
                                                     share the path */
};


typedef struct {
    ngx_str_t                 path;
    ngx_uint_t                methods;
    ngx_str_t                 allow;      /* the Allow header of a 405 */
    ngx_uint_t                wallet;     /* NGX_HTTP_AXON_WALLET_* */
    ngx_http_handler_pt       handler;
} ngx_http_axon_route_t;


typedef struct {
    ngx_http_axon_json_handler_pt   json_handler;

    /* called when the Redis step of a token or session check is done */
    void                          (*resume)(ngx_http_request_t *r);

    /* the gate's outcome */
    const char               *gate_code;      /* why it refused; NULL: ok */
    time_t                    token_expires;
    u_char                    wallet[AXON_ADDR_LEN];
    u_char                    token_hash[64]; /* hex; [0] == 0: no token */
    ngx_str_t                 upstream;       /* $axon_upstream */
    ngx_str_t                 session_id;     /* $axon_session */

    ngx_uint_t                cache_gen;      /* revocations, at lookup */
    ngx_uint_t                route;          /* NGX_HTTP_AXON_ROUTE_* */

    /* answered as the original gate would (axon_compat original) */
    ngx_http_axon_compat_t   *compat;
    ngx_http_axon_compat_t   *compat_route;   /* the route's, if any */
    json_t                   *compat_body;    /* the request's, renamed */

    unsigned                  has_wallet:1;
    unsigned                  gate_done:1;
    unsigned                  gate_waiting:1;
    unsigned                  gate_query:1;   /* a token in the query, off */
    unsigned                  session_done:1;
    unsigned                  websocket:1;    /* counted as open */
} ngx_http_axon_ctx_t;


/*
 * A Redis reply handler.  Called exactly once per command sent: with the
 * reply, or with reply == NULL when Redis failed (disconnect, timeout).  The
 * reply is freed by hiredis when the handler returns.
 */
typedef void (*ngx_http_axon_redis_handler_pt)(ngx_http_request_t *r,
    redisReply *reply, void *data);


extern ngx_module_t  ngx_http_axon_module;


/* ngx_http_axon_module.c */
char *ngx_http_axon_content_handler(ngx_conf_t *cf, ngx_http_handler_pt h);

/* ngx_http_axon_redis.c */
ngx_int_t ngx_http_axon_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_axon_main_conf_t *amcf);
void ngx_http_axon_redis_exit_process(ngx_cycle_t *cycle);
ngx_uint_t ngx_http_axon_redis_up(void);
ngx_int_t ngx_http_axon_redis_command(ngx_http_request_t *r,
    ngx_http_axon_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);
ngx_int_t ngx_http_axon_redis_script(ngx_http_request_t *r,
    ngx_http_axon_redis_handler_pt handler, void *data,
    const axon_script_t *script, ngx_uint_t nkeys, ngx_uint_t n,
    const char **args, const size_t *lens);

/* ngx_http_axon_api.c */
ngx_int_t ngx_http_axon_api_handler(ngx_http_request_t *r);
ngx_uint_t ngx_http_axon_api_needs_wallet(ngx_http_request_t *r);
ngx_str_t *ngx_http_axon_api_route_name(ngx_uint_t i);
ngx_int_t ngx_http_axon_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body);
ngx_http_axon_ctx_t *ngx_http_axon_get_ctx(ngx_http_request_t *r);
ngx_uint_t ngx_http_axon_is_json(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_read_json(ngx_http_request_t *r,
    ngx_http_axon_json_handler_pt handler);
ngx_int_t ngx_http_axon_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);
ngx_int_t ngx_http_axon_add_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);
ngx_int_t ngx_http_axon_redis_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_redis_wait(ngx_http_request_t *r, ngx_int_t rc);
void ngx_http_axon_finalize(ngx_http_request_t *r, ngx_int_t rc);

/* ngx_http_axon_auth.c */
ngx_int_t ngx_http_axon_challenge_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_verify_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_logout_handler(ngx_http_request_t *r);
ngx_http_axon_siwe_t *ngx_http_axon_siwe_origin(ngx_http_request_t *r,
    ngx_http_axon_loc_conf_t *alcf, ngx_table_elt_t *origin);

/* ngx_http_axon_token.c */
ngx_int_t ngx_http_axon_token_new(ngx_log_t *log, u_char *token,
    u_char md[32]);
ngx_int_t ngx_http_axon_token_digest(u_char md[32], const u_char *token,
    size_t len);
u_char *ngx_http_axon_iso8601(u_char *p, time_t t);

/* ngx_http_axon_gate.c */
ngx_int_t ngx_http_axon_gate_handler(ngx_http_request_t *r);
void ngx_http_axon_gate_resume(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_token_check(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx, ngx_str_t *token);
ngx_int_t ngx_http_axon_upstream_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_axon_wallet_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_table_elt_t *ngx_http_axon_header_in(ngx_http_request_t *r,
    const char *name, size_t len);

/* ngx_http_axon_token_cache.c */
ngx_int_t ngx_http_axon_token_cache_get(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx, const u_char hash[32]);
void ngx_http_axon_token_cache_put(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx, const u_char hash[32]);
void ngx_http_axon_token_forget(ngx_http_request_t *r, const u_char hex[64]);
char *ngx_http_axon_token_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_token_cache_add(ngx_conf_t *cf,
    ngx_http_axon_main_conf_t *amcf, size_t size, ngx_msec_t valid);

/* ngx_http_axon_me.c */
ngx_int_t ngx_http_axon_me_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_usage_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_config_handler(ngx_http_request_t *r);

/* ngx_http_axon_session.c */
ngx_int_t ngx_http_axon_profiles_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_session_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_leave_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_heartbeat_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_release_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_claim_body(ngx_http_request_t *r, json_t *body);
json_t *ngx_http_axon_session_json(redisReply *fields);
ngx_http_axon_session_args_t *ngx_http_axon_session_args(
    ngx_http_request_t *r);
ngx_int_t ngx_http_axon_session_ssh(json_t *o, const char *host,
    const char *port, const char *user);

/* ngx_http_axon_route.c */
ngx_int_t ngx_http_axon_session_route(ngx_http_request_t *r,
    ngx_http_axon_ctx_t *ctx);
ngx_int_t ngx_http_axon_session_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_axon_deposit.c */
ngx_int_t ngx_http_axon_verify_deposit_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_deposits_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_quote_handler(ngx_http_request_t *r);
json_t *ngx_http_axon_quote_prices(json_t *tokens, json_int_t need,
    ngx_int_t pct);

/* ngx_http_axon_x402_offers.c, _pay.c, _conf.c */
ngx_int_t ngx_http_axon_x402_discovery_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_x402_session_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_x402_payment_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_x402_credit(ngx_http_request_t *r,
    ngx_str_t *profile, ngx_int_t minutes);
char *ngx_http_axon_x402_merge(ngx_conf_t *cf, ngx_http_axon_loc_conf_t *prev,
    ngx_http_axon_loc_conf_t *conf);
char *ngx_http_axon_x402_network(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_asset(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_pay_to(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_minutes(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_price(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_discovery(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_axon_x402_pending(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_axon_compat.c */
ngx_http_axon_route_t *ngx_http_axon_compat_route(ngx_http_request_t *r,
    ngx_str_t *path);
ngx_int_t ngx_http_axon_compat_token(ngx_http_request_t *r,
    ngx_str_t *token, ngx_uint_t *carrier, ngx_str_t *passed);
json_t *ngx_http_axon_compat_answer(ngx_http_request_t *r,
    ngx_uint_t *status, json_t *body);
ngx_int_t ngx_http_axon_compat_body(ngx_http_request_t *r, json_t *body);
ngx_uint_t ngx_http_axon_compat_route_index(ngx_http_axon_route_t *rt);
ngx_str_t *ngx_http_axon_compat_route_name(ngx_uint_t i);

/* ngx_http_axon_health.c */
ngx_int_t ngx_http_axon_health_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_AXON_MODULE_H_INCLUDED_ */
