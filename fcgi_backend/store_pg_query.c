/*
 * PostgreSQL: reads (store.h), on a reader connection of the pool
 * (store_pg.c). As on SQLite (store_sqlite_query.c), a list query's SQL
 * is assembled from constant fragments chosen by which filters are
 * present; the values are bound ($1, $2, ... in the order the fragments
 * come), never written into the text, and each distinct text is prepared
 * once per connection. Results are binary.
 *
 * Order: a worker's logs walk (worker_name, id) backwards in each
 * partition, merged (Merge Append); an instance's walk (worker_name,
 * instance_id, sequence); all logs the primary key (id, created_at):
 * "latest N" is index walks with a LIMIT, never a sort of the rows.
 */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_shape.h"

/* PostgreSQL selects message_nuls right after message (the NUL bytes a
 * message held, which text cannot): wharfd_pg_row skips it. */
#define LOG_NULS_COL   9
#define ERROR_NULS_COL 8

/* --- rows ---------------------------------------------------------------------- */

void
wharfd_pg_row(const PGresult *r, int row, const char *const *names, int n,
              unsigned json_cols, int nuls_col, struct wharfd_col *cols,
              char **buf)
{
    int i, col;

    for (i = 0, col = 0; i < n; i++, col++) {
        if (col == nuls_col) {
            col++;
        }
        cols[i].name = names[i];
        if (PQgetisnull(r, row, col)) {
            cols[i].type = WHARFD_COL_NULL;
            continue;
        }
        switch (PQftype(r, col)) {
        case WHARFD_PG_INT8:
        case WHARFD_PG_INT4:
            cols[i].type = WHARFD_COL_INT;
            cols[i].i = wharfd_pg_int8(r, row, col);
            break;
        case WHARFD_PG_FLOAT8:
            cols[i].type = WHARFD_COL_REAL;
            cols[i].d = wharfd_pg_float8(r, row, col);
            break;
        default:
            cols[i].type =
                (json_cols >> i) & 1 ? WHARFD_COL_JSON : WHARFD_COL_TEXT;
            cols[i].s = PQgetvalue(r, row, col);
            cols[i].len = (size_t) PQgetlength(r, row, col);
        }
        /* a message that held NUL bytes: put them back */
        if (nuls_col >= 0 && col == nuls_col - 1
            && !PQgetisnull(r, row, nuls_col)
            && wharfd_pg_nul_decode(
                   cols[i].s, cols[i].len, PQgetvalue(r, row, nuls_col),
                   (size_t) PQgetlength(r, row, nuls_col), buf, &cols[i].len)
                == 0) {
            cols[i].s = *buf;
        }
    }
}

/* --- list queries ---------------------------------------------------------------- */

struct qb {
    struct wharfd_sqltext t;
    struct wharfd_pgp p;
};

static void
qb_add(struct qb *b, const char *s)
{
    wharfd_sqltext_add(&b->t, s);
}

/* A condition: before, the parameter it binds next ($N), after. */
static void
qb_cond(struct qb *b, const char *before, const char *after)
{
    char cond[128];

    snprintf(cond, sizeof(cond), "%s$%d%s", before, b->p.n + 1, after);
    wharfd_sqltext_cond(&b->t, cond);
}

/* The highest log id below which every id is settled: committed (and
 * visible to a statement that starts after this one) or never to be.
 * The sequence is read first (w), the writers second (store_pg.h, "The
 * watermark"): when no writer holds the writers' shared lock (the try of
 * it alone succeeds, for the statement), every id taken is settled;
 * else the markers held (pg_locks) say which are not. Both run per row
 * of w, after it. The try is what makes a read cheap while nobody
 * writes logs: reading pg_locks costs the server about 0.3 ms, in
 * proportion to every lock every session holds. */
#define LOG_SEEN_SQL                                                     \
    "SELECT CASE WHEN pg_try_advisory_xact_lock(2003329394, 2) THEN w.l" \
    " ELSE least(w.l, coalesce((SELECT min(markers.m)"                   \
    " FROM " WHARFD_PG_MARKERS " WHERE w.l IS NOT NULL) - 1, w.l)) END"  \
    " FROM (SELECT " WHARFD_PG_LAST_ID_TAKEN " AS l OFFSET 0) w"

