/*
 * axon-worker: the PostgreSQL connection.
 */


#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "config.h"
#include "log.h"


static PGresult *aw_db_run(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int script, aw_msec_t timeout);
static int aw_db_post(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int mode, const char *name,
    aw_msec_t timeout);
static PGresult *aw_db_collect(aw_db_t *db);
static PGresult *aw_db_send(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int mode, const char *name,
    aw_msec_t timeout);

#define AW_DB_PARAMS    0
#define AW_DB_SCRIPT    1
#define AW_DB_PREPARE   2
#define AW_DB_PREPARED  3
static int aw_db_flush(aw_db_t *db);
static int aw_db_results(aw_db_t *db, PGresult **lastp);
static void aw_db_timed_out(aw_db_t *db);
static void aw_db_query_failed(aw_db_t *db, const char *sql, int mode,
    PGresult *last);
static PGconn *aw_db_open(aw_db_t *db, aw_msec_t deadline);
static void aw_db_connect_failed(aw_db_t *db, aw_msec_t now);
static int aw_db_wait(int fd, short events, aw_msec_t deadline);
static void aw_db_lost(aw_db_t *db, const char *reason);
static void aw_db_set_error(aw_db_t *db, const char *msg);
static void aw_db_notice(void *arg, const PGresult *res);


void
aw_db_init(aw_db_t *db, const char *name)
{
    memset(db, 0, sizeof(aw_db_t));

    db->name = name;
    db->connect_timeout = 2000;
    db->query_timeout = 10000;

    aw_backoff_init(&db->backoff, 100, 5000);
}


/*
 * Takes new settings; a changed conninfo is used from the next connect
 * (the caller closes the connection to reconnect at once).
 */

int
aw_db_configure(aw_db_t *db, const char *conninfo, aw_msec_t connect_timeout,
    aw_msec_t query_timeout, aw_msec_t reconnect_min, aw_msec_t reconnect_max)
{
    char  *copy;

    copy = strdup(conninfo);
    if (copy == NULL) {
        aw_log(AW_LOG_ERR, "%s: out of memory", db->name);
        return AW_ERROR;
    }

    free(db->conninfo);
    db->conninfo = copy;

    db->connect_timeout = connect_timeout;
    db->query_timeout = query_timeout;

    aw_backoff_bounds(&db->backoff, reconnect_min, reconnect_max);

    return AW_OK;
}


/*
 * One attempt to connect now, within connect_timeout.  On failure the next
 * attempt is scheduled with backoff.
 */

int
aw_db_connect(aw_db_t *db)
{
    int         rc, ver;
    PGconn     *conn;
    aw_msec_t   now;

    aw_db_close(db);

    now = aw_monotonic_msec();

    conn = aw_db_open(db, now + db->connect_timeout);
    if (conn == NULL) {
        aw_db_connect_failed(db, now);
        return AW_ERROR;
    }

    PQsetNoticeReceiver(conn, aw_db_notice, db);

    db->conn = conn;
    db->closing = 0;
    db->connects++;

    ver = PQserverVersion(conn);

    aw_log(AW_LOG_INFO, "%s: connected to host=%s port=%s dbname=%s user=%s "
           "(server %d.%d)", db->name, PQhost(conn), PQport(conn),
           PQdb(conn), PQuser(conn), ver / 10000, ver % 10000);

    if (db->on_connect) {
        rc = db->on_connect(db);

        if (rc == AW_FATAL) {
            db->fatal = 1;
            aw_db_close(db);
            return AW_FATAL;
        }

        if (rc != AW_OK) {
            if (db->conn) {
                /* else aw_db_lost() has scheduled the next attempt */
                PQfinish(db->conn);
                db->conn = NULL;
                aw_backoff_fail(&db->backoff, now);
            }

            return AW_ERROR;
        }
    }

    aw_backoff_reset(&db->backoff, now);
    db->down_logged = 0;
    db->error[0] = '\0';

    return AW_OK;
}


/*
 * Opens a non-blocking connection by deadline.  NULL on failure, with
 * db->error set.
 */

