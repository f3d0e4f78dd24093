
/*
 * axon: Ethereum addresses (EIP-55), personal_sign (EIP-191) and signer
 * recovery (secp256k1, EIP-2 low-s).
 */


#include <string.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "axon_eth.h"


#define AXON_EIP191_PREFIX      "\x19" "Ethereum Signed Message:\n"


static void axon_address_checksum(char *out, const uint8_t addr[20]);
static int axon_is_zero(const uint8_t *p, size_t n);


/* the secp256k1 group order n, and n / 2 (EIP-2), both big-endian */

static const uint8_t  axon_secp256k1_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
    0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41
};

static const uint8_t  axon_secp256k1_half_n[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
    0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0
};


const char *
axon_strerror(int rc)
{
    switch (rc) {

    case AXON_OK:
        return "ok";

    case AXON_ERR_HEX:
        return "bad_hex";

    case AXON_ERR_LEN:
        return "bad_length";

    case AXON_ERR_SIG_V:
        return "bad_signature_v";

    case AXON_ERR_SIG_HIGH_S:
        return "bad_signature_high_s";

    case AXON_ERR_SIG_INVALID:
        return "bad_signature";

    case AXON_ERR_CHECKSUM:
        return "bad_checksum";

    case AXON_ERR_SIWE:
        return "bad_message";

    case AXON_ERR_SSH_KEY:
        return "bad_ssh_key";

    case AXON_ERR_NUMBER:
        return "bad_number";

    default:
        return "unknown_error";
    }
}


/*
 * EIP-55: hash the 40 lowercase hex digits as ASCII; a letter is upper case
 * when the corresponding nibble of the hash is 8 or more.  Writes 40 chars.
 */

static void
axon_address_checksum(char *out, const uint8_t addr[20])
{
    size_t   i;
    uint8_t  hash[32], nibble;

    axon_hex_encode(out, addr, 20);
    axon_keccak256(hash, out, 40);

    for (i = 0; i < 40; i++) {
        nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;

        if (nibble >= 8 && out[i] >= 'a' && out[i] <= 'f') {
            out[i] = (char) (out[i] - 'a' + 'A');
        }
    }
}


int
axon_address_parse(uint8_t out[20], const char *s, size_t len)
{
    int     rc;
    char    sum[40];
    size_t  i;
    int     lower, upper;

    if (len != AXON_ADDR_TEXT_LEN) {
        return AXON_ERR_LEN;
    }

    if (s[0] != '0' || s[1] != 'x') {
        return AXON_ERR_HEX;
    }

    rc = axon_hex_decode(out, AXON_ADDR_LEN, s + 2, len - 2);
    if (rc != AXON_OK) {
        return rc;
    }

    lower = 0;
    upper = 0;

    for (i = 2; i < len; i++) {
        if (s[i] >= 'a' && s[i] <= 'f') {
            lower = 1;

        } else if (s[i] >= 'A' && s[i] <= 'F') {
            upper = 1;
        }
    }

    if (!(lower && upper)) {
        return AXON_OK;
    }

    axon_address_checksum(sum, out);

    if (memcmp(sum, s + 2, 40) != 0) {
        return AXON_ERR_CHECKSUM;
    }

    return AXON_OK;
}


void
axon_address_format(char out[42], const uint8_t addr[20])
{
    out[0] = '0';
    out[1] = 'x';
    axon_address_checksum(out + 2, addr);
}


void
axon_address_format_lower(char out[42], const uint8_t addr[20])
{
    out[0] = '0';
    out[1] = 'x';
    axon_hex_encode(out + 2, addr, 20);
}


void
axon_address_from_pubkey(uint8_t addr[20], const uint8_t pub[64])
{
    uint8_t  hash[32];

    axon_keccak256(hash, pub, AXON_PUBKEY_LEN);
    memcpy(addr, hash + 12, AXON_ADDR_LEN);
}


void
axon_eip191_hash(uint8_t out[32], const void *msg, size_t len)
{
    char           digits[3 * sizeof(size_t)];
    size_t         n, v;
    axon_keccak_t  k;

    /* decimal(len), written backwards from the end of digits[] */

    n = 0;
    v = len;

    do {
        digits[sizeof(digits) - 1 - n] = (char) ('0' + v % 10);
        v /= 10;
        n++;
    } while (v > 0);

    axon_keccak_init(&k);
    axon_keccak_update(&k, AXON_EIP191_PREFIX,
                       sizeof(AXON_EIP191_PREFIX) - 1);
    axon_keccak_update(&k, digits + sizeof(digits) - n, n);
    axon_keccak_update(&k, msg, len);
    axon_keccak_final(&k, out);
}


