/*
 * Retention's SQL (store.h; the pass itself is retention.c): the plan is
 * read on a reader connection, the deletes are writer jobs of at most
 * `step` rows.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* The worker names of a table, one index seek each (the (worker_name)
 * index of logs, the dedup key's prefix for errors). */
static const char sql_next_log_worker[] =
    "SELECT worker_name FROM container_logs WHERE worker_name > ?1"
    " ORDER BY worker_name LIMIT 1";
static const char sql_next_error_worker[] =
    "SELECT worker_name FROM container_errors WHERE worker_name > ?1"
    " ORDER BY worker_name LIMIT 1";

/* Whether worker ?1 has an error not seen since ?2 (its rows by the
 * dedup key's prefix; one row per distinct error). */
static const char sql_errors_due[] =
    "SELECT 1 FROM container_errors WHERE worker_name = ?1"
    " AND last_seen < ?2 LIMIT 1";

/* A worker's first log at or after id ?2, and its newest, by the
 * (worker_name) index, which carries the rowid: a seek each. */
static const char sql_log_at[] =
    "SELECT id, created_at FROM container_logs WHERE worker_name = ?1"
    " AND id >= ?2 ORDER BY id LIMIT 1";
static const char sql_log_newest[] =
    "SELECT id, created_at FROM container_logs WHERE worker_name = ?1"
    " ORDER BY id DESC LIMIT 1";
/* The newest log that is beyond the newest ?2: a walk of ?2 index
 * entries, on the reader. */
static const char sql_log_beyond[] =
    "SELECT id FROM container_logs WHERE worker_name = ?1"
    " ORDER BY id DESC LIMIT 1 OFFSET ?2";

int
wharfd_sqlite_retain_next_worker(struct wharfd_store *base,
                                 enum wharfd_kind kind, const char *after,
                                 char *out, size_t size, int *found)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r = wharfd_store_reader(st);
    sqlite3_stmt *s;
    const char *w;
    int rc = -1;

    *found = 0;
    if (r == NULL) {
        return -1;
    }
    s = wharfd_reader_stmt(st, r,
                           kind == WHARFD_KIND_LOGS ? sql_next_log_worker
                                                    : sql_next_error_worker);
    if (s != NULL) {
        /* a copy: after may be out */
        sqlite3_bind_text(s, 1, after, -1, SQLITE_TRANSIENT);
        switch (sqlite3_step(s)) {
        case SQLITE_ROW:
            w = wharfd_store_text(s, 0);
            /* a name longer than out cannot be stored by wharfd (worker
             * names are at most 63 bytes); it is skipped, not cut */
            if (w != NULL && strlen(w) < size) {
                snprintf(out, size, "%s", w);
                *found = 1;
                rc = 0;
            } else {
                wharf_warn("retention: skipping an unusable worker name");
                rc = -1;
            }
            break;
        case SQLITE_DONE:
            rc = 0;
            break;
        default:
            wharfd_store_log_error(st, r->db, "retention: listing workers");
        }
    }
    wharfd_store_reader_release(st, r);
    return rc;
}

/* One row of sql_log_at (from > 0) or sql_log_newest (from = 0): its id
 * and whether it was received before `before`. *found = 0: none. */
static int
log_probe(struct wharfd_sqlite *st, struct wharfd_reader *r, const char *worker,
          long long from, const char *before, long long *id, int *old,
          int *found)
{
    sqlite3_stmt *s =
        wharfd_reader_stmt(st, r, from > 0 ? sql_log_at : sql_log_newest);
    const char *created;
    int rc;

    *found = 0;
    if (s == NULL) {
        return -1;
    }
    sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
    if (from > 0) {
        sqlite3_bind_int64(s, 2, from);
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        created = wharfd_store_text(s, 1);
        *old = created != NULL && strcmp(created, before) < 0;
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, r->db, "retention: reading a log");
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The id of the worker's first log received at or after `before` (the
 * age cut-off), or its newest id + 1 when every log is older. oldest is
 * the worker's oldest log. created_at grows with id (the writer sets it
 * at commit), so "received before" is true of a prefix of the worker's
 * ids: found by a binary search over id values, each probe one seek of
 * the index.
 */
static int
log_age_cutoff(struct wharfd_sqlite *st, struct wharfd_reader *r,
               const char *worker, const char *before, long long oldest,
               long long *cut)
{
    long long newest, lo, hi, mid, id;
    int old, found;

    *cut = oldest;
    if (log_probe(st, r, worker, oldest, before, &id, &old, &found) != 0) {
        return -1;
    }
    if (!found || !old) {
        return 0; /* none is old */
    }
    if (log_probe(st, r, worker, 0, before, &newest, &old, &found) != 0) {
        return -1;
    }
    if (!found || old) {
        *cut = found ? newest + 1 : oldest; /* every log is old */
        return 0;
    }
    /* oldest is old, newest is young: the first young one is the first
     * row at or after some x in (oldest, newest]; the smallest such x
     * with a young row at or after it gives it. */
    lo = oldest + 1;
    hi = newest;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (log_probe(st, r, worker, mid, before, &id, &old, &found) != 0) {
            return -1;
        }
        if (found && !old) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if (log_probe(st, r, worker, lo, before, &id, &old, &found) != 0) {
        return -1;
    }
    *cut = found ? id : newest;
    return 0;
}

