/*
 * axon-worker: applying the embedded migrations (--migrate) and checking,
 * at each connect, that the database has all of them.
 *
 * Each migration runs in its own transaction together with the INSERT of
 * its row in axon_schema_migrations, so it is applied entirely or not at
 * all (a migration must therefore not contain BEGIN/COMMIT).  Its checksum
 * is the sha256 of its text; an applied migration whose text changed since
 * is refused, never applied again.
 *
 * The function files (sql/functions/NAME.sql, CREATE OR REPLACE FUNCTION)
 * are applied after the numbered migrations, each again whenever its
 * sha256 differs from the one recorded in axon_schema_functions, in its
 * own transaction with its row.  All of it runs under one advisory lock,
 * so workers that start at once apply each change once.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "migrate.h"
#include "worker.h"


/* the pg_advisory_lock() key of --migrate: "axonmigr" */
#define AW_MIGRATE_LOCK  "7023486138956998514"


static int aw_migrate_verify(PGresult *res, int *newer);
static int aw_migrate_pending(aw_db_t *db, PGresult *res);
static int aw_migrate_apply(aw_db_t *db, void *data);
static int aw_migrate_functions(aw_db_t *db);
static int aw_migrate_apply_function(aw_db_t *db, void *data);
static int aw_migrate_check_functions(aw_db_t *db);
static int aw_migrate_find_function(PGresult *res, const char *name);
static PGresult *aw_migrate_applied(aw_db_t *db, int *exists);
static int aw_migrate_find(PGresult *res, int version);
static const aw_migration_t *aw_migrate_embedded(int version);
static void aw_migrate_checksum(const char *sql, char *hex);


static int  aw_migrate_version;


/*
 * --migrate: applies, in order, each embedded migration the database does
 * not have, and prints what it did on stdout.
 */