static long long
log_seen_read(struct wharfd_pg *st, struct wharfd_pgconn *c)
{
    PGresult *r = wharfd_pg_exec(st, c, LOG_SEEN_SQL, NULL, PGRES_TUPLES_OK);
    long long seen;

    if (r == NULL) {
        return -1;
    }
    seen = wharfd_pg_int8(r, 0, 0);
    PQclear(r);
    return seen;
}

/* Reading pg_locks costs the server in proportion to every lock held (a
 * few hundred microseconds), so the readers that need the watermark at
 * once share one read of it. Which
 * one: a read that began after the caller came, since a value read
 * earlier could miss a storeLogs answered just before (the watermark
 * only grows, so any later read will do). One reader reads; the others
 * wait for it, or, when a read was already under way as they came, for
 * the next. */
long long
wharfd_pg_log_seen(struct wharfd_pg *st, struct wharfd_pgconn *c)
{
    unsigned long long need, mine;
    long long v;

    pthread_mutex_lock(&st->seen.lock);
    need = st->seen.started + 1; /* the next read to begin */
    for (;;) {
        if (st->seen.done >= need) {
            v = st->seen.value;
            pthread_mutex_unlock(&st->seen.lock);
            return v;
        }
        if (st->seen.started == st->seen.done) {
            break; /* none under way: this caller reads */
        }
        pthread_cond_wait(&st->seen.cond, &st->seen.lock);
    }
    mine = ++st->seen.started;
    pthread_mutex_unlock(&st->seen.lock);

    v = log_seen_read(st, c);

    pthread_mutex_lock(&st->seen.lock);
    if (v >= 0) {
        st->seen.done = mine;
        if (v > st->seen.value) {
            st->seen.value = v;
        }
        v = st->seen.value;
    } else {
        st->seen.started = st->seen.done; /* the next waiter reads */
    }
    pthread_cond_broadcast(&st->seen.cond);
    pthread_mutex_unlock(&st->seen.lock);
    return v;
}

/* The WHERE clause of q and its parameters (shared by the rows query and
 * the count); seen: the logs' watermark (wharfd_pg_log_seen). */
static void
query_where(const struct wharfd_query *q, long long seen, struct qb *b)
{
    /* since/until: the time a row is about; a process row is about its
     * last change */
    const char *time_col = q->kind == WHARFD_KIND_ERRORS ? "last_seen"
        : q->kind == WHARFD_KIND_PROCESSES               ? "updated_at"
                                                         : "timestamp";
    char col[64];

    if (q->worker) {
        qb_cond(b, "worker_name = ", "");
        wharfd_pgp_text(&b->p, q->worker);
    }
    if (q->container) {
        qb_cond(b, "container_name = ", "");
        wharfd_pgp_text(&b->p, q->container);
    }
    if (q->instance) {
        qb_cond(b, "instance_id = ", "");
        wharfd_pgp_text(&b->p, q->instance);
    }
    if (q->since) {
        snprintf(col, sizeof(col), "%s >= ", time_col);
        qb_cond(b, col, "");
        wharfd_pgp_text(&b->p, q->since);
    }
    if (q->until) {
        snprintf(col, sizeof(col), "%s <= ", time_col);
        qb_cond(b, col, "");
        wharfd_pgp_text(&b->p, q->until);
    }
    if (q->kind == WHARFD_KIND_LOGS) {
        /* ",info,warn,": one constant statement whatever the set */
        if (q->levels) {
            qb_cond(b, "strpos(", ", ',' || level || ',') > 0");
            wharfd_pgp_text(&b->p, q->levels);
        }
        if (q->streams) {
            qb_cond(b, "strpos(", ", ',' || coalesce(stream, '') || ',') > 0");
            wharfd_pgp_text(&b->p, q->streams);
        }
        if (q->has_after) {
            qb_cond(b, "sequence > ", "");
            wharfd_pgp_int8(&b->p, q->after);
        }
        if (q->has_until_seq) {
            qb_cond(b, "sequence <= ", "");
            wharfd_pgp_int8(&b->p, q->until_seq);
        }
        if (q->has_after_id) {
            qb_cond(b, "id > ", "");
            wharfd_pgp_int8(&b->p, q->after_id);
        }
        if (q->has_until_id) {
            qb_cond(b, "id <= ", "");
            wharfd_pgp_int8(&b->p, q->until_id);
        }
        /* no row above a row still in flight: a reader that pages on by
         * the highest id it saw misses none */
        qb_cond(b, "id <= ", "");
        wharfd_pgp_int8(&b->p, seen);
    }
    if (q->kind == WHARFD_KIND_EVENTS && q->type) {
        qb_cond(b, "type = ", "");
        wharfd_pgp_text(&b->p, q->type);
    }
    if (q->kind == WHARFD_KIND_PROCESSES && q->status) {
        qb_cond(b, "status = ", "");
        wharfd_pgp_text(&b->p, q->status);
    }
    if (q->kind == WHARFD_KIND_ERRORS) {
        if (q->has_min_level) {
            qb_cond(b, "level >= ", "");
            wharfd_pgp_float8(&b->p, q->min_level);
        }
        if (q->has_max_level) {
            qb_cond(b, "level <= ", "");
            wharfd_pgp_float8(&b->p, q->max_level);
        }
    }
}

