#include "migrate.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static const char migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version    INTEGER NOT NULL PRIMARY KEY,"
    " name       TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)";

static int
migrate_exec(sqlite3 *db, const char *sql, char *err, size_t errlen,
             const char *what)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The highest recorded version, 0 for a new database. */
static int
migrate_current(sqlite3 *db, int *version, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(max(version), 0) "
                           "FROM schema_migrations",
                           -1, &st, NULL)
        != SQLITE_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s",
                 sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
    } else {
        snprintf(err, errlen, "reading schema_migrations: %s",
                 sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int
migrate_record(sqlite3 *db, const struct wharfd_migration *m, char *err,
               size_t errlen)
{
    char now[WHARF_TIME_LEN];
    sqlite3_stmt *st;
    int rc;

    wharf_now_iso8601(now, sizeof(now));
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO schema_migrations "
                           "(version, name, applied_at) VALUES (?1, ?2, ?3)",
                           -1, &st, NULL)
        != SQLITE_OK) {
        snprintf(err, errlen, "recording %s: %s", m->name, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "recording %s: %s", m->name, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
wharfd_migrate_sqlite(sqlite3 *db, int *applied, char *err, size_t errlen)
{
    const struct wharfd_migration *m;
    int current, known = wharfd_schema_version_known();

    *applied = 0;
    if (migrate_exec(db, migrations_table_sql, err, errlen,
                     "creating schema_migrations")
        != 0) {
        return -1;
    }

    for (;;) {
        /* IMMEDIATE takes the write lock before the version is read, so
         * two wharfds starting on one file apply each migration once. */
        if (migrate_exec(db, "BEGIN IMMEDIATE", err, errlen, "BEGIN") != 0) {
            return -1;
        }
        if (migrate_current(db, &current, err, errlen) != 0) {
            goto rollback;
        }
        if (current > known) {
            snprintf(err, errlen,
                     "the database has schema version %d, newer "
                     "than the %d this wharfd knows; run the wharfd that "
                     "wrote it (or a newer one)",
                     current, known);
            goto rollback;
        }
        if (current == known) {
            return migrate_exec(db, "COMMIT", err, errlen, "COMMIT");
        }

        /* Versions are 1..count without gaps: version v is at v - 1. */
        m = &wharfd_migrations[current];
        wharf_info("applying schema migration %s", m->name);
        if (migrate_exec(db, m->sqlite, err, errlen, m->name) != 0
            || migrate_record(db, m, err, errlen) != 0
            || migrate_exec(db, "COMMIT", err, errlen, "COMMIT") != 0) {
            goto rollback;
        }
        (*applied)++;
    }

rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
