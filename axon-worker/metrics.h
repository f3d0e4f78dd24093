/*
 * axon-worker: Prometheus metrics (metrics.c).  The counters the job code
 * adds to, and the listener of metrics_listen that serves them.
 */

#ifndef AW_METRICS_H
#define AW_METRICS_H


#include <stdint.h>

#include "config.h"
#include "core.h"
#include "job.h"


#define AW_METRICS_KINDS       64      /* aw_job_kinds[], and "unknown" */
#define AW_METRICS_BILL_LE     11      /* the histogram's buckets, +Inf */

typedef enum {
    AW_METRICS_DONE = 0,
    AW_METRICS_RETRIED,                 /* failed, to be tried again */
    AW_METRICS_DEAD,                    /* failed for good: dead letters */
    AW_METRICS_REFUSED,                 /* bad fields: never run */
    AW_METRICS_OUTCOMES
} aw_metrics_outcome_e;


typedef struct {
    uint64_t   jobs[AW_METRICS_KINDS][AW_METRICS_OUTCOMES];
    uint64_t   bill[AW_METRICS_BILL_LE + 1];
    uint64_t   bill_ms;                 /* the sum */
    uint64_t   chain_head;              /* 0: not known yet */
    uint64_t   indexer_next;            /* the cursor + 1; 0: not known */
} aw_metrics_t;


extern aw_metrics_t  aw_metrics;


void aw_metrics_job(const aw_job_kind_t *k, aw_metrics_outcome_e outcome);
void aw_metrics_bill(aw_msec_t ms);

/* the listener: opened, moved or closed as metrics_listen says */
void aw_metrics_configure(aw_conf_t *conf);
int aw_metrics_fd(void);
void aw_metrics_readable(void);
void aw_metrics_close(void);


#endif /* AW_METRICS_H */