int
wharfd_sqlite_retain_logs_plan(struct wharfd_store *base, const char *worker,
                               const char *logs_before, long long max_logs,
                               long long *below)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r;
    sqlite3_stmt *s;
    long long oldest = 0, cut = 0;
    int rc, step, old, found;

    *below = 0;
    if (logs_before == NULL && max_logs <= 0) {
        return 0;
    }
    r = wharfd_store_reader(st);
    if (r == NULL) {
        return -1;
    }
    /* One snapshot for the whole plan: the probes agree with each
     * other. Rows that arrive later have higher ids and are young. */
    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        wharfd_store_log_error(st, r->db, "retention: BEGIN");
        wharfd_store_reader_release(st, r);
        return -1;
    }
    rc = log_probe(st, r, worker, 1, "", &oldest, &old, &found);
    if (rc == 0 && found) {
        cut = oldest;
        if (logs_before != NULL) {
            rc = log_age_cutoff(st, r, worker, logs_before, oldest, &cut);
        }
        if (rc == 0 && max_logs > 0) {
            s = wharfd_reader_stmt(st, r, sql_log_beyond);
            if (s == NULL) {
                rc = -1;
            } else {
                sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, max_logs);
                step = sqlite3_step(s);
                if (step == SQLITE_ROW) {
                    /* that row and every older one go */
                    if (sqlite3_column_int64(s, 0) + 1 > cut) {
                        cut = sqlite3_column_int64(s, 0) + 1;
                    }
                } else if (step != SQLITE_DONE) {
                    wharfd_store_log_error(st, r->db, "retention: counting");
                    rc = -1;
                }
                sqlite3_reset(s);
            }
        }
    }
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    wharfd_store_reader_release(st, r);
    if (rc == 0 && found && cut > oldest) {
        *below = cut; /* else nothing goes: no writer job at all */
    }
    return rc;
}

struct retain_job {
    enum wharfd_wstmt_id id;
    const char *worker, *before;
    long long below, step, deleted;
};

static int
retain_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct retain_job *j = arg;
    sqlite3_stmt *s = wharfd_store_wstmt(st, j->id);
    int rc;

    sqlite3_bind_text(s, 1, j->worker, -1, SQLITE_STATIC);
    if (j->id == WHARFD_W_RETAIN_LOGS_BELOW) {
        sqlite3_bind_int64(s, 2, j->below);
    } else {
        sqlite3_bind_text(s, 2, j->before, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 3, j->step);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, st->wdb, "retention");
        return -1;
    }
    j->deleted = sqlite3_changes(st->wdb);
    return 0;
}

int
wharfd_sqlite_retain_logs(struct wharfd_store *base, const char *worker,
                          long long below, long long step, long long *deleted)
{
    struct retain_job j = {
        WHARFD_W_RETAIN_LOGS_BELOW, worker, NULL, below, step, 0
    };
    int rc = wharfd_store_write(base, retain_run, &j, -1);

    *deleted = j.deleted;
    return rc;
}

/* Whether worker has an error last seen before `before` (reader). */
static int
errors_due(struct wharfd_sqlite *st, const char *worker, const char *before,
           int *due)
{
    struct wharfd_reader *r = wharfd_store_reader(st);
    sqlite3_stmt *s;
    int rc = -1;

    *due = 0;
    if (r == NULL) {
        return -1;
    }
    s = wharfd_reader_stmt(st, r, sql_errors_due);
    if (s != NULL) {
        sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, before, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        *due = rc == SQLITE_ROW;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            wharfd_store_log_error(st, r->db, "retention: reading errors");
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(s);
    }
    wharfd_store_reader_release(st, r);
    return rc;
}

int
wharfd_sqlite_retain_errors(struct wharfd_store *base, const char *worker,
                            const char *before, long long step,
                            long long *deleted)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct retain_job j = {
        WHARFD_W_RETAIN_ERRORS_BEFORE, worker, before, 0, step, 0
    };
    int rc, due;

    /* Checked on a reader first: a worker with nothing to delete costs
     * no writer job. */
    *deleted = 0;
    if (errors_due(st, worker, before, &due) != 0) {
        return -1;
    }
    if (!due) {
        return 0;
    }
    rc = wharfd_store_write(base, retain_run, &j, -1);
    *deleted = j.deleted;
    return rc;
}
