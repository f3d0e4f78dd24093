
/*
 * axon: RLP, EIP-1559 transactions and a signer (see axon_tx.h).
 */


#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "axon_eth.h"
#include "axon_tx.h"


struct axon_signer_s {
    secp256k1_context  *ctx;
    uint8_t             key[32];
    uint8_t             addr[20];
};


static void axon_rlp_put(axon_rlp_t *r, const uint8_t *p, size_t n);
static void axon_rlp_header(axon_rlp_t *r, uint8_t base, size_t n);
static size_t axon_be_len(uint64_t v);
static void axon_tx1559_fields(axon_rlp_t *r, const axon_tx1559_t *tx);


void
axon_rlp_init(axon_rlp_t *r, uint8_t *buf, size_t cap)
{
    r->buf = buf;
    r->cap = cap;
    r->len = 0;
    r->err = 0;
}


void
axon_rlp_bytes(axon_rlp_t *r, const uint8_t *p, size_t n)
{
    if (n == 1 && p[0] < 0x80) {
        axon_rlp_put(r, p, 1);
        return;
    }

    axon_rlp_header(r, 0x80, n);
    axon_rlp_put(r, p, n);
}


void
axon_rlp_uint(axon_rlp_t *r, uint64_t v)
{
    int      i;
    uint8_t  be[8];

    for (i = 7; i >= 0; i--) {
        be[i] = (uint8_t) v;
        v >>= 8;
    }

    axon_rlp_be(r, be, 8);
}


void
axon_rlp_be(axon_rlp_t *r, const uint8_t *p, size_t n)
{
    while (n && p[0] == 0) {
        p++;
        n--;
    }

    axon_rlp_bytes(r, p, n);        /* zero is the empty string */
}


size_t
axon_rlp_list_begin(axon_rlp_t *r)
{
    return r->len;
}


void
axon_rlp_list_end(axon_rlp_t *r, size_t start)
{
    size_t  n, hlen;

    if (r->err) {
        return;
    }

    n = r->len - start;
    hlen = n <= 55 ? 1 : 1 + axon_be_len(n);

    if (r->len + hlen > r->cap) {
        r->err = 1;
        return;
    }

    memmove(r->buf + start + hlen, r->buf + start, n);

    /* the header, written at start */
    r->len = start;
    axon_rlp_header(r, 0xc0, n);
    r->len = start + hlen + n;
}


static void
axon_rlp_put(axon_rlp_t *r, const uint8_t *p, size_t n)
{
    if (r->err || n > r->cap - r->len) {
        r->err = 1;
        return;
    }

    if (n) {
        memcpy(r->buf + r->len, p, n);
    }

    r->len += n;
}


/* 0x80/0xc0 + n, or 0xb7/0xf7 + the length of n, then n big-endian */

static void
axon_rlp_header(axon_rlp_t *r, uint8_t base, size_t n)
{
    size_t   i, k;
    uint8_t  h[9];

    if (n <= 55) {
        h[0] = (uint8_t) (base + n);
        axon_rlp_put(r, h, 1);
        return;
    }

    k = axon_be_len(n);
    h[0] = (uint8_t) (base + 55 + k);

    for (i = 0; i < k; i++) {
        h[k - i] = (uint8_t) (n >> (8 * i));
    }

    axon_rlp_put(r, h, 1 + k);
}


static size_t
axon_be_len(uint64_t v)
{
    size_t  n;

    for (n = 0; v; v >>= 8) {
        n++;
    }

    return n;
}


