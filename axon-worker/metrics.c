/*
 * axon-worker: Prometheus metrics, served by the worker itself.
 *
 * metrics_listen ADDR:PORT opens one listening socket, polled by the main
 * loop with the connections; a scrape is answered at once, HTTP/1.0, and
 * the connection closed.  A listener of its own rather than an HTTP
 * library: one request, one answer, no keep-alive, no TLS (that belongs to
 * a proxy), and nothing more to link into a money-bearing daemon.
 *
 * The x402 process is a process of its own with counters of its own: it
 * serves them at PORT + 1 (its jobs, x402.pay, and its RPC errors).
 * Prometheus scrapes both; sum() adds them up.
 *
 * A scrape runs in the loop, between two units of work: reading the
 * request and writing the answer have a deadline each (AW_METRICS_IO_MS),
 * and the main process asks Postgres one query (the sessions by state,
 * the GPUs in use, the ledger's rows since the last scrape), bounded by
 * postgres_query_timeout like any query.
 *
 * Counters are this process's since it started, but the ledger's minutes,
 * which are the ledger's own totals (a restart does not reset them, and
 * every worker reports the same: do not sum them across workers).
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

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "worker.h"


#define AW_METRICS_IO_MS     1000     /* to read a request, to write */
#define AW_METRICS_REQ_MAX   2048


typedef struct {
    char      *data;
    size_t     len;
    size_t     size;
    int        failed;
} aw_metrics_buf_t;


static int aw_metrics_listen(const char *addr, int plus, char *err,
    size_t errlen);
