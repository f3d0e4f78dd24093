
/*
 * axon: the Ethereum crypto core shared by the nginx module and the worker.
 *
 * Pure C: libc, nettle (Keccak permutation) and libsecp256k1 (ECDSA public
 * key recovery).  No nginx, libpq or hiredis types.  Every function here is
 * re-entrant and thread-safe; nothing allocates memory.
 */


#ifndef AXON_ETH_H_INCLUDED
#define AXON_ETH_H_INCLUDED


#include <stddef.h>
#include <stdint.h>

#include <nettle/sha3.h>


#define AXON_ADDR_LEN        20
#define AXON_ADDR_TEXT_LEN   42     /* "0x" + 40 hex digits */
#define AXON_HASH_LEN        32
#define AXON_SIG_LEN         65     /* r || s || v */
#define AXON_SIG_TEXT_LEN    132    /* "0x" + 130 hex digits */
#define AXON_PUBKEY_LEN      64     /* X || Y, without the 0x04 tag */

#define AXON_KECCAK_RATE     136    /* 1600 - 2 * 256 bits, in bytes */


enum {
    AXON_OK = 0,
    AXON_ERR_HEX = -1,
    AXON_ERR_LEN = -2,
    AXON_ERR_SIG_V = -3,
    AXON_ERR_SIG_HIGH_S = -4,
    AXON_ERR_SIG_INVALID = -5,
    AXON_ERR_CHECKSUM = -6,
    AXON_ERR_SIWE = -7,
    AXON_ERR_SSH_KEY = -8,
    AXON_ERR_NUMBER = -9
};


/*
 * A short, stable code for rc, fit for logs and API error bodies:
 *
 *   AXON_OK               "ok"
 *   AXON_ERR_HEX          "bad_hex"
 *   AXON_ERR_LEN          "bad_length"
 *   AXON_ERR_SIG_V        "bad_signature_v"
 *   AXON_ERR_SIG_HIGH_S   "bad_signature_high_s"
 *   AXON_ERR_SIG_INVALID  "bad_signature"
 *   AXON_ERR_CHECKSUM     "bad_checksum"
 *   AXON_ERR_SIWE         "bad_message"
 *   AXON_ERR_SSH_KEY      "bad_ssh_key"
 *   AXON_ERR_NUMBER       "bad_number"
 *   anything else         "unknown_error"
 */
const char *axon_strerror(int rc);


/*
 * Hex.
 *
 * axon_hex_decode() decodes exactly dstlen bytes from src[0 .. srclen).
 * An optional "0x" or "0X" prefix is skipped; what follows must be exactly
 * 2 * dstlen hex digits of either case.  Returns AXON_OK, AXON_ERR_LEN (wrong
 * number of digits) or AXON_ERR_HEX (a non-hex character).  dst may be
 * partly written on error.
 *
 * axon_hex_encode() writes 2 * n lowercase digits, no prefix, no NUL.
 */
int axon_hex_decode(uint8_t *dst, size_t dstlen, const char *src,
    size_t srclen);
void axon_hex_encode(char *dst, const uint8_t *src, size_t n);

/*
 * Base64, the standard alphabet (RFC 4648 4), as the x402 SDK writes a
 * header (btoa) and OpenSSH a key.  The padding is optional; canonical
 * asks for it (a multiple of 4 characters) and for zero unused bits.  No
 * blanks, no line breaks.  dst holds at least srclen / 4 * 3 + 2 bytes;
 * *n is set to the bytes written.  Returns AXON_OK, AXON_ERR_LEN (a
 * length or padding that cannot be) or AXON_ERR_HEX (a character outside
 * the alphabet, or unused bits set where canonical).
 */
int axon_base64_decode(uint8_t *dst, size_t *n, const char *src,
    size_t srclen, int canonical);


