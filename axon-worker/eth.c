
/*
 * axon-worker: the Ethereum calls (see eth.h) over the JSON-RPC transport of
 * rpc.c, and the strict parsing of what a node answers into blocks,
 * transactions, receipts and logs.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_eth.h"
#include "axon_u256.h"
#include "eth.h"
#include "log.h"


static int aw_rpc_qty(aw_rpc_t *rpc, json_t *obj, const char *field,
    uint64_t *v);
static int aw_rpc_hash(aw_rpc_t *rpc, json_t *obj, const char *field,
    aw_hash_t *h);
static int aw_rpc_addr(aw_rpc_t *rpc, json_t *obj, const char *field,
    aw_addr_t *a, int nullable);
static int aw_rpc_parse_block(aw_rpc_t *rpc, json_t *j, aw_eth_block_t *b);
static int aw_rpc_parse_tx(aw_rpc_t *rpc, json_t *j, aw_eth_tx_t *tx);
static int aw_rpc_parse_receipt(aw_rpc_t *rpc, json_t *j,
    aw_eth_receipt_t *r);
static int aw_rpc_parse_log(aw_rpc_t *rpc, json_t *j, aw_eth_log_t *log);
static int aw_rpc_parse_logs(aw_rpc_t *rpc, json_t *j, aw_eth_log_t **logs,
    size_t *n);
static json_t *aw_rpc_hex_json(const uint8_t *p, size_t n);
static int aw_rpc_quantity(aw_rpc_t *rpc, const char *method,
    json_t *params, uint64_t *v);
static json_t *aw_rpc_qty_json(uint64_t v);
static int aw_rpc_blocks(aw_rpc_t *rpc, uint64_t first,
    const uint64_t *numbers, size_t n, aw_eth_block_t *blocks, int *rcs);


/* ---- the typed calls ---------------------------------------------------- */


int
aw_rpc_chain_id(aw_rpc_t *rpc, uint64_t *id)
{
    return aw_rpc_quantity(rpc, "eth_chainId", NULL, id);
}


int
aw_rpc_block_number(aw_rpc_t *rpc, uint64_t *number)
{
    return aw_rpc_quantity(rpc, "eth_blockNumber", NULL, number);
}


/* a call whose result is one quantity ("0x..."), as a number */

static int
aw_rpc_quantity(aw_rpc_t *rpc, const char *method, json_t *params,
    uint64_t *v)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, method, params, &r);

    if (rc == AW_RPC_OK
        && (!json_is_string(r)
            || axon_quantity_parse_u64(v, json_string_value(r)) != AXON_OK))
    {
        rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the result is not a "
                         "quantity", method);
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_get_block(aw_rpc_t *rpc, uint64_t number, aw_eth_block_t *block)
{
    int  rc, one;

    rc = aw_rpc_get_blocks(rpc, number, 1, block, &one);

    return rc == AW_RPC_OK ? one : rc;
}


/*
 * Blocks first .. first + n - 1, in batches of at most eth_rpc_batch_max;
 * rcs[i]: AW_RPC_OK, AW_RPC_NOT_FOUND (not mined yet) or an error.
 */

int
aw_rpc_get_blocks(aw_rpc_t *rpc, uint64_t first, size_t n,
    aw_eth_block_t *blocks, int *rcs)
{
    return aw_rpc_blocks(rpc, first, NULL, n, blocks, rcs);
}


/* the blocks at the n heights numbers[], as aw_rpc_get_blocks() */

int
aw_rpc_get_blocks_at(aw_rpc_t *rpc, const uint64_t *numbers, size_t n,
    aw_eth_block_t *blocks, int *rcs)
{
    return aw_rpc_blocks(rpc, 0, numbers, n, blocks, rcs);
}


/* block i is at numbers[i], or first + i without numbers */

