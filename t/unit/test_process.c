/*
 * Unit tests for axon-worker/process.c: aw_spawn_run() collects both
 * streams in full, passes argv without a shell, kills a process group at
 * the timeout, reaps every child, leaks no descriptor, and gives the
 * child a clean signal mask and only descriptors 0-2.
 *
 * usage: test_process [--vectors FILE]   (the argument is ignored)
 * The last line is "N passed, N failed".
 */


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "process.h"
#include "check.h"


static int
count_fds(void)
{
    int             n;
    DIR            *d;
    struct dirent  *e;

    n = 0;
    d = opendir("/proc/self/fd");

    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }

    closedir(d);

    return n;
}


/* whether pid runs: exists and is not a zombie */

static int
alive(pid_t pid)
{
    int    n;
    char   path[64], buf[512], *p;
    FILE  *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);

    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n > 0 ? n : 0] = '\0';

    /* "pid (comm) S ...": the state follows the last ')' */
    p = strrchr(buf, ')');

    return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}


static int
sh(const char *script, char *const env[], aw_msec_t timeout,
    aw_spawn_result_t *r, char *msg)
{
    char *const  argv[] = { "/bin/sh", "-c", (char *) script, NULL };

    return aw_spawn_run(argv, env, timeout, r, msg, 256);
}


int
main(void)
{
    int                 rc, fd, fds, i;
    long                grandchild;
    char                msg[256], *p;
    sigset_t            set;
    aw_spawn_result_t   r;

    aw_log_level = AW_LOG_ERR;
    fds = count_fds();

    /* both streams and the exit code */
    rc = sh("echo out; echo err >&2; exit 3", NULL, 5000, &r, msg);
    CHECK("status", rc == AW_OK && r.status == 3 && r.signo == 0);
    CHECK("stdout", strcmp(r.out, "out\n") == 0 && r.out_len == 4);
    CHECK("stderr", strcmp(r.err, "err\n") == 0);
    aw_spawn_result_free(&r);

    /* more than a pipe holds, on both streams: both are drained */
    rc = sh("head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; "
            "head -c 100000 /dev/zero", NULL, 5000, &r, msg);
    CHECK("big", rc == AW_OK && r.status == 0);
    CHECK("big stdout", r.out_len == 400000);
    CHECK("big stderr", r.err_len == 200000);
    aw_spawn_result_free(&r);

    /* past the cap: read and dropped, the child is not blocked */
    rc = sh("head -c 3000000 /dev/zero", NULL, 5000, &r, msg);
    CHECK("cap", rc == AW_OK && r.status == 0
                 && r.out_len == AW_SPAWN_OUTPUT_MAX);
    aw_spawn_result_free(&r);

    /* argv reaches the program as it is: no shell */
    {
        char *const  argv[] = { "echo", "$(id); `id` | x > /tmp/no", NULL };

        rc = aw_spawn_run(argv, NULL, 5000, &r, msg, sizeof(msg));
        CHECK("literal", rc == AW_OK
              && strcmp(r.out, "$(id); `id` | x > /tmp/no\n") == 0);
        aw_spawn_result_free(&r);
    }

    /* the environment, with names replaced */
    {
        char *const  env[] = { "HOME=/nowhere", "AXON_T=a b", NULL };

        rc = sh("echo \"$AXON_T|$HOME|${PATH:+path}\"", env, 5000, &r, msg);
        CHECK("env", rc == AW_OK && strcmp(r.out, "a b|/nowhere|path\n") == 0);
        aw_spawn_result_free(&r);
    }

    /* stdin is /dev/null */
    {
        char *const  argv[] = { "cat", NULL };

        rc = aw_spawn_run(argv, NULL, 5000, &r, msg, sizeof(msg));
        CHECK("stdin", rc == AW_OK && r.status == 0 && r.out_len == 0);
        aw_spawn_result_free(&r);
    }

    /* killed by a signal */
    rc = sh("kill -TERM $$", NULL, 5000, &r, msg);
    CHECK("signal", rc == AW_OK && r.status == -1 && r.signo == SIGTERM);
    aw_spawn_result_free(&r);

    /* a descriptor without O_CLOEXEC and a blocked signal stay here */
    fd = open("/dev/null", O_RDONLY);
    CHECK("dup", dup2(fd, 57) == 57);
    close(fd);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);

    rc = sh("ls /proc/$$/fd | tr '\\n' ' '", NULL, 5000, &r, msg);
    CHECK("fds in child", rc == AW_OK && strncmp(r.out, "0 1 2 ", 6) == 0
                          && strstr(r.out, " 57 ") == NULL);
    aw_spawn_result_free(&r);

    /*
     * the mask of the program started, not of a shell: one blocks signals
     * of its own for a moment while it waits for a command (dash does, in
     * its wait), which a grep of the shell's status can catch
     */
    {
        char *const  argv[] = { "grep", "SigBlk", "/proc/self/status", NULL };

        rc = aw_spawn_run(argv, NULL, 5000, &r, msg, sizeof(msg));
        CHECK("mask in child", rc == AW_OK && r.status == 0
              && strstr(r.out, "SigBlk:\t0000000000000000") != NULL);
        aw_spawn_result_free(&r);
    }

    sigprocmask(SIG_UNBLOCK, &set, NULL);
    close(57);

    /*
     * the timeout kills the group: a grandchild holding the pipes too (the
     * run ends then, not when the grandchild would have: 7 s); a second for
     * the shell to print that pid first, on a loaded machine too
     */
    rc = sh("sleep 7 & echo $!; sleep 8", NULL, 1000, &r, msg);
    CHECK("timeout", rc == AW_ERROR && r.timed_out && r.signo == SIGKILL);
    CHECK("timeout msg", strstr(msg, "did not finish within 1000 ms") != NULL);
    CHECK("timeout time", r.elapsed >= 1000 && r.elapsed < 7000);
    grandchild = strtol(r.out, &p, 10);
    CHECK("grandchild pid", grandchild > 0 && *p == '\n');
    aw_spawn_result_free(&r);

    /* dead: gone, or a zombie its new parent has yet to reap */
    for (i = 0; i < 100 && alive((pid_t) grandchild); i++) {
        aw_sleep_msec(10);
    }

    CHECK("grandchild killed", grandchild > 0 && !alive((pid_t) grandchild));

    /* a program that is not there */
    {
        char *const  argv[] = { "/nonexistent/docker", "ps", NULL };

        rc = aw_spawn_run(argv, NULL, 5000, &r, msg, sizeof(msg));
        CHECK("enoent", rc == AW_ERROR
              && strstr(msg, "No such file or directory") != NULL);
        aw_spawn_result_free(&r);
    }

    {
        char *const  argv[] = { "no-such-program-axon", NULL };

        rc = aw_spawn_run(argv, NULL, 5000, &r, msg, sizeof(msg));
        CHECK("enoent in PATH", rc == AW_ERROR);
        aw_spawn_result_free(&r);
    }

    /* no zombie, no descriptor left */
    CHECK("no zombie", waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    CHECK("no fd leak", count_fds() == fds);

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
