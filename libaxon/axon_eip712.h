
/*
 * axon: EIP-712 typed-data hashing for EIP-3009 authorizations, the
 * signatures x402's `exact` scheme pays with on EVM chains
 * (docs/x402.md); the uint256 decimal strings they carry are axon_u256.h's.
 *
 * Pure C on top of axon_eth.h (Keccak-256, ecrecover): no allocation,
 * re-entrant.
 *
 *   digest = keccak256(0x19 0x01 || domainSeparator || structHash)
 *
 *   domainSeparator = keccak256(abi.encode(
 *       keccak256("EIP712Domain(string name,string version,uint256 chainId,"
 *                 "address verifyingContract)"),
 *       keccak256(name), keccak256(version), chainId, verifyingContract))
 *
 *   structHash = keccak256(abi.encode(
 *       keccak256("TransferWithAuthorization(address from,address to,"
 *                 "uint256 value,uint256 validAfter,uint256 validBefore,"
 *                 "bytes32 nonce)"),
 *       from, to, value, validAfter, validBefore, nonce))
 *
 * (ReceiveWithAuthorization has the same fields under its own type name.)
 */


#ifndef AXON_EIP712_H_INCLUDED
#define AXON_EIP712_H_INCLUDED


#include <stddef.h>
#include <stdint.h>

#include "axon_eth.h"
#include "axon_u256.h"          /* the uint256 fields' decimal strings */


typedef enum {
    AXON_EIP3009_TRANSFER = 0,      /* TransferWithAuthorization */
    AXON_EIP3009_RECEIVE            /* ReceiveWithAuthorization */
} axon_eip3009_kind_e;


/* an EIP-3009 authorization; the uint256 fields big-endian */

typedef struct {
    uint8_t  from[AXON_ADDR_LEN];
    uint8_t  to[AXON_ADDR_LEN];
    uint8_t  value[32];
    uint8_t  valid_after[32];
    uint8_t  valid_before[32];
    uint8_t  nonce[32];
} axon_eip3009_auth_t;


/*
 * The domain separator of EIP712Domain(string name, string version,
 * uint256 chainId, address verifyingContract), the four fields USDC (and
 * x402's EVM scheme) use.  name and version are bytes, not NUL-terminated.
 */
void axon_eip712_domain_separator(uint8_t out[32], const char *name,
    size_t namelen, const char *version, size_t versionlen,
    uint64_t chain_id, const uint8_t verifying_contract[20]);

/* keccak256(0x19 0x01 || domain || struct_hash) */
void axon_eip712_digest(uint8_t out[32], const uint8_t domain[32],
    const uint8_t struct_hash[32]);

void axon_eip3009_struct_hash(uint8_t out[32], axon_eip3009_kind_e kind,
    const axon_eip3009_auth_t *a);

/* axon_eip712_digest(domain, axon_eip3009_struct_hash(kind, a)) */
void axon_eip3009_digest(uint8_t out[32], const uint8_t domain[32],
    axon_eip3009_kind_e kind, const axon_eip3009_auth_t *a);

/*
 * Who signed the authorization: as axon_ecrecover() over
 * axon_eip3009_digest().  sighex is "0x" + 130 hex digits (r || s || v, the
 * prefix optional); another length (an ERC-6492 or ERC-1271 smart-wallet
 * signature, say) is AXON_ERR_LEN, a bad digit AXON_ERR_HEX.  The caller
 * compares addr with a->from.
 */
int axon_eip3009_recover(uint8_t addr[20], const uint8_t domain[32],
    axon_eip3009_kind_e kind, const axon_eip3009_auth_t *a,
    const char *sighex, size_t siglen);


#endif /* AXON_EIP712_H_INCLUDED */
