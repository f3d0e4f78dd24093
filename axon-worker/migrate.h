/*
 * axon-worker: the schema migrations, sql/NNN_name.sql, and the function
 * files, sql/functions/NAME.sql, embedded in the binary by
 * scripts/embed-migrations (build/migrations.c) and recorded, when
 * applied, in axon_schema_migrations and axon_schema_functions.
 */

#ifndef AW_MIGRATE_H
#define AW_MIGRATE_H


#include "core.h"
#include "db.h"


typedef struct {
    int           version;      /* 1 */
    const char   *name;         /* "001_core" */
    const char   *sql;          /* the file's text */
} aw_migration_t;


typedef struct {
    const char   *name;         /* "axon_billing_tick" */
    const char   *sql;          /* the file's text */
} aw_function_t;


/* in build/migrations.c, ascending by version, ends with { 0, NULL, NULL } */
extern const aw_migration_t  aw_migrations[];

/* in build/migrations.c, by name, ends with { NULL, NULL } */
extern const aw_function_t   aw_functions[];


int aw_migrate_run(aw_db_t *db);
int aw_migrate_check(aw_db_t *db);
int aw_migrate_schema_version(void);


#endif /* AW_MIGRATE_H */
