/*
 * axon-worker: startup, command line, signals and the main loop.
 *
 * One thread, one poll(2) loop.  Signal handlers only set flags and write
 * a byte to a self-pipe, so that poll() wakes at once; the loop does the
 * work: SIGHUP reloads, SIGTERM/SIGINT stop after the current unit of
 * work (exit 0), a second SIGINT exits at once.
 */


#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "db.h"
#include "heartbeat.h"
#include "launcher.h"
#include "session.h"
#include "sources.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "redis.h"
#include "eth.h"
#include "worker.h"


/* the command line */
typedef struct {
    const char  *path;
    int          test;
    int          print;
    int          sample;
    int          migrate;
} aw_args_t;

/* aw_args_parse(): no exit status, go on */
#define AW_EXIT_NONE  -1


static int aw_run(void);
static int aw_args_parse(aw_args_t *args, int argc, char **argv);
static void aw_version(void);
static void aw_loop(void);
static int aw_reconnect(aw_msec_t now);
static void aw_loop_poll(aw_msec_t next);
static void aw_reload(void);
static int aw_engine_check(const aw_conf_t *conf);
static void aw_configure_connections(aw_conf_t *conf);
static void aw_configure_rpc(aw_conf_t *conf);
static void aw_rpc_start(int at_start);
static int aw_migrate_main(aw_conf_t *conf);
static int aw_signals_init(void);
static void aw_signal_handler(int signo);
static void aw_signals_drain(void);
static int aw_pid_write(const char *path);
static void aw_pid_remove(void);
static void aw_usage(FILE *f);
static aw_msec_t aw_x402_process(aw_msec_t now);
static void aw_x402_spawn(aw_msec_t now);
static void aw_x402_signal(int signo);
static void aw_x402_wait(void);


aw_worker_t  aw_worker;

static volatile sig_atomic_t  aw_sig_quit;      /* the signal number */
static volatile sig_atomic_t  aw_sig_reload;
static int                    aw_sig_pipe[2] = { -1, -1 };

/* also read by the signal handler on a second SIGINT */
static char                   aw_pid_path[PATH_MAX];

/* the x402 process, from the main process's side */
static pid_t                  aw_x402_pid = -1;
static aw_msec_t              aw_x402_next;      /* (re)start it then */
static aw_msec_t              aw_x402_delay = 1000;
static aw_msec_t              aw_x402_started;


enum {
    AW_OPT_PRINT_CONFIG = 256,
    AW_OPT_SAMPLE_CONFIG,
    AW_OPT_MIGRATE,
    AW_OPT_X402
};


