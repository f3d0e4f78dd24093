/*
 * axon-worker: session containers through a docker-compatible CLI.
 *
 * Each operation is one or two commands, built as argv from the
 * configuration and the request and run with posix_spawn (spawn.c):
 *
 *   start    docker run -d --name axgt-session-ID
 *                --label axon.session=ID --label axon.wallet=ADDR
 *                --label axon.mode=desktop|ssh [-v HOME:home_path]
 *                [--network NET]
 *                -e AXON_SESSION=ID -e AXON_WALLET=ADDR -e AXON_GPUS=0,1
 *                [-e AXON_SSH_KEY=KEY] [-e AXON_VNC_PASSWORD]
 *                -e AXGT_SESSION_ID=ID ... (the original gate's image)
 *                -p 127.0.0.1:HOSTPORT:PORT
 *                [launcher_gpu_args] [launcher_args] IMAGE
 *   remove   docker stop --time GRACE NAME;  docker rm -f NAME
 *   list     docker ps -a -q --no-trunc --filter label=axon.session
 *            docker inspect --format ... ID...
 *
 * and, with home_keep, the wallet's home volume:
 *
 *   start    docker volume create --label axon.home=ADDR [LABELS]
 *                [--opt o=size=SIZE] HOME      (before run; one that
 *                exists is kept as it is)
 *            docker run ... -v HOME:home_path ...
 *   homes    docker volume ls -q --filter label=axon.home
 *   home_remove  docker volume rm HOME         (refused while in use)
 *
 * LABELS are the --label words of launcher_args (a test stack's
 * axon.stack=DIR), so that what labels a stack's containers labels its
 * volumes too.  An empty volume gets the image's content at home_path,
 * owner included, at its first mount (podman and docker both copy it).
 *
 * HOSTPORT is the session's port of the port pool, which the scheduler
 * gave it with its GPUs (no two live sessions share one).  A request
 * without one (a session scheduled before the pool existed) lets the
 * runtime choose (-p ADDR::PORT) and reads it back with
 * `docker port axgt-session-ID PORT/tcp`.
 *
 * A desktop's VNC password is a secret: `-e AXON_VNC_PASSWORD` without a
 * value makes the CLI take it from its own environment, which is where
 * the launcher puts it, so that it is in no argv (ps, the debug log).
 * podman and docker both accept all of the above.
 */


#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launcher.h"
#include "log.h"
#include "process.h"


#define AW_LAUNCHER_SETTLE   250     /* ms a probed peer must stay */
#define AW_LAUNCHER_FS       "\x1f"  /* field separator of list's format */
#define AW_LAUNCHER_STATE_EVERY  2000   /* ms between state checks */


typedef struct {
    char    **v;
    size_t    n;
    size_t    size;
    int       failed;
} aw_argv_t;


static int aw_docker_start(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c);
static int aw_docker_remove(aw_launcher_t *l, const char *name);
static int aw_docker_list(aw_launcher_t *l, aw_container_t **list,
    size_t *n);
static int aw_docker_homes(aw_launcher_t *l, aw_home_t **list, size_t *n);
static int aw_docker_home_remove(aw_launcher_t *l, const char *wallet);
static int aw_docker_exec(aw_launcher_t *l, int64_t session,
    const char *const *cmd, char **out);
static int aw_docker_home_create(aw_launcher_t *l, const char *wallet,
    const char *home);
static void aw_docker_labels(aw_argv_t *a, const char *args);
static size_t aw_launcher_home_prefix(const aw_conf_t *conf);
static size_t aw_docker_parse(char *out, aw_container_t *all, size_t size);
static void aw_docker_run_args(aw_argv_t *a, const aw_conf_t *conf,
    const char *addr, const aw_launch_t *req, const char *name, const char *image, int port,
    const char *gpus, const char *home, char *vnc, size_t vnclen);
static int aw_docker_start_port(aw_launcher_t *l, aw_container_t *c,
    int port);
static int aw_docker_port(aw_launcher_t *l, aw_container_t *c, int port);
static int aw_docker_state(aw_launcher_t *l, const char *name, char *state,
    size_t size);
static int aw_docker_run(aw_launcher_t *l, aw_argv_t *a,
    aw_spawn_result_t *r);
static int aw_docker_run_env(aw_launcher_t *l, aw_argv_t *a,
    const char *var, aw_spawn_result_t *r);
static void aw_docker_fail(aw_launcher_t *l, const char *what,
    aw_spawn_result_t *r);
static int aw_docker_gone(aw_spawn_result_t *r);