static void aw_metrics_serve(int fd);
static int aw_metrics_read_request(int fd, char *req, size_t size);
static void aw_metrics_write_all(int fd, const char *p, size_t len);
static void aw_metrics_text(aw_metrics_buf_t *b);
static void aw_metrics_jobs(aw_metrics_buf_t *b);
static void aw_metrics_queue(aw_metrics_buf_t *b);
static void aw_metrics_billing(aw_metrics_buf_t *b);
static void aw_metrics_chain(aw_metrics_buf_t *b);
static void aw_metrics_postgres(aw_metrics_buf_t *b);
static void aw_metrics_printf(aw_metrics_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


aw_metrics_t  aw_metrics;

static int    aw_metrics_sock = -1;
static char  *aw_metrics_addr;        /* what the socket was opened for */

/* the ledger's rows up to this id are summed in these */
static int64_t   aw_metrics_settled;
static uint64_t  aw_metrics_credited;
static uint64_t  aw_metrics_debited;

static const uint64_t  aw_metrics_bill_le[AW_METRICS_BILL_LE] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char  *aw_metrics_outcomes[AW_METRICS_OUTCOMES] = {
    "done", "retried", "dead", "refused"
};

static const char  *aw_metrics_states[] = {
    "queued", "starting", "running", "ending", "ended", NULL
};


/* a job's outcome; k NULL: a kind the worker does not know */

void
aw_metrics_job(const aw_job_kind_t *k, aw_metrics_outcome_e outcome)
{
    size_t  i;

    i = k ? (size_t) (k - aw_job_kinds) + 1 : 0;

    if (i < AW_METRICS_KINDS) {
        aw_metrics.jobs[i][outcome]++;
    }
}


/* the duration of one billing tick (sched.c) */

void
aw_metrics_bill(aw_msec_t ms)
{
    size_t  i;

    for (i = 0; i < AW_METRICS_BILL_LE; i++) {
        if ((uint64_t) ms <= aw_metrics_bill_le[i]) {
            break;
        }
    }

    aw_metrics.bill[i]++;
    aw_metrics.bill_ms += (uint64_t) ms;
}


/* at start and on SIGHUP: the listener metrics_listen names, or none */

void
aw_metrics_configure(aw_conf_t *conf)
{
    char  err[1024];

    if (aw_metrics_addr && strcmp(aw_metrics_addr, conf->metrics_listen) == 0
        && (aw_metrics_sock != -1 || conf->metrics_listen[0] == '\0'))
    {
        return;
    }

    aw_metrics_close();

    aw_metrics_addr = strdup(conf->metrics_listen);

    if (conf->metrics_listen[0] == '\0') {
        return;
    }

    aw_metrics_sock = aw_metrics_listen(conf->metrics_listen,
                                        aw_worker.x402, err, sizeof(err));

    if (aw_metrics_sock == -1) {
        aw_log(AW_LOG_ERR, "metrics: %s: metrics off", err);
        return;
    }

    aw_log(AW_LOG_NOTICE, "metrics: serving GET /metrics at %s%s",
           conf->metrics_listen, aw_worker.x402 ? " + 1" : "");
}


void
aw_metrics_close(void)
{
    if (aw_metrics_sock != -1) {
        close(aw_metrics_sock);
        aw_metrics_sock = -1;
    }

    free(aw_metrics_addr);
    aw_metrics_addr = NULL;
}


int
aw_metrics_fd(void)
{
    return aw_metrics_sock;
}


/* HOST:PORT or [V6]:PORT, plus added to the port */

static int
aw_metrics_listen(const char *addr, int plus, char *err, size_t errlen)
{
    int               fd, rc, one, port;
    char              host[256], serv[16];
    struct addrinfo   hints, *ai;

    /* checked by aw_conf_check() */
    if (aw_conf_host_port(addr, plus, host, sizeof(host), &port) != AW_OK) {
        snprintf(err, errlen, "metrics_listen \"%s\" is not HOST:PORT",
                 addr);
        return -1;
    }

    snprintf(serv, sizeof(serv), "%d", port + plus);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

    rc = getaddrinfo(host, serv, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
        return -1;
    }

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    one = 1;

    if (fd == -1
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1
        || listen(fd, 16) == -1)
    {
        snprintf(err, errlen, "%s port %s: %s", host, serv, strerror(errno));
        if (fd != -1) {
            close(fd);
        }
        fd = -1;
    }

    freeaddrinfo(ai);

    return fd;
}


/* the listener is readable: the scrapes that wait, a few at most */

void
aw_metrics_readable(void)
{
    int  i, fd;

    for (i = 0; i < 4; i++) {
        fd = accept4(aw_metrics_sock, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
            {
                aw_log(AW_LOG_WARN, "metrics: accept(): %s",
                       strerror(errno));
            }
            return;
        }

        aw_metrics_serve(fd);
        close(fd);
    }
}


static void
aw_metrics_serve(int fd)
{
    int               head;
    char              req[AW_METRICS_REQ_MAX], hdr[256];
    size_t            n;
    aw_metrics_buf_t  b;

    if (aw_metrics_read_request(fd, req, sizeof(req)) != AW_OK) {
        return;
    }

    head = strncmp(req, "HEAD ", 5) == 0;

    if (!head && strncmp(req, "GET ", 4) != 0) {
        n = (size_t) snprintf(hdr, sizeof(hdr), "HTTP/1.0 405 Method Not "
                              "Allowed\r\nAllow: GET, HEAD\r\n"
                              "Content-Length: 0\r\n\r\n");
        aw_metrics_write_all(fd, hdr, n);
        return;
    }

    if (strncmp(req + (head ? 5 : 4), "/metrics ", 9) != 0) {
        n = (size_t) snprintf(hdr, sizeof(hdr), "HTTP/1.0 404 Not Found\r\n"
                              "Content-Length: 0\r\n\r\n");
        aw_metrics_write_all(fd, hdr, n);
        return;
    }

    memset(&b, 0, sizeof(b));
    aw_metrics_text(&b);

    if (b.failed) {
        free(b.data);
        n = (size_t) snprintf(hdr, sizeof(hdr), "HTTP/1.0 500 Internal "
                              "Server Error\r\nContent-Length: 0\r\n\r\n");
        aw_metrics_write_all(fd, hdr, n);
        return;
    }

    n = (size_t) snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\n"
                          "Content-Type: text/plain; version=0.0.4\r\n"
                          "Content-Length: %zu\r\n\r\n", b.len);

    aw_metrics_write_all(fd, hdr, n);

    if (!head) {
        aw_metrics_write_all(fd, b.data, b.len);
    }

    free(b.data);
}


/* the request's head, up to its blank line, within AW_METRICS_IO_MS */

static int
aw_metrics_read_request(int fd, char *req, size_t size)
{
    size_t         len;
    ssize_t        n;
    aw_msec_t      until, now;
    struct pollfd  pfd;

    len = 0;
    until = aw_monotonic_msec() + AW_METRICS_IO_MS;

    for ( ;; ) {
        n = read(fd, req + len, size - 1 - len);

        if (n > 0) {
            len += (size_t) n;
            req[len] = '\0';

            if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) {
                return AW_OK;
            }

            if (len == size - 1) {
                return AW_ERROR;
            }

            continue;
        }

        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            return AW_ERROR;
        }

        now = aw_monotonic_msec();
        if (now >= until) {
            return AW_ERROR;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;

        if (poll(&pfd, 1, (int) (until - now)) == -1 && errno != EINTR) {
            return AW_ERROR;
        }
    }
}