static const struct option  aw_options[] = {
    { "config",        required_argument, NULL, 'c' },
    { "test",          no_argument,       NULL, 't' },
    { "print-config",  no_argument,       NULL, AW_OPT_PRINT_CONFIG },
    { "sample-config", no_argument,       NULL, AW_OPT_SAMPLE_CONFIG },
    { "migrate",       no_argument,       NULL, AW_OPT_MIGRATE },
    { "x402-process",  no_argument,       NULL, AW_OPT_X402 },
    { "version",       no_argument,       NULL, 'v' },
    { "help",          no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


int
main(int argc, char **argv)
{
    int        rc;
    char       err[1024];
    aw_args_t  args;

    rc = aw_args_parse(&args, argc, argv);
    if (rc != AW_EXIT_NONE) {
        return rc;
    }

    if (args.sample) {
        aw_conf_print_sample(stdout);
        return AW_EXIT_OK;
    }

    aw_random_init();

    aw_worker.conf = aw_conf_load(args.path, err, sizeof(err));

    if (aw_worker.conf == NULL) {
        fprintf(stderr, "axon-worker: %s\n", err);
        return AW_EXIT_CONFIG;
    }

    aw_log_level = aw_worker.conf->log_level;

    if (!args.print && !args.migrate
        && aw_engine_check(aw_worker.conf) != AW_OK)
    {
        aw_conf_free(aw_worker.conf);
        return AW_EXIT_CONFIG;
    }

    if (args.test) {
        fprintf(stderr, "axon-worker: configuration %s%s is ok\n",
                args.path ? "file " : "(defaults only)",
                args.path ? args.path : "");
        rc = AW_EXIT_OK;

    } else if (args.print) {
        aw_conf_print(stdout, aw_worker.conf);
        rc = AW_EXIT_OK;

    } else if (args.migrate) {
        /* an admin runs this by hand: the log stays on stderr */
        rc = aw_migrate_main(aw_worker.conf);

    } else {
        rc = aw_run();
    }

    aw_conf_free(aw_worker.conf);

    return rc;
}


/*
 * launcher_engine (the launcher key engine) that does not answer is
 * refused at the start (and by -t), as a bad key is: the sessions it
 * would run could not start.  A host of gpu_hosts that does not answer is
 * only warned of: it starts down, as a sweep finds it (no claim goes to
 * it until it answers one), and the worker drives its other hosts, bills,
 * credits deposits: one host down for repair must not keep a worker from
 * starting again.
 */

static int
aw_engine_check(const aw_conf_t *conf)
{
    int            i, rc;
    char           loc[300];
    aw_launcher_t  l;

    if (!conf->sessions) {
        return AW_OK;
    }

    rc = AW_OK;

    if (conf->launcher == AW_LAUNCHER_ENGINE) {
        aw_launcher_init(&l, conf);
        rc = aw_launcher_ping(&l);

        if (rc != AW_OK) {
            fprintf(stderr, "axon-worker: %s: launcher_engine: %s\n",
                    aw_conf_location(conf, aw_conf_find("launcher_engine"),
                                     loc, sizeof(loc)), l.err);
        }

        aw_launcher_free(&l);
    }

    for (i = 0; rc == AW_OK && i < conf->nhosts; i++) {
        if (conf->host[i].endpoint[0] == '\0') {
            continue;
        }

        aw_launcher_init_host(&l, conf, &conf->host[i]);

        if (aw_launcher_ping(&l) != AW_OK) {
            fprintf(stderr, "axon-worker: warning: %s: gpu_hosts: host "
                    "\"%s\": %s: it is down until it answers (no claim "
                    "goes to it)\n",
                    aw_conf_location(conf, aw_conf_find("gpu_hosts"), loc,
                                     sizeof(loc)), conf->host[i].name, l.err);
        }

        aw_launcher_free(&l);
    }

    return rc;
}


/*
 * The command line into args.  Returns AW_EXIT_NONE to go on, else the
 * exit status: -v and -h are done, or the command line is wrong.
 */

static int
aw_args_parse(aw_args_t *args, int argc, char **argv)
{
    int  c;

    memset(args, 0, sizeof(aw_args_t));

    opterr = 0;

    while ((c = getopt_long(argc, argv, ":c:tvh", aw_options, NULL)) != -1) {
        switch (c) {

        case 'c':
            args->path = optarg;
            break;

        case 't':
            args->test = 1;
            break;

        case AW_OPT_PRINT_CONFIG:
            args->print = 1;
            break;

        case AW_OPT_SAMPLE_CONFIG:
            args->sample = 1;
            break;

        case AW_OPT_MIGRATE:
            args->migrate = 1;
            break;

        case AW_OPT_X402:
            /* started by the main process: see aw_x402_process() */
            aw_worker.x402 = 1;
            break;

        case 'v':
            aw_version();
            return AW_EXIT_OK;

        case 'h':
            aw_usage(stdout);
            return AW_EXIT_OK;

        case ':':
            fprintf(stderr, "axon-worker: option %s needs a value "
                    "(see axon-worker -h)\n", argv[optind - 1]);
            return AW_EXIT_CONFIG;

        default:
            if (optopt) {
                fprintf(stderr, "axon-worker: unknown option -%c "
                        "(see axon-worker -h)\n", optopt);

            } else {
                fprintf(stderr, "axon-worker: unknown option %s "
                        "(see axon-worker -h)\n", argv[optind - 1]);
            }

            return AW_EXIT_CONFIG;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "axon-worker: unexpected argument \"%s\" "
                "(see axon-worker -h)\n", argv[optind]);
        return AW_EXIT_CONFIG;
    }

    if (args->test + args->print + args->sample + args->migrate > 1) {
        fprintf(stderr, "axon-worker: -t, --print-config, --sample-config "
                "and --migrate exclude each other\n");
        return AW_EXIT_CONFIG;
    }

    return AW_EXIT_NONE;
}


static void
aw_version(void)
{
    const aw_migration_t  *m;

    printf("axon-worker %s\n", AXON_VERSION);

    for (m = aw_migrations; m->name; m++) {
        if (m[1].name == NULL) {
            printf("schema: %d migrations, up to %s\n",
                   (int) (m - aw_migrations + 1), m->name);
        }
    }
}


static void
aw_usage(FILE *f)
{
    fprintf(f,
"usage: axon-worker [-c FILE] [-t | --print-config | --migrate]\n"
"\n"
"The axon worker daemon: runs in the foreground, logs to stderr unless\n"
"log_file is set.\n"
"\n"
"  -c, --config FILE   the configuration file (without: the defaults)\n"
"  -t, --test          check the configuration and exit\n"
"      --print-config  print every key with its effective value and where it\n"
"                      came from (default or FILE:LINE), and exit\n"
"      --sample-config print a sample configuration, every key commented\n"
"                      with its default and help, and exit\n"
"      --migrate       apply the pending database migrations and exit\n"
"  -v, --version       print the version and the embedded schema, and exit\n"
"  -h, --help          print this help and exit\n"
"\n"
"Signals: HUP re-reads FILE and reopens log_file; TERM or INT finish the\n"
"current work and exit 0; a second INT exits at once.\n"
"\n"
"Exit status: 0 done; 1 failure; 78 bad option or configuration, or a\n"
"database schema older than this worker.\n");
}


/*
 * The daemon: set up, loop until stopped, tear down.
 */

static int
aw_run(void)
{
    aw_conf_t  *conf;

    conf = aw_worker.conf;

    if (aw_log_open(conf->log_file) != AW_OK) {
        return AW_EXIT_CONFIG;
    }

    if (!aw_worker.x402 && aw_pid_write(conf->pid_file) != AW_OK) {
        aw_log_close();
        return AW_EXIT_FAILURE;
    }

    if (aw_signals_init() != AW_OK) {
        aw_pid_remove();
        aw_log_close();
        return AW_EXIT_FAILURE;
    }

    if (aw_rpc_global_init() != AW_OK) {
        aw_pid_remove();
        aw_log_close();
        return AW_EXIT_FAILURE;
    }

    aw_db_init(&aw_worker.db, "pg");
    aw_redis_init(&aw_worker.redis, "redis");
    aw_rpc_init(&aw_worker.rpc, "eth");

    aw_worker.db.on_connect = aw_migrate_check;

    aw_configure_connections(conf);
    aw_configure_rpc(conf);
    aw_metrics_configure(conf);

    aw_log(AW_LOG_NOTICE, "axon-worker %s started%s: worker_id %s, "
           "config %s, log %s", AXON_VERSION,
           aw_worker.x402 ? " (the x402 process)" : "", conf->worker_id,
           conf->path ? conf->path : "(defaults)", aw_log_path());

    aw_rpc_start(1);

    if (aw_worker_stopping()) {
        /* a refusal at start: the wrong chain */

    } else if (aw_sources_init() == AW_OK) {
        if (!aw_worker.x402) {
            aw_heartbeat_kick();
        }

        aw_loop();

    } else {
        aw_worker.exit_code = AW_EXIT_FAILURE;
    }

    aw_x402_wait();

    aw_sources_fini();
    aw_metrics_close();

    aw_db_free(&aw_worker.db);
    aw_redis_free(&aw_worker.redis);
    aw_rpc_free(&aw_worker.rpc);
    aw_rpc_global_cleanup();

    aw_pid_remove();

    aw_log(AW_LOG_NOTICE, "exit %d", aw_worker.exit_code);

    aw_log_close();

    close(aw_sig_pipe[0]);
    close(aw_sig_pipe[1]);

    return aw_worker.exit_code;
}


/*
 * The main loop.  Each turn: handle the signals that came, reconnect what
 * is due, the heartbeat if due, one unit of work of each due job source;
 * then sleep in poll() until the next of those times, a signal, or a
 * connection that becomes readable while idle (the server closed it).
 */

static void
aw_loop(void)
{
    aw_msec_t  now, next, jobs_next, x402_next;

    jobs_next = 0;

    for ( ;; ) {

        if (aw_sig_reload) {
            aw_sig_reload = 0;
            aw_reload();
        }

        if (aw_sig_quit && !aw_worker_stopping()) {
            aw_log(AW_LOG_NOTICE, "%s received, exiting after the current "
                   "work (a second SIGINT exits at once)",
                   aw_sig_quit == SIGINT ? "SIGINT" : "SIGTERM");
            aw_worker_stop(AW_EXIT_OK);
        }

        if (aw_worker_stopping()) {
            return;
        }

        now = aw_monotonic_msec();

        if (aw_reconnect(now) == AW_FATAL) {
            aw_worker_stop(AW_EXIT_CONFIG);
            return;
        }

        if (!aw_worker.x402 && now >= aw_heartbeat_next()) {
            aw_heartbeat_tick(now);
        }

        x402_next = aw_x402_process(now);

        /*
         * The sources of work (the queue, deposits, the scheduler) run
         * here, through the aw_sources[] table of sources.c.
         */

        if (now >= jobs_next) {
            jobs_next = aw_sources_run(now);
        }

        if (aw_worker_stopping() || aw_sig_quit || aw_sig_reload) {
            continue;
        }

        /* sleep until the next thing to do */

        next = aw_min(aw_worker.x402 ? AW_MSEC_NEVER : aw_heartbeat_next(),
                      jobs_next);
        next = aw_min(next, x402_next);
        next = aw_min(next, aw_db_wakeup(&aw_worker.db));
        next = aw_min(next, aw_redis_wakeup(&aw_worker.redis));

        aw_loop_poll(next);
    }
}


/*
 * Reconnects what is down and due; a connection that comes back is told
 * to nginx at once.  AW_FATAL: the database is not one to work with.
 */

static int
aw_reconnect(aw_msec_t now)
{
    int  db_up, redis_up;

    db_up = aw_db_up(&aw_worker.db);
    redis_up = aw_redis_up(&aw_worker.redis);

    if (aw_db_ready(&aw_worker.db, now) == AW_FATAL) {
        return AW_FATAL;
    }

    (void) aw_redis_ready(&aw_worker.redis, now);

    if ((!db_up && aw_db_up(&aw_worker.db))
        || (!redis_up && aw_redis_up(&aw_worker.redis)))
    {
        /* tell nginx at once */
        aw_heartbeat_kick();
    }

    return AW_OK;
}


/*
 * Sleeps in poll() until next, a signal, or a connection that becomes
 * readable while idle (the server closed it), and handles what came.
 */

static void
aw_loop_poll(aw_msec_t next)
{
    int            i, n, db_fd, redis_fd, metrics_fd;
    aw_msec_t      now;
    struct pollfd  pfd[4];

    now = aw_monotonic_msec();

    pfd[0].fd = aw_sig_pipe[0];
    pfd[0].events = POLLIN;
    n = 1;

    db_fd = aw_db_fd(&aw_worker.db);
    redis_fd = aw_redis_fd(&aw_worker.redis);

    if (db_fd != -1) {
        pfd[n].fd = db_fd;
        pfd[n].events = POLLIN;
        n++;
    }

    if (redis_fd != -1) {
        pfd[n].fd = redis_fd;
        pfd[n].events = POLLIN;
        n++;
    }

    metrics_fd = aw_metrics_fd();

    if (metrics_fd != -1) {
        pfd[n].fd = metrics_fd;
        pfd[n].events = POLLIN;
        n++;
    }

    for (i = 0; i < n; i++) {
        pfd[i].revents = 0;
    }

    if (poll(pfd, n, next <= now ? 0 : (int) aw_min(next - now, INT_MAX))
        == -1)
    {
        if (errno != EINTR) {
            aw_log(AW_LOG_ALERT, "poll() failed: %s", strerror(errno));
            aw_sleep_msec(100);
        }

        return;
    }

    if (pfd[0].revents) {
        aw_signals_drain();
    }

    for (i = 1; i < n; i++) {
        if (pfd[i].revents == 0) {
            continue;
        }

        if (pfd[i].fd == db_fd) {
            aw_db_readable(&aw_worker.db);

        } else if (pfd[i].fd == redis_fd) {
            aw_redis_readable(&aw_worker.redis);

        } else if (pfd[i].fd == metrics_fd) {
            aw_metrics_readable();
        }
    }
}


void
aw_worker_stop(int exit_code)
{
    if (!aw_worker.stopping) {
        aw_worker.stopping = 1;
        aw_worker.exit_code = exit_code;
    }
}


/*
 * SIGHUP: reopen the log; re-read the file; a bad file is logged and the
 * configuration in force kept; changed connection settings reconnect.
 */

static void
aw_reload(void)
{
    char        err[1024];
    unsigned    changes;
    aw_conf_t  *conf, *old;

    old = aw_worker.conf;

    aw_log(AW_LOG_NOTICE, "SIGHUP received, reloading");

    (void) aw_log_reopen();

    if (old->path == NULL) {
        aw_log(AW_LOG_NOTICE, "reload: no configuration file (-c) to "
               "re-read");
        return;
    }

    conf = aw_conf_load(old->path, err, sizeof(err));

    if (conf == NULL) {
        aw_log(AW_LOG_ERR, "reload: %s; keeping the configuration in force",
               err);
        return;
    }

    if (!aw_worker.x402
        && aw_sched_reload_check(old, conf, err, sizeof(err)) != AW_OK)
    {
        aw_log(AW_LOG_ERR, "reload: %s; keeping the configuration in force",
               err);
        aw_conf_free(conf);
        return;
    }

    changes = aw_conf_changes(old, conf);

    aw_log_level = conf->log_level;

    if (strcmp(old->log_file, conf->log_file) != 0) {
        (void) aw_log_open(conf->log_file);
    }

    /* the x402 process writes none (the main process's) */
    if (!aw_worker.x402 && strcmp(old->pid_file, conf->pid_file) != 0) {
        aw_pid_remove();
        (void) aw_pid_write(conf->pid_file);
    }

    aw_worker.conf = conf;
    aw_conf_free(old);

    aw_configure_connections(conf);
    aw_metrics_configure(conf);

    if (changes & AW_CONF_PG) {
        aw_log(AW_LOG_NOTICE, "pg: settings changed, reconnecting");
        aw_db_close(&aw_worker.db);
        aw_backoff_reset(&aw_worker.db.backoff, 0);
    }

    if (changes & AW_CONF_REDIS) {
        aw_log(AW_LOG_NOTICE, "redis: settings changed, reconnecting");
        aw_redis_close(&aw_worker.redis);
        aw_backoff_reset(&aw_worker.redis.backoff, 0);
    }

    if (changes & AW_CONF_ETH) {
        aw_log(AW_LOG_NOTICE, "eth: settings changed, starting over");
        aw_configure_rpc(conf);
        aw_rpc_start(0);
    }

    aw_sources_reload();

    aw_x402_signal(SIGHUP);

    if (!aw_worker.x402) {
        aw_heartbeat_kick();
    }

    aw_log(AW_LOG_NOTICE, "reload: configuration %s in force",
           conf->path);
}


static void
aw_configure_connections(aw_conf_t *conf)
{
    (void) aw_db_configure(&aw_worker.db, conf->postgres,
                           conf->postgres_connect_timeout,
                           conf->postgres_query_timeout,
                           conf->reconnect_min, conf->reconnect_max);

    (void) aw_redis_configure(&aw_worker.redis, conf->redis_host,
                              conf->redis_port, conf->redis_password,
                              conf->redis_timeout, conf->reconnect_min,
                              conf->reconnect_max);
}


static void
aw_configure_rpc(aw_conf_t *conf)
{
    (void) aw_rpc_configure(&aw_worker.rpc, conf->eth_rpc_url,
                            conf->eth_rpc_timeout,
                            (uint64_t) conf->eth_chain_id,
                            (unsigned) conf->eth_rpc_batch_max,
                            conf->reconnect_min, conf->reconnect_max);
}


/*
 * At start (and when the eth_* settings change): one eth_blockNumber, so
 * that the log says at once whether the chain is reachable.  A node that
 * is down only delays deposits; URLs that are all on another chain than
 * eth_chain_id are a configuration error: the worker refuses to start
 * (exit 78), and after a reload keeps refusing them.
 */

static void
aw_rpc_start(int at_start)
{
    int        rc;
    uint64_t   number;
    aw_rpc_t  *rpc;

    rpc = &aw_worker.rpc;

    if (!aw_rpc_enabled(rpc)) {
        aw_log(AW_LOG_NOTICE, "eth: no eth_rpc_url: deposits off");
        return;
    }

    rc = aw_rpc_block_number(rpc, &number);

    switch (rc) {

    case AW_RPC_OK:
        aw_log(AW_LOG_NOTICE, "eth: chain %llu at block %llu",
               (unsigned long long) rpc->chain_id,
               (unsigned long long) number);
        break;

    case AW_RPC_ECHAIN:
        aw_log(AW_LOG_EMERG, "eth: %s: check eth_rpc_url and eth_chain_id",
               rpc->error);

        if (at_start) {
            aw_worker_stop(AW_EXIT_CONFIG);
        }
        break;

    default:
        aw_log(AW_LOG_WARN, "eth: %s: deposits wait for a node", rpc->error);
    }
}


/*
 * --migrate: one connection attempt, no query time limit.
 */

static int
aw_migrate_main(aw_conf_t *conf)
{
    int      rc;
    aw_db_t  db;

    aw_db_init(&db, "pg");

    if (aw_db_configure(&db, conf->postgres, conf->postgres_connect_timeout,
                        0, conf->reconnect_min, conf->reconnect_max)
        != AW_OK)
    {
        return AW_EXIT_FAILURE;
    }

    rc = aw_db_connect(&db);

    if (rc == AW_OK) {
        rc = aw_migrate_run(&db);
    }

    aw_db_free(&db);

    return rc == AW_OK ? AW_EXIT_OK : AW_EXIT_FAILURE;
}


static int
aw_signals_init(void)
{
    int               i, flags;
    struct sigaction  sa;

    if (pipe2(aw_sig_pipe, O_CLOEXEC) == -1) {
        aw_log(AW_LOG_EMERG, "pipe2() failed: %s", strerror(errno));
        return AW_ERROR;
    }

    for (i = 0; i < 2; i++) {
        flags = fcntl(aw_sig_pipe[i], F_GETFL);
        (void) fcntl(aw_sig_pipe[i], F_SETFL, flags | O_NONBLOCK);
    }

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;

    sa.sa_handler = aw_signal_handler;

    if (sigaction(SIGTERM, &sa, NULL) == -1
        || sigaction(SIGINT, &sa, NULL) == -1
        || sigaction(SIGHUP, &sa, NULL) == -1)
    {
        aw_log(AW_LOG_EMERG, "sigaction() failed: %s", strerror(errno));
        return AW_ERROR;
    }

    sa.sa_handler = SIG_IGN;

    if (sigaction(SIGPIPE, &sa, NULL) == -1) {
        aw_log(AW_LOG_EMERG, "sigaction() failed: %s", strerror(errno));
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * Only flags and a byte into the self-pipe; but a second SIGINT (after a
 * SIGTERM or SIGINT) exits here and now, with async-signal-safe calls.
 */

static void
aw_signal_handler(int signo)
{
    int                saved;
    static const char  msg[] = "axon-worker: second SIGINT, exiting now\n";

    saved = errno;

    switch (signo) {

    case SIGHUP:
        aw_sig_reload = 1;
        break;

    case SIGINT:
        if (aw_sig_quit) {
            if (aw_pid_path[0]) {
                (void) unlink(aw_pid_path);
            }

            if (write(STDERR_FILENO, msg, sizeof(msg) - 1) == -1) {
                /* nothing to do */
            }

            _exit(AW_EXIT_FAILURE);
        }

        /* fall through */

    default:
        aw_sig_quit = signo;
        break;
    }

    if (write(aw_sig_pipe[1], "", 1) == -1) {
        /* the pipe is full: poll() will wake anyway */
    }

    errno = saved;
}


static void
aw_signals_drain(void)
{
    char  buf[64];

    while (read(aw_sig_pipe[0], buf, sizeof(buf)) > 0) {
        /* void */
    }
}


/*
 * Writes our pid to path, unless a live process has its pid there.
 */

static int
aw_pid_write(const char *path)
{
    int    fd, pid;
    FILE  *f;
    char   buf[32];

    if (path[0] == '\0') {
        return AW_OK;
    }

    if (strlen(path) >= sizeof(aw_pid_path)) {
        aw_log(AW_LOG_EMERG, "pid_file \"%s\": path too long", path);
        return AW_ERROR;
    }

    f = fopen(path, "re");

    if (f) {
        pid = 0;

        if (fscanf(f, "%d", &pid) == 1 && pid > 0 && pid != getpid()
            && (kill(pid, 0) == 0 || errno == EPERM))
        {
            fclose(f);
            aw_log(AW_LOG_EMERG, "pid_file \"%s\": another process is "
                   "running as pid %d (another axon-worker?)", path, pid);
            return AW_ERROR;
        }

        fclose(f);
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        aw_log(AW_LOG_EMERG, "pid_file \"%s\": %s", path, strerror(errno));
        return AW_ERROR;
    }

    snprintf(buf, sizeof(buf), "%d\n", (int) getpid());

    if (write(fd, buf, strlen(buf)) != (ssize_t) strlen(buf)) {
        aw_log(AW_LOG_EMERG, "pid_file \"%s\": write failed: %s",
               path, strerror(errno));
        close(fd);
        (void) unlink(path);
        return AW_ERROR;
    }

    close(fd);

    strcpy(aw_pid_path, path);

    return AW_OK;
}


static void
aw_pid_remove(void)
{
    int    pid;
    FILE  *f;

    if (aw_pid_path[0] == '\0') {
        return;
    }

    /* only ours */

    f = fopen(aw_pid_path, "re");

    if (f) {
        if (fscanf(f, "%d", &pid) == 1 && pid == getpid()) {
            (void) unlink(aw_pid_path);
        }

        fclose(f);
    }

    aw_pid_path[0] = '\0';
}


/*
 * The x402 process.  An x402.pay job makes several chain calls (and waits
 * for its receipt); run in this loop, every claim, release and heartbeat
 * would wait behind it.  With x402_settle set, the main process runs its
 * own binary again (--x402-process, same configuration) as a second
 * process that consumes axon:x402:jobs only, with connections of its own.
 * It is reaped and started again when it exits (1 s, doubling to 30 s
 * while it keeps failing), gets our SIGHUP and SIGTERM, and dies with us
 * (PR_SET_PDEATHSIG).  Returns when to look again.
 */

static aw_msec_t
aw_x402_process(aw_msec_t now)
{
    int    status;
    pid_t  pid;

    if (aw_worker.x402) {
        return AW_MSEC_NEVER;
    }

    if (aw_x402_pid > 0) {
        pid = waitpid(aw_x402_pid, &status, WNOHANG);

        if (pid == aw_x402_pid) {
            if (WIFSIGNALED(status)) {
                aw_log(AW_LOG_ERR, "the x402 process %d was killed by "
                       "signal %d", (int) pid, WTERMSIG(status));
            } else {
                aw_log(AW_LOG_ERR, "the x402 process %d exited %d",
                       (int) pid, WEXITSTATUS(status));
            }

            aw_x402_pid = -1;

            /* one that ran a minute failed afresh: start soon */
            if (now - aw_x402_started > 60000) {
                aw_x402_delay = 1000;
            }

            aw_x402_next = now + aw_x402_delay;
            aw_x402_delay = aw_min(aw_x402_delay * 2, 30000);
        }
    }

    if (aw_worker.conf->x402_settle == AW_X402_NONE) {
        if (aw_x402_pid > 0) {
            aw_log(AW_LOG_NOTICE, "x402_settle none: stopping the x402 "
                   "process %d", (int) aw_x402_pid);
            aw_x402_signal(SIGTERM);
            aw_x402_wait();
        }

        return AW_MSEC_NEVER;
    }

    if (aw_x402_pid > 0) {
        /* reaped within a second of its exit */
        return now + 1000;
    }

    if (now < aw_x402_next) {
        return aw_x402_next;
    }

    aw_x402_spawn(now);

    return now + 1000;
}


static void
aw_x402_spawn(aw_msec_t now)
{
    int           i;
    char         *argv[5];
    pid_t         pid, parent;
    sigset_t      none;
    aw_conf_t    *conf;

    conf = aw_worker.conf;
    parent = getpid();

    i = 0;
    argv[i++] = "axon-worker";
    argv[i++] = "--x402-process";

    if (conf->path) {
        argv[i++] = "-c";
        argv[i++] = conf->path;
    }

    argv[i] = NULL;

    pid = fork();

    if (pid == -1) {
        aw_log(AW_LOG_ALERT, "fork() of the x402 process failed: %s",
               strerror(errno));
        aw_x402_next = now + aw_x402_delay;
        return;
    }

    if (pid == 0) {
        /* with us, or never: the main process may be gone already */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);

        if (getppid() != parent) {
            _exit(AW_EXIT_FAILURE);
        }

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* our connections stay ours (hiredis's socket is not CLOEXEC) */
        (void) close_range(3, ~0U, 0);

        execv("/proc/self/exe", argv);
        _exit(AW_EXIT_FAILURE);
    }

    aw_x402_pid = pid;
    aw_x402_started = now;

    aw_log(AW_LOG_NOTICE, "started the x402 process %d: x402.pay jobs run "
           "there, from axon:x402:jobs", (int) pid);
}


static void
aw_x402_signal(int signo)
{
    if (aw_x402_pid > 0) {
        (void) kill(aw_x402_pid, signo);
    }
}


/* at exit, or when x402 is turned off: it finishes its job, then exits */

static void
aw_x402_wait(void)
{
    int        status;
    pid_t      pid;
    aw_msec_t  until;

    if (aw_x402_pid <= 0) {
        return;
    }

    aw_x402_signal(SIGTERM);

    until = aw_monotonic_msec() + 20000;

    for ( ;; ) {
        pid = waitpid(aw_x402_pid, &status, WNOHANG);

        if (pid == aw_x402_pid || (pid == -1 && errno != EINTR)) {
            break;
        }

        if (aw_monotonic_msec() >= until) {
            aw_log(AW_LOG_ERR, "the x402 process %d did not stop in 20 s: "
                   "killing it", (int) aw_x402_pid);
            (void) kill(aw_x402_pid, SIGKILL);
            (void) waitpid(aw_x402_pid, &status, 0);
            break;
        }

        aw_sleep_msec(20);
    }

    aw_x402_pid = -1;
}