int
aw_migrate_run(aw_db_t *db)
{
    int                    rc, exists, applied, newer, n;
    PGresult              *res;
    const char            *params[1];
    const aw_migration_t  *m;

    params[0] = AW_MIGRATE_LOCK;

    /* one --migrate at a time; waits for another to finish */

    if (aw_db_exec(db, "SELECT pg_advisory_lock($1::bigint)", 1, params)
        != AW_OK)
    {
        return AW_ERROR;
    }

    rc = AW_ERROR;
    res = NULL;
    applied = 0;
    newer = 0;

    if (aw_db_exec(db,
            "CREATE TABLE IF NOT EXISTS axon_schema_migrations ("
            " version int PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL)
        != AW_OK)
    {
        goto done;
    }

    res = aw_migrate_applied(db, &exists);
    if (res == NULL) {
        goto done;
    }

    /* check what is recorded before applying anything */

    if (aw_migrate_verify(res, &newer) != AW_OK) {
        goto done;
    }

    n = aw_migrate_pending(db, res);
    if (n < 0) {
        goto done;
    }

    applied += n;

    /*
     * a newer worker's functions may depend on its migrations: an older
     * worker must not put its own definitions back
     */

    if (newer) {
        aw_log(AW_LOG_WARN, "migrate: the database is newer than this "
               "worker; its functions are left as they are");

    } else {
        n = aw_migrate_functions(db);
        if (n < 0) {
            goto done;
        }

        applied += n;
    }

    if (applied == 0) {
        for (m = aw_migrations; m->name; m++) { /* void */ }

        printf("nothing to apply: the schema is up to date%s%s%s\n",
               m > aw_migrations ? " (" : "",
               m > aw_migrations ? m[-1].name : "",
               m > aw_migrations ? ")" : "");
    }

    rc = AW_OK;

done:

    PQclear(res);

    if (aw_db_up(db)) {
        (void) aw_db_exec(db, "SELECT pg_advisory_unlock($1::bigint)", 1,
                          params);
    }

    return rc;
}


/*
 * Checks the recorded migrations against the embedded ones: a known one
 * renamed or edited is refused; an unknown one sets *newer.
 */

static int
aw_migrate_verify(PGresult *res, int *newer)
{
    int                    row;
    const aw_migration_t  *known;
    char                   sum[65];

    for (row = 0; row < PQntuples(res); row++) {
        known = aw_migrate_embedded(atoi(PQgetvalue(res, row, 0)));

        if (known == NULL) {
            aw_log(AW_LOG_WARN, "migrate: the database has migration %s, "
                   "which this worker does not know (applied by a newer "
                   "worker?)", PQgetvalue(res, row, 1));
            *newer = 1;
            continue;
        }

        if (strcmp(known->name, PQgetvalue(res, row, 1)) != 0) {
            aw_log(AW_LOG_ERR, "migrate: migration %s of this worker has "
                   "the version of %s in the database; refusing to migrate",
                   known->name, PQgetvalue(res, row, 1));
            return AW_ERROR;
        }

        aw_migrate_checksum(known->sql, sum);

        if (strcmp(sum, PQgetvalue(res, row, 2)) != 0) {
            aw_log(AW_LOG_ERR, "migrate: migration %s was edited after it "
                   "was applied (sha256 %.12s... in the database, %.12s... "
                   "in this worker); refusing to migrate: write a new "
                   "migration instead", known->name, PQgetvalue(res, row, 2),
                   sum);
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/* applies each embedded migration not in res; returns how many, or -1 */

static int
aw_migrate_pending(aw_db_t *db, PGresult *res)
{
    int                    applied;
    aw_msec_t              start;
    const aw_migration_t  *m;

    applied = 0;

    for (m = aw_migrations; m->name; m++) {
        if (aw_migrate_find(res, m->version) >= 0) {
            continue;
        }

        start = aw_monotonic_msec();

        if (aw_db_txn(db, NULL, aw_migrate_apply, (void *) m) != AW_OK) {
            aw_log(AW_LOG_ERR, "migrate: migration %s failed: %s; it was "
                   "rolled back", m->name, db->error);
            return -1;
        }

        applied++;

        aw_log(AW_LOG_NOTICE, "migrate: applied %s", m->name);
        printf("applied %s (%lld ms)\n", m->name,
               (long long) (aw_monotonic_msec() - start));
        fflush(stdout);
    }

    return applied;
}


static int
aw_migrate_apply(aw_db_t *db, void *data)
{
    char                   version[16], sum[65];
    const char            *params[3];
    const aw_migration_t  *m;

    m = data;

    if (aw_db_script(db, m->sql) != AW_OK) {
        return AW_ERROR;
    }

    aw_migrate_checksum(m->sql, sum);
    snprintf(version, sizeof(version), "%d", m->version);

    params[0] = version;
    params[1] = m->name;
    params[2] = sum;

    return aw_db_exec(db, "INSERT INTO axon_schema_migrations"
                          " (version, name, checksum) VALUES ($1, $2, $3)",
                      3, params);
}


/*
 * Applies each function file whose checksum is not the one recorded (or
 * that has none); returns how many it applied, -1 on error.
 */

static int
aw_migrate_functions(aw_db_t *db)
{
    int                   row, applied;
    PGresult             *res;
    aw_msec_t             start;
    const aw_function_t  *f;
    char                  sum[65];

    res = aw_db_query(db, "SELECT name, checksum FROM axon_schema_functions",
                      0, NULL);
    if (res == NULL) {
        return -1;
    }

    applied = 0;

    for (f = aw_functions; f->name; f++) {
        aw_migrate_checksum(f->sql, sum);

        row = aw_migrate_find_function(res, f->name);

        if (row >= 0 && strcmp(sum, PQgetvalue(res, row, 1)) == 0) {
            continue;
        }

        start = aw_monotonic_msec();

        if (aw_db_txn(db, NULL, aw_migrate_apply_function, (void *) f)
            != AW_OK)
        {
            aw_log(AW_LOG_ERR, "migrate: function %s (sql/functions/%s.sql) "
                   "failed: %s; it was rolled back", f->name, f->name,
                   db->error);
            PQclear(res);
            return -1;
        }

        applied++;

        aw_log(AW_LOG_NOTICE, "migrate: applied function %s", f->name);
        printf("applied function %s (%lld ms)\n", f->name,
               (long long) (aw_monotonic_msec() - start));
        fflush(stdout);
    }

    PQclear(res);

    return applied;
}


static int
aw_migrate_apply_function(aw_db_t *db, void *data)
{
    char                  sum[65];
    const char           *params[2];
    const aw_function_t  *f;

    f = data;

    if (aw_db_script(db, f->sql) != AW_OK) {
        return AW_ERROR;
    }

    aw_migrate_checksum(f->sql, sum);

    params[0] = f->name;
    params[1] = sum;

    return aw_db_exec(db, "INSERT INTO axon_schema_functions"
                          " (name, checksum) VALUES ($1, $2)"
                          " ON CONFLICT (name) DO UPDATE"
                          " SET checksum = excluded.checksum,"
                          " applied_at = now()", 2, params);
}


/*
 * On each connect: the worker runs only on a database that has every
 * migration it embeds, and each of its function files applied.  AW_FATAL
 * stops it (exit 78).
 */

int
aw_migrate_check(aw_db_t *db)
{
    int                    row, exists, highest, rc;
    PGresult              *res;
    const char            *path;
    const aw_migration_t  *m;
    char                   sum[65];

    res = aw_migrate_applied(db, &exists);

    if (res == NULL && exists) {
        return AW_ERROR;
    }

    highest = 0;
    rc = AW_OK;

    for (row = 0; res && row < PQntuples(res); row++) {
        highest = aw_max(highest, atoi(PQgetvalue(res, row, 0)));

        if (aw_migrate_embedded(atoi(PQgetvalue(res, row, 0))) == NULL) {
            aw_log(AW_LOG_WARN, "schema: the database has migration %s, "
                   "which this worker does not know (applied by a newer "
                   "worker?)", PQgetvalue(res, row, 1));
        }
    }

    for (m = aw_migrations; m->name; m++) {
        row = res ? aw_migrate_find(res, m->version) : -1;

        if (row < 0) {
            path = aw_worker.conf ? aw_worker.conf->path : NULL;

            aw_log(AW_LOG_EMERG, "database schema is older than this "
                   "worker: migration %s is not applied (run: axon-worker "
                   "%s%s%s--migrate)", m->name, path ? "-c " : "",
                   path ? path : "", path ? " " : "");
            rc = AW_FATAL;
            break;
        }

        if (strcmp(m->name, PQgetvalue(res, row, 1)) != 0) {
            aw_log(AW_LOG_EMERG, "database schema does not match this "
                   "worker: migration %s has the version of %s in the "
                   "database", m->name, PQgetvalue(res, row, 1));
            rc = AW_FATAL;
            break;
        }

        aw_migrate_checksum(m->sql, sum);

        if (strcmp(sum, PQgetvalue(res, row, 2)) != 0) {
            aw_log(AW_LOG_WARN, "schema: migration %s was edited after it "
                   "was applied (its sha256 differs from the database's)",
                   m->name);
        }
    }

    if (rc == AW_OK) {
        rc = aw_migrate_check_functions(db);
    }

    if (rc == AW_OK) {
        aw_migrate_version = highest;
        aw_log(AW_LOG_INFO, "schema: version %d, every migration of this "
               "worker is applied", highest);
    }

    PQclear(res);

    return rc;
}


/*
 * A function file never applied stops the worker, as a missing migration
 * does; one whose text differs from the one applied is only noted: the
 * database may have a newer worker's.
 */

static int
aw_migrate_check_functions(aw_db_t *db)
{
    int                   row, rc;
    PGresult             *res;
    const aw_function_t  *f;
    char                  sum[65];

    res = aw_db_query(db, "SELECT name, checksum FROM axon_schema_functions",
                      0, NULL);
    if (res == NULL) {
        return AW_ERROR;
    }

    rc = AW_OK;

    for (f = aw_functions; f->name; f++) {
        row = aw_migrate_find_function(res, f->name);

        if (row < 0) {
            aw_log(AW_LOG_EMERG, "database schema is older than this "
                   "worker: function %s (sql/functions/%s.sql) is not "
                   "applied (run: axon-worker --migrate)", f->name, f->name);
            rc = AW_FATAL;
            break;
        }

        aw_migrate_checksum(f->sql, sum);

        if (strcmp(sum, PQgetvalue(res, row, 1)) != 0) {
            aw_log(AW_LOG_WARN, "schema: function %s differs from this "
                   "worker's sql/functions/%s.sql (its sha256 differs from "
                   "the database's; --migrate applies it)", f->name,
                   f->name);
        }
    }

    PQclear(res);

    return rc;
}


int
aw_migrate_schema_version(void)
{
    return aw_migrate_version;
}


/*
 * The rows of axon_schema_migrations by version; *exists tells whether the
 * table exists (if not: NULL, no error).
 */

static PGresult *
aw_migrate_applied(aw_db_t *db, int *exists)
{
    PGresult  *res;

    *exists = 1;

    res = aw_db_query(db, "SELECT to_regclass('axon_schema_migrations')"
                          " IS NOT NULL", 0, NULL);
    if (res == NULL) {
        return NULL;
    }

    *exists = (PQgetvalue(res, 0, 0)[0] == 't');
    PQclear(res);

    if (!*exists) {
        return NULL;
    }

    return aw_db_query(db, "SELECT version, name, checksum"
                           " FROM axon_schema_migrations ORDER BY version",
                       0, NULL);
}


static int
aw_migrate_find(PGresult *res, int version)
{
    int  row;

    for (row = 0; row < PQntuples(res); row++) {
        if (atoi(PQgetvalue(res, row, 0)) == version) {
            return row;
        }
    }

    return -1;
}


static int
aw_migrate_find_function(PGresult *res, const char *name)
{
    int  row;

    for (row = 0; row < PQntuples(res); row++) {
        if (strcmp(PQgetvalue(res, row, 0), name) == 0) {
            return row;
        }
    }

    return -1;
}


static const aw_migration_t *
aw_migrate_embedded(int version)
{
    const aw_migration_t  *m;

    for (m = aw_migrations; m->name; m++) {
        if (m->version == version) {
            return m;
        }
    }

    return NULL;
}


static void
aw_migrate_checksum(const char *sql, char *hex)
{
    unsigned       i, len;
    unsigned char  md[EVP_MAX_MD_SIZE];

    len = 0;

    if (EVP_Digest(sql, strlen(sql), md, &len, EVP_sha256(), NULL) != 1) {
        len = 0;
    }

    aw_assert(len == 32);

    for (i = 0; i < len; i++) {
        sprintf(hex + 2 * i, "%02x", md[i]);
    }

    hex[2 * len] = '\0';
}