/*
 * Keccak-256 as Ethereum uses it: the original Keccak padding (0x01 ... 0x80),
 * not the FIPS 202 SHA3-256 padding (0x06 ... 0x80).  Built on nettle's
 * Keccak-f[1600] permutation.
 *
 * Streaming: init, any number of updates, final.  After final the context
 * must be initialised again before reuse.
 */
typedef struct {
    struct sha3_state  state;
    size_t             index;                  /* bytes in block[] */
    uint8_t            block[AXON_KECCAK_RATE];
} axon_keccak_t;

void axon_keccak_init(axon_keccak_t *k);
void axon_keccak_update(axon_keccak_t *k, const void *p, size_t n);
void axon_keccak_final(axon_keccak_t *k, uint8_t out[32]);
void axon_keccak256(uint8_t out[32], const void *p, size_t n);


/*
 * Addresses.
 *
 * axon_address_parse() takes exactly "0x" + 40 hex digits (len must be 42,
 * else AXON_ERR_LEN; a missing/other prefix or a non-hex digit is
 * AXON_ERR_HEX).  All-lowercase and all-uppercase digits are accepted as
 * they are; mixed case must be a valid EIP-55 checksum, else
 * AXON_ERR_CHECKSUM.
 *
 * axon_address_format() writes "0x" + EIP-55 mixed case, 42 chars, no NUL.
 * axon_address_format_lower() writes "0x" + lowercase, 42 chars, no NUL.
 *
 * axon_address_from_pubkey() takes the uncompressed public key X || Y
 * (64 bytes, without the 0x04 tag): keccak256(X || Y)[12 .. 32).
 */
int axon_address_parse(uint8_t out[20], const char *s, size_t len);
void axon_address_format(char out[42], const uint8_t addr[20]);
void axon_address_format_lower(char out[42], const uint8_t addr[20]);
void axon_address_from_pubkey(uint8_t addr[20], const uint8_t pub[64]);


/*
 * EIP-191 personal_sign (version 0x45) message hash:
 * keccak256("\x19Ethereum Signed Message:\n" + decimal(len) + msg).
 */
void axon_eip191_hash(uint8_t out[32], const void *msg, size_t len);


/*
 * Recover the signer address from a 65-byte r || s || v signature over a
 * 32-byte hash.
 *
 *   v not in {27, 28, 0, 1}               AXON_ERR_SIG_V
 *   r == 0, r >= n, s == 0, s >= n        AXON_ERR_SIG_INVALID
 *   n/2 < s < n (EIP-2 malleable form)    AXON_ERR_SIG_HIGH_S
 *   no point recovers                     AXON_ERR_SIG_INVALID
 *
 * Checks are made in that order.  Uses secp256k1_context_static: public key
 * recovery only needs the static verification tables, so there is no
 * allocation and no shared mutable state.  Callers that want the library's
 * self test run axon_eth_selftest() once at startup.
 *
 * A successful recovery only says who signed this hash; the caller compares
 * the address with the one it expects (axon_memeq_ct() if it matters).
 */
int axon_ecrecover(uint8_t addr[20], const uint8_t hash[32],
    const uint8_t sig[65]);

/*
 * personal_sign convenience: sighex is "0x" + 130 hex digits (the prefix is
 * optional); a wrong length is AXON_ERR_LEN, a bad digit AXON_ERR_HEX, then
 * as axon_ecrecover() over axon_eip191_hash(msg).
 */
int axon_personal_recover(uint8_t addr[20], const void *msg, size_t msglen,
    const char *sighex, size_t siglen);


/* 1 if the n bytes at a and b are equal, 0 if not; time depends on n only */
int axon_memeq_ct(const void *a, const void *b, size_t n);


/*
 * Startup self test: runs secp256k1_selftest() (aborts through the library's
 * error callback if the library is miscompiled) and a Keccak-256 and
 * ecrecover known-answer test.  Returns AXON_OK or AXON_ERR_SIG_INVALID.
 */
int axon_eth_selftest(void);


#endif /* AXON_ETH_H_INCLUDED */
