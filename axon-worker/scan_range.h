/*
 * axon-worker: the size of the next eth_getLogs range of a scan
 * (scan_range.c), by what the node gives.
 */

#ifndef AW_SCAN_RANGE_H
#define AW_SCAN_RANGE_H

#include <stddef.h>
#include <stdint.h>


typedef struct {
    int64_t     range;          /* blocks of the next call */
    int64_t     first;          /* the configured range: speed caps no lower */
    int64_t     max;            /* never more */
    int64_t     ceiling;        /* the most the node takes, or reads best */
    unsigned    at_ceiling;     /* calls of that many since */
    double      best;           /* blocks per microsecond: the best call */
    int64_t     best_blocks;    /* ... and its blocks */
} aw_scan_range_t;


void aw_scan_range_init(aw_scan_range_t *r, int64_t range, int64_t max);
void aw_scan_range_done(aw_scan_range_t *r, int64_t blocks, size_t logs,
    int64_t usec);
int aw_scan_range_refused(aw_scan_range_t *r, int64_t blocks);
void aw_scan_range_failed(aw_scan_range_t *r, int64_t blocks);


#endif /* AW_SCAN_RANGE_H */
