/*
 * PostgreSQL: the writes of the data tables, each a job of the writer's
 * group (store_pg.c): it sends its statements into the pipeline, flushes
 * once and reads their results. A job whose statement fails fails alone:
 * the group is rolled back and run again without it. Each job sets all
 * its outputs afresh, so running it again gives the same answer.
 */
#include "store_pg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_errfold.h"

/* --- logs ---------------------------------------------------------------------- */

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;

    return x < y ? -1 : x > y;
}

struct seq_at {
    long long seq;
    size_t i;
};

static int
cmp_seq_at(const void *a, const void *b)
{
    const struct seq_at *x = a, *y = b;

    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Marks in skip[] the rows of b that repeat the sequence of an earlier
 * row of the same call: SQLite stores the first and takes the others for
 * resends; so does this engine, which sends only the first. -1: out of
 * memory. */
static int
logs_repeats(const struct wharfd_log_batch *b, char *skip)
{
    struct seq_at *s;
    size_t i;

    for (i = 1; i < b->n; i++) {
        if (b->logs[i].sequence <= b->logs[i - 1].sequence) {
            break;
        }
    }
    if (i >= b->n) {
        return 0; /* increasing, as an agent sends them */
    }
    s = malloc(b->n * sizeof(*s));
    if (s == NULL) {
        return -1;
    }
    for (i = 0; i < b->n; i++) {
        s[i].seq = b->logs[i].sequence;
        s[i].i = i;
    }
    qsort(s, b->n, sizeof(*s), cmp_seq_at);
    for (i = 1; i < b->n; i++) {
        if (s[i].seq == s[i - 1].seq) {
            skip[s[i].i] = 1;
        }
    }
    free(s);
    return 0;
}

/* The arrays of the insert (store_pg.c, WHARFD_PGW_LOG_INSERT), in the
 * writer's buffers. */
enum {
    A_SEQ,
    A_TS,
    A_LEVEL,
    A_MSG,
    A_NULS,
    A_STREAM,
    A_SOURCE,
    A_META,
    A_PID
};

static void
arr_str(struct wharfd_pgarr *a, const char *s)
{
    wharfd_pgarr_text(a, s, s ? strlen(s) : 0);
}

static int
logs_arrays(struct wharfd_pg *st, const struct wharfd_log_batch *b,
            const char *skip)
{
    struct wharfd_pgarr *a = st->w_arr;
    char *text, *nuls;
    size_t i, len;
    int k, oom = 0;

    wharfd_pgarr_start(&a[A_SEQ], WHARFD_PG_INT8);
    for (k = A_TS; k <= A_PID; k++) {
        wharfd_pgarr_start(&a[k], WHARFD_PG_TEXT);
    }
    for (i = 0; i < b->n; i++) {
        const struct wharfd_log_in *l = &b->logs[i];

        if (skip[i]) {
            continue;
        }
        wharfd_pgarr_int8(&a[A_SEQ], l->sequence);
        arr_str(&a[A_TS], l->timestamp);
        arr_str(&a[A_LEVEL], l->level);
        if (wharfd_pg_nul_encode(l->message, l->message_len, &text, &len, &nuls)
            != 0) {
            oom = 1;
            break;
        }
        if (text != NULL) {
            wharfd_pgarr_text(&a[A_MSG], text, len);
            arr_str(&a[A_NULS], nuls);
            free(text);
            free(nuls);
        } else {
            wharfd_pgarr_text(&a[A_MSG], l->message, l->message_len);
            wharfd_pgarr_null(&a[A_NULS]);
        }
        arr_str(&a[A_STREAM], l->stream);
        arr_str(&a[A_SOURCE], l->source);
        arr_str(&a[A_META], l->metadata);
        arr_str(&a[A_PID], l->process_id);
    }
    for (k = A_SEQ; k <= A_PID; k++) {
        wharfd_pgarr_end(&a[k]);
        oom |= a[k].oom;
    }
    return oom ? -1 : 0;
}

/* The job's run: the statements of one storeLogs call into the group's
 * pipeline (store_pg.c, pgw_commit); their results are read by
 * wharfd_pg_logs_read after the sync. */
int
wharfd_pg_logs_send(struct wharfd_store *base, void *arg)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_log_batch *b = arg;
    struct wharfd_pgp p;
    char *skip;
    int k;

    skip = calloc(b->n ? b->n : 1, 1);
    if (skip == NULL || logs_repeats(b, skip) != 0
        || logs_arrays(st, b, skip) != 0) {
        wharf_error("database %s: out of memory for a batch of logs", st->safe);
        free(skip);
        return WHARFD_PG_FAILED;
    }
    free(skip);
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, b->worker);
    wharfd_pgp_text(&p, b->container);
    wharfd_pgp_text(&p, b->instance);
    wharfd_pgp_text(&p, NULL); /* a row's own process_id, else none */
    wharfd_pgp_bytes(&p, WHARFD_PG_INT8ARR, st->w_arr[A_SEQ].p,
                     st->w_arr[A_SEQ].len);
    for (k = A_TS; k <= A_PID; k++) {
        wharfd_pgp_bytes(&p, WHARFD_PG_TEXTARR, st->w_arr[k].p,
                         st->w_arr[k].len);
    }
    wharfd_pgw_send(st, WHARFD_PGW_LOG_INSERT, &p);
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, b->worker);
    wharfd_pgp_text(&p, b->instance);
    wharfd_pgw_send(st, WHARFD_PGW_LOG_AFTER, &p);
    st->news.logs = 1;
    return WHARFD_PG_OK;
}

