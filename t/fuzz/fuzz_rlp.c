
/*
 * libFuzzer: RLP as libaxon writes it (axon_tx.h), and the EIP-1559
 * transactions the worker signs with it.
 *
 * libaxon has no RLP reader: the input is read here by a strict one (the
 * yellow paper's canonical form), written again with axon_rlp_*() and must
 * come back byte for byte; into a buffer too small, the writer must say
 * so and write nothing past it.  Every string that is a canonical integer
 * must encode the same through axon_rlp_uint() and axon_rlp_be().  An
 * input that reads as an EIP-1559 transaction's fields (optionally after
 * the 0x02 type, signed or not) is signed by axon_tx1559_sign(), and the
 * signed transaction must carry the same fields and the signature that
 * axon_ecrecover() traces back to the signer.
 */


#include "fuzz.h"

#include "axon_eth.h"
#include "axon_tx.h"


#define FZ_DEPTH  64
#define FZ_SPANS  16


typedef struct {
    const uint8_t  *p;
    size_t          n;
} fz_span_t;


static axon_signer_t  *fz_signer;


static void fz_ints(const uint8_t *p, size_t n);


/*
 * One item at p[0 .. n): its length in *used, written into r; the
 * top list's items in spans (when not NULL).  -1 when not canonical.
 */

static int
fz_item(const uint8_t *p, size_t n, size_t *used, axon_rlp_t *r, int depth,
    fz_span_t *spans, size_t *nspans)
{
    size_t   hlen, len, i, k, start;
    uint8_t  h;

    if (n == 0 || depth > FZ_DEPTH) {
        return -1;
    }

    if (p[0] < 0x80) {
        axon_rlp_bytes(r, p, 1);
        *used = 1;
        return 0;
    }

    if (p[0] <= 0xb7 || (p[0] >= 0xc0 && p[0] <= 0xf7)) {
        hlen = 1;
        len = p[0] - (p[0] < 0xc0 ? 0x80 : 0xc0);

    } else {
        k = p[0] - (p[0] < 0xc0 ? 0xb7 : 0xf7);

        if (n < 1 + k || p[1] == 0 || k > sizeof(size_t)) {
            return -1;
        }

        len = 0;
        for (i = 0; i < k; i++) {
            len = len << 8 | p[1 + i];
        }

        if (len <= 55) {
            return -1;
        }

        hlen = 1 + k;
    }

    if (len > n - hlen) {
        return -1;
    }

    h = p[0];
    p += hlen;
    *used = hlen + len;

    if (h < 0xc0) {
        /* a string: one byte below 0x80 has no header */

        if (len == 1 && p[0] < 0x80) {
            return -1;
        }

        axon_rlp_bytes(r, p, len);
        fz_ints(p, len);

        return 0;
    }

    start = axon_rlp_list_begin(r);

    for (i = 0; i < len; i += k) {
        if (spans && *nspans < FZ_SPANS) {
            spans[*nspans].p = p + i;
        }

        if (fz_item(p + i, len - i, &k, r, depth + 1, NULL, NULL) != 0) {
            return -1;
        }

        if (spans && *nspans < FZ_SPANS) {
            spans[(*nspans)++].n = k;
        }
    }

    axon_rlp_list_end(r, start);

    return 0;
}


/* a string read as an integer: axon_rlp_uint() and axon_rlp_be() agree */

static void
fz_ints(const uint8_t *p, size_t n)
{
    uint8_t     a[48], b[48], pad[40];
    size_t      i;
    uint64_t    v;
    axon_rlp_t  ra, rb;

    if (n > 32 || (n > 0 && p[0] == 0)) {
        return;
    }

    axon_rlp_init(&ra, a, sizeof(a));
    axon_rlp_bytes(&ra, p, n);
    FZ_ASSERT(!ra.err);

    /* leading zeros are stripped */
    memset(pad, 0, sizeof(pad));
    memcpy(pad + (sizeof(pad) - n), p, n);

    axon_rlp_init(&rb, b, sizeof(b));
    axon_rlp_be(&rb, pad, sizeof(pad));
    FZ_ASSERT(!rb.err && rb.len == ra.len && memcmp(a, b, ra.len) == 0);

    if (n <= 8) {
        v = 0;
        for (i = 0; i < n; i++) {
            v = v << 8 | p[i];
        }

        axon_rlp_init(&rb, b, sizeof(b));
        axon_rlp_uint(&rb, v);
        FZ_ASSERT(!rb.err && rb.len == ra.len && memcmp(a, b, ra.len) == 0);
    }
}


static int
fz_u64(const fz_span_t *s, uint64_t *v)
{
    size_t  i, h;

    /* a short string's header is one byte; a single byte below 0x80 none */
    h = (s->p[0] < 0x80) ? 0 : 1;

    /* integers are canonical: no leading zero byte */
    if (s->n - h > 8 || s->p[0] >= 0xb8 || (s->n > h && s->p[h] == 0)) {
        return -1;
    }

    *v = 0;
    for (i = h; i < s->n; i++) {
        *v = *v << 8 | s->p[i];
    }

    return 0;
}


static int
fz_be(const fz_span_t *s, uint8_t *out, size_t size, int exact)
{
    size_t  h, n;

    h = (s->p[0] < 0x80) ? 0 : 1;
    n = s->n - h;

    if (s->p[0] >= 0xb8 || n > size || (exact && n != size)
        || (!exact && n > 0 && s->p[h] == 0))
    {
        return -1;
    }

    memset(out, 0, size);
    memcpy(out + (size - n), s->p + h, n);

    return 0;
}


/* the fields of an EIP-1559 transaction, signed by the fuzzer's key */

