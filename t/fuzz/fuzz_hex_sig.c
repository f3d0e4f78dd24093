
/*
 * libFuzzer: hex, addresses (EIP-55), uint256 decimal strings and
 * signatures, as they come in JSON bodies, headers and query strings.
 *
 * Input: TEXT [NUL MESSAGE].  TEXT goes through every text parser; what one
 * takes must come back the same from its formatter.  TEXT is also a
 * personal_sign signature over MESSAGE, and the raw input a hash and a
 * signature for ecrecover.
 */


#include <ctype.h>

#include "fuzz.h"

#include "axon_eth.h"
#include "axon_u256.h"


static void
fz_hex(const char *s, size_t len, size_t n)
{
    int       rc;
    char     *text;
    uint8_t  *bin;
    size_t    skip;

    bin = malloc(n ? n : 1);
    FZ_ASSERT(bin != NULL);

    rc = axon_hex_decode(bin, n, s, len);

    if (rc == AXON_OK) {
        skip = (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
               ? 2 : 0;
        FZ_ASSERT(len - skip == 2 * n);

        text = malloc(2 * n + 1);
        FZ_ASSERT(text != NULL);
        axon_hex_encode(text, bin, n);
        FZ_ASSERT(strncasecmp(text, s + skip, 2 * n) == 0);
        free(text);

    } else {
        FZ_ASSERT(rc == AXON_ERR_HEX || rc == AXON_ERR_LEN);
    }

    free(bin);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    char           *s, *msg, out[AXON_UINT256_DEC_MAX + 1], text[42];
    size_t          len, msglen, n;
    uint8_t         addr[20], again[20], v[32], w[32], hash[32], sig[65];
    uint64_t        u;
    const uint8_t  *rest;

    fz_split(data, size, &rest, &len, &msglen);
    s = fz_dup(data, len);
    msg = fz_dup(rest, msglen);

    /* hex of the lengths libaxon decodes, and of what the text holds */

    fz_hex(s, len, 20);
    fz_hex(s, len, 32);
    fz_hex(s, len, 65);
    fz_hex(s, len, len / 2);
    fz_hex(s, len, len > 2 ? (len - 2) / 2 : 0);

    /* addresses: what parses formats back, and parses again the same */

    rc = axon_address_parse(addr, s, len);

    if (rc == AXON_OK) {
        FZ_ASSERT(len == AXON_ADDR_TEXT_LEN);

        axon_address_format(text, addr);
        FZ_ASSERT(axon_address_parse(again, text, 42) == AXON_OK);
        FZ_ASSERT(memcmp(addr, again, 20) == 0);
        FZ_ASSERT(strncasecmp(text, s, 42) == 0);

        axon_address_format_lower(text, addr);
        FZ_ASSERT(axon_address_parse(again, text, 42) == AXON_OK);
        FZ_ASSERT(memcmp(addr, again, 20) == 0);

    } else {
        FZ_ASSERT(rc == AXON_ERR_LEN || rc == AXON_ERR_HEX
                  || rc == AXON_ERR_CHECKSUM);
    }

    /* uint256: canonical decimal only, so formatting gives the text back */

    rc = axon_uint256_parse_dec(v, s, len);

    if (rc == AXON_OK) {
        n = axon_uint256_format(out, v);
        FZ_ASSERT(n == len && memcmp(out, s, len) == 0 && out[n] == '\0');

        if (axon_uint256_to_u64(&u, v) == AXON_OK) {
            axon_uint256_from_u64(w, u);
            FZ_ASSERT(axon_uint256_cmp(v, w) == 0);
        } else {
            axon_uint256_from_u64(w, UINT64_MAX);
            FZ_ASSERT(axon_uint256_cmp(v, w) > 0);
        }

    } else {
        FZ_ASSERT(rc == AXON_ERR_NUMBER);
        memset(w, 0, 32);
        FZ_ASSERT(memcmp(v, w, 32) == 0);
    }

    /* a signature over the message, as sign-in checks it */

    rc = axon_personal_recover(addr, msg, msglen, s, len);
    FZ_ASSERT(rc <= AXON_OK && rc >= AXON_ERR_CHECKSUM);

    /* raw: a hash and r || s || v */

    if (size >= 32 + 65) {
        memcpy(hash, data, 32);
        memcpy(sig, data + 32, 65);
        rc = axon_ecrecover(addr, hash, sig);
        FZ_ASSERT(rc == AXON_OK || rc == AXON_ERR_SIG_V
                  || rc == AXON_ERR_SIG_HIGH_S || rc == AXON_ERR_SIG_INVALID);
    }

    free(s);
    free(msg);

    return 0;
}
