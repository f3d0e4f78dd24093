
/*
 * axon: Ethereum JSON-RPC quantities (see axon_u256.h).
 */


#include <string.h>

#include "axon_eth.h"
#include "axon_u256.h"


/*
 * The digits after "0x", leading zeros skipped but one kept: NULL when the
 * prefix or the digits are missing.
 */

static const char *
axon_quantity_digits(const char *s)
{
    const char  *p;

    if (s[0] != '0' || s[1] != 'x' || s[2] == '\0') {
        return NULL;
    }

    p = s + 2;

    while (*p == '0' && p[1]) {
        p++;
    }

    return p;
}


int
axon_quantity_parse_u64(uint64_t *out, const char *s)
{
    int          d;
    uint64_t     n;
    const char  *p;

    p = axon_quantity_digits(s);

    if (p == NULL || strlen(p) > 16) {
        return AXON_ERR_NUMBER;
    }

    for (n = 0; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            d = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            d = *p - 'a' + 10;
        } else if (*p >= 'A' && *p <= 'F') {
            d = *p - 'A' + 10;
        } else {
            return AXON_ERR_NUMBER;
        }

        n = n << 4 | (uint64_t) d;
    }

    *out = n;

    return AXON_OK;
}


int
axon_quantity_parse_u256(uint8_t out[32], const char *s)
{
    size_t       len;
    const char  *p;
    char         padded[64];

    p = axon_quantity_digits(s);

    if (p == NULL || (len = strlen(p)) > 64) {
        return AXON_ERR_NUMBER;
    }

    memset(padded, '0', 64 - len);
    memcpy(padded + 64 - len, p, len);

    return axon_hex_decode(out, 32, padded, 64) == AXON_OK
           ? AXON_OK : AXON_ERR_NUMBER;
}
