/*
 * axon-worker: the JSON-RPC transport to Ethereum nodes, over libcurl,
 * synchronous (the typed calls on top of it are in eth.h).
 *
 * A client has one or more RPC URLs (eth_rpc_url, a list: config.h).  A call
 * goes to the URL in use; on a transport failure (connect, timeout, an HTTP
 * status other than 200, an answer that is not JSON-RPC) that URL is marked
 * down with its own backoff and the same request goes to the next URL, so a
 * call costs at most (number of URLs) x eth_rpc_timeout.  A URL that is down
 * is tried again once its backoff is due; until then it is skipped, and when
 * every URL is down a call fails at once (AW_RPC_ETRANSPORT) instead of
 * waiting: the caller retries later, nothing is lost.
 *
 * Before the first request on a URL (and again after it failed), the client
 * asks eth_chainId; a URL on another chain than eth_chain_id is refused
 * (logged at emerg, never used until the configuration changes).
 *
 * A JSON-RPC error answer (the node is up but refuses the request) is
 * returned as AW_RPC_ERPC with its code and message, without failover.
 *
 */

#ifndef AW_RPC_H
#define AW_RPC_H


#include <stdint.h>

#include <jansson.h>

#include "core.h"


#define AW_RPC_MAX_URLS     8


typedef enum {
    AW_RPC_OK = 0,
    AW_RPC_NOT_FOUND,       /* the node answered null: unknown or pending */
    AW_RPC_ETRANSPORT,      /* no URL answered: down, timeout, HTTP error */
    AW_RPC_ERPC,            /* a JSON-RPC error object: code, message */
    AW_RPC_EMALFORMED,      /* an answer that breaks JSON-RPC or the type */
    AW_RPC_ECHAIN,          /* every URL is on the wrong chain */
    AW_RPC_ENOMEM,
    AW_RPC_EOFF             /* no eth_rpc_url configured */
} aw_rpc_rc_e;


typedef struct {
    char           *url;
    aw_backoff_t    backoff;
    uint64_t        errors;         /* failed requests, for the metrics */
    unsigned        up:1;           /* the last request succeeded */
    unsigned        chain_ok:1;     /* eth_chainId checked since it came up */
    unsigned        wrong_chain:1;  /* refused until reconfigured */
} aw_rpc_url_t;


typedef struct {
    const char     *name;           /* log prefix: "eth" */
    void           *curl;           /* CURL *, kept for keep-alive */

    aw_rpc_url_t    urls[AW_RPC_MAX_URLS];
    unsigned        nurls;
    unsigned        current;

    aw_msec_t       timeout;
    uint64_t        chain_id;       /* expected; 0: not checked */
    unsigned        batch_max;
    uint64_t        next_id;

    /* the last failure */
    aw_rpc_rc_e     rc;
    long            rpc_code;       /* AW_RPC_ERPC */
    char            error[512];
} aw_rpc_t;


/* the client */

int aw_rpc_global_init(void);
void aw_rpc_global_cleanup(void);
void aw_rpc_init(aw_rpc_t *rpc, const char *name);
int aw_rpc_configure(aw_rpc_t *rpc, const char *urls, aw_msec_t timeout,
    uint64_t chain_id, unsigned batch_max, aw_msec_t reconnect_min,
    aw_msec_t reconnect_max);
void aw_rpc_free(aw_rpc_t *rpc);
aw_msec_t aw_rpc_wakeup(aw_rpc_t *rpc);
const char *aw_rpc_strerror(aw_rpc_rc_e rc);

#define aw_rpc_enabled(rpc)  ((rpc)->nurls > 0)
#define aw_rpc_url(rpc)      ((rpc)->nurls ? (rpc)->urls[(rpc)->current].url \
                                           : "")

/*
 * The raw calls: params is stolen (a JSON array, NULL for []); on AW_RPC_OK
 * *result is a new reference.  aw_rpc_batch() sends n calls in one HTTP
 * request; rcs[i] is AW_RPC_OK (results[i] set), AW_RPC_ERPC or
 * AW_RPC_EMALFORMED per call; the return value is the transport's.
 */
int aw_rpc_call(aw_rpc_t *rpc, const char *method, json_t *params,
    json_t **result);
int aw_rpc_batch(aw_rpc_t *rpc, size_t n, const char **methods,
    json_t **params, json_t **results, int *rcs);

/* records a failure in rpc->rc and rpc->error; returns rc */
int aw_rpc_fail(aw_rpc_t *rpc, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


#endif /* AW_RPC_H */
