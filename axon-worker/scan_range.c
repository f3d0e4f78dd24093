/*
 * axon-worker: the size of the next eth_getLogs range of a scan.
 *
 * It starts at the configured range (deposit_index_range) and doubles
 * after a range of few logs (nearly empty blocks: a catch-up goes at the
 * node's speed, not at its calls'), up to the ceiling, and halves after a
 * range of many.  The ceiling is the most the node takes: a range it
 * refused (an error answer: providers cap the blocks or the logs of a
 * call) sets it at half that, tried again at once.  It is also the range
 * the node reads best: a range of few logs read more slowly per block
 * than the best call of fewer blocks (AW_SCAN_RANGE_SLOWER of its speed)
 * sets it at that call's size, never below the configured range (a short
 * call at the head may be the best: speed alone does not take the range
 * under what the operator set; only refusals do).  A node far away reads more blocks per
 * second the more a call asks (the round trip is shared); a node at hand
 * may read a big range more slowly per block than a small one (ganache
 * does: 1,000-block ranges read 100,000 empty blocks in 1.6 s, 16,000-
 * block ranges in 2.4 s).  The ceiling is tried doubled after
 * AW_SCAN_RANGE_CALLS calls at it: a refusal or a slow call that was the
 * node's moment, not its limit.
 */


#include "core.h"
#include "scan_range.h"


#define AW_SCAN_RANGE_FEW       1000    /* logs: double the range after */
#define AW_SCAN_RANGE_MANY      5000    /* logs: halve it after */
#define AW_SCAN_RANGE_CALLS     64
#define AW_SCAN_RANGE_SLOWER    0.8


void
aw_scan_range_init(aw_scan_range_t *r, int64_t range, int64_t max)
{
    r->range = aw_max(range, 1);
    r->first = r->range;
    r->max = aw_max(max, r->range);
    r->ceiling = r->max;
    r->at_ceiling = 0;
    r->best = 0;
    r->best_blocks = 0;
}


/*
 * A call of blocks blocks gave logs logs in usec microseconds (usec <= 0:
 * not timed, as a range read while Postgres worked)
 */

void
aw_scan_range_done(aw_scan_range_t *r, int64_t blocks, size_t logs,
    int64_t usec)
{
    double  speed;

    if (logs > AW_SCAN_RANGE_MANY) {
        r->range = aw_max(r->range / 2, 1);
        /* blocks of many logs: their speed is not the empty blocks' */
        r->best = 0;
        r->best_blocks = 0;
        return;
    }

    if (logs >= AW_SCAN_RANGE_FEW) {
        return;
    }

    if (usec > 0 && blocks > 0) {
        speed = (double) blocks / (double) usec;

        if (blocks > r->best_blocks && r->best_blocks > 0
            && speed < r->best * AW_SCAN_RANGE_SLOWER)
        {
            r->ceiling = aw_max(r->best_blocks, r->first);
            r->range = r->ceiling;
            r->at_ceiling = 0;
            return;
        }

        if (speed > r->best) {
            r->best = speed;
            r->best_blocks = blocks;
        }
    }

    if (r->range == r->ceiling && ++r->at_ceiling >= AW_SCAN_RANGE_CALLS) {
        r->ceiling = aw_min(r->ceiling * 2, r->max);
        r->at_ceiling = 0;
    }

    r->range = aw_min(r->range * 2, r->ceiling);
}


/*
 * The node refused a call of blocks blocks (an error answer): 1 if a
 * smaller range is to be tried at once, 0 if it refused one block
 */

int
aw_scan_range_refused(aw_scan_range_t *r, int64_t blocks)
{
    if (blocks <= 1) {
        r->range = 1;
        return 0;
    }

    r->ceiling = aw_max(blocks / 2, 1);
    r->range = r->ceiling;
    r->at_ceiling = 0;

    return 1;
}


/* a call of blocks blocks failed otherwise (the node not reached) */

void
aw_scan_range_failed(aw_scan_range_t *r, int64_t blocks)
{
    r->range = aw_max(blocks / 2, 1);
}
