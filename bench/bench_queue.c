/*
 * The baseline of the queue benchmark (scripts/bench-queue): the bare
 * Redis Streams loop the worker's queue is built on, without Postgres and
 * without any job's work, on the same Redis.
 *
 *   bench_queue PORT N BATCH
 *
 * Queues N entries with the fields of a credit.grant job into a stream of
 * its own (bench:bare), pipelined, then consumes them as one consumer of a
 * group, timed: XREADGROUP COUNT BATCH, and for each entry XACK + XDEL in
 * one round trip, as the worker acknowledges each job after its work.
 * Prints "jobs=N seconds=S jps=R enqueue_jps=R".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static redisReply *
command(redisContext *c, const char *fmt, ...)
{
    va_list      args;
    redisReply  *r;

    va_start(args, fmt);
    r = redisvCommand(c, fmt, args);
    va_end(args);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "bench_queue: %s: %s\n", fmt,
                r ? r->str : c->errstr);
        exit(1);
    }

    return r;
}


static void
get_reply(redisContext *c)
{
    void  *r;

    if (redisGetReply(c, &r) != REDIS_OK || r == NULL
        || ((redisReply *) r)->type == REDIS_REPLY_ERROR)
    {
        fprintf(stderr, "bench_queue: reply: %s\n",
                r ? ((redisReply *) r)->str : c->errstr);
        exit(1);
    }

    freeReplyObject(r);
}


int
main(int argc, char **argv)
{
    int            port, n, batch, i, done, sent;
    double         t0, t1, t2;
    size_t         k;
    redisReply    *r, *entries, *e;
    redisContext  *c;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_queue PORT N BATCH\n");
        return 2;
    }

    port = atoi(argv[1]);
    n = atoi(argv[2]);
    batch = atoi(argv[3]);

    c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        fprintf(stderr, "bench_queue: connect: %s\n", c ? c->errstr : "?");
        return 1;
    }

    freeReplyObject(command(c, "DEL bench:bare"));

    /* enqueue, pipelined by 1000 */

    t0 = now();

    for (sent = 0; sent < n; /* void */ ) {
        for (i = 0; i < 1000 && sent < n; i++, sent++) {
            redisAppendCommand(c, "XADD bench:bare * kind credit.grant "
                               "wallet 0x%040x minutes 5 ref bare-%d",
                               sent % 50 + 1, sent);
        }

        while (i-- > 0) {
            get_reply(c);
        }
    }

    t1 = now();

    freeReplyObject(command(c, "XGROUP CREATE bench:bare g 0"));

    /* consume */

    done = 0;

    while (done < n) {
        r = command(c, "XREADGROUP GROUP g c COUNT %d STREAMS bench:bare >",
                    batch);

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
            fprintf(stderr, "bench_queue: stream empty after %d\n", done);
            return 1;
        }

        entries = r->element[0]->element[1];

        for (k = 0; k < entries->elements; k++) {
            e = entries->element[k];

            redisAppendCommand(c, "XACK bench:bare g %s", e->element[0]->str);
            redisAppendCommand(c, "XDEL bench:bare %s", e->element[0]->str);
            get_reply(c);
            get_reply(c);
            done++;
        }

        freeReplyObject(r);
    }

    t2 = now();

    freeReplyObject(command(c, "DEL bench:bare"));
    redisFree(c);

    printf("jobs=%d seconds=%.3f jps=%.0f enqueue_jps=%.0f\n", n, t2 - t1,
           n / (t2 - t1), n / (t1 - t0));

    return 0;
}