/* Hands each row of r to fn; counts them into *seen and stops at
 * limit (has_more). -1 when fn stops. */
static int
query_rows(const PGresult *r, const struct wharfd_query *q,
           const struct wharfd_shape *shape, int nuls_col, wharfd_row_fn fn,
           void *arg, long long *seen, int *has_more)
{
    struct wharfd_col cols[20];
    char *buf;
    int row, rc;

    for (row = 0; row < PQntuples(r); row++) {
        if (q->limit >= 0 && *seen == q->limit) {
            *has_more = 1;
            break;
        }
        buf = NULL;
        wharfd_pg_row(r, row, shape->names, shape->n, shape->json_cols,
                      nuls_col, cols, &buf);
        ++*seen;
        rc = fn(arg, cols, shape->n);
        free(buf);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

/* One try of wharfd_pg_query on c. *broken: failed because c broke before
 * a row went out (worth another try). */
static int
query_once(struct wharfd_pg *st, struct wharfd_pgconn *c,
           const struct wharfd_query *q, wharfd_row_fn fn, void *arg,
           long long *total, int *has_more, int *broken)
{
    const struct wharfd_shape *shape;
    const char *from, *order;
    struct qb b, cnt;
    char tail[64];
    int nuls_col, nwhere, rc = -1, failed = 0, txn = 0;
    long long seen = 0, watermark = 0;
    PGresult *r;

    *broken = 0;
    switch (q->kind) {
    case WHARFD_KIND_LOGS:
        from = "SELECT id, worker_name, container_name, instance_id,"
               " process_id, sequence, timestamp, level, message,"
               " message_nuls, stream, source, metadata, created_at"
               " FROM container_logs";
        nuls_col = LOG_NULS_COL;
        break;
    case WHARFD_KIND_ERRORS:
        from = "SELECT worker_name, container_name, instance_id, process_id,"
               " error_hash, timestamp, level, message, message_nuls,"
               " raw_output, occurrence_count, first_seen, last_seen,"
               " created_at FROM container_errors";
        nuls_col = ERROR_NULS_COL;
        break;
    case WHARFD_KIND_EVENTS:
        from = "SELECT id, worker_name, container_name, instance_id,"
               " process_id, type, payload, timestamp FROM container_events";
        nuls_col = -1;
        break;
    default:
        from = "SELECT " WHARFD_PROCESS_COLS " FROM container_processes";
        nuls_col = -1;
        break;
    }
    shape = wharfd_shape_of(q->kind);
    order = wharfd_shape_order(q);
    /* before the rows' statement, whose snapshot must see every row the
     * watermark lets through */
    if (q->kind == WHARFD_KIND_LOGS
        && (watermark = wharfd_pg_log_seen(st, c)) < 0) {
        *broken = wharfd_pg_broken(c);
        return -1;
    }

    memset(&b, 0, sizeof(b));
    qb_add(&b, from);
    query_where(q, watermark, &b);
    nwhere = b.p.n;
    qb_add(&b, order);
    snprintf(tail, sizeof(tail), " LIMIT $%d OFFSET $%d", nwhere + 1,
             nwhere + 2);
    qb_add(&b, tail);
    /* One row more than asked tells hasMore; NULL is no limit. */
    wharfd_pgp_int8_or_null(&b.p, q->limit >= 0, q->limit + 1);
    wharfd_pgp_int8(&b.p, q->offset);

    if (q->want_total) {
        /* rows and count read one snapshot */
        if (wharfd_pg_simple(st, c->c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
            != 0) {
            *broken = wharfd_pg_broken(c);
            return -1;
        }
        txn = 1;
    }
    if (q->limit >= 0) {
        r = wharfd_pg_exec(st, c, b.t.text, &b.p, PGRES_TUPLES_OK);
        if (r == NULL) {
            *broken = wharfd_pg_broken(c);
        } else {
            failed =
                query_rows(r, q, shape, nuls_col, fn, arg, &seen, has_more);
            rc = 0;
            PQclear(r);
        }
    } else {
        /* A stream of any length: one row at a time (single-row mode),
         * never the whole result in memory; planned for this once. */
        rc = -1;
        if (PQsendQueryParams(c->c, b.t.text, b.p.n, b.p.types, b.p.values,
                              b.p.lengths, b.p.formats, 1)
                == 1
            && PQsetSingleRowMode(c->c) == 1) {
            rc = 0;
            while ((r = PQgetResult(c->c)) != NULL) {
                ExecStatusType s = PQresultStatus(r);

                if (s == PGRES_SINGLE_TUPLE && !failed) {
                    failed = query_rows(r, q, shape, nuls_col, fn, arg, &seen,
                                        has_more);
                    if (failed) {
                        /* the reader went away: the server stops too */
                        PGcancel *cancel = PQgetCancel(c->c);
                        char err[256];

                        if (cancel != NULL) {
                            PQcancel(cancel, err, sizeof(err));
                            PQfreeCancel(cancel);
                        }
                    }
                } else if (failed) {
                    /* the rest, or the cancel's error */
                } else if (s != PGRES_TUPLES_OK && s != PGRES_SINGLE_TUPLE) {
                    wharfd_pg_log_error(st, c->c, r, "reading rows");
                    rc = -1;
                    *broken = seen == 0 && wharfd_pg_broken(c);
                }
                PQclear(r);
            }
        } else {
            wharfd_pg_log_error(st, c->c, NULL, "reading rows");
            *broken = wharfd_pg_broken(c);
        }
    }
    if (rc == 0 && !failed && q->want_total) {
        memset(&cnt, 0, sizeof(cnt));
        qb_add(&cnt, "SELECT count(*) FROM ");
        qb_add(&cnt, strstr(from, " FROM ") + 6);
        query_where(q, watermark, &cnt);
        r = wharfd_pg_exec(st, c, cnt.t.text, &cnt.p, PGRES_TUPLES_OK);
        if (r != NULL) {
            *total = wharfd_pg_int8(r, 0, 0);
            PQclear(r);
        } else {
            rc = -1;
        }
    }
    if (txn) {
        wharfd_pg_simple(st, c->c, "COMMIT");
    }
    return (rc == 0 && !failed) ? 0 : -1;
}

int
wharfd_pg_query(struct wharfd_store *base, const struct wharfd_query *q,
                wharfd_row_fn fn, void *arg, long long *total, int *has_more)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c;
    int attempt, rc = -1, broken = 1;

    for (attempt = 0; attempt < 2 && broken; attempt++) {
        *has_more = 0;
        *total = -1;
        c = wharfd_pg_reader(st);
        if (c == NULL) {
            return -1;
        }
        rc = query_once(st, c, q, fn, arg, total, has_more, &broken);
        wharfd_pg_reader_release(st, c);
    }
    return rc;
}

/* --- single rows, aggregates ------------------------------------------------------- */

/* Runs sql with p on a reader, once more on a fresh one when the first
 * broke; the result (NULL on failure) and its connection, to release. */
static PGresult *
read_one(struct wharfd_pg *st, const char *sql, const struct wharfd_pgp *p,
         struct wharfd_pgconn **conn)
{
    struct wharfd_pgconn *c;
    PGresult *r = NULL;
    int attempt;

    *conn = NULL;
    for (attempt = 0; attempt < 2; attempt++) {
        c = wharfd_pg_reader(st);
        if (c == NULL) {
            return NULL;
        }
        r = wharfd_pg_exec(st, c, sql, p, PGRES_TUPLES_OK);
        if (r != NULL || !wharfd_pg_broken(c)) {
            *conn = c;
            return r;
        }
        wharfd_pg_reader_release(st, c);
    }
    return NULL;
}

int
wharfd_pg_last_sequence(struct wharfd_store *base, const char *worker,
                        const char *instance, long long *seq)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_pgconn *c;
    struct wharfd_pgp p;
    PGresult *r;

    /* As on SQLite (store_sqlite_query.c): the highest sequence of the
     * instance, in its logs or carried by a counted error. */
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, worker);
    wharfd_pgp_text(&p, instance);
    r = read_one(st,
                 "SELECT greatest("
                 "coalesce((SELECT max(sequence) FROM container_logs"
                 " WHERE worker_name = $1 AND instance_id = $2), 0),"
                 "coalesce((SELECT max(last_sequence) FROM container_errors"
                 " WHERE worker_name = $1 AND instance_id = $2), 0))",
                 &p, &c);
    if (r != NULL) {
        *seq = wharfd_pg_int8(r, 0, 0);
        PQclear(r);
    }
    wharfd_pg_reader_release(st, c);
    return r != NULL ? 0 : -1;
}

