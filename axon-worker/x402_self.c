
/*
 * axon-worker: x402 self-settlement (x402_settle self): the gas wallet sends
 * transferWithAuthorization itself.  The transaction is signed with a nonce
 * drawn under the gas account's row lock and committed (row 'sent', raw
 * bytes) BEFORE it is broadcast; a retry sends the same bytes again and
 * looks for the receipt (see x402.c for the flow).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_eth.h"
#include "axon_tx.h"
#include "log.h"
#include "worker.h"
#include "x402.h"


static size_t aw_x402_calldata(aw_x402_t *x, uint8_t *buf, size_t cap);
static aw_x402_outcome_e aw_x402_send(aw_x402_t *x);
static int aw_x402_sign(aw_db_t *db, void *data);
static void aw_x402_unsend(aw_x402_t *x);


/* keccak256 of the signatures, as selectors */

static const uint8_t  aw_x402_sel_vrs[4] = { 0xe3, 0xee, 0x16, 0x0e };
    /* transferWithAuthorization(address,address,uint256,uint256,uint256,
       bytes32,uint8,bytes32,bytes32) */
static const uint8_t  aw_x402_sel_bytes[4] = { 0xcf, 0x09, 0x29, 0x95 };
    /* transferWithAuthorization(address,address,uint256,uint256,uint256,
       bytes32,bytes) */


/* the calldata of transferWithAuthorization, into buf (at least 4 + 9*32) */

static size_t
aw_x402_calldata(aw_x402_t *x, uint8_t *buf, size_t cap)
{
    size_t    n, padded;
    uint8_t  *p;

    p = buf;
    memset(buf, 0, cap);

    if (x->siglen == 65) {
        memcpy(p, aw_x402_sel_vrs, 4);
    } else {
        memcpy(p, aw_x402_sel_bytes, 4);
    }

    p += 4;
    memcpy(p + 12, x->auth.from, 20);
    p += 32;
    memcpy(p + 12, x->auth.to, 20);
    p += 32;
    memcpy(p, x->auth.value, 32);
    p += 32;
    memcpy(p, x->auth.valid_after, 32);
    p += 32;
    memcpy(p, x->auth.valid_before, 32);
    p += 32;
    memcpy(p, x->auth.nonce, 32);
    p += 32;

    if (x->siglen == 65) {
        /* v, r, s; v 27/28 (or 0/1, which the token does not take) */
        p[31] = x->sig[64] < 27 ? (uint8_t) (x->sig[64] + 27) : x->sig[64];
        p += 32;
        memcpy(p, x->sig, 32);
        p += 32;
        memcpy(p, x->sig + 32, 32);
        p += 32;

        return (size_t) (p - buf);
    }

    /* bytes: the offset (7 words), the length, the data padded */
    padded = (x->siglen + 31) / 32 * 32;
    n = 4 + 7 * 32 + 32 + padded;

    if (n > cap) {
        return 0;
    }

    p[31] = 7 * 32;
    p += 32;
    p[30] = (uint8_t) (x->siglen >> 8);
    p[31] = (uint8_t) x->siglen;
    p += 32;
    memcpy(p, x->sig, x->siglen);

    return n;
}


typedef struct {
    aw_x402_t        *x;
    axon_signer_t    *signer;
    const uint8_t    *data;
    size_t            len;
    uint64_t          pending;
    uint64_t          gas;
    aw_u256_t         max_fee;
    aw_u256_t         tip;
    char              err[256];
} aw_x402_sign_t;


/* settlement by our own transaction */