static PGconn *
aw_db_open(aw_db_t *db, aw_msec_t deadline)
{
    int                        rc;
    PGconn                    *conn;
    const char                *msg;
    char                       timeout[32];
    PostgresPollingStatusType  st;
    static const char         *keywords[] = {
                                   "dbname", "application_name", NULL
                               };
    const char                *values[] = {
                                   NULL, "axon-worker", NULL
                               };

    values[0] = db->conninfo;

    /* the conninfo is expanded from dbname; application_name overrides */
    conn = PQconnectStartParams(keywords, values, 1);
    if (conn == NULL) {
        msg = "out of memory";
        goto failed;
    }

    if (PQstatus(conn) == CONNECTION_BAD) {
        msg = PQerrorMessage(conn);
        goto failed;
    }

    st = PGRES_POLLING_WRITING;

    while (st != PGRES_POLLING_OK) {

        if (st == PGRES_POLLING_FAILED) {
            msg = PQerrorMessage(conn);
            goto failed;
        }

        rc = aw_db_wait(PQsocket(conn),
                        st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                        deadline);

        if (rc == 0) {
            snprintf(db->error, sizeof(db->error),
                     "timed out connecting after %s",
                     aw_conf_format_msec(timeout, sizeof(timeout),
                                         db->connect_timeout));
            msg = db->error;
            goto failed;
        }

        if (rc == -1) {
            msg = strerror(errno);
            goto failed;
        }

        st = PQconnectPoll(conn);
    }

    if (PQsetnonblocking(conn, 1) == -1) {
        msg = PQerrorMessage(conn);
        goto failed;
    }

    return conn;

failed:

    if (msg != db->error) {
        aw_db_set_error(db, msg);
    }

    if (conn) {
        PQfinish(conn);
    }

    return NULL;
}


/* schedules the next attempt; logged once per outage, then at debug */

static void
aw_db_connect_failed(aw_db_t *db, aw_msec_t now)
{
    char  min[32], max[32];

    aw_backoff_fail(&db->backoff, now);

    aw_log(db->down_logged ? AW_LOG_DEBUG : AW_LOG_ERR,
           "%s: cannot connect: %s (retrying with backoff %s .. %s)",
           db->name, db->error,
           aw_conf_format_msec(min, sizeof(min), db->backoff.min),
           aw_conf_format_msec(max, sizeof(max), db->backoff.max));

    db->down_logged = 1;
}


/*
 * AW_OK if connected; else a reconnect attempt if one is due.
 */

int
aw_db_ready(aw_db_t *db, aw_msec_t now)
{
    if (db->fatal) {
        return AW_FATAL;
    }

    if (db->conn) {
        return AW_OK;
    }

    if (!aw_backoff_due(&db->backoff, now)) {
        return AW_ERROR;
    }

    return aw_db_connect(db);
}


/*
 * The health check: SELECT 1 on the connection within timeout, or a
 * reconnect attempt.  On failure db->error says why.
 */

int
aw_db_check(aw_db_t *db, aw_msec_t now, aw_msec_t timeout)
{
    PGresult  *res;

    if (db->conn) {
        res = aw_db_run(db, "SELECT 1", 0, NULL, 0, timeout);

        if (res) {
            PQclear(res);
            return AW_OK;
        }

        if (db->conn) {
            return AW_ERROR;
        }

        now = aw_monotonic_msec();
    }

    return aw_db_ready(db, now);
}


void
aw_db_close(aw_db_t *db)
{
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
}


void
aw_db_free(aw_db_t *db)
{
    aw_db_close(db);

    free(db->conninfo);
    db->conninfo = NULL;
}


/*
 * When the main loop must wake up to reconnect.
 */

aw_msec_t
aw_db_wakeup(aw_db_t *db)
{
    if (db->conn || db->fatal) {
        return AW_MSEC_NEVER;
    }

    return db->backoff.next;
}


int
aw_db_fd(aw_db_t *db)
{
    return db->conn ? PQsocket(db->conn) : -1;
}


/*
 * The idle connection is readable: the server closed it, or sent a
 * notice (or, later, a NOTIFY).
 */

void
aw_db_readable(aw_db_t *db)
{
    PGnotify  *n;

    if (db->conn == NULL) {
        return;
    }

    if (PQconsumeInput(db->conn) == 0 || PQstatus(db->conn) == CONNECTION_BAD)
    {
        aw_db_lost(db, PQerrorMessage(db->conn));
        return;
    }

    /* LISTEN/NOTIFY has no user yet: drop what arrives */

    while ((n = PQnotifies(db->conn)) != NULL) {
        aw_log(AW_LOG_DEBUG, "%s: notification \"%s\" ignored",
               db->name, n->relname);
        PQfreemem(n);
    }
}


