/*
 * SQLite: the writes of the data tables, each run by the writer thread
 * inside the group's transaction (store_sqlite.c). A job that fails rolls
 * back to its savepoint: a batch is stored whole or not at all.
 */
#include "store_sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_errfold.h"

static int
step_done(struct wharfd_sqlite *st, sqlite3_stmt *s, const char *what)
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
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC); /* NULL binds NULL */
}

/* --- logs ---------------------------------------------------------------- */

static int
logs_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_log_batch *b = arg;
    char *now = b->created_at;
    sqlite3_stmt *s;
    size_t i;

    /* created_at is the commit's time, taken here in the writer, so it
     * grows with id (retention relies on it). The batch keeps it, and
     * each stored row's id, for the recent rows (recent.h). */
    wharf_now_iso8601(now, sizeof(b->created_at));
    b->stored = b->duplicates = 0;
    for (i = 0; i < b->n; i++) {
        struct wharfd_log_in *l = &b->logs[i];

        s = wharfd_store_wstmt_all(st, WHARFD_W_LOG_INSERT);
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
            b->logs[i].id = sqlite3_last_insert_rowid(st->wdb);
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
wharfd_sqlite_logs(struct wharfd_store *st, struct wharfd_log_batch *b)
{
    return wharfd_store_write(st, logs_run, b, WHARFD_KIND_LOGS);
}

/* --- errors -------------------------------------------------------------- */

static void
bind_seq(sqlite3_stmt *s, int i, long long seq)
{
    if (seq > 0) {
        sqlite3_bind_int64(s, i, seq);
    } else {
        sqlite3_bind_null(s, i);
    }
}

/* One upsert of each of g[0..n) (store_errfold.h); gated: when the row
 * has counted g->seq_min already, nothing changes and applied[i] is 0. */
static int
err_upsert(void *ctx, const struct wharfd_error_batch *b,
           struct wharfd_err_group *groups, size_t n, const char *now,
           int gated, int *applied)
{
    struct wharfd_sqlite *st = ctx;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        struct wharfd_err_group *g = &groups[i];
        const struct wharfd_error_in *e = &b->errors[g->first];
        sqlite3_stmt *s = wharfd_store_wstmt_all(st, WHARFD_W_ERROR_UPSERT);

        bind_text(s, 1, b->worker);
        bind_text(s, 2, b->container);
        bind_text(s, 3, b->instance);
        bind_text(s, 4, e->process_id);
        bind_text(s, 5, e->hash);
        bind_text(s, 6, g->ts_max);
        sqlite3_bind_double(s, 7, e->level);
        sqlite3_bind_text(s, 8, e->message, (int) e->message_len,
                          SQLITE_STATIC);
        bind_text(s, 9, b->errors[g->last].raw_output);
        bind_text(s, 10, now);
        sqlite3_bind_int64(s, 11, g->k);
        bind_text(s, 12, g->ts_min);
        bind_seq(s, 13, g->seq_max);
        bind_seq(s, 14, gated ? g->seq_min : 0);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) {
            /* the gate held: the row has counted some of these already */
            sqlite3_reset(s);
            applied[i] = 0;
            continue;
        }
        if (rc != SQLITE_ROW) {
            wharfd_store_log_error(st, st->wdb, "upserting an error");
            sqlite3_reset(s);
            return -1;
        }
        g->count = sqlite3_column_int64(s, 0);
        /* RETURNING: the statement is done only after a further step. */
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            wharfd_store_log_error(st, st->wdb, "upserting an error");
            return -1;
        }
        applied[i] = 1;
    }
    return 0;
}

/* The row's count and last counted sequence (the resend case). */
static int
err_lookup(void *ctx, const struct wharfd_error_batch *b, const char *hash,
           long long *count, long long *last)
{
    struct wharfd_sqlite *st = ctx;
    sqlite3_stmt *s = wharfd_store_wstmt(st, WHARFD_W_ERROR_LOOKUP);

    bind_text(s, 1, b->worker);
    bind_text(s, 2, b->instance);
    bind_text(s, 3, hash);
    if (sqlite3_step(s) != SQLITE_ROW) {
        wharfd_store_log_error(st, st->wdb, "reading an error");
        sqlite3_reset(s);
        return -1;
    }
    *count = sqlite3_column_int64(s, 0);
    *last = sqlite3_column_int64(s, 1); /* not NULL: the gate held */
    sqlite3_reset(s);
    return 0;
}

static const struct wharfd_errfold_sql err_sql = { err_upsert, err_lookup };

static int
errors_run(struct wharfd_store *base, void *arg)
{
    return wharfd_errfold_run(arg, &err_sql, wharfd_sqlite_of(base));
}

int
wharfd_sqlite_errors(struct wharfd_store *st, struct wharfd_error_batch *b)
{
    return wharfd_store_write(st, errors_run, b, WHARFD_KIND_ERRORS);
}

/* --- processes, events ------------------------------------------------- */

static int
process_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
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
wharfd_sqlite_process_upsert(struct wharfd_store *st,
                             const struct wharfd_process_in *p)
{
    return wharfd_store_write(st, process_run, (void *) p,
                              WHARFD_KIND_PROCESSES);
}

static int
event_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
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
wharfd_sqlite_event(struct wharfd_store *st, const struct wharfd_event_in *e)
{
    return wharfd_store_write(st, event_run, (void *) e, WHARFD_KIND_EVENTS);
}

/* --- clear -------------------------------------------------------------- */

struct clear_job {
    enum wharfd_kind kind;
    const char *worker, *instance;
    long long until_id;
    long long count;
};

static int
clear_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
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
    if (c->kind == WHARFD_KIND_LOGS) {
        sqlite3_bind_int64(s, 3, c->until_id >= 0 ? c->until_id : INT64_MAX);
    }
    if (step_done(st, s, "clearing") != 0) {
        return -1;
    }
    c->count = sqlite3_changes(st->wdb);
    return 0;
}

int
wharfd_sqlite_clear(struct wharfd_store *st, enum wharfd_kind kind,
                    const char *worker, const char *instance,
                    long long until_id, long long *count)
{
    struct clear_job c = { kind, worker, instance, until_id, 0 };
    int rc = wharfd_store_write(st, clear_run, &c, -1);

    *count = c.count;
    return rc;
}
