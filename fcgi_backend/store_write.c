/*
 * The writes of the data tables, each run by the writer thread inside the
 * group's transaction (store.c). A job that fails rolls back to its
 * savepoint: a batch is stored whole or not at all.
 */
#include "store_sqlite.h"

#include <stdint.h>
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
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC); /* NULL binds NULL */
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
 * sends each of 100 fingerprints 5 times per batch of 500). The batch
 * gives the rows and answers that its elements sent one by one, in order,
 * would give (tests/unit/test_wharfd_ingest_fast.c checks it):
 *   - an element counts unless it carries a sequence that is not above
 *     the highest sequence counted so far for its row: the row's
 *     last_sequence, or an earlier element of the group. The others are
 *     resends (duplicate = 1): they change nothing.
 *   - the counted elements of a group become one upsert with
 *     occurrence_count + k. A new row takes the group's first element's
 *     message, level and process_id (the first INSERT's), and raw_output
 *     of its last counted element (each repeat's DO UPDATE replaces it);
 *     timestamp and last_seen are the max, first_seen the min, over the
 *     counted elements and the row (max/min of ISO text are time order);
 *     last_sequence the max of the row's and theirs.
 *   - counted element j (1-based) of a group of k gets occurrenceCount
 *     C - k + j, C being the count the upsert returns: what its own
 *     upsert would have returned, so "stored" (count 1) is the same too;
 *     a resend gets the count as it stands when it comes (the count of
 *     the counted elements before it).
 * Which elements count can be told in the batch alone except against the
 * row's last_sequence. The upsert's gate (store.c) handles the common
 * cases in the one statement: a new row, or one whose last_sequence is
 * below every sequence of the group, takes all of them. Only when the row
 * already holds some of them (a resend, or a batch overlapping an earlier
 * one) is the row read and the group sorted out element by element.
 */
#define ERR_NONE ((size_t) -1)

struct err_group {
    size_t first, last;          /* first element; last counted element */
    const char *ts_min, *ts_max; /* over the counted elements */
    long long k;                 /* counted elements */
    long long seq_min, seq_max;  /* their lowest, highest sequence; 0 none */
    long long count;             /* the row's count after the upsert */
    long long seen;              /* counted elements answered so far */
};

/* Adds element i (of e) to g as counted. */
static void
err_count(struct err_group *g, size_t i, const struct wharfd_error_in *e)
{
    if (g->k == 0) {
        g->ts_min = g->ts_max = e->timestamp;
    } else {
        if (strcmp(e->timestamp, g->ts_min) < 0) {
            g->ts_min = e->timestamp;
        }
        if (strcmp(e->timestamp, g->ts_max) > 0) {
            g->ts_max = e->timestamp;
        }
    }
    g->k++;
    g->last = i;
    if (e->sequence > 0) {
        if (g->seq_min == 0) {
            g->seq_min = e->sequence;
        }
        g->seq_max = e->sequence; /* counted sequences only grow */
    }
}

/* A group of one element, i. */
static void
err_group_one(struct err_group *g, size_t i, const struct wharfd_error_in *e)
{
    memset(g, 0, sizeof(*g));
    g->first = i;
    err_count(g, i, e);
}

/* The group of each element (groups in order of first appearance), by
 * an open-addressing table on the hash; next[] chains a group's elements
 * in order. Elements whose sequence is not above an earlier one of their
 * group are marked duplicate here. Returns the number of groups, or 0
 * when out of memory (each element then is its own upsert). */
static size_t
err_group(struct wharfd_error_batch *b, struct err_group *g, size_t *of,
          size_t *next)
{
    size_t cap = 16, ng = 0, i, h, k, *tail;
    unsigned long long x;
    size_t *table;

    while (cap < 2 * b->n) {
        cap *= 2;
    }
    table = malloc(cap * sizeof(*table));
    tail = malloc(b->n * sizeof(*tail)); /* each group's last element */
    if (table == NULL || tail == NULL) {
        free(table);
        free(tail);
        return 0;
    }
    for (i = 0; i < cap; i++) {
        table[i] = ERR_NONE;
    }
    for (i = 0; i < b->n; i++) {
        struct wharfd_error_in *e = &b->errors[i];

        next[i] = ERR_NONE;
        /* The hash is hex of a SHA-256 (or the caller's 64 hex digits):
         * its first 16 digits spread well enough. */
        x = 1469598103934665603ULL;
        for (k = 0; k < 16; k++) {
            x = (x ^ (unsigned char) e->hash[k]) * 1099511628211ULL;
        }
        for (h = (size_t) x & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (table[h] == ERR_NONE) {
                table[h] = ng;
                err_group_one(&g[ng], i, e);
                tail[ng] = i;
                of[i] = ng++;
                break;
            }
            if (memcmp(b->errors[g[table[h]].first].hash, e->hash,
                       sizeof(e->hash))
                == 0) {
                struct err_group *gr = &g[table[h]];

                next[tail[table[h]]] = i;
                tail[table[h]] = i;
                of[i] = table[h];
                if (e->sequence > 0 && e->sequence <= gr->seq_max) {
                    e->duplicate = 1; /* counted earlier in the batch */
                } else {
                    err_count(gr, i, e);
                }
                break;
            }
        }
    }
    free(table);
    free(tail);
    return ng;
}

static void
bind_seq(sqlite3_stmt *s, int i, long long seq)
{
    if (seq > 0) {
        sqlite3_bind_int64(s, i, seq);
    } else {
        sqlite3_bind_null(s, i);
    }
}

/* One upsert of g's counted elements; gated: when the row has counted
 * g->seq_min already, nothing changes and *applied is 0. g->count
 * receives the row's count after it. */
static int
err_upsert(struct wharfd_store *st, const struct wharfd_error_batch *b,
           struct err_group *g, const char *now, int gated, int *applied)
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
    bind_seq(s, 13, g->seq_max);
    bind_seq(s, 14, gated ? g->seq_min : 0);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        /* the gate held: the row has counted some of these already */
        sqlite3_reset(s);
        *applied = 0;
        return 0;
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
    *applied = 1;
    return 0;
}

/*
 * The row exists and has counted some of g's sequences (the gate held):
 * reads its count and last_sequence, marks the elements it has counted
 * as duplicates, and upserts the rest (if any) without the gate. The
 * elements are g->first and its chain in next (NULL: g is one element).
 */
static int
err_resend(struct wharfd_store *st, struct wharfd_error_batch *b,
           struct err_group *g, const size_t *next, const char *now)
{
    sqlite3_stmt *s = wharfd_store_wstmt(st, WHARFD_W_ERROR_LOOKUP);
    long long count, last;
    struct err_group left;
    size_t i;
    int applied;

    bind_text(s, 1, b->worker);
    bind_text(s, 2, b->instance);
    bind_text(s, 3, b->errors[g->first].hash);
    if (sqlite3_step(s) != SQLITE_ROW) {
        wharfd_store_log_error(st, st->wdb, "reading an error");
        sqlite3_reset(s);
        return -1;
    }
    count = sqlite3_column_int64(s, 0);
    last = sqlite3_column_int64(s, 1); /* not NULL: the gate held */
    sqlite3_reset(s);

    memset(&left, 0, sizeof(left));
    left.first = g->first;
    for (i = g->first; i != ERR_NONE; i = next ? next[i] : ERR_NONE) {
        struct wharfd_error_in *e = &b->errors[i];

        if (e->duplicate) {
            continue; /* counted earlier in the batch */
        }
        if (e->sequence > 0 && e->sequence <= last) {
            e->duplicate = 1; /* the row has counted it */
            continue;
        }
        err_count(&left, i, e);
    }
    left.count = count;
    if (left.k > 0) {
        /* ungated: the upsert always applies */
        if (err_upsert(st, b, &left, now, 0, &applied) != 0) {
            return -1;
        }
        if (!applied) {
            wharf_error("database %s: an ungated error upsert changed "
                        "nothing",
                        st->path);
            return -1;
        }
    }
    *g = left;
    return 0;
}

static int
errors_run(struct wharfd_store *st, void *arg)
{
    struct wharfd_error_batch *b = arg;
    char now[WHARF_TIME_LEN];
    struct err_group *g, one;
    size_t i, ng, *of, *next;
    int rc = 0, applied;

    wharf_now_iso8601(now, sizeof(now));
    for (i = 0; i < b->n; i++) {
        b->errors[i].duplicate = 0;
    }
    g = malloc(b->n * sizeof(*g));
    of = malloc(b->n * sizeof(*of));
    next = malloc(b->n * sizeof(*next));
    ng = g && of && next ? err_group(b, g, of, next) : 0;
    if (ng == 0) {
        /* Out of memory for the groups: one upsert per element, in
         * order, each seeing the row as the one before left it. */
        for (i = 0; i < b->n && rc == 0; i++) {
            struct wharfd_error_in *e = &b->errors[i];

            err_group_one(&one, i, e);
            rc = err_upsert(st, b, &one, now, 1, &applied);
            if (rc == 0 && !applied) {
                rc = err_resend(st, b, &one, NULL, now);
            }
            e->occurrence_count = one.count;
            e->stored = !e->duplicate && one.count == 1;
        }
    } else {
        for (i = 0; i < ng && rc == 0; i++) {
            rc = err_upsert(st, b, &g[i], now, 1, &applied);
            if (rc == 0 && !applied) {
                rc = err_resend(st, b, &g[i], next, now);
            }
        }
        for (i = 0; i < b->n && rc == 0; i++) {
            struct wharfd_error_in *e = &b->errors[i];
            struct err_group *gr = &g[of[i]];

            if (e->duplicate) {
                e->occurrence_count = gr->count - gr->k + gr->seen;
                e->stored = 0;
            } else {
                e->occurrence_count = gr->count - gr->k + ++gr->seen;
                e->stored = e->occurrence_count == 1;
            }
        }
    }
    free(g);
    free(of);
    free(next);
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
wharfd_store_clear(struct wharfd_store *st, enum wharfd_kind kind,
                   const char *worker, const char *instance, long long until_id,
                   long long *count)
{
    struct clear_job c = { kind, worker, instance, until_id, 0 };
    int rc = wharfd_store_write(st, clear_run, &c, -1);

    *count = c.count;
    return rc;
}