static void
aw_metrics_write_all(int fd, const char *p, size_t len)
{
    ssize_t        n;
    aw_msec_t      until, now;
    struct pollfd  pfd;

    until = aw_monotonic_msec() + AW_METRICS_IO_MS;

    while (len) {
        n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }

        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            return;
        }

        now = aw_monotonic_msec();
        if (now >= until) {
            return;
        }

        pfd.fd = fd;
        pfd.events = POLLOUT;
        (void) poll(&pfd, 1, (int) (until - now));
    }
}


static void
aw_metrics_text(aw_metrics_buf_t *b)
{
    aw_metrics_printf(b, "# HELP axon_worker_info This worker process.\n"
                      "# TYPE axon_worker_info gauge\n"
                      "axon_worker_info{worker_id=\"");

    /* the operator's text: a label value escapes \ " and newlines */

    for (const char *p = aw_worker.conf->worker_id; *p; p++) {
        if (*p == '\\' || *p == '"') {
            aw_metrics_printf(b, "\\%c", *p);

        } else if (*p == '\n') {
            aw_metrics_printf(b, "\\n");

        } else {
            aw_metrics_printf(b, "%c", *p);
        }
    }

    aw_metrics_printf(b, "\",process=\"%s\",version=\"%s\"} 1\n",
                      aw_worker.x402 ? "x402" : "main", AXON_VERSION);

    aw_metrics_jobs(b);
    aw_metrics_queue(b);
    aw_metrics_chain(b);

    if (!aw_worker.x402) {
        aw_metrics_billing(b);
        aw_metrics_postgres(b);
    }
}


static void
aw_metrics_jobs(aw_metrics_buf_t *b)
{
    size_t                i, o;
    const char           *name;

    aw_metrics_printf(b, "# HELP axon_worker_jobs_total Jobs this process "
                      "ran, by kind and outcome.\n"
                      "# TYPE axon_worker_jobs_total counter\n");

    for (i = 0; i < AW_METRICS_KINDS; i++) {
        if (i > 0 && aw_job_kinds[i - 1].name == NULL) {
            break;
        }

        name = i ? aw_job_kinds[i - 1].name : "unknown";

        for (o = 0; o < AW_METRICS_OUTCOMES; o++) {
            aw_metrics_printf(b, "axon_worker_jobs_total{kind=\"%s\","
                              "outcome=\"%s\"} %llu\n", name,
                              aw_metrics_outcomes[o],
                              (unsigned long long) aw_metrics.jobs[i][o]);
        }
    }
}


static void
aw_metrics_queue(aw_metrics_buf_t *b)
{
    const aw_queue_stats_t  *s;

    s = aw_queue_stats();

    aw_metrics_printf(b,
        "# HELP axon_worker_queue_depth Entries in this process's job "
        "stream, queued and pending (as of the last heartbeat_interval).\n"
        "# TYPE axon_worker_queue_depth gauge\n"
        "axon_worker_queue_depth %lld\n"
        "# HELP axon_worker_queue_pending Jobs delivered and not yet "
        "acknowledged.\n"
        "# TYPE axon_worker_queue_pending gauge\n"
        "axon_worker_queue_pending %lld\n"
        "# HELP axon_worker_queue_lag_seconds The age of the oldest "
        "unfinished job; 0: none.\n"
        "# TYPE axon_worker_queue_lag_seconds gauge\n"
        "axon_worker_queue_lag_seconds %lld.%03lld\n"
        "# HELP axon_worker_dead_letters Entries in axon:jobs:dead.\n"
        "# TYPE axon_worker_dead_letters gauge\n"
        "axon_worker_dead_letters %lld\n",
        (long long) s->depth, (long long) s->pending,
        (long long) s->oldest_age / 1000, (long long) s->oldest_age % 1000,
        (long long) s->dead_depth);
}


static void
aw_metrics_billing(aw_metrics_buf_t *b)
{
    size_t    i;
    uint64_t  n;

    aw_metrics_printf(b, "# HELP axon_worker_billing_tick_seconds How long "
                      "a billing tick took.\n"
                      "# TYPE axon_worker_billing_tick_seconds histogram\n");

    n = 0;

    for (i = 0; i < AW_METRICS_BILL_LE; i++) {
        n += aw_metrics.bill[i];
        aw_metrics_printf(b, "axon_worker_billing_tick_seconds_bucket"
                          "{le=\"%llu.%03llu\"} %llu\n",
                          (unsigned long long) aw_metrics_bill_le[i] / 1000,
                          (unsigned long long) aw_metrics_bill_le[i] % 1000,
                          (unsigned long long) n);
    }

    n += aw_metrics.bill[i];

    aw_metrics_printf(b, "axon_worker_billing_tick_seconds_bucket"
                      "{le=\"+Inf\"} %llu\n"
                      "axon_worker_billing_tick_seconds_sum %llu.%03llu\n"
                      "axon_worker_billing_tick_seconds_count %llu\n",
                      (unsigned long long) n,
                      (unsigned long long) aw_metrics.bill_ms / 1000,
                      (unsigned long long) aw_metrics.bill_ms % 1000,
                      (unsigned long long) n);
}


