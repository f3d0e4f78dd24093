/*
 * Unit tests for the value parsing of axon-worker/eth.c (no node needed;
 * eth.c against a real node is t/chain.test.mjs): fixed-length bytes and
 * their hex.  Quantities and amounts are libaxon's, in test_u256.
 *
 * usage: test_rpc_parse [--vectors FILE]   (FILE is ignored)
 *
 * Each failed check prints "file:line: FAIL case"; the last line is
 * "N passed, N failed".
 */


#include <stdio.h>
#include <string.h>

#include "eth.h"


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
test_hex(void)
{
    char     hex[67];
    uint8_t  v[32];

    memset(v, 0, 32);
    v[31] = 0xab;
    CHECK("hex", strcmp(aw_eth_hex(hex, v + 30, 2), "0x00ab") == 0);
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
    test_hex();
    test_bytes();

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