static int
aw_rpc_blocks(aw_rpc_t *rpc, uint64_t first, const uint64_t *numbers,
    size_t n, aw_eth_block_t *blocks, int *rcs)
{
    int          rc, res[256];
    size_t       i, k, chunk;
    uint64_t     number;
    json_t      *params[256], *results[256];
    const char  *methods[256];

    for (i = 0; i < n; i += chunk) {
        chunk = aw_min(n - i, aw_min(rpc->batch_max, 256));

        for (k = 0; k < chunk; k++) {
            number = numbers ? numbers[i + k] : first + i + k;
            methods[k] = "eth_getBlockByNumber";
            params[k] = json_pack("[o, b]", aw_rpc_qty_json(number), 0);
        }

        rc = aw_rpc_batch(rpc, chunk, methods, params, results, res);

        if (rc != AW_RPC_OK) {
            return rc;
        }

        for (k = 0; k < chunk; k++) {
            rcs[i + k] = res[k];

            if (res[k] != AW_RPC_OK) {
                continue;
            }

            if (json_is_null(results[k])) {
                rcs[i + k] = AW_RPC_NOT_FOUND;

            } else {
                rcs[i + k] = aw_rpc_parse_block(rpc, results[k],
                                                &blocks[i + k]);
            }

            json_decref(results[k]);
        }
    }

    return AW_RPC_OK;
}