static void aw_argv_init(aw_argv_t *a, const aw_conf_t *conf);
static void aw_argv_push(aw_argv_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void aw_argv_split(aw_argv_t *a, const char *s, const char *gpus);
static void aw_argv_free(aw_argv_t *a);
static char *aw_launcher_last_line(const char *s, char *buf, size_t size);


static const aw_launcher_ops_t  aw_docker_ops = {
    "docker",
    aw_docker_start,
    aw_docker_state,
    aw_docker_remove,
    aw_docker_list,
    aw_docker_homes,
    aw_docker_home_remove,
    aw_docker_exec
};


const char  *aw_session_modes[] = { "desktop", "ssh" };


void
aw_launcher_init(aw_launcher_t *l, const aw_conf_t *conf)
{
    aw_launcher_init_host(l, conf, NULL);
}


void
aw_launcher_init_host(aw_launcher_t *l, const aw_conf_t *conf,
    const aw_conf_gpu_host_t *host)
{
    memset(l, 0, sizeof(aw_launcher_t));

    l->conf = conf;
    l->addr = (host && host->addr[0]) ? host->addr
                                      : conf->launcher_publish_addr;

    /* a host of gpu_hosts with its own engine */
    if (host && host->endpoint[0]) {
        l->endpoint = host->endpoint;
        l->ops = &aw_engine_ops;
        return;
    }

    l->endpoint = conf->launcher_engine;

    switch (conf->launcher) {
    case AW_LAUNCHER_ENGINE:
        l->ops = &aw_engine_ops;
        break;

    case AW_LAUNCHER_DOCKER:
    default:
        l->ops = &aw_docker_ops;
    }
}


int
aw_launcher_launch(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c)
{
    char       err[sizeof(l->err)];
    aw_msec_t  start;

    start = aw_monotonic_msec();

    if (l->ops->start(l, req, c) != AW_OK) {
        return AW_ERROR;
    }

    if (aw_launcher_ready(l, c, l->conf->launcher_ready_timeout) == AW_OK) {
        aw_log(AW_LOG_INFO, "launcher: session %lld running in %s, "
               "%s:%d, after %lld ms", (long long) req->session, c->name,
               c->host, c->port, (long long) (aw_monotonic_msec() - start));
        return AW_OK;
    }

    /* the reason is the wait's, not the removal's */
    memcpy(err, l->err, sizeof(err));

    if (l->ops->remove(l, c->name) != AW_OK) {
        aw_log(AW_LOG_ERR, "launcher: %s left behind: %s", c->name, l->err);
    }

    memcpy(l->err, err, sizeof(err));

    return AW_ERROR;
}


int
aw_launcher_stop(aw_launcher_t *l, int64_t session)
{
    char  name[160];

    snprintf(name, sizeof(name), "%s%lld", l->conf->launcher_prefix,
             (long long) session);

    return l->ops->remove(l, name);
}


int
aw_launcher_home_name(const aw_conf_t *conf, const char *wallet, char *buf,
    size_t size)
{
    int  n;

    if (strlen(wallet) != 42 || wallet[0] != '0' || wallet[1] != 'x'
        || strspn(wallet + 2, "0123456789abcdef") != 40)
    {
        return AW_ERROR;
    }

    n = snprintf(buf, size, "%.*shome-%s",
                 (int) aw_launcher_home_prefix(conf), conf->launcher_prefix,
                 wallet);

    return (n < 0 || (size_t) n >= size) ? AW_ERROR : AW_OK;
}


/* ours: this prefix, then home-, then an address */

int
aw_launcher_home_match(const aw_conf_t *conf, const char *name, aw_home_t *h)
{
    size_t  plen;

    plen = aw_launcher_home_prefix(conf);

    if (strncmp(name, conf->launcher_prefix, plen) != 0
        || strncmp(name + plen, "home-", 5) != 0)
    {
        return AW_ERROR;
    }

    snprintf(h->wallet, sizeof(h->wallet), "%s", name + plen + 5);

    if (aw_launcher_home_name(conf, h->wallet, h->name, sizeof(h->name))
        != AW_OK || strcmp(h->name, name) != 0)
    {
        return AW_ERROR;
    }

    return AW_OK;
}


/* how much of launcher_prefix the home volumes' names begin with */

static size_t
aw_launcher_home_prefix(const aw_conf_t *conf)
{
    size_t  len;

    len = strlen(conf->launcher_prefix);

    if (len >= 8 && strcmp(conf->launcher_prefix + len - 8, "session-") == 0)
    {
        len -= 8;
    }

    return len;
}


/*
 * Whether host:port answers: a TCP connection is accepted and the peer
 * then either speaks first (sshd, VNC) or keeps the connection open for
 * AW_LAUNCHER_SETTLE ms (an HTTP server waiting for a request).  A
 * connection refused, reset or closed at once is no answer: docker's
 * userland proxy accepts on a published port before anything listens
 * in the container, and closes as soon as it finds nobody there.
 */

int
aw_launcher_probe(const char *host, int port, aw_msec_t timeout)
{
    int               fd, rc, soerr;
    char              portstr[16], byte;
    socklen_t         len;
    struct pollfd     pfd;
    struct addrinfo   hints, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);

    if (getaddrinfo(host, portstr, &hints, &ai) != 0) {
        return AW_ERROR;
    }

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        freeaddrinfo(ai);
        return AW_ERROR;
    }

    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);

    if (rc == -1 && errno != EINPROGRESS) {
        goto failed;
    }

    pfd.fd = fd;
    pfd.events = POLLOUT;

    if (rc == -1) {
        if (poll(&pfd, 1, (int) timeout) != 1) {
            goto failed;
        }

        len = sizeof(soerr);

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1
            || soerr != 0)
        {
            goto failed;
        }
    }

    pfd.events = POLLIN;

    rc = poll(&pfd, 1, AW_LAUNCHER_SETTLE);

    if (rc == 0) {
        close(fd);
        return AW_OK;               /* still open: a server waiting */
    }

    if (rc == 1 && !(pfd.revents & (POLLERR|POLLHUP))
        && recv(fd, &byte, 1, MSG_PEEK) == 1)
    {
        close(fd);
        return AW_OK;               /* it spoke first */
    }

failed:

    close(fd);

    return AW_ERROR;
}


/* ---- the docker backend ------------------------------------------------ */


