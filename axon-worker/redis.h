/*
 * axon-worker: one synchronous hiredis connection with connect and command
 * timeouts, AUTH, and reconnect with backoff.  Any failure of the
 * connection (a NULL reply, a timeout, EOF) closes it and schedules a
 * reconnect; nothing ever retries in a tight loop.
 */

#ifndef AW_REDIS_H
#define AW_REDIS_H


#include <hiredis/hiredis.h>

#include "core.h"


typedef struct {
    const char     *name;           /* log prefix: "redis" */
    redisContext   *ctx;            /* NULL: not connected */

    char           *host;
    int             port;
    char           *password;
    aw_msec_t       timeout;
    aw_backoff_t    backoff;

    unsigned        down_logged:1;

    char            error[256];     /* the last error, or error reply */
} aw_redis_t;


#define aw_redis_up(r)  ((r)->ctx != NULL)


void aw_redis_init(aw_redis_t *r, const char *name);
int aw_redis_configure(aw_redis_t *r, const char *host, int port,
    const char *password, aw_msec_t timeout, aw_msec_t reconnect_min,
    aw_msec_t reconnect_max);
int aw_redis_connect(aw_redis_t *r);
int aw_redis_ready(aw_redis_t *r, aw_msec_t now);
void aw_redis_close(aw_redis_t *r);
void aw_redis_free(aw_redis_t *r);
aw_msec_t aw_redis_wakeup(aw_redis_t *r);
int aw_redis_fd(aw_redis_t *r);
void aw_redis_readable(aw_redis_t *r);

redisReply *aw_redis_command(aw_redis_t *r, const char *fmt, ...);
redisReply *aw_redis_command_argv(aw_redis_t *r, int argc, const char **argv,
    const size_t *argvlen);


#endif /* AW_REDIS_H */
