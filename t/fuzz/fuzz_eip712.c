
/*
 * libFuzzer: EIP-712 hashing of EIP-3009 authorizations and the recovery
 * of their signer, as the module checks an x402 payment.
 *
 * Input, binary (short inputs are padded with zeros):
 *   NAMELEN VERSIONLEN FLAGS  (1 byte each)  NAME VERSION
 *   CHAIN_ID (8, big-endian)  CONTRACT (20)
 *   FROM (20) TO (20) VALUE VALID_AFTER VALID_BEFORE NONCE (32 each)
 *   SIGNATURE (65: r || s || v)  [SIGNATURE TEXT, the rest]
 * FLAGS bit 0: ReceiveWithAuthorization instead of Transfer.
 * The hashes must agree with each other; the signature is recovered from
 * its hex, with and without "0x", and from the text that follows.
 */


#include "fuzz.h"

#include "axon_eip712.h"


typedef struct {
    const uint8_t  *p;
    size_t          n;
} fz_in_t;


static void
fz_take(fz_in_t *in, void *dst, size_t n)
{
    size_t  k;

    k = in->n < n ? in->n : n;
    memcpy(dst, in->p, k);
    memset((uint8_t *) dst + k, 0, n - k);
    in->p += k;
    in->n -= k;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, rc2;
    char                 name[256], version[256], hex[2 + 130], dec[80];
    char                *text;
    uint8_t              hdr[3], chain[8], contract[20], sig[65];
    uint8_t              domain[32], sh[32], digest[32], digest2[32];
    uint8_t              signer[20], signer2[20], v[32];
    uint64_t             chain_id;
    size_t               i, n;
    fz_in_t              in;
    axon_eip3009_kind_e  kind;
    axon_eip3009_auth_t  a;

    in.p = data;
    in.n = size;

    fz_take(&in, hdr, 3);
    fz_take(&in, name, hdr[0]);
    fz_take(&in, version, hdr[1]);
    fz_take(&in, chain, 8);
    fz_take(&in, contract, 20);
    fz_take(&in, a.from, 20);
    fz_take(&in, a.to, 20);
    fz_take(&in, a.value, 32);
    fz_take(&in, a.valid_after, 32);
    fz_take(&in, a.valid_before, 32);
    fz_take(&in, a.nonce, 32);
    fz_take(&in, sig, 65);

    kind = (hdr[2] & 1) ? AXON_EIP3009_RECEIVE : AXON_EIP3009_TRANSFER;

    chain_id = 0;
    for (i = 0; i < 8; i++) {
        chain_id = chain_id << 8 | chain[i];
    }

    axon_eip712_domain_separator(domain, name, hdr[0], version, hdr[1],
                                 chain_id, contract);

    axon_eip3009_struct_hash(sh, kind, &a);
    axon_eip712_digest(digest, domain, sh);
    axon_eip3009_digest(digest2, domain, kind, &a);
    FZ_ASSERT(memcmp(digest, digest2, 32) == 0);

    /* the signature as the payload carries it: 0x and 130 hex digits */

    hex[0] = '0';
    hex[1] = 'x';
    axon_hex_encode(hex + 2, sig, 65);

    rc = axon_eip3009_recover(signer, domain, kind, &a, hex, sizeof(hex));
    rc2 = axon_eip3009_recover(signer2, domain, kind, &a, hex + 2,
                               sizeof(hex) - 2);
    FZ_ASSERT(rc == rc2);

    if (rc == AXON_OK) {
        FZ_ASSERT(memcmp(signer, signer2, 20) == 0);
        FZ_ASSERT(axon_ecrecover(signer2, digest, sig) == AXON_OK);
        FZ_ASSERT(memcmp(signer, signer2, 20) == 0);

    } else {
        FZ_ASSERT(rc == AXON_ERR_SIG_V || rc == AXON_ERR_SIG_HIGH_S
                  || rc == AXON_ERR_SIG_INVALID);
    }

    /* any other text as the signature */

    text = fz_dup(in.p, in.n);
    rc = axon_eip3009_recover(signer, domain, kind, &a, text, in.n);
    FZ_ASSERT(rc <= AXON_OK && rc >= AXON_ERR_SIG_INVALID);
    free(text);

    /* the uint256 fields: decimal and back */

    n = axon_uint256_format(dec, a.value);
    FZ_ASSERT(n >= 1 && n <= AXON_UINT256_DEC_MAX && dec[n] == '\0');
    FZ_ASSERT(axon_uint256_parse_dec(v, dec, n) == AXON_OK);
    FZ_ASSERT(memcmp(v, a.value, 32) == 0);
    FZ_ASSERT(axon_uint256_cmp(a.valid_after, a.valid_before)
              == -axon_uint256_cmp(a.valid_before, a.valid_after));

    return 0;
}