static int
aw_docker_start(aw_launcher_t *l, const aw_launch_t *req, aw_container_t *c)
{
    int                 port, rc;
    char                gpus[AW_LAUNCHER_MAX_GPUS * 72], *p, line[512],
                        vnc[96], home[160];
    aw_argv_t           a;
    const char         *image, *mode;
    aw_spawn_result_t   r;
    const aw_conf_t    *conf;

    conf = l->conf;
    l->err[0] = '\0';
    memset(c, 0, sizeof(aw_container_t));

    if (aw_launch_prepare(l, req, c, &image, &port, gpus, sizeof(gpus),
                          home, sizeof(home))
        != AW_OK)
    {
        return AW_ERROR;
    }

    mode = aw_session_modes[req->mode];

    if (home[0]) {
        if (aw_docker_home_create(l, req->wallet, home) != AW_OK) {
            return AW_ERROR;
        }
    }

    aw_docker_run_args(&a, conf, l->addr, req, c->name, image, port, gpus,
                       home[0] ? home : NULL, vnc, sizeof(vnc));

    rc = aw_docker_run_env(l, &a, vnc[0] ? vnc : NULL, &r);
    explicit_bzero(vnc, sizeof(vnc));
    aw_argv_free(&a);

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "run", &r);

        /* a container of that name is someone's session: leave it */
        if (strstr(r.err, "already in use") == NULL) {
            memcpy(line, l->err, aw_min(sizeof(line), sizeof(l->err)));
            line[sizeof(line) - 1] = '\0';
            aw_docker_remove(l, c->name);
            snprintf(l->err, sizeof(l->err), "%s", line);
        }

        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    p = r.out + strspn(r.out, " \t\r\n");
    snprintf(c->id, sizeof(c->id), "%.*s", (int) strcspn(p, " \t\r\n"), p);
    aw_spawn_result_free(&r);

    aw_log(AW_LOG_INFO, "launcher: session %lld: started %s (%s, %.12s) "
           "from %s, gpus \"%s\"", (long long) req->session, c->name, mode,
           c->id, image, gpus);

    if (req->port > 0) {
        c->port = req->port;
        return AW_OK;
    }

    return aw_docker_start_port(l, c, port);
}


/*
 * The "docker run" command line of a session: its labels, environment and
 * published port.  The VNC password goes in vnc as "NAME=value", for the
 * CLI's environment rather than its argv.
 */

static void
aw_docker_run_args(aw_argv_t *a, const aw_conf_t *conf, const char *addr,
    const aw_launch_t *req, const char *name, const char *image, int port,
    const char *gpus, const char *home, char *vnc, size_t vnclen)
{
    size_t            i;
    const char       *mode;
    aw_launch_env_t   env;

    mode = aw_session_modes[req->mode];
    vnc[0] = '\0';

    aw_argv_init(a, conf);
    aw_argv_push(a, "run");
    aw_argv_push(a, "-d");
    aw_argv_push(a, "--name");
    aw_argv_push(a, "%s", name);
    aw_argv_push(a, "--label");
    aw_argv_push(a, "axon.session=%lld", (long long) req->session);
    aw_argv_push(a, "--label");
    aw_argv_push(a, "axon.wallet=%s", req->wallet);
    aw_argv_push(a, "--label");
    aw_argv_push(a, "axon.mode=%s", mode);

    if (home) {
        aw_argv_push(a, "-v");
        aw_argv_push(a, "%s:%s", home, conf->home_path);
    }

    if (conf->launcher_network[0]) {
        aw_argv_push(a, "--network");
        aw_argv_push(a, "%s", conf->launcher_network);
    }

    if (aw_launch_env(&env, req, gpus) != AW_OK) {
        a->failed = 1;

    } else {
        for (i = 0; i < env.n; i++) {
            aw_argv_push(a, "-e");
            aw_argv_push(a, "%s", env.v[i]);
        }
    }

    aw_launch_env_free(&env);

    if (req->vnc_password && req->vnc_password[0]) {
        snprintf(vnc, vnclen, "AXON_VNC_PASSWORD=%s", req->vnc_password);
        aw_argv_push(a, "-e");
        aw_argv_push(a, "AXON_VNC_PASSWORD");
    }

    aw_argv_push(a, "-p");

    if (req->port > 0) {
        aw_argv_push(a, strchr(addr, ':') ? "[%s]:%d:%d" : "%s:%d:%d",
                     addr, req->port, port);

    } else if (strchr(addr, ':') != NULL) {
        aw_argv_push(a, "[%s]::%d", addr, port);

    } else {
        aw_argv_push(a, "%s::%d", addr, port);
    }

    if (req->ngpus > 0) {
        aw_argv_split(a, conf->launcher_gpu_args, gpus);
    }

    aw_argv_split(a, conf->launcher_args, NULL);
    aw_argv_push(a, "%s", image);
}


/*
 * What both backends start a session with: the request checked, its image
 * and port, its GPUs as the runtime names them (indexes, or a UUID host's
 * UUIDs), the container's name and fields in c, and its home volume's
 * name in home ("" when home_keep is 0).
 */