static int
axon_is_zero(const uint8_t *p, size_t n)
{
    size_t   i;
    uint8_t  acc;

    acc = 0;

    for (i = 0; i < n; i++) {
        acc |= p[i];
    }

    return acc == 0;
}


int
axon_ecrecover(uint8_t addr[20], const uint8_t hash[32],
    const uint8_t sig[65])
{
    int                                     recid;
    size_t                                  len;
    uint8_t                                 pub[65];
    const uint8_t                          *r, *s;
    secp256k1_pubkey                        pubkey;
    secp256k1_ecdsa_recoverable_signature   rsig;

    switch (sig[64]) {

    case 0:
    case 1:
        recid = sig[64];
        break;

    case 27:
    case 28:
        recid = sig[64] - 27;
        break;

    default:
        return AXON_ERR_SIG_V;
    }

    r = sig;
    s = sig + 32;

    if (axon_is_zero(r, 32) || memcmp(r, axon_secp256k1_n, 32) >= 0
        || axon_is_zero(s, 32) || memcmp(s, axon_secp256k1_n, 32) >= 0)
    {
        return AXON_ERR_SIG_INVALID;
    }

    if (memcmp(s, axon_secp256k1_half_n, 32) > 0) {
        return AXON_ERR_SIG_HIGH_S;
    }

    /*
     * Public key recovery needs no secret-key tables: since libsecp256k1
     * 0.2.0 the static context serves it (secp256k1_recovery.h does not
     * exclude it, unlike signing and key generation).
     */

    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(
            secp256k1_context_static, &rsig, sig, recid))
    {
        return AXON_ERR_SIG_INVALID;
    }

    if (!secp256k1_ecdsa_recover(secp256k1_context_static, &pubkey, &rsig,
                                 hash))
    {
        return AXON_ERR_SIG_INVALID;
    }

    len = sizeof(pub);

    if (!secp256k1_ec_pubkey_serialize(secp256k1_context_static, pub, &len,
                                       &pubkey, SECP256K1_EC_UNCOMPRESSED)
        || len != sizeof(pub))
    {
        return AXON_ERR_SIG_INVALID;
    }

    axon_address_from_pubkey(addr, pub + 1);

    return AXON_OK;
}


int
axon_personal_recover(uint8_t addr[20], const void *msg, size_t msglen,
    const char *sighex, size_t siglen)
{
    int      rc;
    uint8_t  sig[AXON_SIG_LEN], hash[AXON_HASH_LEN];

    rc = axon_hex_decode(sig, sizeof(sig), sighex, siglen);
    if (rc != AXON_OK) {
        return rc;
    }

    axon_eip191_hash(hash, msg, msglen);

    return axon_ecrecover(addr, hash, sig);
}


int
axon_memeq_ct(const void *a, const void *b, size_t n)
{
    size_t                  i;
    uint8_t                 acc;
    const volatile uint8_t  *pa, *pb;

    pa = a;
    pb = b;
    acc = 0;

    for (i = 0; i < n; i++) {
        acc |= pa[i] ^ pb[i];
    }

    /* 1 if acc == 0, without a data-dependent branch */

    return (int) (1 & ((acc - 1U) >> 8));
}


/*
 * Known answers: Keccak-256("abc"), and a personal_sign of "axon selftest"
 * by the well-known ganache/hardhat test key 0x4f3e...3b1d, made by ethers.
 */

int
axon_eth_selftest(void)
{
    uint8_t            hash[32], kat[32], addr[20], want[20];
    static const char  abc[] =
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45";
    static const char  msg[] = "axon selftest";
    static const char  sig[] =
        "0x31a8b26278fc6609982130280681398f700d51a070290dbb483643b9cbb7a3a0"
        "73299de86a3bdee8354cd25c2f3de770ea49e237cfc3d258fbce4a678f7ef7301c";
    static const char  signer[] = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";

    secp256k1_selftest();

    axon_keccak256(hash, "abc", 3);

    if (axon_hex_decode(kat, 32, abc, sizeof(abc) - 1) != AXON_OK
        || memcmp(hash, kat, 32) != 0)
    {
        return AXON_ERR_SIG_INVALID;
    }

    if (axon_address_parse(want, signer, sizeof(signer) - 1) != AXON_OK
        || axon_personal_recover(addr, msg, sizeof(msg) - 1,
                                 sig, sizeof(sig) - 1) != AXON_OK
        || memcmp(addr, want, 20) != 0)
    {
        return AXON_ERR_SIG_INVALID;
    }

    return AXON_OK;
}
