/*
 * axon-rpc: the worker's JSON-RPC client (axon-worker/rpc.c) on the
 * command line, with the worker's configuration: for an operator to check
 * eth_rpc_url and eth_chain_id, and for the tests, which compare its
 * output with what ethers sees on the same node.
 *
 *   axon-rpc [-c FILE] [-u URLS] [-i CHAIN_ID] [-T MSEC] [-r N] CMD ARGS
 *
 * Each result is one line of JSON on stdout; a failure is
 * {"error": TYPE, "message": TEXT} (TYPE from aw_rpc_strerror()), exit 1
 * (78 for the wrong chain).  Quantities are JSON integers, amounts decimal
 * strings, hashes, addresses and data lowercase 0x-hex.
 */


#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "axon_eth.h"
#include "axon_tx.h"
#include "axon_u256.h"
#include "config.h"
#include "core.h"
#include "eth.h"
#include "log.h"


/* CMD with its number of arguments, CMD included */

typedef struct {
    const char  *name;
    int          min_args;
    int          max_args;
    int        (*run)(aw_rpc_t *rpc, int argc, char **argv, json_t **out);
} aw_tool_cmd_t;


static json_t *aw_tool_block(const aw_eth_block_t *b);
static json_t *aw_tool_tx(const aw_eth_tx_t *tx);
static json_t *aw_tool_receipt(const aw_eth_receipt_t *r);
static json_t *aw_tool_log(const aw_eth_log_t *l);
static json_t *aw_tool_hex(const uint8_t *p, size_t n);
static json_t *aw_tool_error(aw_rpc_t *rpc, int rc);
static int aw_tool_hash(const char *s, aw_hash_t *h);
static int aw_tool_addr(const char *s, aw_addr_t *a);
static void aw_tool_usage(void);
static int aw_tool_run(aw_rpc_t *rpc, int argc, char **argv, json_t **out);
static int aw_tool_single(json_t **out, int *rcs);
static axon_signer_t *aw_tool_signer(const char *path);
static int aw_tool_wait(aw_rpc_t *rpc, aw_hash_t *h,
    aw_eth_receipt_t *receipt);

