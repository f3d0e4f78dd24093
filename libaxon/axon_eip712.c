
/*
 * axon: EIP-712 hashing of EIP-3009 authorizations (x402's `exact` scheme
 * on EVM) and signer recovery.
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
