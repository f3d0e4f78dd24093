
/*
 * axon: EIP-712 hashing of EIP-3009 authorizations (x402's `exact` scheme
 * on EVM), signer recovery, and uint256 decimal strings.
 */


#include <string.h>

#include "axon_eip712.h"


#define AXON_EIP712_DOMAIN_TYPE                                              \
    "EIP712Domain(string name,string version,uint256 chainId,"              \
    "address verifyingContract)"

#define AXON_EIP3009_FIELDS                                                  \
    "(address from,address to,uint256 value,uint256 validAfter,"            \
    "uint256 validBefore,bytes32 nonce)"


static void axon_keccak_word_address(axon_keccak_t *k, const uint8_t a[20]);
static void axon_keccak_word_u64(axon_keccak_t *k, uint64_t v);
static int axon_uint256_mul10_add(uint8_t v[32], unsigned d);


/* abi.encode of an address: 12 zero bytes, then the 20 */

static void
axon_keccak_word_address(axon_keccak_t *k, const uint8_t a[20])
{
    static const uint8_t  zero[12];

    axon_keccak_update(k, zero, sizeof(zero));
    axon_keccak_update(k, a, 20);
}


static void
axon_keccak_word_u64(axon_keccak_t *k, uint64_t v)
{
    uint8_t  w[32];

    axon_uint256_from_u64(w, v);
    axon_keccak_update(k, w, 32);
}


void
axon_eip712_domain_separator(uint8_t out[32], const char *name,
    size_t namelen, const char *version, size_t versionlen,
    uint64_t chain_id, const uint8_t verifying_contract[20])
{
    uint8_t        h[32];
    axon_keccak_t  k;

    axon_keccak_init(&k);

    axon_keccak256(h, AXON_EIP712_DOMAIN_TYPE,
                    sizeof(AXON_EIP712_DOMAIN_TYPE) - 1);
    axon_keccak_update(&k, h, 32);

    axon_keccak256(h, name, namelen);
    axon_keccak_update(&k, h, 32);

    axon_keccak256(h, version, versionlen);
    axon_keccak_update(&k, h, 32);

    axon_keccak_word_u64(&k, chain_id);
    axon_keccak_word_address(&k, verifying_contract);

    axon_keccak_final(&k, out);
}


void
axon_eip712_digest(uint8_t out[32], const uint8_t domain[32],
    const uint8_t struct_hash[32])
{
    axon_keccak_t  k;

    axon_keccak_init(&k);
    axon_keccak_update(&k, "\x19\x01", 2);
    axon_keccak_update(&k, domain, 32);
    axon_keccak_update(&k, struct_hash, 32);
    axon_keccak_final(&k, out);
}


void
axon_eip3009_struct_hash(uint8_t out[32], axon_eip3009_kind_e kind,
    const axon_eip3009_auth_t *a)
{
    uint8_t        h[32];
    axon_keccak_t  k;

    static const char  transfer[] =
        "TransferWithAuthorization" AXON_EIP3009_FIELDS;
    static const char  receive[] =
        "ReceiveWithAuthorization" AXON_EIP3009_FIELDS;

    if (kind == AXON_EIP3009_RECEIVE) {
        axon_keccak256(h, receive, sizeof(receive) - 1);

    } else {
        axon_keccak256(h, transfer, sizeof(transfer) - 1);
    }

    axon_keccak_init(&k);
    axon_keccak_update(&k, h, 32);
    axon_keccak_word_address(&k, a->from);
    axon_keccak_word_address(&k, a->to);
    axon_keccak_update(&k, a->value, 32);
    axon_keccak_update(&k, a->valid_after, 32);
    axon_keccak_update(&k, a->valid_before, 32);
    axon_keccak_update(&k, a->nonce, 32);
    axon_keccak_final(&k, out);
}


void
axon_eip3009_digest(uint8_t out[32], const uint8_t domain[32],
    axon_eip3009_kind_e kind, const axon_eip3009_auth_t *a)
{
    uint8_t  sh[32];

    axon_eip3009_struct_hash(sh, kind, a);
    axon_eip712_digest(out, domain, sh);
}


int
axon_eip3009_recover(uint8_t addr[20], const uint8_t domain[32],
    axon_eip3009_kind_e kind, const axon_eip3009_auth_t *a,
    const char *sighex, size_t siglen)
{
    int      rc;
    uint8_t  digest[32], sig[AXON_SIG_LEN];

    rc = axon_hex_decode(sig, sizeof(sig), sighex, siglen);
    if (rc != AXON_OK) {
        return rc;
    }

    axon_eip3009_digest(digest, domain, kind, a);

    return axon_ecrecover(addr, digest, sig);
}


/* v = v * 10 + d; 1 on overflow past 2^256 - 1 */

static int
axon_uint256_mul10_add(uint8_t v[32], unsigned d)
{
    int       i;
    unsigned  carry;

    carry = d;

    for (i = 31; i >= 0; i--) {
        carry += (unsigned) v[i] * 10;
        v[i] = (uint8_t) (carry & 0xff);
        carry >>= 8;
    }

    return carry != 0;
}


int
axon_uint256_parse_dec(uint8_t out[32], const char *s, size_t len)
{
    size_t  i;

    memset(out, 0, 32);

    if (len == 0 || len > AXON_UINT256_DEC_MAX
        || (len > 1 && s[0] == '0'))
    {
        return AXON_ERR_NUMBER;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || axon_uint256_mul10_add(out, (unsigned) (s[i] - '0')))
        {
            memset(out, 0, 32);
            return AXON_ERR_NUMBER;
        }
    }

    return AXON_OK;
}


size_t
axon_uint256_format(char *dst, const uint8_t v[32])
{
    int       i, zero;
    char      digits[AXON_UINT256_DEC_MAX];
    size_t    n;
    uint8_t   q[32];
    unsigned  rem;

    memcpy(q, v, 32);
    n = 0;

    /* divide by 10 until zero, collecting remainders */

    do {
        rem = 0;
        zero = 1;

        for (i = 0; i < 32; i++) {
            rem = (rem << 8) | q[i];
            q[i] = (uint8_t) (rem / 10);
            rem %= 10;
            zero &= q[i] == 0;
        }

        digits[n++] = (char) ('0' + rem);
    } while (!zero);

    for (i = 0; i < (int) n; i++) {
        dst[i] = digits[n - 1 - i];
    }

    dst[n] = '\0';

    return n;
}


int
axon_uint256_to_u64(uint64_t *out, const uint8_t v[32])
{
    int  i;

    *out = 0;

    for (i = 0; i < 24; i++) {
        if (v[i] != 0) {
            return AXON_ERR_NUMBER;
        }
    }

    for (i = 24; i < 32; i++) {
        *out = (*out << 8) | v[i];
    }

    return AXON_OK;
}


void
axon_uint256_from_u64(uint8_t out[32], uint64_t v)
{
    int  i;

    memset(out, 0, 24);

    for (i = 31; i >= 24; i--) {
        out[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}


int
axon_uint256_cmp(const uint8_t a[32], const uint8_t b[32])
{
    int  c;

    c = memcmp(a, b, 32);

    return (c > 0) - (c < 0);
}