int
wharfd_pg_process_get(struct wharfd_store *base, const char *worker,
                      const char *instance, wharfd_row_fn fn, void *arg,
                      int *found)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_col cols[17];
    struct wharfd_pgconn *c;
    struct wharfd_pgp p;
    PGresult *r;
    int rc = -1;

    *found = 0;
    wharfd_pgp_reset(&p);
    if (worker) {
        wharfd_pgp_text(&p, worker);
    }
    wharfd_pgp_text(&p, instance);
    r = read_one(st,
                 worker
                     ? "SELECT " WHARFD_PROCESS_COLS " FROM container_processes"
                       " WHERE worker_name = $1 AND instance_id = $2"
                     : "SELECT " WHARFD_PROCESS_COLS " FROM container_processes"
                       " WHERE instance_id = $1 ORDER BY worker_name"
                       " LIMIT 1",
                 &p, &c);
    if (r != NULL) {
        rc = 0;
        if (PQntuples(r) > 0) {
            *found = 1;
            wharfd_pg_row(r, 0, wharfd_shape_processes.names,
                          wharfd_shape_processes.n,
                          wharfd_shape_processes.json_cols, -1, cols, NULL);
            rc = fn(arg, cols, wharfd_shape_processes.n);
        }
        PQclear(r);
    }
    wharfd_pg_reader_release(st, c);
    return rc;
}

