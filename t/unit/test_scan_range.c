/*
 * Unit tests for axon-worker/scan_range.c: the size of the indexer's next
 * eth_getLogs range, fed calls as a node would answer them (blocks, logs,
 * microseconds): a far node (each call a round trip, then the blocks),
 * a node at hand that reads big ranges more slowly per block, refusals,
 * dense ranges, calls not timed.
 *
 * usage: test_scan_range [--vectors FILE]   (the argument is ignored)
 * The last line is "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_range.h"
#include "check.h"


/* a far node: 50 ms a call, then 2 µs a block: more blocks a call is faster */

static int64_t
far_usec(int64_t blocks)
{
    return 50000 + 2 * blocks;
}


/*
 * a node at hand (ganache, measured: 1,000 empty blocks in 15 ms, 4,000 in
 * 68 ms, 16,000 in 380 ms): slower per block the bigger the range
 */

static int64_t
near_usec(int64_t blocks)
{
    return blocks <= 4000 ? 15 * blocks + blocks * blocks / 4000
                          : 24 * blocks;
}


int
main(int argc, char **argv)
{
    int              i;
    int64_t          seen[16];
    aw_scan_range_t  r;

    (void) argc;
    (void) argv;

    /* far: doubles to the most, and stays there */
    aw_scan_range_init(&r, 1000, 100000);
    CHECK("far: starts at the configured range", r.range == 1000);

    for (i = 0; i < 16; i++) {
        seen[i] = r.range;
        aw_scan_range_done(&r, r.range, 0, far_usec(r.range));
    }

    CHECK("far: doubled", seen[1] == 2000 && seen[2] == 4000
                          && seen[5] == 32000 && seen[6] == 64000);
    CHECK("far: up to the most", seen[7] == 100000 && r.range == 100000);

    /* near: doubles while a call reads faster per block, then holds */
    aw_scan_range_init(&r, 1000, 100000);

    for (i = 0; i < 16; i++) {
        seen[i] = r.range;
        aw_scan_range_done(&r, r.range, 0, near_usec(r.range));
    }

    CHECK("near: tried bigger", seen[1] == 2000);
    CHECK("near: held at the fastest", r.range == 1000 && r.ceiling == 1000);
    CHECK("near: no bigger than 8000", seen[3] <= 8000 && seen[4] <= 8000);

    /* ... and tried doubled again after 64 calls at it (held at call 4) */
    for (i = 16; i < 4 + 63; i++) {
        aw_scan_range_done(&r, r.range, 0, near_usec(r.range));
    }

    CHECK("near: still held", r.range == 1000);
    aw_scan_range_done(&r, r.range, 0, near_usec(r.range));
    CHECK("near: tried again", r.range == 2000);
    aw_scan_range_done(&r, r.range, 0, near_usec(r.range) * 2);
    CHECK("near: a slow probe holds it again", r.range == 1000);

    /* calls not timed (read ahead) nor a range's end at the head decide */
    aw_scan_range_init(&r, 1000, 100000);
    aw_scan_range_done(&r, 1000, 0, 15000);
    aw_scan_range_done(&r, 2000, 0, 0);
    CHECK("untimed: doubled", r.range == 4000);
    aw_scan_range_done(&r, 3, 0, 5000);
    CHECK("a short call at the head: doubled still", r.range == 8000);
    CHECK("... the best unchanged", r.best_blocks == 1000);

    /* a range of many logs: halved, and the speeds of empty blocks forgotten */
    aw_scan_range_done(&r, 8000, 6000, 900000);
    CHECK("many logs: halved", r.range == 4000);
    CHECK("many logs: speeds forgotten", r.best_blocks == 0);
    aw_scan_range_done(&r, 4000, 2000, 900000);
    CHECK("some logs: kept", r.range == 4000);
    aw_scan_range_done(&r, 4000, 10, 400000);
    aw_scan_range_done(&r, 8000, 10, 1000000);
    CHECK("then doubling from the new best", r.range == 16000);

    /* a short call at the head read fastest: a slow bigger one caps the
     * range at the configured one, not at the short call's */
    aw_scan_range_init(&r, 1000, 100000);
    aw_scan_range_done(&r, 5, 0, 10);
    aw_scan_range_done(&r, 2000, 0, 400000);
    CHECK("capped no lower than configured", r.ceiling == 1000
                                             && r.range == 1000);

    /* refused: half of it at once, that the ceiling; one block: wait */
    aw_scan_range_init(&r, 1000, 100000);
    CHECK("refused: tried again", aw_scan_range_refused(&r, 10000) == 1);
    CHECK("refused: half of it", r.range == 5000 && r.ceiling == 5000);
    aw_scan_range_done(&r, 5000, 0, far_usec(5000));
    CHECK("refused: not past it", r.range == 5000);
    CHECK("one block refused: wait", aw_scan_range_refused(&r, 1) == 0);
    CHECK("one block refused: one", r.range == 1);
    aw_scan_range_failed(&r, 7);
    CHECK("failed: half", r.range == 3);
    aw_scan_range_failed(&r, 1);
    CHECK("failed: at least one", r.range == 1);

    /* a configured range above the most is kept as the most */
    aw_scan_range_init(&r, 200000, 100000);
    CHECK("above the most", r.range == 200000 && r.max == 200000);
    aw_scan_range_init(&r, 0, 100000);
    CHECK("at least one block", r.range == 1);

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