axon_signer_t *
axon_signer_create(const uint8_t seckey[32])
{
    size_t             len;
    uint8_t            seed[32], pub[65];
    axon_signer_t     *s;
    secp256k1_pubkey   pk;

    s = calloc(1, sizeof(axon_signer_t));
    if (s == NULL) {
        return NULL;
    }

    s->ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (s->ctx == NULL) {
        free(s);
        return NULL;
    }

    if (getrandom(seed, sizeof(seed), 0) != (ssize_t) sizeof(seed)
        || !secp256k1_context_randomize(s->ctx, seed)
        || !secp256k1_ec_seckey_verify(s->ctx, seckey)
        || !secp256k1_ec_pubkey_create(s->ctx, &pk, seckey))
    {
        axon_signer_destroy(s);
        return NULL;
    }

    len = sizeof(pub);
    secp256k1_ec_pubkey_serialize(s->ctx, pub, &len, &pk,
                                  SECP256K1_EC_UNCOMPRESSED);
    axon_address_from_pubkey(s->addr, pub + 1);
    memcpy(s->key, seckey, 32);

    return s;
}


void
axon_signer_destroy(axon_signer_t *s)
{
    volatile uint8_t  *p;
    size_t             i;

    if (s == NULL) {
        return;
    }

    p = s->key;

    for (i = 0; i < sizeof(s->key); i++) {
        p[i] = 0;
    }

    secp256k1_context_destroy(s->ctx);
    free(s);
}


const uint8_t *
axon_signer_address(const axon_signer_t *s)
{
    return s->addr;
}


int
axon_sign_hash(axon_signer_t *s, const uint8_t hash[32], uint8_t sig[65])
{
    int                                 recid;
    secp256k1_ecdsa_recoverable_signature  rs;

    /* RFC 6979 nonces; libsecp256k1 signs low-s */
    if (!secp256k1_ecdsa_sign_recoverable(s->ctx, &rs, hash, s->key, NULL,
                                          NULL)
        || !secp256k1_ecdsa_recoverable_signature_serialize_compact(
               s->ctx, sig, &recid, &rs))
    {
        return AXON_ERR_SIG_INVALID;
    }

    sig[64] = (uint8_t) (27 + recid);

    return AXON_OK;
}


int
axon_tx1559_sign(axon_signer_t *s, const axon_tx1559_t *tx, uint8_t *out,
    size_t cap, size_t *len, uint8_t hash[32])
{
    int          rc;
    size_t       list;
    uint8_t      sig[65], parity;
    axon_rlp_t   r;

    if (cap < 1) {
        return AXON_ERR_LEN;
    }

    /* the signing hash: keccak256(0x02 || rlp([fields...])) */

    out[0] = 0x02;
    axon_rlp_init(&r, out + 1, cap - 1);
    list = axon_rlp_list_begin(&r);
    axon_tx1559_fields(&r, tx);
    axon_rlp_list_end(&r, list);

    if (r.err) {
        return AXON_ERR_LEN;
    }

    axon_keccak256(hash, out, 1 + r.len);

    rc = axon_sign_hash(s, hash, sig);
    if (rc != AXON_OK) {
        return rc;
    }

    /* the transaction: 0x02 || rlp([fields..., y_parity, r, s]) */

    parity = (uint8_t) (sig[64] - 27);

    axon_rlp_init(&r, out + 1, cap - 1);
    list = axon_rlp_list_begin(&r);
    axon_tx1559_fields(&r, tx);
    axon_rlp_uint(&r, parity);
    axon_rlp_be(&r, sig, 32);
    axon_rlp_be(&r, sig + 32, 32);
    axon_rlp_list_end(&r, list);

    if (r.err) {
        return AXON_ERR_LEN;
    }

    *len = 1 + r.len;
    axon_keccak256(hash, out, *len);

    return AXON_OK;
}


static void
axon_tx1559_fields(axon_rlp_t *r, const axon_tx1559_t *tx)
{
    size_t  empty;

    axon_rlp_uint(r, tx->chain_id);
    axon_rlp_uint(r, tx->nonce);
    axon_rlp_be(r, tx->max_priority_fee, 32);
    axon_rlp_be(r, tx->max_fee, 32);
    axon_rlp_uint(r, tx->gas_limit);
    axon_rlp_bytes(r, tx->to, 20);
    axon_rlp_be(r, tx->value, 32);
    axon_rlp_bytes(r, tx->data, tx->data_len);

    empty = axon_rlp_list_begin(r);                 /* no access list */
    axon_rlp_list_end(r, empty);
}
