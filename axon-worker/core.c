/*
 * axon-worker: clocks, randomness for jitter, the reconnect backoff.
 */


#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core.h"


aw_msec_t
aw_monotonic_msec(void)
{
    return aw_monotonic_usec() / 1000;
}


/* the same clock in microseconds, to time a call */

int64_t
aw_monotonic_usec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


aw_msec_t
aw_unix_msec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (aw_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
aw_sleep_msec(aw_msec_t ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        /* void */
    }
}


static unsigned short  aw_random_state[3];


void
aw_random_init(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    aw_random_state[0] = (unsigned short) getpid();
    aw_random_state[1] = (unsigned short) ts.tv_nsec;
    aw_random_state[2] = (unsigned short) (ts.tv_sec ^ (ts.tv_nsec >> 16));
}


long
aw_random(void)
{
    return nrand48(aw_random_state);
}


void
aw_backoff_init(aw_backoff_t *b, aw_msec_t min, aw_msec_t max)
{
    b->min = min;
    b->max = aw_max(min, max);
    b->delay = b->min;
    b->next = 0;
    b->ok_since = 0;
    b->failures = 0;
}


/* new bounds from a reload; the delay in progress is kept within them */

void
aw_backoff_bounds(aw_backoff_t *b, aw_msec_t min, aw_msec_t max)
{
    b->min = min;
    b->max = aw_max(min, max);
    b->delay = aw_max(b->min, aw_min(b->delay, b->max));
}


void
aw_backoff_reset(aw_backoff_t *b, aw_msec_t now)
{
    b->delay = b->min;
    b->next = 0;
    b->ok_since = now;
    b->failures = 0;
}


/*
 * Called after a failed attempt (or the loss of a connection): schedules
 * the next attempt and returns how long until it.
 */

aw_msec_t
aw_backoff_fail(aw_backoff_t *b, aw_msec_t now)
{
    aw_msec_t  delay, half;

    if (b->failures++ == 0 && now - b->ok_since >= b->max) {
        /* a connection that worked for a while was lost: retry at once */
        b->next = now;
        return 0;
    }

    half = b->delay / 2;
    delay = half + (half > 0 ? aw_random() % (half + 1) : 0);

    b->next = now + delay;
    b->delay = aw_min(b->delay * 2, b->max);

    return delay;
}
