/*
 * SQLite store: connection, pragmas, migrations, statement cache.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"

/* How long a statement waits for another connection's lock (another
 * wharfd, the sqlite3 shell) before failing with SQLITE_BUSY. */
#define WHARFD_BUSY_TIMEOUT_MS 5000

/* The store's whole SQL vocabulary, by enum wharfd_stmt_id. */
static const char *const store_sql[WHARFD_STMT__COUNT] = {
    [WHARFD_STMT_SCHEMA_VERSION] =
        "SELECT coalesce(max(version), 0) FROM schema_migrations",

    /* A heartbeat without container/agentVersion keeps what is known. */
    [WHARFD_STMT_WORKER_HEARTBEAT] =
        "INSERT INTO workers (name, container_name, agent_version,"
        "                     first_seen, last_seen, status)"
        " VALUES (?1, ?2, ?3, ?4, ?4, 'online')"
        " ON CONFLICT (name) DO UPDATE SET"
        "  container_name = coalesce(excluded.container_name,"
        "                            workers.container_name),"
        "  agent_version = coalesce(excluded.agent_version,"
        "                           workers.agent_version),"
        "  last_seen = excluded.last_seen,"
        "  status = 'online'",

    [WHARFD_STMT_WORKERS_LIST] =
        "SELECT name, container_name, agent_version, first_seen, last_seen,"
        "       status"
        " FROM workers ORDER BY name",
};

void
wharfd_store_log_error(struct wharfd_store *st, const char *what)
{
    wharf_error("database %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

/* Runs a PRAGMA (or any one statement) and checks the text it answers,
 * when expect is not NULL. Used at open only. */
static int
store_pragma(struct wharfd_store *st, const char *sql, const char *expect)
{
    sqlite3_stmt *stmt;
    const char *got;
    int rc, ok = 0;

    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        wharfd_store_log_error(st, sql);
        return -1;
    }
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        ok = 1;
        if (expect != NULL) {
            got = rc == SQLITE_ROW ? wharfd_store_text(stmt, 0) : NULL;
            if (got == NULL || strcmp(got, expect) != 0) {
                wharf_warn("database %s: %s answered %s, not %s", st->path,
                           sql, got ? got : "nothing", expect);
            }
        }
    } else {
        wharfd_store_log_error(st, sql);
    }
    sqlite3_finalize(stmt);
    return ok ? 0 : -1;
}

int
wharfd_store_open(struct wharfd_store **out, const char *path)
{
    struct wharfd_store *st;
    char err[512];
    int i, applied, version;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        wharf_error("database %s: out of memory", path);
        return -1;
    }
    pthread_mutex_init(&st->lock, NULL);

    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
        != SQLITE_OK)
    {
        wharfd_store_log_error(st, "open");
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, WHARFD_BUSY_TIMEOUT_MS);

    /* WAL: readers never block the writer nor the other way round.
     * synchronous=NORMAL is durable across application crashes in WAL
     * mode and loses at most the last commits on power loss, never the
     * database. The first statement also fails on a file that is not a
     * database, with SQLite's own message. */
    if (store_pragma(st, "PRAGMA journal_mode=WAL", "wal") != 0
        || store_pragma(st, "PRAGMA synchronous=NORMAL", NULL) != 0
        || store_pragma(st, "PRAGMA foreign_keys=ON", NULL) != 0)
    {
        goto fail;
    }

    if (wharfd_migrate(st->db, &applied, err, sizeof(err)) != 0) {
        wharf_error("database %s: %s", path, err);
        goto fail;
    }

    for (i = 0; i < WHARFD_STMT__COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, store_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL)
            != SQLITE_OK)
        {
            wharfd_store_log_error(st, "preparing statements");
            goto fail;
        }
    }

    if (wharfd_store_ping(st, &version) != 0) {
        goto fail;
    }
    wharf_info("database %s: schema version %d%s", path, version,
               applied ? " (migrated now)" : "");
    *out = st;
    return 0;

fail:
    wharfd_store_close(st);
    return -1;
}

void
wharfd_store_close(struct wharfd_store *st)
{
    int i;

    if (st == NULL) {
        return;
    }
    for (i = 0; i < WHARFD_STMT__COUNT; i++) {
        sqlite3_finalize(st->stmt[i]);
    }
    if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK) {
        wharfd_store_log_error(st, "close");
    }
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

sqlite3_stmt *
wharfd_store_begin(struct wharfd_store *st, enum wharfd_stmt_id id)
{
    pthread_mutex_lock(&st->lock);
    return st->stmt[id];
}

void
wharfd_store_end(struct wharfd_store *st, sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    pthread_mutex_unlock(&st->lock);
}

const char *
wharfd_store_text(sqlite3_stmt *stmt, int col)
{
    return (const char *) sqlite3_column_text(stmt, col);
}

int
wharfd_store_ping(struct wharfd_store *st, int *schema_version)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = wharfd_store_begin(st, WHARFD_STMT_SCHEMA_VERSION);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *schema_version = sqlite3_column_int(stmt, 0);
    } else {
        wharfd_store_log_error(st, "reading the schema version");
    }
    wharfd_store_end(st, stmt);
    return rc == SQLITE_ROW ? 0 : -1;
}
