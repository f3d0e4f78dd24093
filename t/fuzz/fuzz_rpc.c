
/*
 * libFuzzer: the worker's JSON-RPC client (axon-worker/rpc.c and eth.c)
 * reading what an Ethereum node answers: the HTTP body as JSON, the JSON-RPC envelope
 * (ids, result or error, batches matched by id), blocks, transactions,
 * receipts, logs, quantities, fees, eth_call words, the "already known"
 * of eth_sendRawTransaction, the eth_chainId check and failover.
 *
 * rpc.c is included here with libcurl's transfer calls replaced: each
 * curl_easy_perform() hands the next answer of the input to rpc.c's write
 * callback, as a node would over HTTP.  No network.
 *
 * Input: OP, then answers separated by NUL bytes (JSON holds none).  OP
 * picks the call (and whether the chain id is checked first); an answer
 * that starts with '!' is a transport error, one with '#' an HTTP 500.
 * Request ids are 1, 2, ... in each run, as a fresh client numbers them.
 */


#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "fuzz.h"


static CURLcode fz_curl_reset(CURL *c);
static CURLcode fz_curl_setopt(CURL *c, CURLoption opt, ...);
static CURLcode fz_curl_perform(CURL *c);
static CURLcode fz_curl_getinfo(CURL *c, CURLINFO info, ...);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_reset    (void) fz_curl_reset
#define curl_easy_setopt   fz_curl_setopt
#define curl_easy_perform  fz_curl_perform
#define curl_easy_getinfo  fz_curl_getinfo

#include "../../axon-worker/rpc.c"
#include "eth.h"

#undef curl_easy_reset
#undef curl_easy_setopt
#undef curl_easy_perform
#undef curl_easy_getinfo


static struct {
    const uint8_t   *p;             /* the answers not yet given */
    size_t           n;
    int              more;          /* a NUL ended the last one */
    curl_write_callback  write;
    void            *data;
    long             status;
} fz;


static CURLcode
fz_curl_reset(CURL *c)
{
    fz.write = NULL;
    fz.data = NULL;

    return CURLE_OK;
}


static CURLcode
fz_curl_setopt(CURL *c, CURLoption opt, ...)
{
    va_list  args;

    va_start(args, opt);

    if (opt == CURLOPT_WRITEFUNCTION) {
        fz.write = va_arg(args, curl_write_callback);

    } else if (opt == CURLOPT_WRITEDATA) {
        fz.data = va_arg(args, void *);
    }

    va_end(args);

    return CURLE_OK;
}


static CURLcode
fz_curl_perform(CURL *c)
{
    size_t          len, k, chunk;
    const uint8_t  *z, *p;

    if (fz.n == 0 && !fz.more) {
        return CURLE_COULDNT_CONNECT;
    }

    z = memchr(fz.p, '\0', fz.n);
    p = fz.p;
    len = z ? (size_t) (z - fz.p) : fz.n;

    fz.p += len + (z != NULL);
    fz.n -= len + (z != NULL);
    fz.more = (z != NULL);

    fz.status = 200;

    if (len > 0 && p[0] == '!') {
        return CURLE_OPERATION_TIMEDOUT;
    }

    if (len > 0 && p[0] == '#') {
        fz.status = 500;
    }

    FZ_ASSERT(fz.write != NULL);

    /* in pieces, as curl hands a body over */

    for (k = 0; k < len; k += chunk) {
        chunk = len - k < 7 ? len - k : 7 + (p[k] & 63);
        chunk = chunk < len - k ? chunk : len - k;

        if (fz.write((char *) p + k, 1, chunk, fz.data) != chunk) {
            return CURLE_WRITE_ERROR;
        }
    }

    return CURLE_OK;
}


static CURLcode
fz_curl_getinfo(CURL *c, CURLINFO info, ...)
{
    va_list  args;

    va_start(args, info);

    if (info == CURLINFO_RESPONSE_CODE) {
        *va_arg(args, long *) = fz.status;
    }

    va_end(args);

    return CURLE_OK;
}


