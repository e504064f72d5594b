/*
 * The workers table: one row per worker, kept current by heartbeats.
 */
#include "store_sqlite.h"

struct heartbeat_job {
    const char *name, *container, *agent_version, *now;
};

static int
heartbeat_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct heartbeat_job *h = arg;
    sqlite3_stmt *stmt = wharfd_store_wstmt(st, WHARFD_W_WORKER_HEARTBEAT);
    int rc;

    sqlite3_bind_text(stmt, 1, h->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, h->container, -1, SQLITE_STATIC); /* NULL ok */
    sqlite3_bind_text(stmt, 3, h->agent_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, h->now, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, st->wdb, "heartbeat upsert");
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
wharfd_sqlite_worker_heartbeat(struct wharfd_store *base, const char *name,
                               const char *container, const char *agent_version,
                               const char *now)
{
    struct heartbeat_job h = { name, container, agent_version, now };

    return wharfd_store_write(base, heartbeat_run, &h, -1);
}

int
wharfd_sqlite_workers_each(struct wharfd_store *base, wharfd_worker_fn fn,
                           void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r = wharfd_store_reader(st);
    struct wharfd_worker_row row;
    sqlite3_stmt *stmt;
    int rc = SQLITE_ERROR;

    if (r == NULL) {
        return -1;
    }
    stmt = wharfd_reader_stmt(
        st, r,
        "SELECT name, container_name, agent_version, first_seen, last_seen,"
        "       status FROM workers ORDER BY name");
    while (stmt != NULL && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
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
    if (stmt != NULL && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        wharfd_store_log_error(st, r->db, "listing workers");
    }
    wharfd_store_reader_release(st, r);
    return rc == SQLITE_DONE ? 0 : -1;
}