/* Marks the rows of b the insert stored: every row sent (skip[i] 0). */
static void
logs_mark_all(struct wharfd_log_batch *b, const char *skip)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        b->logs[i].stored = !skip[i];
    }
}

void
wharfd_pg_logs_stored_send(struct wharfd_pg *st,
                           const struct wharfd_log_batch *b,
                           const struct wharfd_pg_logspan *span)
{
    struct wharfd_pgp p;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, b->worker);
    wharfd_pgp_text(&p, b->instance);
    wharfd_pgp_int8(&p, span->lo);
    wharfd_pgp_int8(&p, span->hi);
    wharfd_pgw_send(st, WHARFD_PGW_LOG_STORED, &p);
}

long long
wharfd_pg_logs_stored_read(struct wharfd_log_batch *b, const PGresult *r)
{
    long long *seqs = NULL, seq, n = 0;
    char *skip;
    int rows, k;
    size_t i;

    for (i = 0; i < b->n; i++) {
        b->logs[i].stored = 0;
    }
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        return 0;
    }
    rows = PQntuples(r);
    skip = calloc(b->n ? b->n : 1, 1);
    seqs = malloc((size_t) (rows ? rows : 1) * sizeof(*seqs));
    if (skip != NULL && seqs != NULL && logs_repeats(b, skip) == 0) {
        for (k = 0; k < rows; k++) {
            seqs[k] = wharfd_pg_int8(r, k, 0);
        }
        qsort(seqs, (size_t) rows, sizeof(*seqs), cmp_ll);
        /* a sequence twice in the call was stored as its first copy */
        for (i = 0; i < b->n; i++) {
            seq = b->logs[i].sequence;
            b->logs[i].stored = !skip[i]
                && bsearch(&seq, seqs, (size_t) rows, sizeof(*seqs), cmp_ll)
                    != NULL;
            n += b->logs[i].stored;
        }
    }
    free(seqs);
    free(skip);
    return n;
}

int
wharfd_pg_logs_read(struct wharfd_pg *st, struct wharfd_log_batch *b,
                    struct wharfd_pg_logspan *span)
{
    PGresult *res[2] = { NULL, NULL };
    long long sent = 0, inserted = 0;
    char *skip;
    size_t i;
    int rc = WHARFD_PG_OK, k;

