/*
 * The writes of the data tables, each run by the writer thread inside the
 * group's transaction (store.c). A job that fails rolls back to its
 * savepoint: a batch is stored whole or not at all.
 */
#include "store_sqlite.h"

#include <stdio.h>

#include "log.h"

static int
step_done(struct wharfd_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);

    if (rc != SQLITE_DONE) {
        wharfd_store_log_error(st, st->wdb, what);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);  /* NULL binds NULL */
}

/* --- logs ---------------------------------------------------------------- */

static int
logs_run(struct wharfd_store *st, void *arg)
{
    struct wharfd_log_batch *b = arg;
    char now[WHARF_TIME_LEN];
    sqlite3_stmt *s;
    size_t i;

    /* created_at is the commit's time, taken here in the writer, so it
     * grows with id (retention relies on it). */
    wharf_now_iso8601(now, sizeof(now));
    b->stored = b->duplicates = 0;
    for (i = 0; i < b->n; i++) {
        struct wharfd_log_in *l = &b->logs[i];

        s = wharfd_store_wstmt(st, WHARFD_W_LOG_INSERT);
        bind_text(s, 1, b->worker);
        bind_text(s, 2, b->container);
        bind_text(s, 3, b->instance);
        bind_text(s, 4, l->process_id);
        sqlite3_bind_int64(s, 5, l->sequence);
        bind_text(s, 6, l->timestamp);
        bind_text(s, 7, l->level);
        sqlite3_bind_text(s, 8, l->message, (int) l->message_len,
                          SQLITE_STATIC);
        bind_text(s, 9, l->stream);
        bind_text(s, 10, l->source);
        bind_text(s, 11, l->metadata);
        bind_text(s, 12, now);
        if (step_done(st, s, "inserting a log") != 0) {
            return -1;
        }
        b->logs[i].stored = sqlite3_changes(st->wdb) > 0;
        if (b->logs[i].stored) {
            b->stored++;
        } else {
            b->duplicates++;
        }
    }
    s = wharfd_store_wstmt(st, WHARFD_W_LOG_LAST_SEQ);
    bind_text(s, 1, b->worker);
    bind_text(s, 2, b->instance);
    if (sqlite3_step(s) != SQLITE_ROW) {
        wharfd_store_log_error(st, st->wdb, "reading the last sequence");
        sqlite3_reset(s);
        return -1;
    }
    b->last_sequence = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

int
wharfd_store_logs(struct wharfd_store *st, struct wharfd_log_batch *b)
{
    return wharfd_store_write(st, logs_run, b, WHARFD_KIND_LOGS);
}

/* --- errors -------------------------------------------------------------- */

static int
errors_run(struct wharfd_store *st, void *arg)
{
    struct wharfd_error_batch *b = arg;
    char now[WHARF_TIME_LEN];
    sqlite3_stmt *s;
    size_t i;
    int rc;

    wharf_now_iso8601(now, sizeof(now));
    for (i = 0; i < b->n; i++) {
        struct wharfd_error_in *e = &b->errors[i];

        s = wharfd_store_wstmt(st, WHARFD_W_ERROR_UPSERT);
        bind_text(s, 1, b->worker);
        bind_text(s, 2, b->container);
        bind_text(s, 3, b->instance);
        bind_text(s, 4, e->process_id);
        bind_text(s, 5, e->hash);
        bind_text(s, 6, e->timestamp);
        sqlite3_bind_double(s, 7, e->level);
        sqlite3_bind_text(s, 8, e->message, (int) e->message_len,
                          SQLITE_STATIC);
        bind_text(s, 9, e->raw_output);
        bind_text(s, 10, now);
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) {
            wharfd_store_log_error(st, st->wdb, "upserting an error");
            sqlite3_reset(s);
            return -1;
        }
        e->occurrence_count = sqlite3_column_int64(s, 0);
        e->stored = e->occurrence_count == 1;
        /* RETURNING: the statement is done only after a further step. */
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            wharfd_store_log_error(st, st->wdb, "upserting an error");
            return -1;
        }
    }
    return 0;
}

int
wharfd_store_errors(struct wharfd_store *st, struct wharfd_error_batch *b)
{
    return wharfd_store_write(st, errors_run, b, WHARFD_KIND_ERRORS);
}

/* --- processes, events ------------------------------------------------- */

static int
process_run(struct wharfd_store *st, void *arg)
{
    const struct wharfd_process_in *p = arg;
    sqlite3_stmt *s = wharfd_store_wstmt(st, WHARFD_W_PROCESS_UPSERT);

    bind_text(s, 1, p->worker);
    bind_text(s, 2, p->container);
    bind_text(s, 3, p->instance);
    bind_text(s, 4, p->process_id);
    bind_text(s, 5, p->command);
    bind_text(s, 6, p->args);
    bind_text(s, 7, p->cwd);
    bind_text(s, 8, p->status);
    if (p->has_pid) {
        sqlite3_bind_int64(s, 9, p->pid);
    }
    sqlite3_bind_int64(s, 10, p->restart_count);
    bind_text(s, 11, p->start_time);
    bind_text(s, 12, p->end_time);
    if (p->has_exit_code) {
        sqlite3_bind_int64(s, 13, p->exit_code);
    }
    bind_text(s, 14, p->last_error);
    bind_text(s, 15, p->env);
    bind_text(s, 16, p->now);
    return step_done(st, s, "upserting a process");
}

