/*
 * Unit tests for the value parsing of axon-worker/rpc.c (no node needed;
 * rpc.c against a real node is t/chain.test.mjs): quantities, 256-bit
 * amounts, fixed-length bytes, decimal formatting of amounts.
 *
 * usage: test_rpc_parse [--vectors FILE]   (FILE is ignored)
 *
 * Each failed check prints "file:line: FAIL case"; the last line is
 * "N passed, N failed".
 */


#include <stdio.h>
#include <string.h>

#include "rpc.h"


#define CHECK(name, cond)                                                    \
    check(__FILE__, __LINE__, name, (cond) != 0)


static unsigned  passed, failed;


static void
check(const char *file, int line, const char *name, int ok)
{
    if (ok) {
        passed++;
        return;
    }

    failed++;
    printf("%s:%d: FAIL %s\n", file, line, name);
}


static void
test_quantity(void)
{
    uint64_t  v;

    static const char  *bad[] = {
        "", "0x", "0", "12", "x1", "0X1", "0x-1", "0x 1", "0x1 ", "0xg",
        "0x10000000000000000", "0x1ffffffffffffffff", NULL
    };

    CHECK("0x0", aw_eth_parse_quantity("0x0", &v) == AW_OK && v == 0);
    CHECK("0x539", aw_eth_parse_quantity("0x539", &v) == AW_OK && v == 1337);
    CHECK("upper hex", aw_eth_parse_quantity("0xABC", &v) == AW_OK
                       && v == 0xabc);
    CHECK("leading zeros", aw_eth_parse_quantity("0x0001", &v) == AW_OK
                           && v == 1);
    CHECK("max", aw_eth_parse_quantity("0xffffffffffffffff", &v) == AW_OK
                 && v == UINT64_MAX);
    CHECK("max, padded",
          aw_eth_parse_quantity("0x0000ffffffffffffffff", &v) == AW_OK
          && v == UINT64_MAX);

    for (const char **s = bad; *s; s++) {
        CHECK(*s, aw_eth_parse_quantity(*s, &v) == AW_ERROR);
    }
}


static void
test_u256(void)
{
    char       dec[80], hex[67];
    aw_u256_t  v;

    CHECK("u256 0", aw_eth_parse_u256("0x0", &v) == AW_OK
                    && strcmp(aw_u256_to_decimal(&v, dec), "0") == 0);

    CHECK("u256 1e18",
          aw_eth_parse_u256("0xde0b6b3a7640000", &v) == AW_OK
          && strcmp(aw_u256_to_decimal(&v, dec), "1000000000000000000") == 0);

    CHECK("u256 1000e18 (an AXGT balance)",
          aw_eth_parse_u256("0x3635c9adc5dea00000", &v) == AW_OK
          && strcmp(aw_u256_to_decimal(&v, dec),
                    "1000000000000000000000") == 0);

    CHECK("u256 max",
          aw_eth_parse_u256("0xffffffffffffffffffffffffffffffff"
                            "ffffffffffffffffffffffffffffffff", &v) == AW_OK
          && strcmp(aw_u256_to_decimal(&v, dec),
                    "115792089237316195423570985008687907853269984665640564"
                    "039457584007913129639935") == 0);

    CHECK("u256 2^255, big-endian",
          aw_eth_parse_u256("0x8000000000000000000000000000000000000000000000"
                            "000000000000000000", &v) == AW_OK
          && v.b[0] == 0x80 && v.b[31] == 0);

    CHECK("u256 a 32-byte word with leading zeros (eth_call)",
          aw_eth_parse_u256("0x00000000000000000000000000000000000000000000"
                            "000000000002540be400", &v) == AW_OK
          && strcmp(aw_u256_to_decimal(&v, dec), "10000000000") == 0);

    CHECK("u256 over 256 bits",
          aw_eth_parse_u256("0x1000000000000000000000000000000000000000000000"
                            "0000000000000000000", &v) == AW_ERROR);
    CHECK("u256 no digits", aw_eth_parse_u256("0x", &v) == AW_ERROR);
    CHECK("u256 decimal", aw_eth_parse_u256("100", &v) == AW_ERROR);
    CHECK("u256 not hex", aw_eth_parse_u256("0x12z", &v) == AW_ERROR);

    memset(v.b, 0, 32);
    v.b[31] = 0xab;
    CHECK("hex", strcmp(aw_eth_hex(hex, v.b + 30, 2), "0x00ab") == 0);
}


static void
test_bytes(void)
{
    uint8_t  a[20];

    CHECK("address", aw_eth_parse_bytes(
              "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0", 20, a) == AW_OK
          && a[0] == 0xff && a[19] == 0xf0);
    CHECK("address without 0x", aw_eth_parse_bytes(
              "FFcf8FDEE72ac11b5c542428B35EEF5769C409f0", 20, a) == AW_ERROR);
    CHECK("address too short", aw_eth_parse_bytes(
              "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409", 20, a) == AW_ERROR);
    CHECK("address too long", aw_eth_parse_bytes(
              "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f000", 20, a)
          == AW_ERROR);
    CHECK("empty data", aw_eth_parse_bytes("0x", 0, a) == AW_OK);
}


int
main(int argc, char **argv)
{
    test_quantity();
    test_u256();
    test_bytes();

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
