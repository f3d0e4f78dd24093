/*
 * axon-worker: the error log: stderr, or log_file reopened on SIGHUP so
 * that logrotate can move it away.  Each line is one write(2) on an
 * O_APPEND descriptor, so lines from several processes do not interleave;
 * between aw_log_hold() and aw_log_release() (a burst: a line per deposit
 * of a range) whole lines go out together, PIPE_BUF bytes a write at most,
 * atomic on a pipe as on a file.
 */


#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "log.h"


#define AW_LOG_LINE_MAX  4096


int  aw_log_level = AW_LOG_INFO;

static int    aw_log_fd = STDERR_FILENO;
static char  *aw_log_file;          /* NULL: stderr */
static char   aw_log_ctx_buf[256];

static struct {
    unsigned  on;
    size_t    len;
    char      buf[PIPE_BUF];
} aw_log_held;


static void aw_log_write(int fd, const char *buf, size_t len);


static const char  *aw_log_levels[] = {
    "", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};


void
aw_log_core(int level, const char *fmt, ...)
{
    int             n;
    char            line[AW_LOG_LINE_MAX];
    size_t          len;
    va_list         args;
    struct tm       tm;
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);

    len = snprintf(line, sizeof(line),
                   "%04d/%02d/%02d %02d:%02d:%02d.%03d [%s] %d#worker: %s%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000),
                   aw_log_levels[level < 1 || level > 8 ? 4 : level],
                   (int) getpid(), aw_log_ctx_buf,
                   aw_log_ctx_buf[0] ? ": " : "");

    va_start(args, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, args);
    va_end(args);

    if (n < 0) {
        n = 0;
    }

    len += n;

    if (len > sizeof(line) - 2) {
        /* truncated: mark it */
        len = sizeof(line) - 2;
        memcpy(line + len - 3, "...", 3);
    }

    line[len++] = '\n';

    if (aw_log_held.on && level > AW_LOG_ALERT) {
        if (aw_log_held.len + len > sizeof(aw_log_held.buf)) {
            aw_log_write(aw_log_fd, aw_log_held.buf, aw_log_held.len);
            aw_log_held.len = 0;
        }

        if (len <= sizeof(aw_log_held.buf)) {
            memcpy(aw_log_held.buf + aw_log_held.len, line, len);
            aw_log_held.len += len;
            return;
        }
    }

    aw_log_write(aw_log_fd, line, len);

    if (level <= AW_LOG_ALERT && aw_log_fd != STDERR_FILENO) {
        /* what stops the worker is also seen by whoever started it */
        aw_log_write(STDERR_FILENO, line, len);
    }
}


static void
aw_log_write(int fd, const char *buf, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return;
        }

        buf += n;
        len -= n;
    }
}


/* the lines of a burst held, then written together (see above) */

void
aw_log_hold(void)
{
    aw_log_held.on = 1;
}


void
aw_log_release(void)
{
    aw_log_write(aw_log_fd, aw_log_held.buf, aw_log_held.len);
    aw_log_held.len = 0;
    aw_log_held.on = 0;
}


/*
 * Sets the context prefix of the following lines, e.g.
 * aw_log_ctx("job=%lld session=%lld", job, session); aw_log_ctx(NULL)
 * clears it.
 */

void
aw_log_ctx(const char *fmt, ...)
{
    va_list  args;

    if (fmt == NULL) {
        aw_log_ctx_buf[0] = '\0';
        return;
    }

    va_start(args, fmt);
    vsnprintf(aw_log_ctx_buf, sizeof(aw_log_ctx_buf), fmt, args);
    va_end(args);
}


/*
 * Switches the log to path (NULL or "": stderr).  On failure the old
 * destination is kept and AW_ERROR returned, after a line in it.
 */

int
aw_log_open(const char *path)
{
    int    fd;
    char  *copy;

    if (path == NULL || path[0] == '\0') {
        aw_log_close();
        return AW_OK;
    }

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1) {
        aw_log(AW_LOG_ERR, "log: cannot open log_file \"%s\": %s",
               path, strerror(errno));
        return AW_ERROR;
    }

    copy = strdup(path);
    if (copy == NULL) {
        close(fd);
        aw_log(AW_LOG_ERR, "log: out of memory");
        return AW_ERROR;
    }

    aw_log_close();

    aw_log_fd = fd;
    aw_log_file = copy;

    return AW_OK;
}


/*
 * SIGHUP: open the log file again by name (logrotate renamed the old one).
 */

int
aw_log_reopen(void)
{
    int  fd;

    if (aw_log_file == NULL) {
        return AW_OK;
    }

    fd = open(aw_log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1) {
        aw_log(AW_LOG_ERR, "log: cannot reopen log_file \"%s\": %s, "
               "still writing to the old file", aw_log_file, strerror(errno));
        return AW_ERROR;
    }

    close(aw_log_fd);
    aw_log_fd = fd;

    return AW_OK;
}


void
aw_log_close(void)
{
    if (aw_log_file != NULL) {
        close(aw_log_fd);
        free(aw_log_file);
        aw_log_file = NULL;
    }

    aw_log_fd = STDERR_FILENO;
}


const char *
aw_log_path(void)
{
    return aw_log_file ? aw_log_file : "stderr";
}


void
aw_assert_fail(const char *expr, const char *file, int line)
{
    aw_log_core(AW_LOG_EMERG, "assertion \"%s\" failed at %s:%d",
                expr, file, line);
    abort();
}
