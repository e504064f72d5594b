/*
 * The workers table: one row per worker, kept current by heartbeats, and
 * forgotten by removeWorker when the gateway removes the worker.
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

struct remove_job {
    const char *name;
    int removed;
};

static int
remove_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    static const enum wharfd_wstmt_id ids[] = {
        WHARFD_W_WORKER_REMOVE, WHARFD_W_WORKER_PROCESSES_REMOVE
    };
    struct remove_job *j = arg;
    sqlite3_stmt *stmt;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        stmt = wharfd_store_wstmt(st, ids[i]);
        sqlite3_bind_text(stmt, 1, j->name, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE && ids[i] == WHARFD_W_WORKER_REMOVE) {
            j->removed = sqlite3_changes(st->wdb) > 0;
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) {
            wharfd_store_log_error(st, st->wdb, "removing a worker");
            return -1;
        }
    }
    return 0;
}

int
wharfd_sqlite_worker_remove(struct wharfd_store *base, const char *name,
                            int *removed)
{
    struct remove_job j = { name, 0 };
    int rc = wharfd_store_write(base, remove_run, &j, -1);

    *removed = j.removed;
    return rc;
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