/*
 * A parameterised query ($1, $2, ... as text); returns its result (the
 * caller PQclear()s it) or NULL with db->error and db->sqlstate set.
 */

PGresult *
aw_db_query(aw_db_t *db, const char *sql, int nparams,
    const char *const *params)
{
    return aw_db_run(db, sql, nparams, params, 0, db->query_timeout);
}


int
aw_db_exec(aw_db_t *db, const char *sql, int nparams,
    const char *const *params)
{
    PGresult  *res;

    res = aw_db_run(db, sql, nparams, params, 0, db->query_timeout);
    if (res == NULL) {
        return AW_ERROR;
    }

    PQclear(res);

    return AW_OK;
}


/*
 * Several statements without parameters and without a time limit: for
 * the embedded migrations only.
 */

int
aw_db_script(aw_db_t *db, const char *sql)
{
    PGresult  *res;

    res = aw_db_run(db, sql, 0, NULL, 1, 0);
    if (res == NULL) {
        return AW_ERROR;
    }

    PQclear(res);

    return AW_OK;
}


/*
 * Runs fn inside BEGIN (or begin, e.g. "BEGIN ISOLATION LEVEL
 * SERIALIZABLE") .. COMMIT.  A serialization failure or deadlock, in fn or
 * at COMMIT, rolls back and runs fn again, up to AW_DB_RETRY_TRIES times;
 * fn must therefore keep no state of its own between tries.
 */

int
aw_db_txn(aw_db_t *db, const char *begin, aw_db_txn_pt fn, void *data)
{
    int   rc, try;
    char  sqlstate[6];

    for (try = 1; /* void */ ; try++) {

        if (aw_db_exec(db, begin ? begin : "BEGIN", 0, NULL) != AW_OK) {
            return AW_ERROR;
        }

        db->sqlstate[0] = '\0';

        rc = fn(db, data);

        if (rc == AW_OK) {
            if (aw_db_exec(db, "COMMIT", 0, NULL) == AW_OK) {
                return AW_OK;
            }

            /* a failed COMMIT has ended the transaction */

        } else if (db->conn) {
            memcpy(sqlstate, db->sqlstate, sizeof(sqlstate));
            aw_db_exec(db, "ROLLBACK", 0, NULL);
            memcpy(db->sqlstate, sqlstate, sizeof(sqlstate));
        }

        if (rc == AW_FATAL) {
            return AW_FATAL;
        }

        if (db->conn == NULL || !aw_db_retryable(db)
            || try == AW_DB_RETRY_TRIES)
        {
            return AW_ERROR;
        }

        aw_log(AW_LOG_INFO, "%s: transaction failed with SQLSTATE %s, "
               "try %d of %d", db->name, db->sqlstate, try + 1,
               AW_DB_RETRY_TRIES);

        aw_sleep_msec(try * 10 + aw_random() % (try * 10));
    }
}


/*
 * A statement prepared once per connection (its name is stmt->name), then
 * executed with parameters: no parse and plan per call.
 */

PGresult *
aw_db_query_prepared(aw_db_t *db, aw_db_stmt_t *stmt, int nparams,
    const char *const *params)
{
    PGresult  *res;

    if (db->conn && stmt->connects != db->connects) {
        res = aw_db_send(db, stmt->sql, nparams, NULL, AW_DB_PREPARE,
                         stmt->name, db->query_timeout);
        if (res == NULL) {
            return NULL;
        }

        PQclear(res);
        stmt->connects = db->connects;
    }

    return aw_db_send(db, stmt->sql, nparams, params, AW_DB_PREPARED,
                      stmt->name, db->query_timeout);
}


static PGresult *
aw_db_run(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int script, aw_msec_t timeout)
{
    return aw_db_send(db, sql, nparams, params,
                      script ? AW_DB_SCRIPT : AW_DB_PARAMS, NULL, timeout);
}


/*
 * A parameterised query sent, not waited for: the caller does other work
 * (not on db) and then takes its result with aw_db_query_result(), which
 * it must call, whatever the send returned.  The query's time limit runs
 * from the send.
 */

int
aw_db_query_send(aw_db_t *db, const char *sql, int nparams,
    const char *const *params)
{
    return aw_db_post(db, sql, nparams, params, AW_DB_PARAMS, NULL,
                      db->query_timeout);
}


PGresult *
aw_db_query_result(aw_db_t *db)
{
    return aw_db_collect(db);
}