    b->stored = b->duplicates = b->last_sequence = b->last_id = 0;
    span->read_back = 0;
    for (k = 0; k < 2; k++) {
        res[k] = wharfd_pgw_next(st);
        if (res[k] == NULL) {
            wharfd_pg_clear_all(res, k);
            wharfd_pg_log_error(st, st->w.c, NULL, "reading results");
            for (i = 0; i < b->n; i++) {
                b->logs[i].stored = 0;
            }
            return WHARFD_PG_LOST;
        }
    }
    skip = calloc(b->n ? b->n : 1, 1);
    if (skip == NULL || logs_repeats(b, skip) != 0) {
        wharf_error("database %s: out of memory for a batch of logs", st->safe);
        rc = WHARFD_PG_FAILED;
    }
    if (rc == WHARFD_PG_OK) {
        rc = wharfd_pgw_check(st, res[0], PGRES_COMMAND_OK, "inserting logs");
    }
    if (rc == WHARFD_PG_OK) {
        rc = wharfd_pgw_check(st, res[1], PGRES_TUPLES_OK,
                              "reading the logs' ids");
    }
    if (rc == WHARFD_PG_OK) {
        for (i = 0; i < b->n; i++) {
            sent += !skip[i];
        }
        inserted = strtoll(PQcmdTuples(res[0]), NULL, 10);
        span->lo = wharfd_pg_int8(res[1], 0, 0);
        span->hi = wharfd_pg_int8(res[1], 0, 1);
        /* Each stored row took an id in (lo, hi]: fewer ids than rows,
         * or more rows than were sent, cannot be. */
        if (inserted > sent || inserted > span->hi - span->lo) {
            wharf_error("database %s: %lld logs inserted of %lld sent,"
                        " ids %lld to %lld taken meanwhile",
                        st->safe, inserted, sent, span->lo + 1, span->hi);
            rc = WHARFD_PG_FAILED;
        } else {
            b->stored = inserted;
            b->duplicates = (long long) b->n - inserted;
            b->last_id = inserted > 0 ? wharfd_pg_int8(res[1], 0, 2) : 0;
            b->last_sequence = wharfd_pg_int8(res[1], 0, 3);
            if (inserted == sent) {
                logs_mark_all(b, skip);
            } else {
                span->read_back = 1; /* a resend: which, after the commit */
                for (i = 0; i < b->n; i++) {
                    b->logs[i].stored = 0;
                }
            }
        }
    }
    wharfd_pg_clear_all(res, 2);
    if (rc != WHARFD_PG_OK) {
        b->stored = b->duplicates = b->last_sequence = b->last_id = 0;
        for (i = 0; i < b->n; i++) {
            b->logs[i].stored = 0;
        }
    }
    free(skip);
    return rc;
}

/* Waits until every transaction that took its marker at or below id has
 * ended (store_pg.h, "The watermark"): one statement, which finds them in
 * pg_locks and takes each marker's lock exclusively in turn, so it waits
 * for each holder, in key order (two waiters never wait for each other),
 * and lets go at its end. None can start meanwhile: a marker taken now is
 * above id. A writer stuck inside a transaction is ended by the server
 * (WHARFD_PG_WRITER_STALL); anything else is cut by the readers'
 * lock_timeout (WHARFD_PG_READER_LOCK_WAIT), and the call answered all
 * the same, logged. */
#define LOGS_WAIT_SQL                                                \
    "SELECT count(pg_advisory_xact_lock(k.m)) FROM (SELECT DISTINCT" \
    " markers.m FROM " WHARFD_PG_MARKERS " WHERE markers.m <= $1"    \
    " ORDER BY 1) k"

static void
logs_wait_visible(struct wharfd_pg *st, long long id)
{
    struct wharfd_pgconn *c;
    struct wharfd_pgp p;
    PGresult *r;

    c = wharfd_pg_reader(st);
    if (c == NULL) {
        return;
    }
    wharfd_pgp_reset(&p);
    wharfd_pgp_int8(&p, id);
    r = wharfd_pg_exec(st, c, LOGS_WAIT_SQL, &p, PGRES_TUPLES_OK);
    if (r == NULL) {
        wharf_error("database %s: log id %lld may not be readable yet:"
                    " a transaction that took a lower id was not seen to"
                    " end",
                    st->safe, id);
    }
    PQclear(r);
    wharfd_pg_reader_release(st, c);
}

