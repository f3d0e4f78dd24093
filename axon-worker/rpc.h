/*
 * axon-worker: the Ethereum JSON-RPC client, over libcurl, synchronous.
 *
 * A client has one or more RPC URLs (eth_rpc_url, comma-separated).  A call
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
 * Values are parsed strictly: quantities are "0x" hex of at most 64 bits
 * (uint64_t), token amounts 256-bit big-endian bytes (aw_u256_t), hashes
 * 32 bytes, addresses 20 bytes.  Nothing goes through floating point.
 */

#ifndef AW_RPC_H
#define AW_RPC_H


#include <stdint.h>

#include <jansson.h>

#include "core.h"


#define AW_RPC_MAX_URLS     8
#define AW_RPC_MAX_TOPICS   4


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


typedef struct { uint8_t b[32]; } aw_u256_t;    /* big-endian */
typedef struct { uint8_t b[32]; } aw_hash_t;
typedef struct { uint8_t b[20]; } aw_addr_t;


typedef struct {
    char           *url;
    aw_backoff_t    backoff;
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


/* eth_getBlockByNumber without transactions */
typedef struct {
    uint64_t        number;
    uint64_t        timestamp;
    aw_hash_t       hash;
    aw_hash_t       parent_hash;
} aw_eth_block_t;


typedef struct {
    aw_hash_t       hash;
    aw_addr_t       from;
    aw_addr_t       to;
    unsigned        has_to:1;       /* 0: a contract creation */
    unsigned        pending:1;      /* 0: block_* and index are set */
    aw_u256_t       value;
    uint64_t        nonce;
    uint64_t        block_number;
    aw_hash_t       block_hash;
    uint64_t        index;
} aw_eth_tx_t;


typedef struct {
    aw_addr_t       address;
    aw_hash_t       topics[AW_RPC_MAX_TOPICS];
    unsigned        ntopics;
    uint8_t        *data;           /* malloc()ed, or NULL when empty */
    size_t          data_len;
    uint64_t        block_number;
    aw_hash_t       block_hash;
    aw_hash_t       tx_hash;
    uint64_t        tx_index;
    uint64_t        log_index;
    unsigned        removed:1;      /* dropped by a reorg */
} aw_eth_log_t;


typedef struct {
    aw_hash_t       tx_hash;
    aw_hash_t       block_hash;
    uint64_t        block_number;
    uint64_t        tx_index;
    aw_addr_t       from;
    aw_addr_t       to;
    unsigned        has_to:1;
    unsigned        status:1;       /* 1: success, 0: reverted */
    aw_eth_log_t   *logs;           /* free with aw_eth_receipt_free() */
    size_t          nlogs;
} aw_eth_receipt_t;


/* eth_getLogs: addresses OR'ed; topics[i] NULL matches anything */
typedef struct {
    uint64_t          from_block;
    uint64_t          to_block;
    const aw_addr_t  *addresses;
    size_t            naddresses;
    const aw_hash_t  *topics[AW_RPC_MAX_TOPICS];
    unsigned          ntopics;
} aw_eth_filter_t;


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

/* the typed calls */
int aw_rpc_chain_id(aw_rpc_t *rpc, uint64_t *id);
int aw_rpc_block_number(aw_rpc_t *rpc, uint64_t *number);
int aw_rpc_get_block(aw_rpc_t *rpc, uint64_t number, aw_eth_block_t *block);
int aw_rpc_get_blocks(aw_rpc_t *rpc, uint64_t first, size_t n,
    aw_eth_block_t *blocks, int *rcs);
int aw_rpc_get_transaction(aw_rpc_t *rpc, const aw_hash_t *hash,
    aw_eth_tx_t *tx);
int aw_rpc_get_receipt(aw_rpc_t *rpc, const aw_hash_t *hash,
    aw_eth_receipt_t *receipt);
int aw_rpc_get_receipts(aw_rpc_t *rpc, const aw_hash_t *hashes, size_t n,
    aw_eth_receipt_t *receipts, int *rcs);
int aw_rpc_get_logs(aw_rpc_t *rpc, const aw_eth_filter_t *filter,
    aw_eth_log_t **logs, size_t *nlogs);
int aw_rpc_erc20_balance(aw_rpc_t *rpc, const aw_addr_t *token,
    const aw_addr_t *owner, aw_u256_t *balance);
int aw_rpc_call_word(aw_rpc_t *rpc, const aw_addr_t *to, const uint8_t *data,
    size_t len, aw_u256_t *word);

/*
 * Sending a transaction of our own: the account's next nonce (counting
 * pending ones), EIP-1559 fees (max_fee = 2 x the latest base fee + tip;
 * tip from eth_maxPriorityFeePerGas, 1 gwei when the node lacks it), the
 * gas a call needs, and eth_sendRawTransaction.  A node that already has
 * the transaction ("already known") counts as sent: the same signed bytes
 * may go to a second node after a failover.
 */
int aw_rpc_nonce(aw_rpc_t *rpc, const aw_addr_t *account, uint64_t *nonce);
int aw_rpc_fees(aw_rpc_t *rpc, aw_u256_t *max_fee, aw_u256_t *tip);
int aw_rpc_estimate_gas(aw_rpc_t *rpc, const aw_addr_t *from,
    const aw_addr_t *to, const uint8_t *data, size_t len, uint64_t *gas);
int aw_rpc_send_raw(aw_rpc_t *rpc, const uint8_t *raw, size_t len);

void aw_eth_receipt_free(aw_eth_receipt_t *receipt);
void aw_eth_logs_free(aw_eth_log_t *logs, size_t n);

/* parsing and formatting, exposed for the callers and the tests */
int aw_eth_parse_quantity(const char *s, uint64_t *v);
int aw_eth_parse_u256(const char *s, aw_u256_t *v);
int aw_eth_parse_bytes(const char *s, size_t len, uint8_t *out);
char *aw_u256_to_decimal(const aw_u256_t *v, char buf[80]);
char *aw_eth_hex(char *buf, const uint8_t *p, size_t n);    /* "0x..." */


#endif /* AW_RPC_H */
