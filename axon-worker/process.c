/*
 * axon-worker: child processes: posix_spawn with pipes, a timeout and a
 * reaped child.
 */


#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "process.h"


extern char **environ;


typedef struct {
    int       fd;
    char    **buf;
    size_t   *len;
    size_t    size;
} aw_spawn_stream_t;


static int aw_spawn_child(char *const argv[], char *const envp[], int out,
    int err, pid_t *pid);
static void aw_spawn_drain(aw_spawn_stream_t streams[2], aw_msec_t deadline,
    aw_spawn_result_t *r);
static int aw_spawn_wait(pid_t pid, aw_msec_t deadline, aw_spawn_result_t *r,
    int *status, char *msg, size_t msglen);
static char **aw_spawn_env(char *const env[]);
static int aw_spawn_read(aw_spawn_stream_t *s);
static void aw_spawn_close_pipes(int out[2], int err[2]);


int
aw_spawn_run(char *const argv[], char *const env[], aw_msec_t timeout,
    aw_spawn_result_t *r, char *msg, size_t msglen)
{
    int                 out[2], err[2], rc, status, i;
    pid_t               pid;
    char              **envp;
    aw_msec_t           start, deadline;
    aw_spawn_stream_t   streams[2];

    memset(r, 0, sizeof(aw_spawn_result_t));
    r->status = -1;
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    out[0] = out[1] = err[0] = err[1] = -1;

    start = aw_monotonic_msec();
    deadline = start + timeout;

    envp = aw_spawn_env(env);

    if (r->out == NULL || r->err == NULL || envp == NULL) {
        snprintf(msg, msglen, "out of memory");
        free(envp);
        return AW_ERROR;
    }

    if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1) {
        snprintf(msg, msglen, "pipe() failed: %s", strerror(errno));
        aw_spawn_close_pipes(out, err);
        free(envp);
        return AW_ERROR;
    }

    rc = aw_spawn_child(argv, envp, out[1], err[1], &pid);

    free(envp);

    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;

    if (rc != 0) {
        snprintf(msg, msglen, "cannot run \"%s\": %s", argv[0], strerror(rc));
        aw_spawn_close_pipes(out, err);
        return AW_ERROR;
    }

    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);

    streams[0] = (aw_spawn_stream_t) { out[0], &r->out, &r->out_len, 1 };
    streams[1] = (aw_spawn_stream_t) { err[0], &r->err, &r->err_len, 1 };

    aw_spawn_drain(streams, deadline, r);

    rc = aw_spawn_wait(pid, deadline, r, &status, msg, msglen);

    for (i = 0; i < 2; i++) {
        if (streams[i].fd != -1) {
            close(streams[i].fd);
        }
    }

    r->elapsed = aw_monotonic_msec() - start;

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    if (WIFEXITED(status)) {
        r->status = WEXITSTATUS(status);

    } else if (WIFSIGNALED(status)) {
        r->signo = WTERMSIG(status);
    }

    if (r->timed_out) {
        snprintf(msg, msglen, "\"%s\" did not finish within %lld ms: killed",
                 argv[0], (long long) timeout);
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * Starts argv with stdin on /dev/null, stdout and stderr on the write ends
 * given, in a process group of its own.  Returns posix_spawn()'s error.
 */

static int
aw_spawn_child(char *const argv[], char *const envp[], int out, int err,
    pid_t *pid)
{
    int                          rc;
    sigset_t                     none, all;
    posix_spawnattr_t            attr;
    posix_spawn_file_actions_t   fa;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    /* the worker's sockets and files are none of the child's business */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);

    /* the worker's signal mask and handlers are not the child's either */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF
                                    | POSIX_SPAWN_SETPGROUP);

    if (strchr(argv[0], '/') != NULL) {
        rc = posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
    } else {
        rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, envp);
    }

    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);

    return rc;
}


/*
 * Reads both pipes until the child (and whatever inherited them) closes
 * them, or the time is up; sets r->timed_out then.
 */

