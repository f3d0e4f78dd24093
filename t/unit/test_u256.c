
/*
 * Unit tests for libaxon/axon_u256.h: Ethereum JSON-RPC quantities of 64
 * and 256 bits, the latter printed in decimal as the worker logs and stores
 * token amounts.
 *
 * usage: test_u256 [--vectors FILE]   (FILE is ignored)
 *
 * Each failed check prints "file:line: FAIL case"; the last line is
 * "N passed, N failed".
 */


#include <stdio.h>
#include <string.h>

#include "axon_eth.h"
#include "axon_eip712.h"
#include "axon_u256.h"


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


static const char *
dec_of(const uint8_t v[32], char *dec)
{
    axon_uint256_format(dec, v);

    return dec;
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


int
main(int argc, char **argv)
{
    test_quantity();
    test_u256();

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