aw_x402_outcome_e
aw_x402_self(aw_x402_t *x)
{
    int                rc;
    uint8_t            data[4 + 9 * 32 + 256 + 32];
    size_t             len;
    aw_rpc_t          *rpc;
    aw_addr_t          gas;
    aw_x402_sign_t     s;

    rpc = &aw_worker.rpc;

    if (strcmp(x->state, "sent") == 0 && x->rawlen > 0) {
        /* sent before: the same bytes again (a node may have lost them) */
        return aw_x402_send(x);
    }

    memset(&s, 0, sizeof(s));
    s.x = x;

    s.signer = axon_signer_create(aw_worker.conf->x402_gas_key);
    if (s.signer == NULL) {
        return aw_x402_later(x, "the gas key cannot sign (out of memory?)");
    }

    memcpy(gas.b, axon_signer_address(s.signer), 20);

    len = aw_x402_calldata(x, data, sizeof(data));
    s.data = data;
    s.len = len;

    if (len == 0) {
        axon_signer_destroy(s.signer);
        return aw_x402_fail(x, "invalid_exact_evm_signature", "the signature "
                            "is too long");
    }

    /* the simulation: a revert says why it cannot settle */

    rc = aw_rpc_estimate_gas(rpc, &gas, &x->asset, data, len, &s.gas);

    if (rc == AW_RPC_ERPC) {
        axon_signer_destroy(s.signer);
        return aw_x402_diagnose(x, rpc->error);
    }

    if (rc == AW_RPC_OK) {
        rc = aw_rpc_fees(rpc, &s.max_fee, &s.tip);
    }

    if (rc == AW_RPC_OK) {
        rc = aw_rpc_nonce(rpc, &gas, &s.pending);
    }

    if (rc != AW_RPC_OK) {
        axon_signer_destroy(s.signer);
        /* nothing was sent: final, the agent pays again later */
        return aw_x402_fail(x, "settlement_unavailable", "the chain node "
                            "failed: %s", rpc->error);
    }

    s.gas += s.gas / 5;     /* estimates are tight; unused gas is kept */

    rc = aw_db_txn(&aw_worker.db, NULL, aw_x402_sign, &s);
    axon_signer_destroy(s.signer);

    if (rc != AW_OK) {
        return aw_x402_later(x, "recording the transaction: %s",
                             s.err[0] ? s.err : aw_worker.db.error);
    }

    strcpy(x->state, "sent");

    aw_log(AW_LOG_INFO, "sending %s (gas account nonce %lld)", x->tx,
           (long long) x->gas_nonce);

    return aw_x402_send(x);
}


/*
 * Our signed transaction to the node (again, after a retry: "already
 * known" is sent), then its receipt.
 */

static aw_x402_outcome_e
aw_x402_send(aw_x402_t *x)
{
    int                rc;
    aw_rpc_t          *rpc;
    aw_x402_outcome_e  o;

    rpc = &aw_worker.rpc;

    rc = aw_rpc_send_raw(rpc, x->raw, x->rawlen);

    if (rc == AW_RPC_ERPC) {
        if (strstr(rpc->error, "nonce too low") != NULL) {
            o = aw_x402_receipt(x);
            if (o != AW_X402_LATER) {
                return o;
            }

            /* the nonce went to another transaction: sign again */
            aw_x402_unsend(x);
            return aw_x402_later(x, "gas account nonce %lld was used by "
                                 "another transaction; signing again",
                                 (long long) x->gas_nonce);
        }

        /* refused (no gas money, fee too low...): nothing was sent */
        aw_log(AW_LOG_ERR, "the node refused %s: %s", x->tx, rpc->error);
        aw_x402_unsend(x);
        x->tx[0] = '\0';
        return aw_x402_fail(x, "settlement_failed", "the node refused the "
                            "transaction: %s", rpc->error);
    }

    /* sent, or unknown (transport): the receipt tells; a retry resends */

    return aw_x402_receipt(x);
}


/*
 * In one transaction: the gas account's next nonce (the node's pending
 * count, or ours if greater: sent transactions it has not seen yet), the
 * transaction signed with it, and the row 'sent' with its bytes.
 */

