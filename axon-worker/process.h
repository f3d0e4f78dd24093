/*
 * axon-worker: running a program and collecting what it says, without a
 * shell.  The argv goes to posix_spawn(3) as it is: no word splitting, no
 * quoting, no $(...); stdin is /dev/null, stdout and stderr come back
 * through pipes, every other descriptor is closed in the child.
 *
 * The child runs in a process group of its own; past the timeout the
 * whole group gets SIGKILL.  Either way the child is reaped before
 * aw_spawn_run() returns: no zombie, no descriptor left open.
 */

#ifndef AW_PROCESS_H
#define AW_PROCESS_H


#include <stddef.h>

#include "core.h"


#define AW_SPAWN_OUTPUT_MAX  (1024 * 1024)    /* kept of each stream */


typedef struct {
    int          status;        /* exit code; -1 if killed by a signal */
    int          signo;         /* the signal that ended it, or 0 */
    unsigned     timed_out:1;   /* we killed it at the timeout */
    aw_msec_t    elapsed;
    char        *out;           /* NUL-terminated, never NULL once run */
    size_t       out_len;
    char        *err;
    size_t       err_len;
} aw_spawn_result_t;


/*
 * Runs argv[0] (looked up in PATH when it has no slash) with the caller's
 * environment plus env ("NAME=value" strings replacing the same names;
 * NULL-terminated, or NULL).  Returns AW_OK once the child has exited by
 * itself, whatever its status; AW_ERROR if it could not be started or
 * had to be killed at the timeout, with the reason in msg.  Free r with
 * aw_spawn_result_free() in every case.
 */
int aw_spawn_run(char *const argv[], char *const env[], aw_msec_t timeout,
    aw_spawn_result_t *r, char *msg, size_t msglen);
void aw_spawn_result_free(aw_spawn_result_t *r);

/* argv as one line for logs: words with blanks or quotes are quoted */
void aw_spawn_format_argv(char *const argv[], char *buf, size_t size);


#endif /* AW_PROCESS_H */