/* A storeLogs call: written by the writer's group commit, answered when
 * its rows are readable, so a read that follows the answer sees them
 * (read-your-writes, as on SQLite), whichever wharfd serves it: at once
 * when no writer was in a transaction just after the commit (last_id 0,
 * store_pg.c, LOG_SETTLED), else after logs_wait_visible. */
int
wharfd_pg_logs(struct wharfd_store *base, struct wharfd_log_batch *b)
{
    int rc = wharfd_store_write(base, wharfd_pg_logs_send, b, WHARFD_KIND_LOGS);

    if (rc == 0 && b->last_id > 0) {
        logs_wait_visible(wharfd_pg_of(base), b->last_id);
    }
    return rc;
}

/* --- errors ------------------------------------------------------------------------ */

struct err_ctx {
    struct wharfd_pg *st;
    int outcome; /* the first failure of the job (a WHARFD_PG_* value) */
};

/* The upserts of groups g[0..n) (store_errfold.h), WHARFD_PG_FLUSH_MAX
 * to a round trip. */
static int
err_upsert(void *ctx, const struct wharfd_error_batch *b,
           struct wharfd_err_group *g, size_t n, const char *now, int gated,
           int *applied)
{
    struct err_ctx *x = ctx;
    struct wharfd_pg *st = x->st;
    PGresult *res[WHARFD_PG_FLUSH_MAX];
    char *text[WHARFD_PG_FLUSH_MAX], *nuls[WHARFD_PG_FLUSH_MAX];
    struct wharfd_pgp p;
    size_t from, i, m, len;
    int rc = WHARFD_PG_OK;

    for (from = 0; from < n && rc == WHARFD_PG_OK; from += m) {
        m = n - from < WHARFD_PG_FLUSH_MAX ? n - from : WHARFD_PG_FLUSH_MAX;
        for (i = 0; i < m; i++) {
            const struct wharfd_err_group *gr = &g[from + i];
            const struct wharfd_error_in *e = &b->errors[gr->first];

            if (wharfd_pg_nul_encode(e->message, e->message_len, &text[i], &len,
                                     &nuls[i])
                != 0) {
                len = e->message_len; /* out of memory: it fails below */
            }
            wharfd_pgp_reset(&p);
            wharfd_pgp_text(&p, b->worker);
            wharfd_pgp_text(&p, b->container);
            wharfd_pgp_text(&p, b->instance);
            wharfd_pgp_text(&p, e->process_id);
            wharfd_pgp_text(&p, e->hash);
            wharfd_pgp_text(&p, gr->ts_max);
            wharfd_pgp_float8(&p, e->level);
            if (text[i] != NULL) {
                wharfd_pgp_textn(&p, text[i], len);
            } else {
                wharfd_pgp_textn(&p, e->message, e->message_len);
            }
            wharfd_pgp_text(&p, b->errors[gr->last].raw_output);
            wharfd_pgp_text(&p, now);
            wharfd_pgp_int8(&p, gr->k);
            wharfd_pgp_text(&p, gr->ts_min);
            wharfd_pgp_int8_or_null(&p, gr->seq_max > 0, gr->seq_max);
            wharfd_pgp_int8_or_null(&p, gated && gr->seq_min > 0, gr->seq_min);
            wharfd_pgp_text(&p, nuls[i]);
            wharfd_pgw_send(st, WHARFD_PGW_ERROR_UPSERT, &p);
        }
        rc = wharfd_pgw_flush(st, res);
        for (i = 0; i < m; i++) {
            free(text[i]);
            free(nuls[i]);
        }
        if (rc != WHARFD_PG_OK) {
            break;
        }
        for (i = 0; i < m; i++) {
            if (rc == WHARFD_PG_OK) {
                rc = wharfd_pgw_check(st, res[i], PGRES_TUPLES_OK,
                                      "upserting an error");
            }
            if (rc != WHARFD_PG_OK) {
                continue;
            }
            applied[from + i] = PQntuples(res[i]) == 1;
            if (applied[from + i]) {
                char id[24];

                g[from + i].count = wharfd_pg_int8(res[i], 0, 0);
                snprintf(id, sizeof(id), "%lld", wharfd_pg_int8(res[i], 0, 1));
                wharfd_pg_news_add(st, &st->news.errors, &st->news.errors_len,
                                   id);
            }
        }
        wharfd_pg_clear_all(res, (int) m);
    }
    if (rc != WHARFD_PG_OK && x->outcome == WHARFD_PG_OK) {
        x->outcome = rc;
    }
    return rc == WHARFD_PG_OK ? 0 : -1;
}

