
/*
 * axon: uint256 values: JSON-RPC quantities, decimal strings (see
 * axon_u256.h).
 */


#include <string.h>

#include "axon_eth.h"
#include "axon_u256.h"


static int axon_uint256_mul10_add(uint8_t v[32], unsigned d);


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