int
aw_rpc_get_transaction(aw_rpc_t *rpc, const aw_hash_t *hash, aw_eth_tx_t *tx)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, "eth_getTransactionByHash",
                     json_pack("[o]", aw_rpc_hex_json(hash->b, 32)), &r);

    if (rc == AW_RPC_OK) {
        rc = json_is_null(r) ? AW_RPC_NOT_FOUND
                             : aw_rpc_parse_tx(rpc, r, tx);
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_get_receipt(aw_rpc_t *rpc, const aw_hash_t *hash,
    aw_eth_receipt_t *receipt)
{
    int  rc, one;

    rc = aw_rpc_get_receipts(rpc, hash, 1, receipt, &one);

    return rc == AW_RPC_OK ? one : rc;
}


/*
 * The receipts of n transactions, batched; rcs[i]: AW_RPC_OK,
 * AW_RPC_NOT_FOUND (unknown or pending) or an error.  Free each receipt
 * whose rc is AW_RPC_OK with aw_eth_receipt_free().
 */

int
aw_rpc_get_receipts(aw_rpc_t *rpc, const aw_hash_t *hashes, size_t n,
    aw_eth_receipt_t *receipts, int *rcs)
{
    int          rc, res[256];
    size_t       i, k, chunk;
    json_t      *params[256], *results[256];
    const char  *methods[256];

    for (i = 0; i < n; i++) {
        memset(&receipts[i], 0, sizeof(aw_eth_receipt_t));
        rcs[i] = AW_RPC_ETRANSPORT;
    }

    for (i = 0; i < n; i += chunk) {
        chunk = aw_min(n - i, aw_min(rpc->batch_max, 256));

        for (k = 0; k < chunk; k++) {
            methods[k] = "eth_getTransactionReceipt";
            params[k] = json_pack("[o]", aw_rpc_hex_json(hashes[i + k].b, 32));
        }

        rc = aw_rpc_batch(rpc, chunk, methods, params, results, res);

        if (rc != AW_RPC_OK) {
            for (k = 0; k < i; k++) {
                if (rcs[k] == AW_RPC_OK) {
                    aw_eth_receipt_free(&receipts[k]);
                }

                rcs[k] = rc;
            }

            return rc;
        }

        for (k = 0; k < chunk; k++) {
            rcs[i + k] = res[k];

            if (res[k] != AW_RPC_OK) {
                continue;
            }

            if (json_is_null(results[k])) {
                rcs[i + k] = AW_RPC_NOT_FOUND;

            } else {
                rcs[i + k] = aw_rpc_parse_receipt(rpc, results[k],
                                                  &receipts[i + k]);
            }

            json_decref(results[k]);
        }
    }

    return AW_RPC_OK;
}


int
aw_rpc_get_logs(aw_rpc_t *rpc, const aw_eth_filter_t *f, aw_eth_log_t **logs,
    size_t *nlogs)
{
    int       rc;
    size_t    i;
    json_t   *filter, *addrs, *topics, *r;

    *logs = NULL;
    *nlogs = 0;

    filter = json_pack("{s:o, s:o}", "fromBlock",
                       aw_rpc_qty_json(f->from_block), "toBlock",
                       aw_rpc_qty_json(f->to_block));

    if (filter == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    if (f->naddresses) {
        addrs = json_array();

        for (i = 0; i < f->naddresses; i++) {
            json_array_append_new(addrs,
                                  aw_rpc_hex_json(f->addresses[i].b, 20));
        }

        json_object_set_new(filter, "address", addrs);
    }

    if (f->ntopics) {
        topics = json_array();

        for (i = 0; i < f->ntopics && i < AW_RPC_MAX_TOPICS; i++) {
            json_array_append_new(topics, f->topics[i]
                                  ? aw_rpc_hex_json(f->topics[i]->b, 32)
                                  : json_null());
        }

        json_object_set_new(filter, "topics", topics);
    }

    rc = aw_rpc_call(rpc, "eth_getLogs", json_pack("[o]", filter), &r);

    if (rc == AW_RPC_OK) {
        rc = aw_rpc_parse_logs(rpc, r, logs, nlogs);
    }

    json_decref(r);

    return rc;
}


/*
 * balanceOf(owner) of an ERC-20 token, at the latest block.
 */

int
aw_rpc_erc20_balance(aw_rpc_t *rpc, const aw_addr_t *token,
    const aw_addr_t *owner, aw_u256_t *balance)
{
    uint8_t  data[4 + 32];

    /* keccak256("balanceOf(address)")[0..4], the owner as a 32-byte word */
    memcpy(data, "\x70\xa0\x82\x31", 4);
    memset(data + 4, 0, 12);
    memcpy(data + 16, owner->b, 20);

    return aw_rpc_call_word(rpc, token, data, sizeof(data), balance);
}


/* eth_call at "latest" of a view that returns one 32-byte word */

int
aw_rpc_call_word(aw_rpc_t *rpc, const aw_addr_t *to, const uint8_t *data,
    size_t len, aw_u256_t *word)
{
    int          rc;
    json_t      *r;
    const char  *s;

    rc = aw_rpc_call(rpc, "eth_call",
                     json_pack("[{s:o, s:o}, s]",
                               "to", aw_rpc_hex_json(to->b, 20),
                               "data", aw_rpc_hex_json(data, len),
                               "latest"), &r);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    s = json_string_value(r);

    if (s == NULL || aw_eth_parse_bytes(s, 32, word->b) != AW_OK) {
        /* "0x" from an address without code, or anything but one word */
        rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_call: the result is "
                         "not one 32-byte word (is %s a contract of that "
                         "kind?)", s ? s : "?");
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_nonce(aw_rpc_t *rpc, const aw_addr_t *account, uint64_t *nonce)
{
    return aw_rpc_quantity(rpc, "eth_getTransactionCount",
                           json_pack("[o, s]",
                                     aw_rpc_hex_json(account->b, 20),
                                     "pending"), nonce);
}


int
aw_rpc_fees(aw_rpc_t *rpc, aw_u256_t *max_fee, aw_u256_t *tip)
{
    int          i, rc, carry;
    json_t      *r;
    aw_u256_t    base;
    const char  *s;

    rc = aw_rpc_call(rpc, "eth_getBlockByNumber",
                     json_pack("[s, b]", "latest", 0), &r);
    if (rc != AW_RPC_OK) {
        return rc;
    }

    s = json_string_value(json_object_get(r, "baseFeePerGas"));

    if (s == NULL || axon_quantity_parse_u256(base.b, s) != AXON_OK
        || base.b[0] >= 0x40)
    {
        json_decref(r);
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_getBlockByNumber: "
                           "no baseFeePerGas (is the chain past London?)");
    }

    json_decref(r);

    rc = aw_rpc_call(rpc, "eth_maxPriorityFeePerGas", NULL, &r);

    if (rc == AW_RPC_ERPC) {
        /* 1 gwei */
        memset(tip->b, 0, 32);
        tip->b[28] = 0x3b;
        tip->b[29] = 0x9a;
        tip->b[30] = 0xca;
        tip->b[31] = 0x00;

    } else if (rc != AW_RPC_OK) {
        return rc;

    } else {
        s = json_string_value(r);

        if (s == NULL || axon_quantity_parse_u256(tip->b, s) != AXON_OK
            || tip->b[0] >= 0x40)
        {
            json_decref(r);
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED,
                               "eth_maxPriorityFeePerGas: the result is not "
                               "a quantity");
        }

        json_decref(r);
    }

    /* max_fee = 2 * base + tip: both below 2^254, no overflow */
    carry = 0;

    for (i = 31; i >= 0; i--) {
        carry += 2 * base.b[i] + tip->b[i];
        max_fee->b[i] = (uint8_t) carry;
        carry >>= 8;
    }

    return AW_RPC_OK;
}


int
aw_rpc_estimate_gas(aw_rpc_t *rpc, const aw_addr_t *from,
    const aw_addr_t *to, const uint8_t *data, size_t len, uint64_t *gas)
{
    return aw_rpc_quantity(rpc, "eth_estimateGas",
                           json_pack("[{s:o, s:o, s:o}]",
                                     "from", aw_rpc_hex_json(from->b, 20),
                                     "to", aw_rpc_hex_json(to->b, 20),
                                     "data", aw_rpc_hex_json(data, len)),
                           gas);
}


int
aw_rpc_send_raw(aw_rpc_t *rpc, const uint8_t *raw, size_t len)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, "eth_sendRawTransaction",
                     json_pack("[o]", aw_rpc_hex_json(raw, len)), &r);

    if (rc == AW_RPC_ERPC
        && (strstr(rpc->error, "already known") != NULL
            || strstr(rpc->error, "known transaction") != NULL))
    {
        return AW_RPC_OK;
    }

    json_decref(r);

    return rc;
}