static int
err_lookup(void *ctx, const struct wharfd_error_batch *b, const char *hash,
           long long *count, long long *last)
{
    struct err_ctx *x = ctx;
    struct wharfd_pgp p;
    PGresult *res[1];
    int rc;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, b->worker);
    wharfd_pgp_text(&p, b->instance);
    wharfd_pgp_text(&p, hash);
    wharfd_pgw_send(x->st, WHARFD_PGW_ERROR_LOOKUP, &p);
    rc = wharfd_pgw_flush(x->st, res);
    if (rc == WHARFD_PG_OK) {
        rc = wharfd_pgw_check(x->st, res[0], PGRES_TUPLES_OK,
                              "reading an error");
        if (rc == WHARFD_PG_OK && PQntuples(res[0]) != 1) {
            wharf_error("database %s: the error row is gone", x->st->safe);
            rc = WHARFD_PG_FAILED;
        }
        if (rc == WHARFD_PG_OK) {
            *count = wharfd_pg_int8(res[0], 0, 0);
            *last = wharfd_pg_int8(res[0], 0, 1);
        }
        PQclear(res[0]);
    }
    if (rc != WHARFD_PG_OK && x->outcome == WHARFD_PG_OK) {
        x->outcome = rc;
    }
    return rc == WHARFD_PG_OK ? 0 : -1;
}

static const struct wharfd_errfold_sql err_sql = { err_upsert, err_lookup };

static int
errors_run(struct wharfd_store *base, void *arg)
{
    struct err_ctx x = { wharfd_pg_of(base), WHARFD_PG_OK };

    if (wharfd_errfold_run(arg, &err_sql, &x) != 0) {
        return x.outcome != WHARFD_PG_OK ? x.outcome : WHARFD_PG_FAILED;
    }
    return WHARFD_PG_OK;
}

int
wharfd_pg_errors(struct wharfd_store *st, struct wharfd_error_batch *b)
{
    return wharfd_store_write(st, errors_run, b, WHARFD_KIND_ERRORS);
}

/* --- one statement ------------------------------------------------------------------ */

/* Sends id with p and checks its result; *affected (if not NULL) gets
 * the rows it changed, *first the first column of its first row. */
static int
pgw_one(struct wharfd_pg *st, enum wharfd_pgw_id id, const struct wharfd_pgp *p,
        ExecStatusType want, const char *what, long long *affected,
        long long *first)
{
    PGresult *res[1];
    int rc;

    wharfd_pgw_send(st, id, p);
    rc = wharfd_pgw_flush(st, res);
    if (rc != WHARFD_PG_OK) {
        return rc;
    }
    rc = wharfd_pgw_check(st, res[0], want, what);
    if (rc == WHARFD_PG_OK && affected != NULL) {
        *affected = atoll(PQcmdTuples(res[0]));
    }
    if (rc == WHARFD_PG_OK && first != NULL && PQntuples(res[0]) > 0) {
        *first = wharfd_pg_int8(res[0], 0, 0);
    }
    PQclear(res[0]);
    return rc;
}

/* --- processes, events, workers ----------------------------------------------------- */