static int
aw_x402_sign(aw_db_t *db, void *data)
{
    aw_x402_sign_t  *s = data;

    int             rc;
    char            gas[43], pending[24], nonce[24], hash_s[67];
    char           *raw_s;
    size_t          raw_len;
    uint8_t         hash[32];
    PGresult       *pg;
    aw_x402_t      *x;
    const char     *params[6];
    axon_tx1559_t   tx;

    x = s->x;

    aw_eth_hex(gas, axon_signer_address(s->signer), 20);
    snprintf(pending, sizeof(pending), "%llu",
             (unsigned long long) s->pending);

    params[0] = gas;
    params[1] = pending;

    pg = aw_db_query(db, "INSERT INTO x402_gas_accounts AS g (address,"
                     " next_nonce) VALUES ($1, $2::bigint + 1)"
                     " ON CONFLICT (address) DO UPDATE"
                     " SET next_nonce = greatest(g.next_nonce,"
                     " $2::bigint) + 1"
                     " RETURNING next_nonce - 1 AS nonce", 2, params);
    if (pg == NULL) {
        return AW_ERROR;
    }

    x->gas_nonce = atoll(aw_db_get(pg, 0, "nonce"));
    PQclear(pg);

    memset(&tx, 0, sizeof(tx));
    tx.chain_id = (uint64_t) aw_worker.conf->eth_chain_id;
    tx.nonce = (uint64_t) x->gas_nonce;
    memcpy(tx.max_priority_fee, s->tip.b, 32);
    memcpy(tx.max_fee, s->max_fee.b, 32);
    tx.gas_limit = s->gas;
    memcpy(tx.to, x->asset.b, 20);
    tx.data = s->data;
    tx.data_len = s->len;

    rc = axon_tx1559_sign(s->signer, &tx, x->raw, sizeof(x->raw),
                          &x->rawlen, hash);
    if (rc != AXON_OK) {
        snprintf(s->err, sizeof(s->err), "signing failed (%d)", rc);
        return AW_ERROR;
    }

    aw_eth_hex(hash_s, hash, 32);

    raw_s = (char *) PQescapeByteaConn(db->conn, x->raw, x->rawlen,
                                       &raw_len);
    if (raw_s == NULL) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        return AW_ERROR;
    }

    snprintf(nonce, sizeof(nonce), "%lld", (long long) x->gas_nonce);

    params[0] = x->nonce;
    params[1] = hash_s;
    params[2] = raw_s;
    params[3] = gas;
    params[4] = nonce;
    params[5] = x->payer;

    /* sent_txs: every transaction of ours, which alone can settle it */
    pg = aw_db_query(db, "UPDATE x402_payments SET state = 'sent',"
                     " tx_hash = $2::text, raw_tx = $3::bytea,"
                     " gas_account = $4, gas_nonce = $5::bigint,"
                     " sent_txs = array_append(sent_txs, $2::text)"
                     " WHERE nonce = $1 AND payer = $6 AND state = 'new'"
                     " RETURNING 1", 6, params);
    PQfreemem(raw_s);

    if (pg == NULL) {
        return AW_ERROR;
    }

    rc = PQntuples(pg) == 1 ? AW_OK : AW_ERROR;
    PQclear(pg);

    if (rc != AW_OK) {
        snprintf(s->err, sizeof(s->err), "the payment is no longer new "
                 "(another worker?)");
        return AW_ERROR;
    }

    strcpy(x->tx, hash_s);

    return AW_OK;
}


/*
 * Sent, not taken by the node: the row back to 'new' and, if no later
 * nonce was drawn meanwhile, the gas account's nonce with it.
 */

static void
aw_x402_unsend(aw_x402_t *x)
{
    char         nonce[24];
    PGresult    *pg;
    const char  *params[3];

    snprintf(nonce, sizeof(nonce), "%lld", (long long) x->gas_nonce);

    params[0] = x->nonce;
    params[1] = nonce;
    params[2] = x->payer;

    pg = aw_db_query(&aw_worker.db, "WITH p AS (UPDATE x402_payments"
                     " SET state = 'new', tx_hash = NULL, raw_tx = NULL,"
                     " gas_nonce = NULL"
                     " WHERE nonce = $1 AND payer = $3 AND state = 'sent'"
                     " RETURNING gas_account)"
                     " UPDATE x402_gas_accounts g SET next_nonce = $2::bigint"
                     " FROM p WHERE g.address = p.gas_account"
                     " AND g.next_nonce = $2::bigint + 1", 3, params);
    PQclear(pg);

    strcpy(x->state, "new");
    x->rawlen = 0;
}
