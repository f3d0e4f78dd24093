/*
 * axon-worker: one PostgreSQL connection (libpq), with reconnect and
 * backoff, client-side query timeouts, parameterised queries, and a
 * helper that runs a function in a transaction and retries it on a
 * serialization failure or deadlock.
 *
 * Every call is synchronous for the caller, but waits in poll(2) with a
 * deadline, so a server that stopped answering costs at most
 * postgres_query_timeout, then a reconnect.  One query may be sent and its
 * result taken later (aw_db_query_send, aw_db_query_result): the caller
 * works meanwhile, on anything but this connection.
 */

#ifndef AW_DB_H
#define AW_DB_H


#include <string.h>
#include <postgresql/libpq-fe.h>     /* Debian: /usr/include/postgresql */

#include "core.h"


typedef struct aw_db_s  aw_db_t;

/* runs after each connect: AW_OK, AW_ERROR (drop it, retry later), AW_FATAL */
typedef int (*aw_db_connect_pt)(aw_db_t *db);

/* the body of a transaction: AW_OK commits, anything else rolls back */
typedef int (*aw_db_txn_pt)(aw_db_t *db, void *data);


struct aw_db_s {
    const char         *name;               /* log prefix: "pg" */
    PGconn             *conn;               /* NULL: not connected */

    char               *conninfo;
    aw_msec_t           connect_timeout;
    aw_msec_t           query_timeout;      /* 0: none */
    aw_backoff_t        backoff;

    aw_db_connect_pt    on_connect;

    unsigned long       connects;           /* successful connects so far */

    unsigned            down_logged:1;      /* the loss is in the log */
    unsigned            fatal:1;            /* on_connect said stop */
    unsigned            closing:1;          /* error holds the FATAL why */

    struct {                                /* the query being sent */
        const char     *sql;
        int             mode;
        unsigned        ok:1;               /* sent, its result due */
        aw_msec_t       timeout;
        aw_msec_t       deadline;
    } sent;

    char                sqlstate[6];        /* of the last failed query */
    char                error[256];         /* the last error, one line */
};


/* a statement of aw_db_query_prepared(): static, one per call site */
typedef struct {
    const char         *name;               /* unique in the worker */
    const char         *sql;
    unsigned long       connects;           /* prepared on that connect */
} aw_db_stmt_t;

#define aw_db_stmt(name, sql)  { name, sql, 0 }


#define AW_DB_RETRY_TRIES  5

#define aw_db_up(db)        ((db)->conn != NULL)
#define aw_db_retryable(db)                                                  \
    (strcmp((db)->sqlstate, "40001") == 0                                    \
     || strcmp((db)->sqlstate, "40P01") == 0)


void aw_db_init(aw_db_t *db, const char *name);
int aw_db_configure(aw_db_t *db, const char *conninfo,
    aw_msec_t connect_timeout, aw_msec_t query_timeout,
    aw_msec_t reconnect_min, aw_msec_t reconnect_max);
int aw_db_connect(aw_db_t *db);
int aw_db_ready(aw_db_t *db, aw_msec_t now);
int aw_db_check(aw_db_t *db, aw_msec_t now, aw_msec_t timeout);
void aw_db_close(aw_db_t *db);
void aw_db_free(aw_db_t *db);
aw_msec_t aw_db_wakeup(aw_db_t *db);
int aw_db_fd(aw_db_t *db);
void aw_db_readable(aw_db_t *db);

PGresult *aw_db_query(aw_db_t *db, const char *sql, int nparams,
    const char *const *params);
PGresult *aw_db_query_prepared(aw_db_t *db, aw_db_stmt_t *stmt,
    int nparams, const char *const *params);
int aw_db_exec(aw_db_t *db, const char *sql, int nparams,
    const char *const *params);
int aw_db_query_send(aw_db_t *db, const char *sql, int nparams,
    const char *const *params);
PGresult *aw_db_query_result(aw_db_t *db);
int aw_db_script(aw_db_t *db, const char *sql);
int aw_db_txn(aw_db_t *db, const char *begin, aw_db_txn_pt fn, void *data);

/*
 * A result's columns read by name, not by position: aw_db_col() looks one
 * up (PQfnumber) once, for a loop over rows; aw_db_get() reads one value
 * of a row, for a result read once.  A name the statement does not give
 * is a bug in the statement, asserted.
 */
int aw_db_col(const PGresult *pg, const char *name);
#define aw_db_get(pg, row, name)  PQgetvalue(pg, row, aw_db_col(pg, name))
#define aw_db_isnull(pg, row, name)                                           \
    PQgetisnull(pg, row, aw_db_col(pg, name))


#endif /* AW_DB_H */