static PGresult *
aw_db_send(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int mode, const char *name,
    aw_msec_t timeout)
{
    (void) aw_db_post(db, sql, nparams, params, mode, name, timeout);

    return aw_db_collect(db);
}


/*
 * Sends a query and flushes it: AW_OK, or AW_ERROR with the connection
 * lost (aw_db_collect() then returns NULL).
 */

static int
aw_db_post(aw_db_t *db, const char *sql, int nparams,
    const char *const *params, int mode, const char *name,
    aw_msec_t timeout)
{
    int      rc;
    PGconn  *conn;

    db->sqlstate[0] = '\0';
    db->sent.sql = sql;
    db->sent.mode = mode;
    db->sent.ok = 0;
    db->sent.timeout = timeout;
    db->sent.deadline = timeout ? aw_monotonic_msec() + timeout
                                : AW_MSEC_NEVER;
    conn = db->conn;

    if (conn == NULL) {
        aw_db_set_error(db, "not connected");
        return AW_ERROR;
    }

    switch (mode) {

    case AW_DB_SCRIPT:
        rc = PQsendQuery(conn, sql);
        break;

    case AW_DB_PREPARE:
        rc = PQsendPrepare(conn, name, sql, nparams, NULL);
        break;

    case AW_DB_PREPARED:
        rc = PQsendQueryPrepared(conn, name, nparams, params, NULL, NULL, 0);
        break;

    default:
        rc = PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL,
                               0);
    }

    if (rc == 0) {
        aw_db_lost(db, PQerrorMessage(conn));
        return AW_ERROR;
    }

    if (aw_db_flush(db) != AW_OK) {
        return AW_ERROR;
    }

    db->sent.ok = 1;

    return AW_OK;
}


/* the result of the query aw_db_post() sent: as aw_db_query() returns */

static PGresult *
aw_db_collect(aw_db_t *db)
{
    PGresult        *last;
    ExecStatusType   st;

    if (!db->sent.ok) {
        return NULL;
    }

    db->sent.ok = 0;

    if (aw_db_results(db, &last) != AW_OK) {
        return NULL;
    }

    if (last == NULL) {
        aw_db_set_error(db, "no result");
        return NULL;
    }

    st = PQresultStatus(last);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
        || st == PGRES_EMPTY_QUERY)
    {
        return last;
    }

    aw_db_query_failed(db, db->sent.sql, db->sent.mode, last);

    return NULL;
}


/*
 * Flushes the query being sent, within its time limit: AW_ERROR, the
 * connection lost.
 */