static aw_rpc_t  fz_rpc;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    aw_log_level = -1;      /* rpc.c's notices: not a line a run */

    aw_rpc_init(&fz_rpc, "eth");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                rc, rcs[4];
    size_t             i, n, nlogs;
    uint8_t            op;
    uint64_t           u;
    aw_rpc_t          *rpc;
    aw_u256_t          w, tip;
    aw_hash_t          hashes[4];
    aw_addr_t          addr[2];
    aw_eth_tx_t        tx;
    aw_eth_log_t      *logs;
    aw_eth_block_t     blocks[4];
    aw_eth_filter_t    filter;
    aw_eth_receipt_t   receipts[4];
    json_t            *result;
    static const uint8_t  word[4] = { 0x70, 0xa0, 0x82, 0x31 };

    if (size == 0) {
        return 0;
    }

    op = data[0];
    fz.p = data + 1;
    fz.n = size - 1;
    fz.more = 0;

    /* two URLs, both up: a failure fails over to the other, once each */

    rpc = &fz_rpc;
    FZ_ASSERT(aw_rpc_configure(rpc, "http://a.invalid, http://b.invalid",
                               1000, (op & 0x80) ? 1337 : 0, 1 + (op >> 5 & 3),
                               0, 0)
              == AW_OK);

    rpc->next_id = 1;

    for (i = 0; i < rpc->nurls; i++) {
        rpc->urls[i].backoff.next = 0;
    }

    memset(hashes, 0x11, sizeof(hashes));
    memset(addr, 0x22, sizeof(addr));
    n = 1 + (op >> 3 & 3);

    switch (op & 7) {

    case 0:
        rc = aw_rpc_block_number(rpc, &u);
        break;

    case 1:
        rc = aw_rpc_get_blocks(rpc, 5, n, blocks, rcs);
        break;

    case 2:
        rc = aw_rpc_get_transaction(rpc, &hashes[0], &tx);
        break;

    case 3:
        rc = aw_rpc_get_receipts(rpc, hashes, n, receipts, rcs);

        for (i = 0; rc == AW_RPC_OK && i < n; i++) {
            if (rcs[i] == AW_RPC_OK) {
                FZ_ASSERT(receipts[i].nlogs == 0 || receipts[i].logs);
                aw_eth_receipt_free(&receipts[i]);
            }
        }

        break;

    case 4:
        memset(&filter, 0, sizeof(filter));
        filter.from_block = 1;
        filter.to_block = 9;
        filter.addresses = addr;
        filter.naddresses = 2;
        filter.topics[0] = &hashes[0];
        filter.ntopics = 1;

        rc = aw_rpc_get_logs(rpc, &filter, &logs, &nlogs);

        if (rc == AW_RPC_OK) {
            for (i = 0; i < nlogs; i++) {
                FZ_ASSERT(logs[i].ntopics <= AW_RPC_MAX_TOPICS);
                FZ_ASSERT(logs[i].data_len == 0 || logs[i].data);
            }

            aw_eth_logs_free(logs, nlogs);
        }

        break;

    case 5:
        rc = aw_rpc_fees(rpc, &w, &tip);
        break;

    case 6:
        rc = aw_rpc_call_word(rpc, &addr[0], word, sizeof(word), &w);

        if (rc == AW_RPC_OK) {
            rc = aw_rpc_nonce(rpc, &addr[0], &u);
        }

        break;

    default:
        rc = aw_rpc_send_raw(rpc, word, sizeof(word));

        if (rc == AW_RPC_OK || rc == AW_RPC_ERPC) {
            rc = aw_rpc_estimate_gas(rpc, &addr[0], &addr[1], word,
                                     sizeof(word), &u);
        }

        if (aw_rpc_call(rpc, "eth_chainId", NULL, &result) == AW_RPC_OK) {
            json_decref(result);
        }

        break;
    }

    FZ_ASSERT(rc >= AW_RPC_OK && rc <= AW_RPC_EOFF);

    if (rc != AW_RPC_OK) {
        FZ_ASSERT(rpc->error[0] != '\0');
    }

    return 0;
}
