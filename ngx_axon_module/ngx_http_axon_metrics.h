/*
 * The gate's counters (ngx_http_axon_metrics.c): one fixed struct of
 * ngx_atomic_t in a shared-memory zone, so every nginx worker process adds
 * to the same ones with one atomic add, no lock and no allocation.  Every
 * label value is an index into a fixed table here, never request input.
 */

#ifndef _NGX_HTTP_AXON_METRICS_H_INCLUDED_
#define _NGX_HTTP_AXON_METRICS_H_INCLUDED_


/* ctx->route: the first three, then the API's routes by their index */
#define NGX_HTTP_AXON_ROUTE_GATE       0   /* the access check's answer */
#define NGX_HTTP_AXON_ROUTE_UNKNOWN    1   /* /api/ with no such route */
#define NGX_HTTP_AXON_ROUTE_DISCOVERY  2   /* axon_x402_discovery */
#define NGX_HTTP_AXON_ROUTE_API        3
#define NGX_HTTP_AXON_ROUTES           48

#define NGX_HTTP_AXON_STATUSES         24  /* a fixed list, and "other" */
#define NGX_HTTP_AXON_SIGNIN_REASONS   16  /* "ok", refusal codes, other */
#define NGX_HTTP_AXON_RTT_BUCKETS      12  /* and +Inf */

typedef enum {
    NGX_HTTP_AXON_REDIS_ERR_CONNECT = 0,   /* a connect that failed */
    NGX_HTTP_AXON_REDIS_ERR_TIMEOUT,       /* a command without reply */
    NGX_HTTP_AXON_REDIS_ERR_FAILED,        /* a command the drop failed */
    NGX_HTTP_AXON_REDIS_ERR_REPLY,         /* an error reply */
    NGX_HTTP_AXON_REDIS_ERRORS
} ngx_http_axon_redis_err_e;

typedef enum {
    NGX_HTTP_AXON_X402_MALFORMED = 0,      /* 400: not a payment */
    NGX_HTTP_AXON_X402_REFUSED,            /* 402: the check refused it */
    NGX_HTTP_AXON_X402_BUSY,               /* 429, 503: too many waiting */
    NGX_HTTP_AXON_X402_QUEUED,             /* recorded, a job queued */
    NGX_HTTP_AXON_X402_OUTCOMES
} ngx_http_axon_x402_outcome_e;


typedef struct {
    ngx_atomic_t  requests[NGX_HTTP_AXON_ROUTES][NGX_HTTP_AXON_STATUSES];
    ngx_atomic_t  signins[NGX_HTTP_AXON_SIGNIN_REASONS];
    ngx_atomic_t  cache_hits;
    ngx_atomic_t  cache_misses;
    ngx_atomic_t  cache_evictions;
    ngx_atomic_t  redis_errors[NGX_HTTP_AXON_REDIS_ERRORS];
    ngx_atomic_t  redis_rtt[NGX_HTTP_AXON_RTT_BUCKETS + 1];
    ngx_atomic_t  redis_rtt_sum;           /* milliseconds */
    ngx_atomic_t  ws_open;
    ngx_atomic_t  ws_total;
    ngx_atomic_t  ws_bytes_in;             /* client to session */
    ngx_atomic_t  ws_bytes_out;            /* session to client */
    ngx_atomic_t  x402[NGX_HTTP_AXON_X402_OUTCOMES];
} ngx_http_axon_metrics_t;


/* NULL until the zone is set up (no axon location: never) */
extern ngx_http_axon_metrics_t  *ngx_http_axon_metrics;

#define ngx_http_axon_count(field)                                           \
    do {                                                                     \
        if (ngx_http_axon_metrics) {                                         \
            (void) ngx_atomic_fetch_add(&ngx_http_axon_metrics->field, 1);   \
        }                                                                    \
    } while (0)


ngx_int_t ngx_http_axon_metrics_init(ngx_conf_t *cf);
char *ngx_http_axon_metrics_zone(ngx_conf_t *cf);
char *ngx_http_axon_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_axon_metrics_route(ngx_http_request_t *r, ngx_uint_t route);
void ngx_http_axon_metrics_signin(const char *code);
void ngx_http_axon_metrics_rtt(ngx_msec_t ms);
void ngx_http_axon_metrics_websocket(ngx_http_request_t *r);


#endif /* _NGX_HTTP_AXON_METRICS_H_INCLUDED_ */
