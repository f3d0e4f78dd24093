/*
 * axon-worker: the Ethereum calls the worker makes (blocks, transactions,
 * receipts, logs, eth_call, fees, sending), over the transport of rpc.h.
 *
 * Values are parsed strictly: quantities are "0x" hex of at most 64 bits
 * (uint64_t), token amounts 256-bit big-endian bytes (aw_u256_t), hashes
 * 32 bytes, addresses 20 bytes.  Nothing goes through floating point.
 */

#ifndef AW_ETH_H
#define AW_ETH_H


#include "rpc.h"


#define AW_RPC_MAX_TOPICS   4


typedef struct { uint8_t b[32]; } aw_u256_t;    /* big-endian */
typedef struct { uint8_t b[32]; } aw_hash_t;
typedef struct { uint8_t b[20]; } aw_addr_t;


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


/* the typed calls */
int aw_rpc_chain_id(aw_rpc_t *rpc, uint64_t *id);
int aw_rpc_block_number(aw_rpc_t *rpc, uint64_t *number);
int aw_rpc_get_block(aw_rpc_t *rpc, uint64_t number, aw_eth_block_t *block);
int aw_rpc_get_blocks(aw_rpc_t *rpc, uint64_t first, size_t n,
    aw_eth_block_t *blocks, int *rcs);
int aw_rpc_get_blocks_at(aw_rpc_t *rpc, const uint64_t *numbers, size_t n,
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

/*
 * DATA of exactly len bytes ("0x" and 2 * len hex digits), and its
 * encoding; quantities are parsed, and amounts printed in decimal, by
 * axon_u256.h.
 */
int aw_eth_parse_bytes(const char *s, size_t len, uint8_t *out);
char *aw_eth_hex(char *buf, const uint8_t *p, size_t n);    /* "0x..." */


#endif /* AW_ETH_H */
