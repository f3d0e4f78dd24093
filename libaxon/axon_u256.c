
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


/*
 * The value in 32-bit limbs, divided by 10^9 at a time: each pass a
 * division of 8 limbs by a constant (a multiplication), nine digits out,
 * not one (a deposit's amount is formatted for each log of a range).
 */

size_t
axon_uint256_format(char *dst, const uint8_t v[32])
{
    int        i, k, top;
    char       digits[81];          /* 9 passes of 9 digits */
    size_t     n;
    uint32_t   w[8], chunk;         /* w[0]: the most significant */
    uint64_t   rem;

    for (i = 0; i < 8; i++) {
        w[i] = (uint32_t) v[i * 4] << 24 | (uint32_t) v[i * 4 + 1] << 16
               | (uint32_t) v[i * 4 + 2] << 8 | v[i * 4 + 3];
    }

    n = 0;
    top = 0;

    do {
        rem = 0;

        for (i = top; i < 8; i++) {
            rem = rem << 32 | w[i];
            w[i] = (uint32_t) (rem / 1000000000);
            rem %= 1000000000;
        }

        chunk = (uint32_t) rem;

        for (k = 0; k < 9; k++) {
            digits[n++] = (char) ('0' + chunk % 10);
            chunk /= 10;
        }

        while (top < 8 && w[top] == 0) {
            top++;
        }
    } while (top < 8);

    /* the last pass's leading zeros dropped, one digit kept for 0 */

    while (n > 1 && digits[n - 1] == '0') {
        n--;
    }

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