int
aw_launch_prepare(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c, const char **image, int *port, char *gpus,
    size_t gsize, char *home, size_t hsize)
{
    int               i;
    size_t            len;
    const aw_conf_t  *conf;

    conf = l->conf;
    l->err[0] = '\0';
    memset(c, 0, sizeof(aw_container_t));

    if (aw_launcher_check(l, req) != AW_OK) {
        return AW_ERROR;
    }

    if (req->mode == AW_SESSION_SSH) {
        *image = conf->launcher_ssh_image[0] ? conf->launcher_ssh_image
                                             : conf->launcher_image;
        *port = conf->launcher_ssh_port;

    } else {
        *image = conf->launcher_image;
        *port = conf->launcher_port;
    }

    len = 0;
    gpus[0] = '\0';

    for (i = 0; i < req->ngpus; i++) {
        len += snprintf(gpus + len, gsize - len, "%s%d",
                        i ? "," : "", req->gpus[i]);
    }

    if (req->gpu_names != NULL) {
        snprintf(gpus, gsize, "%s", req->gpu_names);
    }

    snprintf(c->name, sizeof(c->name), "%s%lld", conf->launcher_prefix,
             (long long) req->session);
    c->session = req->session;
    c->mode = req->mode;
    snprintf(c->wallet, sizeof(c->wallet), "%s", req->wallet);
    snprintf(c->host, sizeof(c->host), "%s", l->addr);

    home[0] = '\0';

    if (conf->home_keep > 0
        && aw_launcher_home_name(conf, req->wallet, home, hsize) != AW_OK)
    {
        snprintf(l->err, sizeof(l->err), "wallet \"%.64s\" names no "
                 "home volume (0x + 40 lowercase hex)", req->wallet);
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * Both backends' environment of a session: axon's variables, then those
 * the original gate's session image reads (AXGT_*), so that image runs as
 * axon's session unchanged.  AW_ERROR: out of memory.
 */

static int
aw_launch_env_add(aw_launch_env_t *e, const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (e->n == AW_LAUNCH_ENV_MAX) {
        return AW_ERROR;
    }

    va_start(args, fmt);
    rc = vasprintf(&e->v[e->n], fmt, args);
    va_end(args);

    if (rc < 0) {
        e->v[e->n] = NULL;
        return AW_ERROR;
    }

    e->n++;

    return AW_OK;
}


int
aw_launch_env(aw_launch_env_t *e, const aw_launch_t *req, const char *gpus)
{
    int  ssh, rc;

    ssh = req->mode == AW_SESSION_SSH;
    e->n = 0;

    rc = aw_launch_env_add(e, "AXON_SESSION=%lld", (long long) req->session)
         | aw_launch_env_add(e, "AXON_WALLET=%s", req->wallet)
         | aw_launch_env_add(e, "AXON_GPUS=%s", gpus);

    if (req->ssh_key && req->ssh_key[0]) {
        rc |= aw_launch_env_add(e, "AXON_SSH_KEY=%s", req->ssh_key);
    }

    rc |= aw_launch_env_add(e, "AXGT_SESSION_ID=%lld",
                            (long long) req->session)
          | aw_launch_env_add(e, "AXGT_WALLET_ADDRESS=%s", req->wallet)
          | aw_launch_env_add(e, "AXGT_REQUESTED_PROFILE=%s",
                              req->profile ? req->profile : "")
          | aw_launch_env_add(e, "AXGT_ASSIGNED_GPU_IDS=%s", gpus)
          | aw_launch_env_add(e, "AXGT_DESKTOP_ENABLED=%s",
                              ssh ? "false" : "true");

    if (ssh) {
        rc |= aw_launch_env_add(e, "AXGT_SSH_ENABLED=true");

        if (req->ssh_key && req->ssh_key[0]) {
            rc |= aw_launch_env_add(e, "AXGT_SSH_PUBKEY=%s", req->ssh_key);
        }
    }

    return rc == AW_OK ? AW_OK : AW_ERROR;
}


void
aw_launch_env_free(aw_launch_env_t *e)
{
    size_t  i;

    for (i = 0; i < e->n; i++) {
        free(e->v[i]);
    }

    e->n = 0;
}


/*
 * Finds the host port docker chose; without one the container is removed,
 * and an exited container's state is the better error.
 */

static int
aw_docker_start_port(aw_launcher_t *l, aw_container_t *c, int port)
{
    char  line[512], state[64];

    if (aw_docker_port(l, c, port) != AW_OK) {
        memcpy(line, l->err, aw_min(sizeof(line), sizeof(l->err)));
        line[sizeof(line) - 1] = '\0';

        /* an exited container has no ports: that is the news */
        if (aw_docker_state(l, c->name, state, sizeof(state)) == AW_OK
            && strncmp(state, "running", 7) != 0)
        {
            snprintf(line, sizeof(line), "%s is not running: %s", c->name,
                     state);
            aw_log(AW_LOG_ERR, "launcher: %s", line);
        }

        aw_docker_remove(l, c->name);
        snprintf(l->err, sizeof(l->err), "%s", line);
        return AW_ERROR;
    }

    return AW_OK;
}


/* the host port of the container's port: "127.0.0.1:41234" per line */

static int
aw_docker_port(aw_launcher_t *l, aw_container_t *c, int port)
{
    int                 rc, hostport;
    char               *line, *colon, *save, *end;
    long                n;
    aw_argv_t           a;
    aw_spawn_result_t   r;

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "port");
    aw_argv_push(&a, "%s", c->name);
    aw_argv_push(&a, "%d/tcp", port);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "port", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    hostport = 0;

    for (line = strtok_r(r.out, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save))
    {
        colon = strrchr(line, ':');
        if (colon == NULL) {
            continue;
        }

        n = strtol(colon + 1, &end, 10);

        if (*end == '\0' && n > 0 && n < 65536) {
            hostport = (int) n;
            break;
        }
    }

    if (hostport == 0) {
        snprintf(l->err, sizeof(l->err), "%s: no host port for %d/tcp in "
                 "\"%.100s\"", c->name, port, r.out);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    c->port = hostport;
    aw_spawn_result_free(&r);

    return AW_OK;
}


int
aw_launcher_ready(aw_launcher_t *l, const aw_container_t *c,
    aw_msec_t timeout)
{
    int        rc;
    char       state[64];
    aw_msec_t  start, now, deadline, checked;

    start = aw_monotonic_msec();
    deadline = start + timeout;
    checked = start;

    for ( ;; ) {
        now = aw_monotonic_msec();

        if (aw_launcher_probe(c->host, c->port,
                              aw_max(aw_min(deadline - now, 1000), 1))
            == AW_OK)
        {
            aw_log(AW_LOG_DEBUG, "launcher: %s answers on %s:%d after "
                   "%lld ms", c->name, c->host, c->port,
                   (long long) (aw_monotonic_msec() - start));
            return AW_OK;
        }

        now = aw_monotonic_msec();

        if (now + 100 >= deadline) {
            break;
        }

        /* a container that died will not answer: say so now, not at the
         * end of launcher_ready_timeout */
        if (now - checked >= AW_LAUNCHER_STATE_EVERY) {
            checked = now;
            rc = l->ops->state(l, c->name, state, sizeof(state));

            if (rc == AW_OK && strncmp(state, "running", 7) != 0) {
                snprintf(l->err, sizeof(l->err), "%s is not running: %s",
                         c->name, state);
                aw_log(AW_LOG_ERR, "launcher: %s", l->err);
                return AW_ERROR;
            }
        }

        aw_sleep_msec(100);
    }

    snprintf(l->err, sizeof(l->err), "%s: nothing answered on %s:%d within "
             "%lld ms", c->name, c->host, c->port, (long long) timeout);
    aw_log(AW_LOG_ERR, "launcher: %s", l->err);

    return AW_ERROR;
}


/* "running", or "exited 1" and the like */

static int
aw_docker_state(aw_launcher_t *l, const char *name, char *state,
    size_t size)
{
    int                 rc, n;
    aw_argv_t           a;
    aw_spawn_result_t   r;

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "inspect");
    aw_argv_push(&a, "--type");
    aw_argv_push(&a, "container");
    aw_argv_push(&a, "--format");
    aw_argv_push(&a, "{{.State.Status}} (exit code {{.State.ExitCode}})");
    aw_argv_push(&a, "%s", name);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc != AW_OK || r.status != 0) {
        aw_spawn_result_free(&r);
        return AW_ERROR;            /* unknown: keep waiting */
    }

    n = (int) strcspn(r.out, "\r\n");

    /*
     * podman says "stopped" between the process's exit and its cleanup
     * process's "exited": the same news (the exit code is known), told in
     * docker's word whichever moment the question came at
     */
    if (n >= 8 && strncmp(r.out, "stopped ", 8) == 0) {
        snprintf(state, size, "exited%.*s", n - 7, r.out + 7);

    } else {
        snprintf(state, size, "%.*s", n, r.out);
    }

    aw_spawn_result_free(&r);

    return AW_OK;
}