int
wharfd_store_process_upsert(struct wharfd_store *st,
                            const struct wharfd_process_in *p)
{
    return wharfd_store_write(st, process_run, (void *) p,
                              WHARFD_KIND_PROCESSES);
}

static int
event_run(struct wharfd_store *st, void *arg)
{
    const struct wharfd_event_in *e = arg;
    sqlite3_stmt *s = wharfd_store_wstmt(st, WHARFD_W_EVENT_INSERT);

    bind_text(s, 1, e->worker);
    bind_text(s, 2, e->container);
    bind_text(s, 3, e->instance);
    bind_text(s, 4, e->process_id);
    bind_text(s, 5, e->type);
    bind_text(s, 6, e->payload);
    bind_text(s, 7, e->timestamp);
    return step_done(st, s, "inserting an event");
}

int
wharfd_store_event(struct wharfd_store *st, const struct wharfd_event_in *e)
{
    return wharfd_store_write(st, event_run, (void *) e,
                              WHARFD_KIND_EVENTS);
}

/* --- clear, retention ----------------------------------------------------- */

struct clear_job {
    enum wharfd_kind kind;
    const char *worker, *instance;
    long long count;
};

static int
clear_run(struct wharfd_store *st, void *arg)
{
    struct clear_job *c = arg;
    enum wharfd_wstmt_id id;
    sqlite3_stmt *s;

    if (c->kind == WHARFD_KIND_LOGS) {
        id = c->instance ? WHARFD_W_CLEAR_LOGS_INSTANCE : WHARFD_W_CLEAR_LOGS;
    } else {
        id = c->instance ? WHARFD_W_CLEAR_ERRORS_INSTANCE
                         : WHARFD_W_CLEAR_ERRORS;
    }
    s = wharfd_store_wstmt(st, id);
    bind_text(s, 1, c->worker);
    if (c->instance) {
        bind_text(s, 2, c->instance);
    }
    if (step_done(st, s, "clearing") != 0) {
        return -1;
    }
    c->count = sqlite3_changes(st->wdb);
    return 0;
}

int
wharfd_store_clear(struct wharfd_store *st, enum wharfd_kind kind,
                   const char *worker, const char *instance, long long *count)
{
    struct clear_job c = { kind, worker, instance, 0 };
    int rc = wharfd_store_write(st, clear_run, &c, -1);

    *count = c.count;
    return rc;
}

struct retain_job {
    const char *logs_before, *errors_before;
    long long max_logs, step, deleted;
    struct wharfd_store *st;
};

/* The worker names present in container_logs, one index seek each. */
static int
retain_count(struct wharfd_store *st, struct retain_job *r)
{
    sqlite3_stmt *next = NULL, *del;
    char worker[256] = "";
    const char *w;
    int rc;

    if (sqlite3_prepare_v2(st->wdb, "SELECT worker_name FROM container_logs"
                           " WHERE worker_name > ?1 ORDER BY worker_name"
                           " LIMIT 1", -1, &next, NULL) != SQLITE_OK)
    {
        wharfd_store_log_error(st, st->wdb, "retention");
        return -1;
    }
    while (r->deleted < r->step) {
        sqlite3_reset(next);
        sqlite3_bind_text(next, 1, worker, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(next);
        if (rc != SQLITE_ROW) {
            break;
        }
        w = wharfd_store_text(next, 0);
        snprintf(worker, sizeof(worker), "%s", w ? w : "");
        del = wharfd_store_wstmt(st, WHARFD_W_RETAIN_LOGS_COUNT);
        sqlite3_bind_text(del, 1, worker, -1, SQLITE_STATIC);
        sqlite3_bind_int64(del, 2, r->step - r->deleted);
        sqlite3_bind_int64(del, 3, r->max_logs);
        if (step_done(st, del, "retention by count") != 0) {
            sqlite3_finalize(next);
            return -1;
        }
        r->deleted += sqlite3_changes(st->wdb);
    }
    sqlite3_finalize(next);
    return 0;
}

static int
retain_run(struct wharfd_store *st, void *arg)
{
    struct retain_job *r = arg;
    sqlite3_stmt *s;

    r->deleted = 0;
    if (r->logs_before != NULL) {
        s = wharfd_store_wstmt(st, WHARFD_W_RETAIN_LOGS_AGE);
        bind_text(s, 1, r->logs_before);
        sqlite3_bind_int64(s, 2, r->step);
        if (step_done(st, s, "log retention") != 0) {
            return -1;
        }
        r->deleted += sqlite3_changes(st->wdb);
    }
    if (r->errors_before != NULL && r->deleted < r->step) {
        s = wharfd_store_wstmt(st, WHARFD_W_RETAIN_ERRORS_AGE);
        bind_text(s, 1, r->errors_before);
        sqlite3_bind_int64(s, 2, r->step - r->deleted);
        if (step_done(st, s, "error retention") != 0) {
            return -1;
        }
        r->deleted += sqlite3_changes(st->wdb);
    }
    if (r->max_logs > 0 && r->deleted < r->step) {
        return retain_count(st, r);
    }
    return 0;
}

int
wharfd_store_retain(struct wharfd_store *st, const char *logs_before,
                    const char *errors_before, long long max_logs,
                    long long step, long long *deleted)
{
    struct retain_job r = { logs_before, errors_before, max_logs, step, 0, st };
    int rc = wharfd_store_write(st, retain_run, &r, -1);

    *deleted = r.deleted;
    return rc;
}