static int
aw_db_flush(aw_db_t *db)
{
    int      rc;
    PGconn  *conn;

    conn = db->conn;

    while ((rc = PQflush(conn)) == 1) {
        if (aw_db_wait(PQsocket(conn), POLLIN|POLLOUT, db->sent.deadline)
            <= 0)
        {
            aw_db_timed_out(db);
            return AW_ERROR;
        }

        if (PQconsumeInput(conn) == 0) {
            aw_db_lost(db, PQerrorMessage(conn));
            return AW_ERROR;
        }
    }

    if (rc == -1) {
        aw_db_lost(db, PQerrorMessage(conn));
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * Reads the results of the query sent, within its time limit: *last is
 * the first error, else the last result.  On AW_ERROR the connection is
 * lost.
 */

static int
aw_db_results(aw_db_t *db, PGresult **lastp)
{
    PGconn     *conn;
    PGresult   *res, *last;

    conn = db->conn;
    last = NULL;

    for ( ;; ) {
        while (PQisBusy(conn)) {
            if (aw_db_wait(PQsocket(conn), POLLIN, db->sent.deadline) <= 0) {
                PQclear(last);
                aw_db_timed_out(db);
                return AW_ERROR;
            }

            if (PQconsumeInput(conn) == 0) {
                PQclear(last);
                aw_db_lost(db, PQerrorMessage(conn));
                return AW_ERROR;
            }
        }

        res = PQgetResult(conn);
        if (res == NULL) {
            break;
        }

        /* keep the first error, else the last result */

        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(res);

        } else {
            PQclear(last);
            last = res;
        }
    }

    *lastp = last;

    return AW_OK;
}


static void
aw_db_timed_out(aw_db_t *db)
{
    char  buf[32];

    snprintf(buf, sizeof(buf), "query timed out after ");
    aw_conf_format_msec(buf + strlen(buf), sizeof(buf) - strlen(buf),
                        db->sent.timeout);
    aw_db_lost(db, buf);
}


/*
 * Sets db->error and db->sqlstate from a failed result and frees it; logs
 * the failure, or treats a broken connection as lost.
 */

static void
aw_db_query_failed(aw_db_t *db, const char *sql, int mode, PGresult *last)
{
    int          n, line;
    size_t       len;
    const char  *msg, *state, *pos, *p;

    state = PQresultErrorField(last, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(last, PG_DIAG_MESSAGE_PRIMARY);

    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
    aw_db_set_error(db, msg ? msg : PQresultErrorMessage(last));

    pos = PQresultErrorField(last, PG_DIAG_STATEMENT_POSITION);

    if (mode == AW_DB_SCRIPT && pos) {
        /* where in a migration: its line */
        line = 1;

        for (n = atoi(pos), p = sql; n > 1 && *p; n--, p++) {
            line += (*p == '\n');
        }

        len = strlen(db->error);
        snprintf(db->error + len, sizeof(db->error) - len, " (line %d)",
                 line);
    }

    PQclear(last);

    if (PQstatus(db->conn) == CONNECTION_BAD) {
        aw_db_lost(db, db->error);
        return;
    }

    aw_log(aw_db_retryable(db) ? AW_LOG_INFO : AW_LOG_ERR,
           "%s: query failed: %s (SQLSTATE %s) in \"%.*s\"",
           db->name, db->error, db->sqlstate,
           (int) aw_min(strcspn(sql, "\n"), 60), sql);
}


/*
 * Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error.
 * A signal does not cut the wait short: the unit of work finishes.
 */

static int
aw_db_wait(int fd, short events, aw_msec_t deadline)
{
    int            rc;
    aw_msec_t      left;
    struct pollfd  pfd;

    for ( ;; ) {
        if (deadline == AW_MSEC_NEVER) {
            left = -1;

        } else {
            left = deadline - aw_monotonic_msec();

            if (left <= 0) {
                return 0;
            }

            left = aw_min(left, INT_MAX);
        }

        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;

        rc = poll(&pfd, 1, (int) left);

        if (rc > 0) {
            return 1;
        }

        if (rc == 0) {
            return 0;
        }

        if (errno != EINTR) {
            return -1;
        }
    }
}


static void
aw_db_lost(aw_db_t *db, const char *reason)
{
    if (reason != db->error && !db->closing) {
        aw_db_set_error(db, reason);
    }

    db->closing = 0;

    aw_log(db->down_logged ? AW_LOG_DEBUG : AW_LOG_ERR,
           "%s: connection lost: %s", db->name, db->error);

    db->down_logged = 1;

    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }

    aw_backoff_fail(&db->backoff, aw_monotonic_msec());
}


/*
 * Keeps the first line of a libpq message, without its trailing blanks.
 */

static void
aw_db_set_error(aw_db_t *db, const char *msg)
{
    size_t  len;

    if (msg == NULL || msg[0] == '\0') {
        msg = "unknown error";
    }

    if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
    {
        msg += 8;
    }

    len = strcspn(msg, "\n");
    len = aw_min(len, sizeof(db->error) - 1);

    memmove(db->error, msg, len);

    while (len > 0 && (db->error[len - 1] == ' ' || db->error[len - 1] == '\t'
                       || db->error[len - 1] == '\r'))
    {
        len--;
    }

    db->error[len] = '\0';
}


/*
 * Notices and warnings from the server go to the log, not to stderr.
 */

static void
aw_db_notice(void *arg, const PGresult *res)
{
    aw_db_t     *db;
    const char  *severity, *msg;

    db = arg;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (severity == NULL) {
        severity = "NOTICE";
    }

    if (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0) {
        /* the server says why it is about to close the connection */
        aw_db_set_error(db, msg);
        db->closing = 1;
    }

    aw_log(strcmp(severity, "WARNING") == 0 ? AW_LOG_WARN : AW_LOG_DEBUG,
           "%s: %s: %s", db->name, severity, msg ? msg : "");
}


int
aw_db_col(const PGresult *pg, const char *name)
{
    int  col;

    col = PQfnumber(pg, name);

    if (col < 0) {
        aw_log(AW_LOG_EMERG, "postgres: no column \"%s\" in a result",
               name);
        aw_assert(col >= 0);
    }

    return col;
}