static int
aw_docker_remove(aw_launcher_t *l, const char *name)
{
    int                 rc;
    aw_argv_t           a;
    aw_spawn_result_t   r;

    l->err[0] = '\0';

    /* stop first, for the grace period: rm -f alone kills at once with
     * docker, and waits podman's own default with podman */
    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "stop");
    aw_argv_push(&a, "--time");
    aw_argv_push(&a, "%lld",
                 (long long) ((l->conf->launcher_stop_grace + 999) / 1000));
    aw_argv_push(&a, "%s", name);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc == AW_OK && r.status != 0 && aw_docker_gone(&r)) {
        aw_log(AW_LOG_INFO, "launcher: %s: already gone", name);
        aw_spawn_result_free(&r);
        return AW_OK;
    }

    if (rc != AW_OK || r.status != 0) {
        /* rm -f may still do it */
        aw_docker_fail(l, "stop", &r);
    }

    aw_spawn_result_free(&r);

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "rm");
    aw_argv_push(&a, "-f");
    aw_argv_push(&a, "%s", name);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc == AW_OK && (r.status == 0 || aw_docker_gone(&r))) {
        aw_log(AW_LOG_INFO, "launcher: removed %s", name);
        aw_spawn_result_free(&r);
        return AW_OK;
    }

    aw_docker_fail(l, "rm", &r);
    aw_spawn_result_free(&r);

    return AW_ERROR;
}


