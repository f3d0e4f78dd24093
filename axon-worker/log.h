/*
 * axon-worker: the error log.
 *
 *   2026/11/23 10:00:00.123 [info] 1234#worker: pg: connected to ...
 *   2026/11/23 10:00:01.456 [error] 1234#worker: job=17 session=5: ...
 *
 * Levels as in nginx; lines below log_level are dropped.  A context prefix
 * set with aw_log_ctx() (a job, session or wallet) goes before every
 * message until aw_log_ctx(NULL).
 */

#ifndef AW_LOG_H
#define AW_LOG_H


#define AW_LOG_EMERG    1
#define AW_LOG_ALERT    2
#define AW_LOG_CRIT     3
#define AW_LOG_ERR      4
#define AW_LOG_WARN     5
#define AW_LOG_NOTICE   6
#define AW_LOG_INFO     7
#define AW_LOG_DEBUG    8


extern int  aw_log_level;


#define aw_log(level, ...)                                                    \
    do {                                                                      \
        if ((level) <= aw_log_level) {                                        \
            aw_log_core(level, __VA_ARGS__);                                  \
        }                                                                     \
    } while (0)

#define aw_assert(expr)                                                       \
    ((expr) ? (void) 0 : aw_assert_fail(#expr, __FILE__, __LINE__))


void aw_log_core(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void aw_log_hold(void);
void aw_log_release(void);
void aw_log_ctx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int aw_log_open(const char *path);
int aw_log_reopen(void);
void aw_log_close(void);
const char *aw_log_path(void);
void aw_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));


#endif /* AW_LOG_H */