static int aw_tool_chain_id(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_block_number(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_blocks(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_get_tx(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_receipts(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_logs(aw_rpc_t *rpc, int argc, char **argv, json_t **out);
static int aw_tool_scan(aw_rpc_t *rpc, int argc, char **argv, json_t **out);
static int aw_tool_filter(int argc, char **argv, aw_eth_filter_t *filter,
    aw_addr_t addrs[16], aw_hash_t topics[AW_RPC_MAX_TOPICS]);
static int aw_tool_balance(aw_rpc_t *rpc, int argc, char **argv,
    json_t **out);
static int aw_tool_call(aw_rpc_t *rpc, int argc, char **argv, json_t **out);
static int aw_tool_send(aw_rpc_t *rpc, int argc, char **argv, json_t **out);


static const aw_tool_cmd_t  aw_tool_cmds[] = {
    { "chain-id",     1, 1,       aw_tool_chain_id },
    { "block-number", 1, 1,       aw_tool_block_number },
    { "block",        2, 2,       aw_tool_blocks },
    { "blocks",       3, 3,       aw_tool_blocks },
    { "tx",           2, 2,       aw_tool_get_tx },
    { "receipt",      2, 2,       aw_tool_receipts },
    { "receipts",     2, INT_MAX, aw_tool_receipts },
    { "logs",         4, 4 + 4,   aw_tool_logs },
    { "scan",         5, 5 + 4,   aw_tool_scan },
    { "balance",      3, 3,       aw_tool_balance },
    { "call",         2, 3,       aw_tool_call },
    { "send",         4, 5,       aw_tool_send },
    { NULL,           0, 0,       NULL }
};


int
main(int argc, char **argv)
{
    int          c, rc, repeat, i, exit_code;
    char        *urls, *end, err[1024];
    json_t      *out;
    uint64_t     chain_id;
    aw_rpc_t     rpc;
    aw_conf_t   *conf;
    aw_msec_t    timeout;
    const char  *path;

    path = NULL;
    urls = NULL;
    chain_id = 0;
    timeout = 0;
    repeat = 1;

    while ((c = getopt(argc, argv, "+c:u:i:T:r:h")) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'u': urls = optarg; break;
        case 'i': chain_id = strtoull(optarg, &end, 10); break;
        case 'T': timeout = strtoll(optarg, &end, 10); break;
        case 'r': repeat = atoi(optarg); break;
        default: aw_tool_usage(); return AW_EXIT_CONFIG;
        }
    }

    if (optind >= argc) {
        aw_tool_usage();
        return AW_EXIT_CONFIG;
    }

    conf = aw_conf_load(path, err, sizeof(err));

    if (conf == NULL) {
        fprintf(stderr, "axon-rpc: %s\n", err);
        return AW_EXIT_CONFIG;
    }

    aw_log_level = conf->log_level;
    aw_random_init();

    if (aw_rpc_global_init() != AW_OK) {
        aw_conf_free(conf);
        return AW_EXIT_FAILURE;
    }

    aw_rpc_init(&rpc, "eth");

    (void) aw_rpc_configure(&rpc, urls ? urls : conf->eth_rpc_url,
                            timeout ? timeout : conf->eth_rpc_timeout,
                            chain_id ? chain_id
                                     : (uint64_t) conf->eth_chain_id,
                            (unsigned) conf->eth_rpc_batch_max,
                            conf->reconnect_min, conf->reconnect_max);

    exit_code = AW_EXIT_OK;

    for (i = 0; i < repeat; i++) {
        rc = aw_tool_run(&rpc, argc - optind, argv + optind, &out);

        if (rc == -1) {
            aw_tool_usage();
            exit_code = AW_EXIT_CONFIG;
            break;
        }

        if (rc != AW_RPC_OK) {
            json_decref(out);
            out = aw_tool_error(&rpc, rc);
            exit_code = rc == AW_RPC_ECHAIN ? AW_EXIT_CONFIG
                                            : AW_EXIT_FAILURE;
        }

        json_dumpf(out, stdout, JSON_COMPACT);
        printf("\n");
        fflush(stdout);
        json_decref(out);
    }

    aw_rpc_free(&rpc);
    aw_rpc_global_cleanup();
    aw_conf_free(conf);

    return exit_code;
}


static void
aw_tool_usage(void)
{
    fprintf(stderr,
"usage: axon-rpc [-c FILE] [-u URLS] [-i CHAIN_ID] [-T MSEC] [-r N] CMD ARGS\n"
"\n"
"  -c FILE       the worker's configuration (eth_rpc_url, eth_chain_id, ...)\n"
"  -u URLS       eth_rpc_url instead (comma-separated)\n"
"  -i CHAIN_ID   eth_chain_id instead\n"
"  -T MSEC       eth_rpc_timeout instead\n"
"  -r N          run CMD N times on the same client (failover, backoff)\n"
"\n"
"  chain-id | block-number\n"
"  block N | blocks FIRST COUNT              (one batch request)\n"
"  tx HASH | receipt HASH | receipts HASH... (one batch request)\n"
"  logs FROM TO ADDRESS[,ADDRESS...] [TOPIC|- ...]\n"
"  scan FROM TO RANGE ADDRESS[,ADDRESS...] [TOPIC|- ...]\n"
"                                            (eth_getLogs of FROM..TO in\n"
"                                            ranges of RANGE blocks, one\n"
"                                            after another: counts, time)\n"
"  balance TOKEN OWNER                       (ERC-20 balanceOf, latest)\n"
"  call METHOD [PARAMS_JSON]                 (any call, raw result)\n"
"  send KEY_FILE TO DATA [WEI]               (sign an EIP-1559 transaction\n"
"                                            with the key in KEY_FILE, send\n"
"                                            it, wait for its receipt)\n");
}


/*
 * The commands: each gets argc and argv from CMD on, argc within the
 * table's bounds, and returns an AW_RPC_* code, or -1 for bad arguments.
 */

static int
aw_tool_run(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    const aw_tool_cmd_t  *c;

    *out = NULL;

    for (c = aw_tool_cmds; c->name; c++) {
        if (strcmp(argv[0], c->name) == 0
            && argc >= c->min_args && argc <= c->max_args)
        {
            return c->run(rpc, argc, argv, out);
        }
    }

    return -1;
}


static int
aw_tool_chain_id(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int       rc;
    uint64_t  v;

    rc = aw_rpc_chain_id(rpc, &v);
    *out = json_pack("{s:I}", "chain_id", (json_int_t) v);

    return rc;
}


static int
aw_tool_block_number(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int       rc;
    uint64_t  v;

    rc = aw_rpc_block_number(rpc, &v);
    *out = json_pack("{s:I}", "block_number", (json_int_t) v);

    return rc;
}


/* "block" and "receipt" answer with the one result of a batch of one */

static int
aw_tool_single(json_t **out, int *rcs)
{
    json_t  *result;

    result = json_incref(json_array_get(*out, 0));
    json_decref(*out);
    *out = result;

    return rcs[0];
}


static int
aw_tool_blocks(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int              rc, *rcs;
    char            *end;
    size_t           i, n;
    uint64_t         first;
    aw_eth_block_t  *blocks;

    first = strtoull(argv[1], &end, 10);
    n = argc == 3 ? strtoull(argv[2], &end, 10) : 1;

    if (n == 0 || n > 10000) {
        return -1;
    }

    blocks = calloc(n, sizeof(aw_eth_block_t));
    rcs = calloc(n, sizeof(int));

    rc = aw_rpc_get_blocks(rpc, first, n, blocks, rcs);

    if (rc == AW_RPC_OK) {
        *out = json_array();

        for (i = 0; i < n; i++) {
            json_array_append_new(*out, rcs[i] == AW_RPC_OK
                                  ? aw_tool_block(&blocks[i])
                                  : aw_tool_error(rpc, rcs[i]));
        }

        if (argc == 2) {
            rc = aw_tool_single(out, rcs);
        }
    }

    free(blocks);
    free(rcs);
    return rc;
}


static int
aw_tool_get_tx(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int          rc;
    aw_hash_t    hash;
    aw_eth_tx_t  tx;

    if (aw_tool_hash(argv[1], &hash) != AW_OK) {
        return -1;
    }

    rc = aw_rpc_get_transaction(rpc, &hash, &tx);

    if (rc == AW_RPC_OK) {
        *out = aw_tool_tx(&tx);
    }

    return rc;
}


static int
aw_tool_receipts(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int                rc, *rcs;
    size_t             i, n;
    aw_hash_t         *hashes;
    aw_eth_receipt_t  *receipts;

    n = argc - 1;
    hashes = calloc(n, sizeof(aw_hash_t));
    receipts = calloc(n, sizeof(aw_eth_receipt_t));
    rcs = calloc(n, sizeof(int));

    for (i = 0; i < n; i++) {
        if (aw_tool_hash(argv[1 + i], &hashes[i]) != AW_OK) {
            free(hashes);
            free(receipts);
            free(rcs);
            return -1;
        }
    }

    rc = aw_rpc_get_receipts(rpc, hashes, n, receipts, rcs);

    if (rc == AW_RPC_OK) {
        *out = json_array();

        for (i = 0; i < n; i++) {
            json_array_append_new(*out, rcs[i] == AW_RPC_OK
                                  ? aw_tool_receipt(&receipts[i])
                                  : aw_tool_error(rpc, rcs[i]));

            if (rcs[i] == AW_RPC_OK) {
                aw_eth_receipt_free(&receipts[i]);
            }
        }

        if (strcmp(argv[0], "receipt") == 0) {
            rc = aw_tool_single(out, rcs);
        }
    }

    free(hashes);
    free(receipts);
    free(rcs);
    return rc;
}


static int
aw_tool_logs(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int               rc;
    char             *end;
    size_t            i, n;
    aw_hash_t         topics[AW_RPC_MAX_TOPICS];
    aw_addr_t         addrs[16];
    aw_eth_log_t     *logs;
    aw_eth_filter_t   filter;

    if (aw_tool_filter(argc - 3, argv + 3, &filter, addrs, topics) != AW_OK) {
        return -1;
    }

    filter.from_block = strtoull(argv[1], &end, 10);
    filter.to_block = strtoull(argv[2], &end, 10);

    rc = aw_rpc_get_logs(rpc, &filter, &logs, &n);

    if (rc == AW_RPC_OK) {
        *out = json_array();

        for (i = 0; i < n; i++) {
            json_array_append_new(*out, aw_tool_log(&logs[i]));
        }

        aw_eth_logs_free(logs, n);
    }

    return rc;
}


/*
 * The cost of reading logs as an indexer reads them, with nothing else
 * timed: eth_getLogs of FROM..TO in ranges of RANGE blocks, one call after
 * another on this client, each answer parsed into its logs (then freed).
 * The client's first call (the connection, the chain id check) is made
 * before, by eth_blockNumber, as an indexer's is before it scans.  Prints
 * {"blocks", "ranges", "logs", "us"}: the microseconds those calls took.
 */

static int
aw_tool_scan(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int               rc;
    char             *end;
    size_t            n, total, ranges;
    uint64_t          from, to, range, head;
    aw_hash_t         topics[AW_RPC_MAX_TOPICS];
    aw_addr_t         addrs[16];
    aw_eth_log_t     *logs;
    aw_eth_filter_t   filter;
    struct timespec   t0, t1;

    from = strtoull(argv[1], &end, 10);
    to = strtoull(argv[2], &end, 10);
    range = strtoull(argv[3], &end, 10);

    if (range == 0 || to < from
        || aw_tool_filter(argc - 4, argv + 4, &filter, addrs, topics)
           != AW_OK)
    {
        return -1;
    }

    rc = aw_rpc_block_number(rpc, &head);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    total = 0;
    ranges = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (filter.from_block = from; filter.from_block <= to;
         filter.from_block += range)
    {
        filter.to_block = filter.from_block + range - 1 < to
                          ? filter.from_block + range - 1 : to;

        rc = aw_rpc_get_logs(rpc, &filter, &logs, &n);

        if (rc != AW_RPC_OK) {
            return rc;
        }

        aw_eth_logs_free(logs, n);
        total += n;
        ranges++;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);

    *out = json_pack("{s:I, s:I, s:I, s:I}",
                     "blocks", (json_int_t) (to - from + 1),
                     "ranges", (json_int_t) ranges,
                     "logs", (json_int_t) total,
                     "us", (json_int_t) (t1.tv_sec - t0.tv_sec) * 1000000
                           + (t1.tv_nsec - t0.tv_nsec) / 1000);

    return AW_RPC_OK;
}


/* ADDRESS[,ADDRESS...] [TOPIC|- ...] (argv[0], ...) as a filter's */

static int
aw_tool_filter(int argc, char **argv, aw_eth_filter_t *filter,
    aw_addr_t addrs[16], aw_hash_t topics[AW_RPC_MAX_TOPICS])
{
    int      i;
    char    *list, *p, *save;
    size_t   naddrs;

    memset(filter, 0, sizeof(*filter));

    list = strdup(argv[0]);
    if (list == NULL) {
        return AW_ERROR;
    }

    naddrs = 0;

    for (p = strtok_r(list, ",", &save); p && naddrs < 16;
         p = strtok_r(NULL, ",", &save))
    {
        if (aw_tool_addr(p, &addrs[naddrs++]) != AW_OK) {
            free(list);
            return AW_ERROR;
        }
    }

    free(list);

    filter->addresses = addrs;
    filter->naddresses = naddrs;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            filter->topics[i - 1] = NULL;

        } else if (aw_tool_hash(argv[i], &topics[i - 1]) == AW_OK) {
            filter->topics[i - 1] = &topics[i - 1];

        } else {
            return AW_ERROR;
        }

        filter->ntopics++;
    }

    return AW_OK;
}


static int
aw_tool_balance(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int        rc;
    char       dec[80];
    aw_addr_t  token, owner;
    aw_u256_t  balance;

    if (aw_tool_addr(argv[1], &token) != AW_OK
        || aw_tool_addr(argv[2], &owner) != AW_OK)
    {
        return -1;
    }

    rc = aw_rpc_erc20_balance(rpc, &token, &owner, &balance);

    if (rc == AW_RPC_OK) {
        axon_uint256_format(dec, balance.b);
        *out = json_pack("{s:s}", "balance", dec);
    }

    return rc;
}


static int
aw_tool_call(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int           rc;
    json_t       *params, *result;
    json_error_t  jerr;

    params = NULL;

    if (argc == 3) {
        params = json_loads(argv[2], 0, &jerr);

        if (!json_is_array(params)) {
            json_decref(params);
            return -1;
        }
    }

    rc = aw_rpc_call(rpc, argv[1], params, &result);

    if (rc == AW_RPC_OK) {
        *out = json_pack("{s:o}", "result", result);
    }

    return rc;
}


/*
 * send KEY_FILE TO DATA [WEI]: what the worker's gas wallet does for x402
 * settlement, by hand: the next nonce, EIP-1559 fees, the gas estimate plus
 * a fifth, signed here (libaxon/axon_tx.c), sent, and its receipt waited
 * for (eth_rpc_timeout x 10 at most).
 */

static int
aw_tool_send(aw_rpc_t *rpc, int argc, char **argv, json_t **out)
{
    int                rc;
    size_t             len, datalen;
    uint8_t            raw[4096], hash[32], *data;
    uint64_t           chain_id;
    aw_addr_t          from, to;
    aw_hash_t          h;
    axon_signer_t     *signer;
    axon_tx1559_t      tx;
    aw_eth_receipt_t   receipt;

    signer = aw_tool_signer(argv[1]);

    if (signer == NULL) {
        return -1;
    }

    memset(&tx, 0, sizeof(tx));
    memcpy(from.b, axon_signer_address(signer), 20);

    datalen = strlen(argv[3]) >= 2 ? (strlen(argv[3]) - 2) / 2 : 0;
    data = malloc(datalen + 1);

    if (data == NULL
        || aw_tool_addr(argv[2], &to) != AW_OK
        || strncmp(argv[3], "0x", 2) != 0
        || axon_hex_decode(data, datalen, argv[3], strlen(argv[3]))
           != AXON_OK
        || (argc == 5 && axon_quantity_parse_u256(tx.value, argv[4])
                         != AXON_OK))
    {
        free(data);
        axon_signer_destroy(signer);
        return -1;
    }

    memcpy(tx.to, to.b, 20);
    tx.data = data;
    tx.data_len = datalen;

    rc = aw_rpc_chain_id(rpc, &chain_id);
    if (rc == AW_RPC_OK) {
        rc = aw_rpc_nonce(rpc, &from, &tx.nonce);
    }
    if (rc == AW_RPC_OK) {
        rc = aw_rpc_fees(rpc, (aw_u256_t *) tx.max_fee,
                         (aw_u256_t *) tx.max_priority_fee);
    }
    if (rc == AW_RPC_OK) {
        rc = aw_rpc_estimate_gas(rpc, &from, &to, data, datalen,
                                 &tx.gas_limit);
    }

    if (rc != AW_RPC_OK) {
        goto done;
    }

    tx.chain_id = chain_id;
    tx.gas_limit += tx.gas_limit / 5;

    if (axon_tx1559_sign(signer, &tx, raw, sizeof(raw), &len, hash)
        != AXON_OK)
    {
        rc = -1;
        goto done;
    }

    rc = aw_rpc_send_raw(rpc, raw, len);
    if (rc != AW_RPC_OK) {
        goto done;
    }

    memcpy(h.b, hash, 32);

    rc = aw_tool_wait(rpc, &h, &receipt);

    if (rc == AW_RPC_OK) {
        *out = json_pack("{s:o, s:o, s:I, s:I, s:s}",
                         "hash", aw_tool_hex(hash, 32),
                         "from", aw_tool_hex(from.b, 20),
                         "nonce", (json_int_t) tx.nonce,
                         "block", (json_int_t) receipt.block_number,
                         "status", receipt.status ? "success" : "reverted");
        aw_eth_receipt_free(&receipt);
    }

done:

    free(data);
    axon_signer_destroy(signer);

    return rc;
}



/* the secret key in PATH, as 64 hex digits; NULL, said on stderr, if not */

static axon_signer_t *
aw_tool_signer(const char *path)
{
    char            keyhex[80];
    FILE           *f;
    size_t          len;
    uint8_t         key[32];
    axon_signer_t  *signer;

    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "axon-rpc: %s: %m\n", path);
        return NULL;
    }

    len = fread(keyhex, 1, sizeof(keyhex) - 1, f);
    fclose(f);

    while (len && (keyhex[len - 1] == '\n' || keyhex[len - 1] == ' ')) {
        len--;
    }

    if (axon_hex_decode(key, 32, keyhex, len) != AXON_OK) {
        fprintf(stderr, "axon-rpc: %s: not a 32-byte hex key\n", path);
        return NULL;
    }

    signer = axon_signer_create(key);
    memset(key, 0, sizeof(key));
    memset(keyhex, 0, sizeof(keyhex));

    if (signer == NULL) {
        fprintf(stderr, "axon-rpc: %s: not a secp256k1 secret key\n", path);
        return NULL;
    }

    return signer;
}