int
wharfd_pg_stats(struct wharfd_store *base, enum wharfd_kind kind,
                const char *worker, const char *instance, wharfd_row_fn fn,
                void *arg)
{
    static const char *const group_names[] = { "group", "key", "count",
                                               "rows" };
    static const char *const range_names[] = { "group", "oldest", "newest",
                                               "total" };
    struct wharfd_pg *st = wharfd_pg_of(base);
    const char *groups[3], *tails[3];
    char where[96] = "", sql[512];
    struct wharfd_pgconn *c;
    struct wharfd_col cols[4];
    struct wharfd_pgp p;
    PGresult *r;
    int g, ng, row, rc = 0;

    wharfd_pgp_reset(&p);
    if (worker && instance) {
        snprintf(where, sizeof(where),
                 " WHERE worker_name = $1 AND instance_id = $2");
        wharfd_pgp_text(&p, worker);
        wharfd_pgp_text(&p, instance);
    } else if (worker) {
        snprintf(where, sizeof(where), " WHERE worker_name = $1");
        wharfd_pgp_text(&p, worker);
    } else if (instance) {
        snprintf(where, sizeof(where), " WHERE instance_id = $1");
        wharfd_pgp_text(&p, instance);
    }
    /* Groups in key order, NULL first, as SQLite's GROUP BY gives them. */
    if (kind == WHARFD_KIND_LOGS) {
        groups[0] = "SELECT 'level'::text, level, count(*), count(*)"
                    " FROM container_logs";
        tails[0] = " GROUP BY level ORDER BY level NULLS FIRST";
        groups[1] = "SELECT 'stream'::text, stream, count(*), count(*)"
                    " FROM container_logs";
        tails[1] = " GROUP BY stream ORDER BY stream NULLS FIRST";
        groups[2] = "SELECT 'range'::text, min(timestamp), max(timestamp),"
                    " count(*) FROM container_logs";
        tails[2] = "";
        ng = 3;
    } else {
        groups[0] = "SELECT 'level'::text, level,"
                    " sum(occurrence_count)::bigint, count(*)"
                    " FROM container_errors";
        tails[0] = " GROUP BY level ORDER BY level NULLS FIRST";
        groups[1] = "SELECT 'range'::text, min(first_seen), max(last_seen),"
                    " count(*) FROM container_errors";
        tails[1] = "";
        ng = 2;
    }
    c = wharfd_pg_reader(st);
    if (c == NULL) {
        return -1;
    }
    /* one snapshot for the groups and the range */
    if (wharfd_pg_simple(st, c->c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
        != 0) {
        wharfd_pg_reader_release(st, c);
        return -1;
    }
    for (g = 0; g < ng && rc == 0; g++) {
        snprintf(sql, sizeof(sql), "%s%s%s", groups[g], where, tails[g]);
        r = wharfd_pg_exec(st, c, sql, &p, PGRES_TUPLES_OK);
        if (r == NULL) {
            rc = -1;
            break;
        }
        for (row = 0; row < PQntuples(r) && rc == 0; row++) {
            wharfd_pg_row(r, row, g == ng - 1 ? range_names : group_names, 4, 0,
                          -1, cols, NULL);
            rc = fn(arg, cols, 4);
        }
        PQclear(r);
    }
    wharfd_pg_simple(st, c->c, "COMMIT");
    wharfd_pg_reader_release(st, c);
    return rc;
}

int
wharfd_pg_workers_each(struct wharfd_store *base, wharfd_worker_fn fn,
                       void *arg)
{
    struct wharfd_pg *st = wharfd_pg_of(base);
    struct wharfd_worker_row w;
    struct wharfd_pgconn *c;
    PGresult *r;
    int row, rc = 0;

#define TEXT_OR_NULL(col) \
    (PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col))
    r = read_one(st,
                 "SELECT name, container_name, agent_version, first_seen,"
                 " last_seen, status FROM workers ORDER BY name",
                 NULL, &c);
    if (r == NULL) {
        wharfd_pg_reader_release(st, c);
        return -1;
    }
    for (row = 0; row < PQntuples(r); row++) {
        w.name = TEXT_OR_NULL(0);
        w.container_name = TEXT_OR_NULL(1);
        w.agent_version = TEXT_OR_NULL(2);
        w.first_seen = TEXT_OR_NULL(3);
        w.last_seen = TEXT_OR_NULL(4);
        w.status = TEXT_OR_NULL(5);
        if (fn(arg, &w) != 0) {
            rc = -1;
            break;
        }
    }
#undef TEXT_OR_NULL
    PQclear(r);
    wharfd_pg_reader_release(st, c);
    return rc;
}
