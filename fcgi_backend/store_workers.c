/*
 * The workers table: one row per worker, kept current by heartbeats.
 */
#include "store_sqlite.h"

int
wharfd_store_worker_heartbeat(struct wharfd_store *st, const char *name,
                              const char *container,
                              const char *agent_version, const char *now)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = wharfd_store_begin(st, WHARFD_STMT_WORKER_HEARTBEAT);
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, container, -1, SQLITE_STATIC);  /* NULL ok */
    sqlite3_bind_text(stmt, 3, agent_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, "heartbeat upsert");
    }
    wharfd_store_end(st, stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
wharfd_store_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                          void *arg)
{
    struct wharfd_worker_row row;
    sqlite3_stmt *stmt;
    int rc;

    stmt = wharfd_store_begin(st, WHARFD_STMT_WORKERS_LIST);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        row.name = wharfd_store_text(stmt, 0);
        row.container_name = wharfd_store_text(stmt, 1);
        row.agent_version = wharfd_store_text(stmt, 2);
        row.first_seen = wharfd_store_text(stmt, 3);
        row.last_seen = wharfd_store_text(stmt, 4);
        row.status = wharfd_store_text(stmt, 5);
        if (fn(arg, &row) != 0) {
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        wharfd_store_log_error(st, "listing workers");
    }
    wharfd_store_end(st, stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}