/* the chain's head and the indexer's cursor, once known; RPC errors */

static void
aw_metrics_chain(aw_metrics_buf_t *b)
{
    unsigned   i;
    aw_rpc_t  *rpc;

    rpc = &aw_worker.rpc;

    aw_metrics_printf(b, "# HELP axon_worker_rpc_errors_total Failed "
                      "JSON-RPC requests, by provider: the position of "
                      "its URL in eth_rpc_url, from 0.\n"
                      "# TYPE axon_worker_rpc_errors_total counter\n");

    for (i = 0; i < rpc->nurls; i++) {
        aw_metrics_printf(b, "axon_worker_rpc_errors_total{provider=\"%u\"}"
                          " %llu\n", i,
                          (unsigned long long) rpc->urls[i].errors);
    }

    if (aw_worker.x402 || aw_metrics.chain_head == 0) {
        return;
    }

    aw_metrics_printf(b,
        "# HELP axon_worker_chain_head_block The chain's latest block, as "
        "the indexer last saw it.\n"
        "# TYPE axon_worker_chain_head_block gauge\n"
        "axon_worker_chain_head_block %llu\n",
        (unsigned long long) aw_metrics.chain_head);

    if (aw_metrics.indexer_next == 0) {
        return;
    }

    /* the cursor is the last block scanned: indexer_next - 1 */

    aw_metrics_printf(b,
        "# HELP axon_worker_indexer_lag_blocks Blocks between the head and "
        "the indexer's cursor (deposit_confirmations of them on purpose).\n"
        "# TYPE axon_worker_indexer_lag_blocks gauge\n"
        "axon_worker_indexer_lag_blocks %llu\n",
        (unsigned long long) (aw_metrics.chain_head + 1
                              > aw_metrics.indexer_next
                              ? aw_metrics.chain_head + 1
                                - aw_metrics.indexer_next
                              : 0));
}


/*
 * Sessions by state, the GPUs in use per host, and the ledger's minutes:
 * the rows up to the newest one a minute old are summed once and kept
 * (a row's id is taken before its transaction commits, so a younger row
 * may still appear below a higher id); the younger ones are summed anew
 * at each scrape.
 */

static const char  aw_metrics_sql[] =
    "WITH s AS (SELECT coalesce(max(id), $1::bigint) AS id"
    "  FROM credit_ledger"
    "  WHERE id > $1::bigint AND at < now() - interval '1 minute'),"
    " l AS (SELECT s.id AS settled,"
    "  coalesce(sum(greatest(c.delta_minutes, 0))"
    "   FILTER (WHERE c.id <= s.id), 0) AS cs,"
    "  coalesce(sum(greatest(-c.delta_minutes, 0))"
    "   FILTER (WHERE c.id <= s.id), 0) AS ds,"
    "  coalesce(sum(greatest(c.delta_minutes, 0))"
    "   FILTER (WHERE c.id > s.id), 0) AS ct,"
    "  coalesce(sum(greatest(-c.delta_minutes, 0))"
    "   FILTER (WHERE c.id > s.id), 0) AS dt"
    "  FROM s LEFT JOIN credit_ledger c ON c.id > $1::bigint"
    "  GROUP BY s.id)"
    " SELECT 's' AS k, state AS name, count(*)::bigint AS n FROM sessions"
    "  GROUP BY state"
    " UNION ALL SELECT 'g', host, count(*) FROM gpu_assignments"
    "  WHERE released_at IS NULL GROUP BY host"
    " UNION ALL SELECT 'settled', '', settled FROM l"
    " UNION ALL SELECT 'cs', '', cs::bigint FROM l"
    " UNION ALL SELECT 'ds', '', ds::bigint FROM l"
    " UNION ALL SELECT 'ct', '', ct::bigint FROM l"
    " UNION ALL SELECT 'dt', '', dt::bigint FROM l";