static int
process_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    const struct wharfd_process_in *pr = arg;
    struct wharfd_pgp p;
    char key[256];
    int rc;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, pr->worker);
    wharfd_pgp_text(&p, pr->container);
    wharfd_pgp_text(&p, pr->instance);
    wharfd_pgp_text(&p, pr->process_id);
    wharfd_pgp_text(&p, pr->command);
    wharfd_pgp_text(&p, pr->args);
    wharfd_pgp_text(&p, pr->cwd);
    wharfd_pgp_text(&p, pr->status);
    wharfd_pgp_int8_or_null(&p, pr->has_pid, pr->pid);
    wharfd_pgp_int8(&p, pr->restart_count);
    wharfd_pgp_text(&p, pr->start_time);
    wharfd_pgp_text(&p, pr->end_time);
    wharfd_pgp_int8_or_null(&p, pr->has_exit_code, pr->exit_code);
    wharfd_pgp_text(&p, pr->last_error);
    wharfd_pgp_text(&p, pr->env);
    wharfd_pgp_text(&p, pr->now);
    rc = pgw_one(st, WHARFD_PGW_PROCESS_UPSERT, &p, PGRES_COMMAND_OK,
                 "upserting a process", NULL, NULL);
    if (rc == WHARFD_PG_OK) {
        /* worker and instance names hold neither '/' nor ' ' */
        snprintf(key, sizeof(key), "%s/%s", pr->worker, pr->instance);
        wharfd_pg_news_add(st, &st->news.processes, &st->news.processes_len,
                           key);
    }
    return rc;
}

int
wharfd_pg_process_upsert(struct wharfd_store *st,
                         const struct wharfd_process_in *p)
{
    return wharfd_store_write(st, process_run, (void *) p,
                              WHARFD_KIND_PROCESSES);
}

static int
event_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    const struct wharfd_event_in *e = arg;
    struct wharfd_pgp p;
    long long id = 0;
    char key[24];
    int rc;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, e->worker);
    wharfd_pgp_text(&p, e->container);
    wharfd_pgp_text(&p, e->instance);
    wharfd_pgp_text(&p, e->process_id);
    wharfd_pgp_text(&p, e->type);
    wharfd_pgp_text(&p, e->payload);
    wharfd_pgp_text(&p, e->timestamp);
    rc = pgw_one(st, WHARFD_PGW_EVENT_INSERT, &p, PGRES_TUPLES_OK,
                 "inserting an event", NULL, &id);
    if (rc == WHARFD_PG_OK) {
        snprintf(key, sizeof(key), "%lld", id);
        wharfd_pg_news_add(st, &st->news.events, &st->news.events_len, key);
    }
    return rc;
}

int
wharfd_pg_event(struct wharfd_store *st, const struct wharfd_event_in *e)
{
    return wharfd_store_write(st, event_run, (void *) e, WHARFD_KIND_EVENTS);
}

struct heartbeat_job {
    const char *name, *container, *agent_version, *now;
};

static int
heartbeat_run(struct wharfd_store *base, void *arg)
{
    struct heartbeat_job *h = arg;
    struct wharfd_pgp p;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, h->name);
    wharfd_pgp_text(&p, h->container);
    wharfd_pgp_text(&p, h->agent_version);
    wharfd_pgp_text(&p, h->now);
    return pgw_one(wharfd_pg_of(base), WHARFD_PGW_HEARTBEAT, &p,
                   PGRES_COMMAND_OK, "heartbeat upsert", NULL, NULL);
}

int
wharfd_pg_worker_heartbeat(struct wharfd_store *st, const char *name,
                           const char *container, const char *agent_version,
                           const char *now)
{
    struct heartbeat_job h = { name, container, agent_version, now };

    return wharfd_store_write(st, heartbeat_run, &h, -1);
}

struct remove_job {
    const char *name;
    int removed;
};

/* Both deletes in the group's transaction: a worker is forgotten with its
 * processes or not at all. */
static int
remove_run(struct wharfd_store *base, void *arg)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct remove_job *j = arg;
    struct wharfd_pgp p;
    long long n = 0;
    int rc;

    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, j->name);
    rc = pgw_one(st, WHARFD_PGW_WORKER_REMOVE, &p, PGRES_COMMAND_OK,
                 "removing a worker", &n, NULL);
    if (rc != WHARFD_PG_OK) {
        return rc;
    }
    j->removed = n > 0;
    return pgw_one(st, WHARFD_PGW_WORKER_PROCESSES_REMOVE, &p, PGRES_COMMAND_OK,
                   "removing a worker's processes", NULL, NULL);
}

