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
    unsigned long   connects;       /* successful connects so far */

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

/*
 * Pipelining: commands appended are sent with the first aw_redis_get_reply,
 * which returns the replies in order; unlike aw_redis_command it returns an
 * error reply as such (type REDIS_REPLY_ERROR), and NULL only when the
 * connection failed (it is then closed, with every reply still due).
 */
int aw_redis_append(aw_redis_t *r, const char *fmt, ...);
int aw_redis_append_argv(aw_redis_t *r, int argc, const char **argv,
    const size_t *argvlen);
redisReply *aw_redis_get_reply(aw_redis_t *r);


#endif /* AW_REDIS_H */