static int
aw_docker_list(aw_launcher_t *l, aw_container_t **list, size_t *n)
{
    int                 rc;
    char               *line, *save;
    size_t              count, size;
    aw_argv_t           a;
    aw_container_t     *all;
    aw_spawn_result_t   r;

    *list = NULL;
    *n = 0;
    l->err[0] = '\0';

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "ps");
    aw_argv_push(&a, "-a");
    aw_argv_push(&a, "-q");
    aw_argv_push(&a, "--no-trunc");
    aw_argv_push(&a, "--filter");
    aw_argv_push(&a, "label=axon.session");

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "ps", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "inspect");
    aw_argv_push(&a, "--type");
    aw_argv_push(&a, "container");
    aw_argv_push(&a, "--format");
    aw_argv_push(&a, "{{.Id}}" AW_LAUNCHER_FS "{{.Name}}" AW_LAUNCHER_FS
                 "{{.State.Status}}" AW_LAUNCHER_FS
                 "{{index .Config.Labels \"axon.session\"}}" AW_LAUNCHER_FS
                 "{{index .Config.Labels \"axon.wallet\"}}" AW_LAUNCHER_FS
                 "{{index .Config.Labels \"axon.mode\"}}");

    count = 0;

    for (line = strtok_r(r.out, " \t\r\n", &save); line;
         line = strtok_r(NULL, " \t\r\n", &save))
    {
        aw_argv_push(&a, "%s", line);
        count++;
    }

    aw_spawn_result_free(&r);

    if (count == 0) {
        aw_argv_free(&a);
        return AW_OK;
    }

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    /* a container removed between ps and inspect is an error of inspect,
     * but the others are still printed; when every one was removed (by
     * another worker, or stopped meanwhile), nothing is printed but "no
     * such container", and the list is empty */
    if (rc == AW_OK && r.status != 0 && r.out_len == 0 && aw_docker_gone(&r))
    {
        aw_spawn_result_free(&r);
        return AW_OK;
    }

    if (rc != AW_OK || (r.status != 0 && r.out_len == 0)) {
        aw_docker_fail(l, "inspect", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    size = count;
    all = calloc(size, sizeof(aw_container_t));
    if (all == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    count = aw_docker_parse(r.out, all, size);

    aw_spawn_result_free(&r);

    *list = all;
    *n = count;

    return AW_OK;
}



/*
 * Fills all[] from inspect's lines, one container a line, fields split by
 * AW_LAUNCHER_FS; returns how many it filled.
 */

static size_t
aw_docker_parse(char *out, aw_container_t *all, size_t size)
{
    char            *line, *save, *f[6], *p, *end;
    size_t           count, i;
    aw_container_t  *c;

    count = 0;

    for (line = strtok_r(out, "\r\n", &save); line && count < size;
         line = strtok_r(NULL, "\r\n", &save))
    {
        f[0] = line;

        for (i = 1; i < 6; i++) {
            p = f[i - 1] ? strstr(f[i - 1], AW_LAUNCHER_FS) : NULL;

            if (p != NULL) {
                *p++ = '\0';
            }

            f[i] = p;
        }

        if (f[5] == NULL) {
            aw_log(AW_LOG_WARN, "launcher: inspect: odd line \"%.100s\"",
                   line);
            continue;
        }

        c = &all[count++];

        snprintf(c->id, sizeof(c->id), "%s", f[0]);
        snprintf(c->name, sizeof(c->name), "%s",
                 f[1] + (f[1][0] == '/'));     /* docker: "/name" */
        snprintf(c->state, sizeof(c->state), "%s", f[2]);
        c->session = strtoll(f[3], &end, 10);

        if (*end != '\0' || c->session < 0) {
            c->session = 0;
        }

        snprintf(c->wallet, sizeof(c->wallet), "%s", f[4]);
        c->mode = strcmp(f[5], "ssh") == 0 ? AW_SESSION_SSH
                                           : AW_SESSION_DESKTOP;
    }

    return count;
}


/* ---- home volumes ------------------------------------------------------ */


/*
 * The wallet's home volume, made if missing.  docker says nothing of one
 * that exists; podman says "already exists": both keep it as it is (its
 * labels and size are those it was made with).
 */

static int
aw_docker_home_create(aw_launcher_t *l, const char *wallet, const char *home)
{
    int                 rc;
    aw_argv_t           a;
    aw_spawn_result_t   r;

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "volume");
    aw_argv_push(&a, "create");
    aw_argv_push(&a, "--label");
    aw_argv_push(&a, AW_LAUNCHER_HOME_LABEL "=%s", wallet);
    aw_docker_labels(&a, l->conf->launcher_args);

    if (l->conf->home_size[0]) {
        aw_argv_push(&a, "--opt");
        aw_argv_push(&a, "o=size=%s", l->conf->home_size);
    }

    aw_argv_push(&a, "%s", home);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc == AW_OK && r.status != 0
        && strcasestr(r.err, "already exists") != NULL)
    {
        aw_spawn_result_free(&r);
        return AW_OK;
    }

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "volume create", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    aw_spawn_result_free(&r);

    return AW_OK;
}


/* the --label words of launcher_args, as volume create takes them */

static void
aw_docker_labels(aw_argv_t *a, const char *args)
{
    size_t       len;
    const char  *label;

    while (aw_launcher_arg_label(&args, &label, &len)) {
        aw_argv_push(a, "--label");
        aw_argv_push(a, "%.*s", (int) len, label);
    }
}


int
aw_launcher_arg_label(const char **s, const char **label, size_t *len)
{
    size_t       n;
    const char  *p, *word;

    p = *s;

    for ( ;; ) {
        p += strspn(p, " \t");

        if (*p == '\0') {
            *s = p;
            return 0;
        }

        word = p;
        n = strcspn(p, " \t");
        p += n;

        if (n > 8 && strncmp(word, "--label=", 8) == 0) {
            *label = word + 8;
            *len = n - 8;
            *s = p;
            return 1;
        }

        if ((n == 7 && strncmp(word, "--label", 7) == 0)
            || (n == 2 && strncmp(word, "-l", 2) == 0))
        {
            p += strspn(p, " \t");

            if (*p == '\0') {
                *s = p;
                return 0;
            }

            *label = p;
            *len = strcspn(p, " \t");
            *s = p + *len;
            return 1;
        }
    }
}


