
/*
 * Unit tests for libaxon/axon_u256.h: Ethereum JSON-RPC quantities of 64
 * and 256 bits, the latter printed in decimal as the worker logs and stores
 * token amounts; the decimal strings x402 sends, both ways, and uint256
 * to and from 64 bits, compared.
 *
 * usage: test_u256 [--vectors FILE]   (FILE is ignored)
 *
 * Each failed check prints "file:line: FAIL case"; the last line is
 * "N passed, N failed".
 */


#include <stdio.h>
#include <string.h>

#include "axon_eth.h"
#include "axon_u256.h"


#define CHECK(name, cond)                                                    \
    check(__FILE__, __LINE__, name, (cond) != 0)


static unsigned  passed, failed;


static int
check(const char *file, int line, const char *name, int ok)
{
    if (ok) {
        passed++;
        return 1;
    }

    failed++;
    printf("%s:%d: FAIL %s\n", file, line, name);

    return 0;
}


static const char *
dec_of(const uint8_t v[32], char *dec)
{
    axon_uint256_format(dec, v);

    return dec;
}


static const char *
hex_of(const uint8_t v[32], char *hex)
{
    axon_hex_encode(hex, v, 32);
    hex[64] = '\0';

    return hex;
}


static void
test_quantity(void)
{
    uint64_t  v;

    static const char  *bad[] = {
        "", "0x", "0", "12", "x1", "0X1", "0x-1", "0x 1", "0x1 ", "0xg",
        "0x10000000000000000", "0x1ffffffffffffffff", NULL
    };

    CHECK("0x0", axon_quantity_parse_u64(&v, "0x0") == AXON_OK && v == 0);
    CHECK("0x539", axon_quantity_parse_u64(&v, "0x539") == AXON_OK
                   && v == 1337);
    CHECK("upper hex", axon_quantity_parse_u64(&v, "0xABC") == AXON_OK
                       && v == 0xabc);
    CHECK("leading zeros", axon_quantity_parse_u64(&v, "0x0001") == AXON_OK
                           && v == 1);
    CHECK("max", axon_quantity_parse_u64(&v, "0xffffffffffffffff") == AXON_OK
                 && v == UINT64_MAX);
    CHECK("max, padded",
          axon_quantity_parse_u64(&v, "0x0000ffffffffffffffff") == AXON_OK
          && v == UINT64_MAX);

    for (const char **s = bad; *s; s++) {
        CHECK(*s, axon_quantity_parse_u64(&v, *s) == AXON_ERR_NUMBER);
    }
}


static void
test_u256(void)
{
    char     dec[AXON_UINT256_DEC_MAX + 1];
    uint8_t  v[32];

    CHECK("u256 0", axon_quantity_parse_u256(v, "0x0") == AXON_OK
                    && strcmp(dec_of(v, dec), "0") == 0);

    CHECK("u256 1e18",
          axon_quantity_parse_u256(v, "0xde0b6b3a7640000") == AXON_OK
          && strcmp(dec_of(v, dec), "1000000000000000000") == 0);

    CHECK("u256 1000e18 (an AXGT balance)",
          axon_quantity_parse_u256(v, "0x3635c9adc5dea00000") == AXON_OK
          && strcmp(dec_of(v, dec), "1000000000000000000000") == 0);

    CHECK("u256 max",
          axon_quantity_parse_u256(v, "0xffffffffffffffffffffffffffffffff"
                                   "ffffffffffffffffffffffffffffffff")
          == AXON_OK
          && strcmp(dec_of(v, dec),
                    "115792089237316195423570985008687907853269984665640564"
                    "039457584007913129639935") == 0);

    CHECK("u256 2^255, big-endian",
          axon_quantity_parse_u256(v, "0x80000000000000000000000000000000"
                                   "00000000000000000000000000000000")
          == AXON_OK
          && v[0] == 0x80 && v[31] == 0);

    CHECK("u256 a 32-byte word with leading zeros (eth_call)",
          axon_quantity_parse_u256(v, "0x00000000000000000000000000000000"
                                   "000000000000000000000002540be400")
          == AXON_OK
          && strcmp(dec_of(v, dec), "10000000000") == 0);

    CHECK("u256 over 256 bits",
          axon_quantity_parse_u256(v, "0x10000000000000000000000000000000"
                                   "000000000000000000000000000000000")
          == AXON_ERR_NUMBER);
    CHECK("u256 no digits",
          axon_quantity_parse_u256(v, "0x") == AXON_ERR_NUMBER);
    CHECK("u256 decimal",
          axon_quantity_parse_u256(v, "100") == AXON_ERR_NUMBER);
    CHECK("u256 not hex",
          axon_quantity_parse_u256(v, "0x12z") == AXON_ERR_NUMBER);
}


