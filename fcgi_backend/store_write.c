/*
 * The writes of the data tables, each run by the writer thread inside the
 * group's transaction (store.c). A job that fails rolls back to its
 * savepoint: a batch is stored whole or not at all.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * Repeats inside one batch are folded into one upsert per error hash (an
 * error storm sends the same error many times in a batch; bench/ingest
 * sends each of 100 fingerprints 5 times per batch of 500). One upsert
 * with occurrence_count + k gives the row the agent would get from k
 * upserts one after another:
 *   - a new row takes the group's first element's message, level and
 *     process_id (the first INSERT's), and raw_output of its last element
 *     (each repeat's DO UPDATE replaces it);
 *   - timestamp and last_seen are the max, first_seen the min, over the
 *     group and the row (max/min of ISO text are time order);
 *   - element j (1-based) of a group of k gets occurrenceCount C - k + j,
 *     C being the count the upsert returns: what its own upsert would
 *     have returned, so "stored" (count 1) is the same too.
 */
struct err_group {
    size_t first, last;         /* element indexes */
    const char *ts_min, *ts_max;
    long long k, count, seen;   /* elements; count after the upsert */
};

/* The group of each element (groups in order of first appearance), by
 * an open-addressing table on the hash. Returns the number of groups, or
 * 0 when out of memory (each element then is its own upsert). */
static size_t
err_group(const struct wharfd_error_batch *b, struct err_group *g,
          size_t *of)
{
    size_t cap = 16, ng = 0, i, h, k;
    unsigned long long x;
    size_t *table;

    while (cap < 2 * b->n) {
        cap *= 2;
    }
    table = malloc(cap * sizeof(*table));
    if (table == NULL) {
        return 0;
    }
    for (i = 0; i < cap; i++) {
        table[i] = (size_t) -1;
    }
    for (i = 0; i < b->n; i++) {
        const struct wharfd_error_in *e = &b->errors[i];

        /* The hash is hex of a SHA-256 (or the caller's 64 hex digits):
         * its first 16 digits spread well enough. */
        x = 1469598103934665603ULL;
        for (k = 0; k < 16; k++) {
            x = (x ^ (unsigned char) e->hash[k]) * 1099511628211ULL;
        }
        for (h = (size_t) x & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (table[h] == (size_t) -1) {
                table[h] = ng;
                g[ng].first = g[ng].last = i;
                g[ng].ts_min = g[ng].ts_max = e->timestamp;
                g[ng].k = 1;
                g[ng].seen = 0;
                of[i] = ng++;
                break;
            }
            if (memcmp(b->errors[g[table[h]].first].hash, e->hash,
                       sizeof(e->hash)) == 0)
            {
                struct err_group *gr = &g[table[h]];

                gr->last = i;
                gr->k++;
                if (strcmp(e->timestamp, gr->ts_min) < 0) {
                    gr->ts_min = e->timestamp;
                }
                if (strcmp(e->timestamp, gr->ts_max) > 0) {
                    gr->ts_max = e->timestamp;
                }
                of[i] = table[h];
                break;
            }
        }
    }
    free(table);
    return ng;
}

/* One upsert for group g; g->count receives the row's count after it. */
static int
err_upsert(struct wharfd_store *st, const struct wharfd_error_batch *b,
           struct err_group *g, const char *now)
{
    const struct wharfd_error_in *e = &b->errors[g->first];
    sqlite3_stmt *s = wharfd_store_wstmt_all(st, WHARFD_W_ERROR_UPSERT);
    int rc;

    bind_text(s, 1, b->worker);
    bind_text(s, 2, b->container);
    bind_text(s, 3, b->instance);
    bind_text(s, 4, e->process_id);
    bind_text(s, 5, e->hash);
    bind_text(s, 6, g->ts_max);
    sqlite3_bind_double(s, 7, e->level);
    sqlite3_bind_text(s, 8, e->message, (int) e->message_len, SQLITE_STATIC);
    bind_text(s, 9, b->errors[g->last].raw_output);
    bind_text(s, 10, now);
    sqlite3_bind_int64(s, 11, g->k);
    bind_text(s, 12, g->ts_min);
    rc = sqlite3_step(s);
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
    return 0;
}

static int
errors_run(struct wharfd_store *st, void *arg)
{
    struct wharfd_error_batch *b = arg;
    char now[WHARF_TIME_LEN];
    struct err_group *g, one;
    size_t i, ng, *of;
    int rc = 0;

    wharf_now_iso8601(now, sizeof(now));
    g = malloc(b->n * sizeof(*g));
    of = malloc(b->n * sizeof(*of));
    ng = g && of ? err_group(b, g, of) : 0;
    if (ng == 0) {
        /* Out of memory for the groups: one upsert per element. */
        for (i = 0; i < b->n && rc == 0; i++) {
            one.first = one.last = i;
            one.ts_min = one.ts_max = b->errors[i].timestamp;
            one.k = 1;
            rc = err_upsert(st, b, &one, now);
            b->errors[i].occurrence_count = one.count;
            b->errors[i].stored = one.count == 1;
        }
    } else {
        for (i = 0; i < ng && rc == 0; i++) {
            rc = err_upsert(st, b, &g[i], now);
        }
        for (i = 0; i < b->n && rc == 0; i++) {
            struct err_group *gr = &g[of[i]];

            b->errors[i].occurrence_count = gr->count - gr->k + ++gr->seen;
            b->errors[i].stored = b->errors[i].occurrence_count == 1;
        }
    }
    free(g);
    free(of);
    return rc;
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
