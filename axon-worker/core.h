/*
 * axon-worker: what every file of the worker shares: return codes, exit
 * codes, the version, clocks, and the reconnect backoff.
 */

#ifndef AW_CORE_H
#define AW_CORE_H


#include <stddef.h>
#include <stdint.h>


#ifndef AXON_VERSION
#define AXON_VERSION  "0.1.0"
#endif


#define AW_OK          0
#define AW_ERROR      -1
#define AW_FATAL      -2    /* stop the worker with aw_worker.exit_code */


#define AW_EXIT_OK        0
#define AW_EXIT_FAILURE   1
#define AW_EXIT_CONFIG   78     /* EX_CONFIG from <sysexits.h> */


typedef int64_t  aw_msec_t;

#define AW_MSEC_NEVER  INT64_MAX


#define aw_min(a, b)   ((a) < (b) ? (a) : (b))
#define aw_max(a, b)   ((a) > (b) ? (a) : (b))
#define aw_nelems(a)   (sizeof(a) / sizeof((a)[0]))


/*
 * Exponential backoff with jitter between reconnect attempts.  The first
 * attempt after a connection that had worked for at least max is made at
 * once (a server that closed an idle connection is usually still there);
 * each later failure doubles the delay from min up to max, and the delay
 * actually used is drawn from [delay/2, delay] so that several workers do
 * not reconnect in step.  A connection that keeps dying right after it is
 * made therefore never makes the worker spin.
 */

typedef struct {
    aw_msec_t   min;
    aw_msec_t   max;
    aw_msec_t   delay;      /* the next delay, before jitter */
    aw_msec_t   next;       /* monotonic time of the next attempt */
    aw_msec_t   ok_since;   /* monotonic time of the last success */
    unsigned    failures;   /* since the last success */
} aw_backoff_t;


aw_msec_t aw_monotonic_msec(void);
int64_t aw_monotonic_usec(void);
aw_msec_t aw_unix_msec(void);
void aw_sleep_msec(aw_msec_t ms);
void aw_random_init(void);
long aw_random(void);

void aw_backoff_init(aw_backoff_t *b, aw_msec_t min, aw_msec_t max);
void aw_backoff_bounds(aw_backoff_t *b, aw_msec_t min, aw_msec_t max);
void aw_backoff_reset(aw_backoff_t *b, aw_msec_t now);
aw_msec_t aw_backoff_fail(aw_backoff_t *b, aw_msec_t now);

#define aw_backoff_due(b, now)  ((now) >= (b)->next)


#endif /* AW_CORE_H */