/* polls for the receipt of H, 100 times, eth_rpc_timeout / 10 apart */

static int
aw_tool_wait(aw_rpc_t *rpc, aw_hash_t *h, aw_eth_receipt_t *receipt)
{
    int  rc, i;

    rc = AW_RPC_NOT_FOUND;

    for (i = 0; i < 100; i++) {
        rc = aw_rpc_get_receipt(rpc, h, receipt);

        if (rc != AW_RPC_NOT_FOUND) {
            break;
        }

        usleep(rpc->timeout * 100);
    }

    return rc;
}


static json_t *
aw_tool_error(aw_rpc_t *rpc, int rc)
{
    json_t  *e;

    e = json_pack("{s:s, s:s}", "error", aw_rpc_strerror(rc), "message",
                  rc == AW_RPC_NOT_FOUND ? "null" : rpc->error);

    if (rc == AW_RPC_ERPC) {
        json_object_set_new(e, "code", json_integer(rpc->rpc_code));
    }

    return e;
}


static json_t *
aw_tool_hex(const uint8_t *p, size_t n)
{
    char    *buf;
    json_t  *j;

    buf = malloc(3 + 2 * n);
    j = json_string(aw_eth_hex(buf, p, n));
    free(buf);

    return j;
}


static json_t *
aw_tool_block(const aw_eth_block_t *b)
{
    return json_pack("{s:I, s:I, s:o, s:o}",
                     "number", (json_int_t) b->number,
                     "timestamp", (json_int_t) b->timestamp,
                     "hash", aw_tool_hex(b->hash.b, 32),
                     "parent_hash", aw_tool_hex(b->parent_hash.b, 32));
}