static void
fz_tx(const fz_span_t *f, size_t nf)
{
    int            rc;
    size_t         len, used, i, h;
    uint8_t        out[4096], hash[32], digest[32], sig[65], addr[20];
    uint8_t        copy[4096], data[4096];
    fz_span_t      g[FZ_SPANS];
    size_t         ng;
    uint64_t       v;
    axon_rlp_t     r;
    axon_tx1559_t  tx;

    if ((nf != 9 && nf != 12) || f[8].n != 1 || f[8].p[0] != 0xc0) {
        return;     /* not the fields, or an access list it does not write */
    }

    memset(&tx, 0, sizeof(tx));

    if (fz_u64(&f[0], &tx.chain_id) != 0 || fz_u64(&f[1], &tx.nonce) != 0
        || fz_be(&f[2], tx.max_priority_fee, 32, 0) != 0
        || fz_be(&f[3], tx.max_fee, 32, 0) != 0
        || fz_u64(&f[4], &tx.gas_limit) != 0
        || fz_be(&f[5], tx.to, 20, 1) != 0
        || fz_be(&f[6], tx.value, 32, 0) != 0)
    {
        return;
    }

    /* data: any string */

    if (f[7].p[0] < 0x80) {
        data[0] = f[7].p[0];
        tx.data_len = 1;

    } else if (f[7].p[0] < 0xc0) {
        h = f[7].p[0] <= 0xb7 ? 1 : 1 + (f[7].p[0] - 0xb7);

        if (f[7].n - h > sizeof(data)) {
            return;
        }

        tx.data_len = f[7].n - h;
        memcpy(data, f[7].p + h, tx.data_len);

    } else {
        return;
    }

    tx.data = data;

    rc = axon_tx1559_sign(fz_signer, &tx, out, sizeof(out), &len, hash);

    if (rc != AXON_OK) {
        FZ_ASSERT(rc == AXON_ERR_LEN);
        return;
    }

    FZ_ASSERT(len > 1 && len <= sizeof(out) && out[0] == 0x02);
    axon_keccak256(digest, out, len);
    FZ_ASSERT(memcmp(digest, hash, 32) == 0);

    /* the signed transaction reads back: the same 9 fields, v, r, s */

    ng = 0;
    axon_rlp_init(&r, copy, sizeof(copy));
    FZ_ASSERT(fz_item(out + 1, len - 1, &used, &r, 0, g, &ng) == 0);
    FZ_ASSERT(used == len - 1 && !r.err && r.len == used);
    FZ_ASSERT(memcmp(copy, out + 1, used) == 0);
    FZ_ASSERT(ng == 12);

    for (i = 0; i < 9; i++) {
        FZ_ASSERT(g[i].n == f[i].n && memcmp(g[i].p, f[i].p, f[i].n) == 0);
    }

    /* r || s || v recovers the signer over the unsigned fields' hash */

    FZ_ASSERT(fz_be(&g[10], sig, 32, 0) == 0);
    FZ_ASSERT(fz_be(&g[11], sig + 32, 32, 0) == 0);
    FZ_ASSERT(fz_u64(&g[9], &v) == 0 && v <= 1);
    sig[64] = (uint8_t) v;

    {
    uint8_t     unsigned_tx[4096];
    size_t      list;
    axon_rlp_t  u;

    unsigned_tx[0] = 0x02;
    axon_rlp_init(&u, unsigned_tx + 1, sizeof(unsigned_tx) - 1);
    list = axon_rlp_list_begin(&u);

    for (i = 0; i < 9; i++) {
        size_t  k;

        FZ_ASSERT(fz_item(g[i].p, g[i].n, &k, &u, 1, NULL, NULL) == 0);
    }

    axon_rlp_list_end(&u, list);
    FZ_ASSERT(!u.err);

    axon_keccak256(digest, unsigned_tx, u.len + 1);
    }

    FZ_ASSERT(axon_ecrecover(addr, digest, sig) == AXON_OK);
    FZ_ASSERT(memcmp(addr, axon_signer_address(fz_signer), 20) == 0);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t  key[32];

    /* ganache's first deterministic account */
    FZ_ASSERT(axon_hex_decode(key, 32, "4f3edf983ac636a65a842ce7c78d9aa70"
                              "6d3b113bce9c46f30d7d21715b23b1d", 64)
              == AXON_OK);

    fz_signer = axon_signer_create(key);
    FZ_ASSERT(fz_signer != NULL);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    size_t           used, nspans, cap, used2;
    uint8_t         *buf, *small;
    const uint8_t   *p;
    fz_span_t        spans[FZ_SPANS];
    axon_rlp_t       r, rs;

    p = data;

    if (size > 0 && p[0] == 0x02) {
        p++;
        size--;
    }

    buf = malloc(size ? size : 1);
    FZ_ASSERT(buf != NULL);

    nspans = 0;
    axon_rlp_init(&r, buf, size);
    rc = fz_item(p, size, &used, &r, 0, spans, &nspans);

    if (rc == 0 && used == size) {
        /* canonical: written again, the same bytes */
        FZ_ASSERT(!r.err && r.len == size && memcmp(buf, p, size) == 0);

        /* a buffer one byte or more too small: err, nothing past it */
        cap = size > 0 ? (size - 1) / (1 + (p[size - 1] & 3)) : 0;
        small = malloc(cap ? cap : 1);
        FZ_ASSERT(small != NULL);
        axon_rlp_init(&rs, small, cap);
        nspans = 0;
        (void) fz_item(p, size, &used2, &rs, 0, NULL, NULL);
        FZ_ASSERT(rs.err);
        free(small);

        nspans = 0;
        axon_rlp_init(&r, buf, size);
        (void) fz_item(p, size, &used, &r, 0, spans, &nspans);

        if (p[0] >= 0xc0) {
            fz_tx(spans, nspans);
        }
    }

    free(buf);

    return 0;
}