static void
test_uint256(void)
{
    char     text[AXON_UINT256_DEC_MAX + 1], hex[65];
    size_t   i, n;
    uint8_t  v[32], w[32];
    uint64_t u;

    static const char  max[] =
        "115792089237316195423570985008687907853269984665640564039457584007913"
        "129639935";
    static const char  over[] =
        "115792089237316195423570985008687907853269984665640564039457584007913"
        "129639936";
    static const char  *good[] = {
        "0", "1", "9", "10", "255", "256", "500000", "1795443584",
        "18446744073709551615", "18446744073709551616",
        "340282366920938463463374607431768211456", max
    };
    static const char  *bad[] = {
        "", "-1", "+1", " 1", "1 ", "01", "00", "0x10", "1e6", "1.5",
        "12a", over,
        "999999999999999999999999999999999999999999999999999999999999999999"
        "999999999999"
    };

    /* each good one round-trips */

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (CHECK(good[i], axon_uint256_parse_dec(v, good[i],
                                                  strlen(good[i]))
                           == AXON_OK))
        {
            n = axon_uint256_format(text, v);
            CHECK(good[i], n == strlen(good[i]) && strcmp(text, good[i]) == 0);
        }
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(v, 0xaa, 32);
        CHECK(bad[i], axon_uint256_parse_dec(v, bad[i], strlen(bad[i]))
                      == AXON_ERR_NUMBER);
        memset(w, 0, 32);
        CHECK(bad[i], memcmp(v, w, 32) == 0);
    }

    /* the bytes */

    axon_uint256_parse_dec(v, "500000", 6);
    CHECK("500000", strcmp(hex_of(v, hex),
        "000000000000000000000000000000000000000000000000000000000007a120")
        == 0);
    axon_uint256_parse_dec(v, max, strlen(max));
    CHECK("max", strcmp(hex_of(v, hex),
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
        == 0);

    /* a length that stops early: "1234" read as "12" */

    CHECK("prefix", axon_uint256_parse_dec(v, "1234", 2) == AXON_OK);
    CHECK("prefix", axon_uint256_to_u64(&u, v) == AXON_OK && u == 12);

    /* u64 both ways */

    axon_uint256_parse_dec(v, "18446744073709551615", 20);
    CHECK("u64 max", axon_uint256_to_u64(&u, v) == AXON_OK);
    CHECK("u64 max", u == UINT64_MAX);
    axon_uint256_from_u64(w, UINT64_MAX);
    CHECK("u64 max back", memcmp(v, w, 32) == 0);

    axon_uint256_parse_dec(v, "18446744073709551616", 20);
    CHECK("u64 over", axon_uint256_to_u64(&u, v) == AXON_ERR_NUMBER);
    CHECK("u64 over", u == 0);

    axon_uint256_from_u64(w, 1795443584);
    n = axon_uint256_format(text, w);
    CHECK("from u64", n == 10 && strcmp(text, "1795443584") == 0);

    /* compare */

    axon_uint256_parse_dec(v, "500000", 6);
    axon_uint256_parse_dec(w, "499999", 6);
    CHECK("cmp >", axon_uint256_cmp(v, w) == 1);
    CHECK("cmp <", axon_uint256_cmp(w, v) == -1);
    CHECK("cmp =", axon_uint256_cmp(v, v) == 0);
    axon_uint256_parse_dec(w, "340282366920938463463374607431768211456", 39);
    CHECK("cmp high word", axon_uint256_cmp(v, w) == -1);

    CHECK("strerror", strcmp(axon_strerror(AXON_ERR_NUMBER), "bad_number")
                      == 0);
}


/*
 * The reference: the value divided by 10 a byte at a time, a digit a
 * pass, the plainest way there is.
 */

static size_t
format_slow(char *dst, const uint8_t v[32])
{
    int       i, zero;
    char      digits[AXON_UINT256_DEC_MAX];
    size_t    n;
    uint8_t   q[32];
    unsigned  rem;

    memcpy(q, v, 32);
    n = 0;

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


/*
 * axon_uint256_format against the reference: values of every length in
 * bytes, random (a fixed seed) and at the edges of its 10^9 passes (all
 * ones, powers of ten and one less, zero limbs inside).
 */

static void
test_format(void)
{
    int        i, k, len, bad;
    char       a[AXON_UINT256_DEC_MAX + 1], b[AXON_UINT256_DEC_MAX + 1];
    char       dec[AXON_UINT256_DEC_MAX + 2];
    size_t     na, nb;
    uint8_t    v[32];
    uint64_t   x;

    bad = 0;
    x = 0x9e3779b97f4a7c15ULL;

    for (i = 0; i < 200000; i++) {
        memset(v, 0, 32);
        len = i % 33;

        for (k = 32 - len; k < 32; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[k] = (uint8_t) x;
        }

        if (i % 5 == 0 && len > 8) {
            memset(v + 32 - len + 2, 0, 4 + (size_t) (x % 4));
        }

        if (i % 7 == 0) {
            memset(v + 32 - len, 0xff, (size_t) len);
        }

        na = axon_uint256_format(a, v);
        nb = format_slow(b, v);

        if (na != nb || strcmp(a, b) != 0) {
            if (bad++ < 5) {
                printf("format: %s, not %s\n", a, b);
            }
        }
    }

    CHECK("format as the reference, random values", bad == 0);

    /* 10^k and 10^k - 1 for every k the type holds */

    bad = 0;
    dec[0] = '1';

    for (k = 1; k <= AXON_UINT256_DEC_MAX - 1; k++) {
        memset(dec + 1, '0', (size_t) k);
        dec[k + 1] = '\0';

        if (axon_uint256_parse_dec(v, dec, (size_t) k + 1) != AXON_OK) {
            bad++;
            continue;
        }

        na = axon_uint256_format(a, v);
        bad += na != (size_t) k + 1 || strcmp(a, dec) != 0;

        memset(dec, '9', (size_t) k);
        dec[k] = '\0';

        if (axon_uint256_parse_dec(v, dec, (size_t) k) != AXON_OK) {
            bad++;
        } else {
            na = axon_uint256_format(a, v);
            bad += na != (size_t) k || strcmp(a, dec) != 0;
        }

        dec[0] = '1';
    }

    CHECK("format 10^k and 10^k - 1", bad == 0);
}


int
main(int argc, char **argv)
{
    test_quantity();
    test_u256();
    test_uint256();
    test_format();

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