void
aw_eth_receipt_free(aw_eth_receipt_t *receipt)
{
    aw_eth_logs_free(receipt->logs, receipt->nlogs);
    receipt->logs = NULL;
    receipt->nlogs = 0;
}


void
aw_eth_logs_free(aw_eth_log_t *logs, size_t n)
{
    size_t  i;

    for (i = 0; logs && i < n; i++) {
        free(logs[i].data);
    }

    free(logs);
}


/* ---- parsing ------------------------------------------------------------ */


/* DATA of exactly len bytes: "0x" and 2 * len hex digits */

int
aw_eth_parse_bytes(const char *s, size_t len, uint8_t *out)
{
    if (s[0] != '0' || s[1] != 'x') {
        return AW_ERROR;
    }

    return axon_hex_decode(out, len, s, strlen(s)) == AXON_OK
           ? AW_OK : AW_ERROR;
}


char *
aw_eth_hex(char *buf, const uint8_t *p, size_t n)
{
    buf[0] = '0';
    buf[1] = 'x';
    axon_hex_encode(buf + 2, p, n);
    buf[2 + 2 * n] = '\0';

    return buf;
}


static json_t *
aw_rpc_hex_json(const uint8_t *p, size_t n)
{
    char    *buf;
    json_t  *j;

    buf = malloc(3 + 2 * n);
    if (buf == NULL) {
        return NULL;
    }

    j = json_string(aw_eth_hex(buf, p, n));
    free(buf);

    return j;
}


static json_t *
aw_rpc_qty_json(uint64_t v)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long) v);

    return json_string(buf);
}


static int
aw_rpc_qty(aw_rpc_t *rpc, json_t *obj, const char *field, uint64_t *v)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, field));

    if (s == NULL || axon_quantity_parse_u64(v, s) != AXON_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not a "
                           "quantity", field);
    }

    return AW_RPC_OK;
}


static int
aw_rpc_hash(aw_rpc_t *rpc, json_t *obj, const char *field, aw_hash_t *h)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, field));

    if (s == NULL || aw_eth_parse_bytes(s, 32, h->b) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not a 32-byte "
                           "hash", field);
    }

    return AW_RPC_OK;
}


/* returns AW_RPC_NOT_FOUND for a null the field may be */