static int
aw_docker_homes(aw_launcher_t *l, aw_home_t **list, size_t *n)
{
    int                 rc;
    char               *line, *save;
    size_t              count, size;
    aw_argv_t           a;
    aw_home_t          *all;
    aw_spawn_result_t   r;

    *list = NULL;
    *n = 0;
    l->err[0] = '\0';

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "volume");
    aw_argv_push(&a, "ls");
    aw_argv_push(&a, "-q");
    aw_argv_push(&a, "--filter");
    aw_argv_push(&a, "label=" AW_LAUNCHER_HOME_LABEL);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "volume ls", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    size = 0;

    for (line = r.out; (line = strchr(line, '\n')) != NULL; line++) {
        size++;
    }

    all = calloc(size + 1, sizeof(aw_home_t));
    if (all == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    count = 0;

    for (line = strtok_r(r.out, " \t\r\n", &save); line && count <= size;
         line = strtok_r(NULL, " \t\r\n", &save))
    {
        if (aw_launcher_home_match(l->conf, line, &all[count]) == AW_OK) {
            count++;
        }
    }

    aw_spawn_result_free(&r);

    *list = all;
    *n = count;

    return AW_OK;
}


static int
aw_docker_home_remove(aw_launcher_t *l, const char *wallet)
{
    int                 rc;
    char                home[160];
    aw_argv_t           a;
    aw_spawn_result_t   r;

    l->err[0] = '\0';

    if (aw_launcher_home_name(l->conf, wallet, home, sizeof(home)) != AW_OK)
    {
        snprintf(l->err, sizeof(l->err), "wallet \"%.64s\" names no home "
                 "volume", wallet);
        return AW_ERROR;
    }

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "volume");
    aw_argv_push(&a, "rm");
    aw_argv_push(&a, "%s", home);

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc == AW_OK && r.status != 0
        && strcasestr(r.err, "no such volume") != NULL)
    {
        aw_spawn_result_free(&r);
        return AW_OK;
    }

    if (rc != AW_OK || r.status != 0) {
        aw_docker_fail(l, "volume rm", &r);
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    aw_spawn_result_free(&r);

    return AW_OK;
}


/*
 * Runs "docker ARGS" with CONTAINERS_CONF set if configured.  AW_OK if
 * the command ran to its end (see r->status), AW_ERROR if it could not
 * start or was killed at launcher_timeout (l->err says which).
 */

static int
aw_docker_run(aw_launcher_t *l, aw_argv_t *a, aw_spawn_result_t *r)
{
    return aw_docker_run_env(l, a, NULL, r);
}


/* var: one more "NAME=value" for the CLI's environment, or NULL */

static int
aw_docker_run_env(aw_launcher_t *l, aw_argv_t *a, const char *var,
    aw_spawn_result_t *r)
{
    int    rc, n;
    char  *env[3], *cc, cmd[2048];

    if (a->failed) {
        memset(r, 0, sizeof(aw_spawn_result_t));
        r->out = calloc(1, 1);
        r->err = calloc(1, 1);
        snprintf(l->err, sizeof(l->err), "out of memory");
        return AW_ERROR;
    }

    aw_argv_push(a, NULL);

    cc = NULL;
    n = 0;

    if (l->conf->containers_conf[0]) {
        if (asprintf(&cc, "CONTAINERS_CONF=%s", l->conf->containers_conf)
            == -1)
        {
            cc = NULL;
        }

        if (cc) {
            env[n++] = cc;
        }
    }

    if (var) {
        env[n++] = (char *) var;
    }

    env[n] = NULL;

    aw_spawn_format_argv(a->v, cmd, sizeof(cmd));
    aw_log(AW_LOG_DEBUG, "launcher: %s", cmd);

    rc = aw_spawn_run(a->v, env, l->conf->launcher_timeout, r, l->err,
                      sizeof(l->err));
    free(cc);

    if (rc != AW_OK) {
        aw_log(AW_LOG_ERR, "launcher: %s: %s", a->v[1], l->err);
        return AW_ERROR;
    }

    aw_log(r->status == 0 ? AW_LOG_DEBUG : AW_LOG_INFO,
           "launcher: %s %s: exit %d after %lld ms", a->v[0], a->v[1],
           r->status, (long long) r->elapsed);

    return AW_OK;
}


/* l->err from a command that ran but failed: its last line of stderr */

static void
aw_docker_fail(aw_launcher_t *l, const char *what, aw_spawn_result_t *r)
{
    char  line[900];

    if (r->timed_out || (r->status == -1 && r->signo == 0)) {
        return;                     /* l->err already says it */
    }

    if (r->signo) {
        snprintf(l->err, sizeof(l->err), "%s %s: killed by signal %d",
                 l->conf->launcher_docker, what, r->signo);

    } else {
        snprintf(l->err, sizeof(l->err), "%s %s: exit %d: %s",
                 l->conf->launcher_docker, what, r->status,
                 aw_launcher_last_line(r->err, line, sizeof(line)));
    }

    aw_log(AW_LOG_ERR, "launcher: %s", l->err);
}


/*
 * docker exec axgt-session-ID CMD...: what the command printed, for the
 * idle check's nvidia-smi (no -t, no -i: stdin is /dev/null)
 */

static int
aw_docker_exec(aw_launcher_t *l, int64_t session, const char *const *cmd,
    char **out)
{
    int                 rc;
    char                line[900];
    aw_argv_t           a;
    aw_spawn_result_t   r;

    l->err[0] = '\0';
    *out = NULL;

    aw_argv_init(&a, l->conf);
    aw_argv_push(&a, "exec");
    aw_argv_push(&a, "%s%lld", l->conf->launcher_prefix, (long long) session);

    for ( /* void */ ; *cmd != NULL; cmd++) {
        aw_argv_push(&a, "%s", *cmd);
    }

    rc = aw_docker_run(l, &a, &r);
    aw_argv_free(&a);

    if (rc == AW_OK && r.status != 0) {
        /* the caller's to log: an image without the command is no error
         * of the launcher's */
        snprintf(l->err, sizeof(l->err), "%s exec: exit %d: %s",
                 l->conf->launcher_docker, r.status,
                 aw_launcher_last_line(r.err, line, sizeof(line)));
    }

    if (rc != AW_OK || r.status != 0) {
        aw_spawn_result_free(&r);
        return AW_ERROR;
    }

    *out = r.out;
    r.out = NULL;
    aw_spawn_result_free(&r);

    return AW_OK;
}