int
wharfd_pg_worker_remove(struct wharfd_store *st, const char *name, int *removed)
{
    struct remove_job j = { name, 0 };
    int rc = wharfd_store_write(st, remove_run, &j, -1);

    *removed = j.removed;
    return rc;
}

/* --- clear -------------------------------------------------------------------------- */

struct clear_job {
    enum wharfd_kind kind;
    const char *worker, *instance;
    long long until_id;
    long long count;
};

static int
clear_run(struct wharfd_store *base, void *arg)
{
    struct clear_job *c = arg;
    enum wharfd_pgw_id id;
    struct wharfd_pgp p;

    c->count = 0;
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, c->worker);
    if (c->kind == WHARFD_KIND_LOGS) {
        id = c->instance ? WHARFD_PGW_CLEAR_LOGS_INSTANCE
                         : WHARFD_PGW_CLEAR_LOGS;
        wharfd_pgp_int8(&p, c->until_id >= 0 ? c->until_id : INT64_MAX);
    } else {
        id = c->instance ? WHARFD_PGW_CLEAR_ERRORS_INSTANCE
                         : WHARFD_PGW_CLEAR_ERRORS;
    }
    if (c->instance) {
        wharfd_pgp_text(&p, c->instance);
    }
    return pgw_one(wharfd_pg_of(base), id, &p, PGRES_COMMAND_OK, "clearing",
                   &c->count, NULL);
}

int
wharfd_pg_clear(struct wharfd_store *st, enum wharfd_kind kind,
                const char *worker, const char *instance, long long until_id,
                long long *count)
{
    struct clear_job c = { kind, worker, instance, until_id, 0 };
    int rc = wharfd_store_write(st, clear_run, &c, -1);

    *count = c.count;
    return rc;
}

/* --- retention's steps ------------------------------------------------------------------ */

struct retain_job {
    enum wharfd_pgw_id id;
    const char *worker, *before;
    long long below, step, deleted;
};

static int
retain_run(struct wharfd_store *base, void *arg)
{
    struct retain_job *j = arg;
    struct wharfd_pgp p;

    j->deleted = 0;
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, j->worker);
    if (j->id == WHARFD_PGW_RETAIN_LOGS) {
        wharfd_pgp_int8(&p, j->below);
    } else {
        wharfd_pgp_text(&p, j->before);
    }
    wharfd_pgp_int8(&p, j->step);
    return pgw_one(wharfd_pg_of(base), j->id, &p, PGRES_COMMAND_OK, "retention",
                   &j->deleted, NULL);
}

int
wharfd_pg_retain_logs(struct wharfd_store *st, const char *worker,
                      long long below, long long step, long long *deleted)
{
    struct retain_job j = {
        WHARFD_PGW_RETAIN_LOGS, worker, NULL, below, step, 0
    };
    int rc = wharfd_store_write(st, retain_run, &j, -1);

    *deleted = j.deleted;
    return rc;
}

int
wharfd_pg_retain_errors(struct wharfd_store *st, const char *worker,
                        const char *before, long long step, long long *deleted)
{
    struct wharfd_pg *pg = wharfd_pg_of(st);
    struct retain_job j = {
        WHARFD_PGW_RETAIN_ERRORS, worker, before, 0, step, 0
    };
    struct wharfd_pgconn *c;
    struct wharfd_pgp p;
    PGresult *r;
    int rc, due;

    /* Checked on a reader first: a worker with nothing to delete costs
     * no writer job. */
    *deleted = 0;
    c = wharfd_pg_reader(pg);
    if (c == NULL) {
        return -1;
    }
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, worker);
    wharfd_pgp_text(&p, before);
    r = wharfd_pg_exec(pg, c,
                       "SELECT 1 FROM container_errors WHERE worker_name = $1"
                       " AND last_seen < $2 LIMIT 1",
                       &p, PGRES_TUPLES_OK);
    due = r != NULL && PQntuples(r) > 0;
    rc = r != NULL ? 0 : -1;
    PQclear(r);
    wharfd_pg_reader_release(pg, c);
    if (rc != 0 || !due) {
        return rc;
    }
    rc = wharfd_store_write(st, retain_run, &j, -1);
    *deleted = j.deleted;
    return rc;
}