static int
aw_rpc_addr(aw_rpc_t *rpc, json_t *obj, const char *field, aw_addr_t *a,
    int nullable)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(obj, field);

    if (nullable && (v == NULL || json_is_null(v))) {
        memset(a, 0, sizeof(aw_addr_t));
        return AW_RPC_NOT_FOUND;
    }

    s = json_string_value(v);

    if (s == NULL || aw_eth_parse_bytes(s, 20, a->b) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not an "
                           "address", field);
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_block(aw_rpc_t *rpc, json_t *j, aw_eth_block_t *b)
{
    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a block is not an "
                           "object");
    }

    if (aw_rpc_qty(rpc, j, "number", &b->number) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "timestamp", &b->timestamp) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "hash", &b->hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "parentHash", &b->parent_hash) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_tx(aw_rpc_t *rpc, json_t *j, aw_eth_tx_t *tx)
{
    int          rc;
    json_t      *bn;
    const char  *s;

    memset(tx, 0, sizeof(aw_eth_tx_t));

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a transaction is not an "
                           "object");
    }

    if (aw_rpc_hash(rpc, j, "hash", &tx->hash) != AW_RPC_OK
        || aw_rpc_addr(rpc, j, "from", &tx->from, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "nonce", &tx->nonce) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    rc = aw_rpc_addr(rpc, j, "to", &tx->to, 1);

    if (rc == AW_RPC_EMALFORMED) {
        return rc;
    }

    tx->has_to = (rc == AW_RPC_OK);

    s = json_string_value(json_object_get(j, "value"));

    if (s == NULL || axon_quantity_parse_u256(tx->value.b, s) != AXON_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"value\" is not a "
                           "256-bit quantity");
    }

    bn = json_object_get(j, "blockNumber");

    if (bn == NULL || json_is_null(bn)) {
        tx->pending = 1;
        return AW_RPC_OK;
    }

    if (aw_rpc_qty(rpc, j, "blockNumber", &tx->block_number) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &tx->block_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &tx->index) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_receipt(aw_rpc_t *rpc, json_t *j, aw_eth_receipt_t *r)
{
    int       rc;
    uint64_t  status;

    memset(r, 0, sizeof(aw_eth_receipt_t));

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a receipt is not an "
                           "object");
    }

    if (aw_rpc_hash(rpc, j, "transactionHash", &r->tx_hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &r->block_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "blockNumber", &r->block_number) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &r->tx_index) != AW_RPC_OK
        || aw_rpc_addr(rpc, j, "from", &r->from, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "status", &status) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    if (status > 1) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"status\" is neither "
                           "0x0 nor 0x1");
    }

    r->status = (unsigned) status;

    rc = aw_rpc_addr(rpc, j, "to", &r->to, 1);

    if (rc == AW_RPC_EMALFORMED) {
        return rc;
    }

    r->has_to = (rc == AW_RPC_OK);

    return aw_rpc_parse_logs(rpc, json_object_get(j, "logs"), &r->logs,
                             &r->nlogs);
}


static int
aw_rpc_parse_logs(aw_rpc_t *rpc, json_t *j, aw_eth_log_t **logs, size_t *n)
{
    size_t         i;
    aw_eth_log_t  *l;

    *logs = NULL;
    *n = 0;

    if (!json_is_array(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"logs\" is not an "
                           "array");
    }

    if (json_array_size(j) == 0) {
        return AW_RPC_OK;
    }

    l = calloc(json_array_size(j), sizeof(aw_eth_log_t));
    if (l == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    for (i = 0; i < json_array_size(j); i++) {
        if (aw_rpc_parse_log(rpc, json_array_get(j, i), &l[i]) != AW_RPC_OK) {
            aw_eth_logs_free(l, i + 1);
            return rpc->rc;
        }
    }

    *logs = l;
    *n = i;

    return AW_RPC_OK;
}


static int
aw_rpc_parse_log(aw_rpc_t *rpc, json_t *j, aw_eth_log_t *log)
{
    size_t       i, len;
    json_t      *topics, *removed;
    const char  *s;

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a log is not an object");
    }

    if (aw_rpc_addr(rpc, j, "address", &log->address, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "blockNumber", &log->block_number) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &log->block_hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "transactionHash", &log->tx_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &log->tx_index)
           != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "logIndex", &log->log_index) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    topics = json_object_get(j, "topics");

    if (!json_is_array(topics) || json_array_size(topics) > AW_RPC_MAX_TOPICS)
    {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"topics\" is not an "
                           "array of at most %d", AW_RPC_MAX_TOPICS);
    }

    for (i = 0; i < json_array_size(topics); i++) {
        s = json_string_value(json_array_get(topics, i));

        if (s == NULL || aw_eth_parse_bytes(s, 32, log->topics[i].b) != AW_OK)
        {
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a topic is not a "
                               "32-byte hash");
        }
    }

    log->ntopics = (unsigned) i;

    s = json_string_value(json_object_get(j, "data"));
    len = s ? strlen(s) : 0;

    if (s == NULL || len < 2 || len % 2) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"data\" is not hex "
                           "bytes");
    }

    log->data_len = (len - 2) / 2;

    if (log->data_len) {
        log->data = malloc(log->data_len);

        if (log->data == NULL) {
            return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
        }

        if (aw_eth_parse_bytes(s, log->data_len, log->data) != AW_OK) {
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"data\" is not hex "
                               "bytes");
        }
    }

    removed = json_object_get(j, "removed");

    if (removed && !json_is_boolean(removed)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"removed\" is not a "
                           "boolean");
    }

    log->removed = json_is_true(removed);

    return AW_RPC_OK;
}