static void
aw_spawn_drain(aw_spawn_stream_t streams[2], aw_msec_t deadline,
    aw_spawn_result_t *r)
{
    int             i, n, rc, open;
    aw_msec_t       now;
    struct pollfd   pfd[2];

    open = 2;

    while (open > 0) {
        now = aw_monotonic_msec();

        if (now >= deadline) {
            r->timed_out = 1;
            break;
        }

        n = 0;

        for (i = 0; i < 2; i++) {
            if (streams[i].fd != -1) {
                pfd[n].fd = streams[i].fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        }

        rc = poll(pfd, n, (int) aw_min(deadline - now, 1000));

        if (rc == -1 && errno != EINTR) {
            aw_log(AW_LOG_ERR, "spawn: poll() failed: %s", strerror(errno));
            r->timed_out = 1;
            break;
        }

        for (i = 0; i < 2; i++) {
            if (streams[i].fd != -1 && aw_spawn_read(&streams[i]) != AW_OK) {
                close(streams[i].fd);
                streams[i].fd = -1;
                open--;
            }
        }
    }
}


/*
 * Waits for the child's exit; past the deadline (or when draining the pipes
 * already timed out) kills its process group and reaps it.  Returns AW_ERROR
 * only when waitpid() fails, with the child not reaped.
 */

static int
aw_spawn_wait(pid_t pid, aw_msec_t deadline, aw_spawn_result_t *r,
    int *status, char *msg, size_t msglen)
{
    pid_t  w;

    *status = 0;

    while (!r->timed_out) {
        w = waitpid(pid, status, WNOHANG);

        if (w == pid) {
            return AW_OK;
        }

        if (w == -1 && errno != EINTR) {
            aw_log(AW_LOG_ALERT, "spawn: waitpid(%d) failed: %s",
                   (int) pid, strerror(errno));
            snprintf(msg, msglen, "waitpid() failed: %s", strerror(errno));
            r->timed_out = 0;
            return AW_ERROR;
        }

        if (aw_monotonic_msec() >= deadline) {
            r->timed_out = 1;
            break;
        }

        aw_sleep_msec(5);
    }

    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);

    while (waitpid(pid, status, 0) == -1 && errno == EINTR) {
        /* void */
    }

    return AW_OK;
}


void
aw_spawn_result_free(aw_spawn_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}


/*
 * Reads what is there.  Returns AW_ERROR at end of file or on an error,
 * AW_OK otherwise.  Output past AW_SPAWN_OUTPUT_MAX is read and dropped.
 */

static int
aw_spawn_read(aw_spawn_stream_t *s)
{
    char     chunk[4096], *p;
    size_t   keep;
    ssize_t  n;

    for ( ;; ) {
        n = read(s->fd, chunk, sizeof(chunk));

        if (n == 0) {
            return AW_ERROR;
        }

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return (errno == EAGAIN) ? AW_OK : AW_ERROR;
        }

        keep = aw_min((size_t) n, AW_SPAWN_OUTPUT_MAX - *s->len);

        if (keep == 0) {
            continue;
        }

        if (*s->len + keep + 1 > s->size) {
            s->size = aw_max(s->size * 2, *s->len + keep + 1);

            p = realloc(*s->buf, s->size);
            if (p == NULL) {
                return AW_ERROR;
            }

            *s->buf = p;
        }

        memcpy(*s->buf + *s->len, chunk, keep);
        *s->len += keep;
        (*s->buf)[*s->len] = '\0';
    }
}


/* environ, with the names set in env replaced */

static char **
aw_spawn_env(char *const env[])
{
    size_t   n, m, i, j, k, len;
    char   **envp;

    for (n = 0; environ[n]; n++) { /* void */ }
    for (m = 0; env && env[m]; m++) { /* void */ }

    envp = malloc((n + m + 1) * sizeof(char *));
    if (envp == NULL) {
        return NULL;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < m; j++) {
            len = strcspn(env[j], "=");

            if (strncmp(environ[i], env[j], len) == 0
                && environ[i][len] == '=')
            {
                break;
            }
        }

        if (j == m) {
            envp[k++] = environ[i];
        }
    }

    for (j = 0; j < m; j++) {
        envp[k++] = env[j];
    }

    envp[k] = NULL;

    return envp;
}


static void
aw_spawn_close_pipes(int out[2], int err[2])
{
    int  i;

    for (i = 0; i < 2; i++) {
        if (out[i] != -1) {
            close(out[i]);
        }

        if (err[i] != -1) {
            close(err[i]);
        }
    }
}


void
aw_spawn_format_argv(char *const argv[], char *buf, size_t size)
{
    size_t       len;
    const char  *a;

    len = 0;
    buf[0] = '\0';

    for ( ; *argv && len < size; argv++) {
        a = *argv;

        if (a[0] != '\0' && strpbrk(a, " \t\n\"'\\$;&|<>()`*?") == NULL) {
            len += snprintf(buf + len, size - len, "%s%s",
                            len ? " " : "", a);
            continue;
        }

        len += snprintf(buf + len, size - len, "%s'", len ? " " : "");

        for ( ; *a && len < size; a++) {
            if (*a == '\'') {
                len += snprintf(buf + len, size - len, "'\\''");

            } else if ((unsigned char) *a < 0x20 || *a == 0x7f) {
                len += snprintf(buf + len, size - len, "\\x%02x",
                                (unsigned char) *a);

            } else {
                len += snprintf(buf + len, size - len, "%c", *a);
            }
        }

        if (len < size) {
            len += snprintf(buf + len, size - len, "'");
        }
    }
}
