/*
 * PostgreSQL: schema migrations (migrate.h), the same versions as
 * SQLite's, from schema/postgresql/. Several wharfd may start together on
 * one database: each takes the migration lock (a session advisory lock)
 * before it reads the version, so each migration is applied once, by the
 * first, and the others find it applied. Each migration runs in its own
 * transaction (PostgreSQL's DDL is transactional) with its record in
 * schema_migrations.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "migrate.h"
#include "store_pg.h"

static const char migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version    integer NOT NULL PRIMARY KEY,"
    " name       text NOT NULL,"
    " applied_at text NOT NULL)";

static int
migrate_step(struct wharfd_pg *st, PGconn *c, const struct wharfd_migration *m)
{
    char now[WHARF_TIME_LEN], version[16];
    const char *values[3];
    PGresult *r;
    int ok;

    wharf_info("applying schema migration %s", m->name);
    if (wharfd_pg_simple(st, c, "BEGIN") != 0) {
        return -1;
    }
    /* the file may hold several statements: the simple protocol */
    ok = wharfd_pg_simple(st, c, m->postgresql) == 0;
    if (ok) {
        wharf_now_iso8601(now, sizeof(now));
        snprintf(version, sizeof(version), "%d", m->version);
        values[0] = version;
        values[1] = m->name;
        values[2] = now;
        r = PQexecParams(c,
                         "INSERT INTO schema_migrations (version, name,"
                         " applied_at) VALUES ($1, $2, $3)",
                         3, NULL, values, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            wharfd_pg_log_error(st, c, r, "recording a migration");
        }
        PQclear(r);
    }
    if (ok && wharfd_pg_simple(st, c, "COMMIT") == 0) {
        return 0;
    }
    wharfd_pg_simple(st, c, "ROLLBACK");
    return -1;
}

int
wharfd_pg_migrate(struct wharfd_pg *st, PGconn *c, int *applied)
{
    int current, known = wharfd_schema_version_known(), rc = -1;
    PGresult *r;

    *applied = 0;
    /* Session-level: held across the migrations' own transactions;
     * a second wharfd waits here until the first is done. */
    if (wharfd_pg_simple(st, c, "SELECT pg_advisory_lock(2003329394, 1)")
        != 0) {
        return -1;
    }
    if (wharfd_pg_simple(st, c, migrations_table_sql) != 0) {
        goto out;
    }
    for (;;) {
        r = PQexecParams(c,
                         "SELECT coalesce(max(version), 0)::bigint"
                         " FROM schema_migrations",
                         0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            wharfd_pg_log_error(st, c, r, "reading schema_migrations");
            PQclear(r);
            goto out;
        }
        current = (int) wharfd_pg_int8(r, 0, 0);
        PQclear(r);
        if (current > known) {
            wharf_error("database %s: the database has schema version %d, "
                        "newer than the %d this wharfd knows; run the wharfd "
                        "that wrote it (or a newer one)",
                        st->safe, current, known);
            goto out;
        }
        if (current == known) {
            rc = 0;
            goto out;
        }
        /* Versions are 1..count without gaps: version v is at v - 1. */
        if (migrate_step(st, c, &wharfd_migrations[current]) != 0) {
            goto out;
        }
        (*applied)++;
    }
out:
    wharfd_pg_simple(st, c, "SELECT pg_advisory_unlock(2003329394, 1)");
    return rc;
}