static void
aw_metrics_postgres(aw_metrics_buf_t *b)
{
    int          i, h, rows, kc, nc, vc, used;
    char         from[24];
    int64_t      v, settled, ct, dt;
    PGresult    *pg;
    aw_conf_t   *conf;
    const char  *k, *name, *params[1];

    conf = aw_worker.conf;
    pg = NULL;

    if (aw_db_up(&aw_worker.db)) {
        snprintf(from, sizeof(from), "%lld", (long long) aw_metrics_settled);
        params[0] = from;
        pg = aw_db_query(&aw_worker.db, aw_metrics_sql, 1, params);
    }

    aw_metrics_printf(b, "# HELP axon_worker_postgres_up Whether this "
                      "scrape could read Postgres (the series below need "
                      "it).\n# TYPE axon_worker_postgres_up gauge\n"
                      "axon_worker_postgres_up %d\n", pg != NULL);

    if (pg == NULL) {
        return;
    }

    rows = PQntuples(pg);
    kc = aw_db_col(pg, "k");
    nc = aw_db_col(pg, "name");
    vc = aw_db_col(pg, "n");
    settled = aw_metrics_settled;
    ct = dt = 0;

    aw_metrics_printf(b, "# HELP axon_sessions GPU sessions by state.\n"
                      "# TYPE axon_sessions gauge\n");

    for (i = 0; aw_metrics_states[i]; i++) {
        v = 0;

        for (h = 0; h < rows; h++) {
            if (strcmp(PQgetvalue(pg, h, kc), "s") == 0
                && strcmp(PQgetvalue(pg, h, nc), aw_metrics_states[i]) == 0)
            {
                v = atoll(PQgetvalue(pg, h, vc));
            }
        }

        aw_metrics_printf(b, "axon_sessions{state=\"%s\"} %lld\n",
                          aw_metrics_states[i], (long long) v);
    }

    aw_metrics_printf(b, "# HELP axon_gpus The GPUs of gpu_hosts, used by "
                      "a live session or free.\n# TYPE axon_gpus gauge\n");

    for (h = 0; h < conf->nhosts; h++) {
        used = 0;

        for (i = 0; i < rows; i++) {
            if (strcmp(PQgetvalue(pg, i, kc), "g") == 0
                && strcmp(PQgetvalue(pg, i, nc), conf->host[h].name) == 0)
            {
                used = atoi(PQgetvalue(pg, i, vc));
            }
        }

        aw_metrics_printf(b, "axon_gpus{host=\"%s\",state=\"used\"} %d\n"
                          "axon_gpus{host=\"%s\",state=\"free\"} %d\n",
                          conf->host[h].name, used, conf->host[h].name,
                          aw_max(conf->host[h].ngpus - used, 0));
    }

    for (i = 0; i < rows; i++) {
        k = PQgetvalue(pg, i, kc);
        name = PQgetvalue(pg, i, vc);

        if (strcmp(k, "settled") == 0) {
            settled = atoll(name);

        } else if (strcmp(k, "cs") == 0) {
            aw_metrics_credited += (uint64_t) atoll(name);

        } else if (strcmp(k, "ds") == 0) {
            aw_metrics_debited += (uint64_t) atoll(name);

        } else if (strcmp(k, "ct") == 0) {
            ct = atoll(name);

        } else if (strcmp(k, "dt") == 0) {
            dt = atoll(name);
        }
    }

    aw_metrics_settled = settled;

    PQclear(pg);

    aw_metrics_printf(b, "# HELP axon_ledger_credits_total Credit, in minutes, "
                      "in the ledger, credited (deposits, grants, refunds, "
                      "adjustments up) and debited (usage, adjustments "
                      "down); every worker reports the whole ledger's.\n"
                      "# TYPE axon_ledger_credits_total counter\n"
                      "axon_ledger_credits_total{direction=\"credited\"} "
                      "%llu\n"
                      "axon_ledger_credits_total{direction=\"debited\"} "
                      "%llu\n",
                      (unsigned long long) (aw_metrics_credited + ct),
                      (unsigned long long) (aw_metrics_debited + dt));
}


static void
aw_metrics_printf(aw_metrics_buf_t *b, const char *fmt, ...)
{
    int      n;
    char    *p;
    size_t   size;
    va_list  ap;

    if (b->failed) {
        return;
    }

    for ( ;; ) {
        va_start(ap, fmt);
        n = vsnprintf(b->data ? b->data + b->len : NULL,
                      b->data ? b->size - b->len : 0, fmt, ap);
        va_end(ap);

        if (n < 0) {
            b->failed = 1;
            return;
        }

        if (b->data && (size_t) n < b->size - b->len) {
            b->len += (size_t) n;
            return;
        }

        size = aw_max(b->size * 2, b->len + (size_t) n + 4096);

        p = realloc(b->data, size);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->size = size;
    }
}
