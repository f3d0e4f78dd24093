/*
 * axon-worker: one synchronous hiredis connection with connect and command
 * timeouts, AUTH, and reconnect with backoff.  Any failure of the
 * connection (a NULL reply, a timeout, EOF) closes it and schedules a
 * reconnect; nothing ever retries in a tight loop.
 */

#ifndef AW_REDIS_H
#define AW_REDIS_H


#include <hiredis/hiredis.h>

#include "axon_contract.h"
#include "axon_lua.h"
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
    unsigned long   script_gen;     /* a new one: scripts go by EVAL again */

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


/*
 * A script of lua/ (build/axon_lua.h), aw_script(NAME) for lua/name.lua,
 * run with argv: its nkeys keys, then its arguments (argvlen NULL: C
 * strings).  It goes by EVALSHA once Redis has it, else by EVAL with its
 * text, which caches it: Redis has it once this connection sent it by EVAL
 * (commands run in order, so a pipeline may send EVALSHA right behind that
 * EVAL).  A NOSCRIPT answer (a SCRIPT FLUSH) makes the next use of every
 * script go by EVAL again; aw_redis_script() sends that EVAL at once, while
 * a pipelined command that met NOSCRIPT fails like any error reply.
 */
typedef struct {
    axon_script_t   s;
    unsigned long   gen;            /* script_gen when it went by EVAL */
} aw_script_t;

#define aw_script(NAME)  { AXON_SCRIPT(NAME), 0 }

redisReply *aw_redis_script(aw_redis_t *r, aw_script_t *s, int nkeys,
    int argc, const char **argv, const size_t *argvlen);
int aw_redis_append_script(aw_redis_t *r, aw_script_t *s, int nkeys,
    int argc, const char **argv, const size_t *argvlen);


#endif /* AW_REDIS_H */