/* "no such container" in docker's and podman's words */

static int
aw_docker_gone(aw_spawn_result_t *r)
{
    return strcasestr(r->err, "no such container") != NULL
           || strcasestr(r->err, "no container with name or id") != NULL;
}


int
aw_launcher_check(aw_launcher_t *l, const aw_launch_t *req)
{
    int          i;
    size_t       len;
    const char  *p, *s[2];

    if (req->session <= 0) {
        snprintf(l->err, sizeof(l->err), "bad session id %lld",
                 (long long) req->session);
        return AW_ERROR;
    }

    if (req->mode != AW_SESSION_DESKTOP && req->mode != AW_SESSION_SSH) {
        snprintf(l->err, sizeof(l->err), "bad session mode %d", req->mode);
        return AW_ERROR;
    }

    if (req->port < 0 || req->port > 65535) {
        snprintf(l->err, sizeof(l->err), "bad host port %d", req->port);
        return AW_ERROR;
    }

    if (req->ngpus < 0 || req->ngpus > AW_LAUNCHER_MAX_GPUS) {
        snprintf(l->err, sizeof(l->err), "%d GPUs: at most %d",
                 req->ngpus, AW_LAUNCHER_MAX_GPUS);
        return AW_ERROR;
    }

    for (i = 0; i < req->ngpus; i++) {
        if (req->gpus[i] < 0) {
            snprintf(l->err, sizeof(l->err), "bad GPU index %d",
                     req->gpus[i]);
            return AW_ERROR;
        }
    }

    if (req->wallet == NULL || req->wallet[0] == '\0') {
        snprintf(l->err, sizeof(l->err), "no wallet");
        return AW_ERROR;
    }

    /* a label or an env value is one line */
    s[0] = req->wallet;
    s[1] = req->ssh_key ? req->ssh_key : "";

    for (i = 0; i < 2; i++) {
        for (p = s[i]; *p; p++) {
            if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                snprintf(l->err, sizeof(l->err), "control character in %s",
                         i ? "the SSH key" : "the wallet");
                return AW_ERROR;
            }
        }
    }

    /* the VNC password: letters and digits (vncpasswd reads a line) */
    if (req->vnc_password) {
        len = strlen(req->vnc_password);

        if (len > 64
            || strspn(req->vnc_password, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
        {
            snprintf(l->err, sizeof(l->err), "bad VNC password");
            return AW_ERROR;
        }
    }

    if (strlen(req->wallet) >= sizeof(((aw_container_t *) 0)->wallet)) {
        snprintf(l->err, sizeof(l->err), "wallet too long");
        return AW_ERROR;
    }

    return AW_OK;
}


static char *
aw_launcher_last_line(const char *s, char *buf, size_t size)
{
    size_t       len;
    const char  *end, *start;

    end = s + strlen(s);

    while (end > s && (end[-1] == '\n' || end[-1] == '\r'
                       || end[-1] == ' '))
    {
        end--;
    }

    for (start = end; start > s && start[-1] != '\n'; start--) {
        /* void */
    }

    len = aw_min((size_t) (end - start), size - 1);
    memcpy(buf, start, len);
    buf[len] = '\0';

    if (len == 0) {
        snprintf(buf, size, "(no message)");
    }

    return buf;
}


/* ---- argv --------------------------------------------------------------- */


static void
aw_argv_init(aw_argv_t *a, const aw_conf_t *conf)
{
    memset(a, 0, sizeof(aw_argv_t));
    aw_argv_push(a, "%s", conf->launcher_docker);
}


/* one word; NULL: the terminating NULL */

static void
aw_argv_push(aw_argv_t *a, const char *fmt, ...)
{
    int       n;
    char     *word, **v;
    va_list   args;

    if (a->failed) {
        return;
    }

    if (a->n == a->size) {
        a->size = a->size ? a->size * 2 : 32;

        v = realloc(a->v, a->size * sizeof(char *));
        if (v == NULL) {
            a->failed = 1;
            return;
        }

        a->v = v;
    }

    word = NULL;

    if (fmt != NULL) {
        va_start(args, fmt);
        n = vasprintf(&word, fmt, args);
        va_end(args);

        if (n == -1) {
            a->failed = 1;
            return;
        }
    }

    a->v[a->n++] = word;
}


/* the words of s, split at blanks, with {gpus} replaced in each */

static void
aw_argv_split(aw_argv_t *a, const char *s, const char *gpus)
{
    int          len;
    const char  *p, *var;

    for ( ;; ) {
        s += strspn(s, " \t");

        if (*s == '\0') {
            return;
        }

        len = (int) strcspn(s, " \t");
        var = gpus ? memmem(s, len, "{gpus}", 6) : NULL;

        if (var == NULL) {
            aw_argv_push(a, "%.*s", len, s);

        } else {
            p = var + 6;
            aw_argv_push(a, "%.*s%s%.*s", (int) (var - s), s, gpus,
                         (int) (s + len - p), p);
        }

        s += len;
    }
}


static void
aw_argv_free(aw_argv_t *a)
{
    size_t  i;

    for (i = 0; i < a->n; i++) {
        free(a->v[i]);
    }

    free(a->v);
    memset(a, 0, sizeof(aw_argv_t));
}
