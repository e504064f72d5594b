/*
 * Schema migrations: the numbered SQL files of schema/sqlite/ and
 * schema/postgresql/ (the same versions and names, each engine's own
 * SQL), embedded into the binary (schema_sql.c), applied in order at
 * start, each once and inside its own transaction, and recorded in
 * schema_migrations. The SQLite runner is here; PostgreSQL's, which takes
 * an advisory lock first, is in store_pg_migrate.c.
 */
#ifndef WHARFD_MIGRATE_H
#define WHARFD_MIGRATE_H

#include <stddef.h>

#include <sqlite3.h>

struct wharfd_migration {
    int version;            /* the file's number: 1 for 0001_init.sql */
    const char *name;       /* the file's name without .sql */
    const char *sqlite;     /* schema/sqlite/NAME.sql */
    const char *postgresql; /* schema/postgresql/NAME.sql */
};

/* In version order, versions 1..count without gaps (schema_sql.c). */
extern const struct wharfd_migration wharfd_migrations[];
extern const size_t wharfd_migrations_count;

/* The newest schema version this binary knows. */
int wharfd_schema_version_known(void);

/*
 * Brings db up to the newest known version. A database recorded at a
 * newer version than this binary knows is refused (-1, and err says so):
 * an older binary must not write into a schema it does not understand.
 * *applied receives how many migrations ran.
 */
int wharfd_migrate_sqlite(sqlite3 *db, int *applied, char *err, size_t errlen);

#endif