static json_t *
aw_tool_tx(const aw_eth_tx_t *tx)
{
    char     dec[80];
    json_t  *j;

    axon_uint256_format(dec, tx->value.b);

    j = json_pack("{s:o, s:o, s:o, s:s, s:I, s:b}",
                  "hash", aw_tool_hex(tx->hash.b, 32),
                  "from", aw_tool_hex(tx->from.b, 20),
                  "to", tx->has_to ? aw_tool_hex(tx->to.b, 20) : json_null(),
                  "value", dec,
                  "nonce", (json_int_t) tx->nonce,
                  "pending", (int) tx->pending);

    if (!tx->pending) {
        json_object_set_new(j, "block_number",
                            json_integer((json_int_t) tx->block_number));
        json_object_set_new(j, "block_hash",
                            aw_tool_hex(tx->block_hash.b, 32));
        json_object_set_new(j, "index", json_integer((json_int_t) tx->index));
    }

    return j;
}


static json_t *
aw_tool_receipt(const aw_eth_receipt_t *r)
{
    size_t   i;
    json_t  *logs;

    logs = json_array();

    for (i = 0; i < r->nlogs; i++) {
        json_array_append_new(logs, aw_tool_log(&r->logs[i]));
    }

    return json_pack("{s:o, s:o, s:I, s:I, s:o, s:o, s:i, s:o}",
                     "tx_hash", aw_tool_hex(r->tx_hash.b, 32),
                     "block_hash", aw_tool_hex(r->block_hash.b, 32),
                     "block_number", (json_int_t) r->block_number,
                     "tx_index", (json_int_t) r->tx_index,
                     "from", aw_tool_hex(r->from.b, 20),
                     "to", r->has_to ? aw_tool_hex(r->to.b, 20) : json_null(),
                     "status", (int) r->status,
                     "logs", logs);
}


static json_t *
aw_tool_log(const aw_eth_log_t *l)
{
    unsigned  i;
    json_t   *topics;

    topics = json_array();

    for (i = 0; i < l->ntopics; i++) {
        json_array_append_new(topics, aw_tool_hex(l->topics[i].b, 32));
    }

    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:I, s:b}",
                     "address", aw_tool_hex(l->address.b, 20),
                     "topics", topics,
                     "data", aw_tool_hex(l->data, l->data_len),
                     "block_number", (json_int_t) l->block_number,
                     "block_hash", aw_tool_hex(l->block_hash.b, 32),
                     "tx_hash", aw_tool_hex(l->tx_hash.b, 32),
                     "tx_index", (json_int_t) l->tx_index,
                     "log_index", (json_int_t) l->log_index,
                     "removed", (int) l->removed);
}


static int
aw_tool_hash(const char *s, aw_hash_t *h)
{
    return aw_eth_parse_bytes(s, 32, h->b);
}


static int
aw_tool_addr(const char *s, aw_addr_t *a)
{
    return aw_eth_parse_bytes(s, 20, a->b);
}
