/*
 * Reads: list queries with optional filters, aggregates, single rows; on
 * a reader connection of the pool (store.c).
 *
 * A list query's SQL is assembled from the constant fragments below,
 * chosen by which filters are present; the filter values are always bound
 * (?1 worker, ?2 container, ...), never written into the text. Each
 * distinct text is prepared once per reader and cached.
 *
 * Order: logs and events of one worker walk (worker_name, id) backwards,
 * logs of one (worker, instance) walk the unique (worker_name,
 * instance_id, sequence) index: "latest N" is an index walk with LIMIT,
 * never a sort.
 */
#include "store_sqlite.h"
#include "store_shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameter numbers of the list queries. */
enum {
    P_WORKER = 1,
    P_CONTAINER,
    P_INSTANCE,
    P_SINCE,
    P_UNTIL,
    P_LEVELS,
    P_STREAMS,
    P_AFTER,
    P_TYPE,
    P_STATUS,
    P_MINLEVEL,
    P_MAXLEVEL,
    P_LIMIT,
    P_OFFSET,
    P_UNTIL_SEQ,
    P_AFTER_ID,
    P_UNTIL_ID
};

/* The WHERE clause of q (shared by the rows query and the count). */
static void
query_where(const struct wharfd_query *q, struct wharfd_sqltext *b)
{
    /* since/until: the time a row is about; a process row is about its
     * last change */
    const char *time_col = q->kind == WHARFD_KIND_ERRORS ? "last_seen"
        : q->kind == WHARFD_KIND_PROCESSES               ? "updated_at"
                                                         : "timestamp";
    char cond[96];

    if (q->worker) {
        wharfd_sqltext_cond(b, "worker_name = ?1");
    }
    if (q->container) {
        wharfd_sqltext_cond(b, "container_name = ?2");
    }
    if (q->instance) {
        wharfd_sqltext_cond(b, "instance_id = ?3");
    }
    if (q->since) {
        snprintf(cond, sizeof(cond), "%s >= ?4", time_col);
        wharfd_sqltext_cond(b, cond);
    }
    if (q->until) {
        snprintf(cond, sizeof(cond), "%s <= ?5", time_col);
        wharfd_sqltext_cond(b, cond);
    }
    if (q->kind == WHARFD_KIND_LOGS) {
        /* ?6 is ",info,warn,": one constant statement whatever the set. */
        if (q->levels) {
            wharfd_sqltext_cond(b, "instr(?6, ',' || level || ',') > 0");
        }
        if (q->streams) {
            wharfd_sqltext_cond(
                b, "instr(?7, ',' || coalesce(stream, '') || ',') > 0");
        }
        if (q->has_after) {
            wharfd_sqltext_cond(b, "sequence > ?8");
        }
        if (q->has_until_seq) {
            wharfd_sqltext_cond(b, "sequence <= ?15");
        }
        /* ids are arrival order: a bound on them is a range of the rowid
         * (or of the (worker_name) index, which carries it) */
        if (q->has_after_id) {
            wharfd_sqltext_cond(b, "id > ?16");
        }
        if (q->has_until_id) {
            wharfd_sqltext_cond(b, "id <= ?17");
        }
    }
    if (q->kind == WHARFD_KIND_EVENTS && q->type) {
        wharfd_sqltext_cond(b, "type = ?9");
    }
    if (q->kind == WHARFD_KIND_PROCESSES && q->status) {
        wharfd_sqltext_cond(b, "status = ?10");
    }
    if (q->kind == WHARFD_KIND_ERRORS) {
        if (q->has_min_level) {
            wharfd_sqltext_cond(b, "level >= ?11");
        }
        if (q->has_max_level) {
            wharfd_sqltext_cond(b, "level <= ?12");
        }
    }
}

static void
query_bind(const struct wharfd_query *q, sqlite3_stmt *s)
{
    int n = sqlite3_bind_parameter_count(s), i;

    /* Bind only the parameters the text uses (by name ?N). */
    for (i = 1; i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name(s, i);
        int p = name ? atoi(name + 1) : 0;

        switch (p) {
        case P_WORKER:
            sqlite3_bind_text(s, i, q->worker, -1, SQLITE_STATIC);
            break;
        case P_CONTAINER:
            sqlite3_bind_text(s, i, q->container, -1, SQLITE_STATIC);
            break;
        case P_INSTANCE:
            sqlite3_bind_text(s, i, q->instance, -1, SQLITE_STATIC);
            break;
        case P_SINCE:
            sqlite3_bind_text(s, i, q->since, -1, SQLITE_STATIC);
            break;
        case P_UNTIL:
            sqlite3_bind_text(s, i, q->until, -1, SQLITE_STATIC);
            break;
        case P_LEVELS:
            sqlite3_bind_text(s, i, q->levels, -1, SQLITE_STATIC);
            break;
        case P_STREAMS:
            sqlite3_bind_text(s, i, q->streams, -1, SQLITE_STATIC);
            break;
        case P_AFTER:
            sqlite3_bind_int64(s, i, q->after);
            break;
        case P_TYPE:
            sqlite3_bind_text(s, i, q->type, -1, SQLITE_STATIC);
            break;
        case P_STATUS:
            sqlite3_bind_text(s, i, q->status, -1, SQLITE_STATIC);
            break;
        case P_MINLEVEL:
            sqlite3_bind_double(s, i, q->min_level);
            break;
        case P_MAXLEVEL:
            sqlite3_bind_double(s, i, q->max_level);
            break;
        case P_LIMIT:
            /* One row more than asked tells hasMore; -1 is no limit. */
            sqlite3_bind_int64(s, i, q->limit < 0 ? -1 : q->limit + 1);
            break;
        case P_OFFSET:
            sqlite3_bind_int64(s, i, q->offset);
            break;
        case P_UNTIL_SEQ:
            sqlite3_bind_int64(s, i, q->until_seq);
            break;
        case P_AFTER_ID:
            sqlite3_bind_int64(s, i, q->after_id);
            break;
        case P_UNTIL_ID:
            sqlite3_bind_int64(s, i, q->until_id);
            break;
        default:
            break;
        }
    }
}

int
wharfd_sqlite_query(struct wharfd_store *base, const struct wharfd_query *q,
                    wharfd_row_fn fn, void *arg, long long *total,
                    int *has_more)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_col cols[20];
    const struct wharfd_shape *shape;
    const char *from, *order;
    struct wharfd_sqltext b, c;
    struct wharfd_reader *r;
    sqlite3_stmt *s;
    long long seen = 0;
    int rc = SQLITE_ERROR, failed = 0;

    *has_more = 0;
    *total = -1;
    switch (q->kind) {
    case WHARFD_KIND_LOGS:
        from = "SELECT id, worker_name, container_name, instance_id,"
               " process_id, sequence, timestamp, level, message, stream,"
               " source, metadata, created_at FROM container_logs";
        break;
    case WHARFD_KIND_ERRORS:
        from = "SELECT worker_name, container_name, instance_id, process_id,"
               " error_hash, timestamp, level, message, raw_output,"
               " occurrence_count, first_seen, last_seen, created_at"
               " FROM container_errors";
        break;
    case WHARFD_KIND_EVENTS:
        from = "SELECT id, worker_name, container_name, instance_id,"
               " process_id, type, payload, timestamp FROM container_events";
        break;
    default:
        from = "SELECT " WHARFD_PROCESS_COLS " FROM container_processes";
        break;
    }
    shape = wharfd_shape_of(q->kind);
    order = wharfd_shape_order(q);

    memset(&b, 0, sizeof(b));
    wharfd_sqltext_add(&b, from);
    query_where(q, &b);
    wharfd_sqltext_add(&b, order);
    wharfd_sqltext_add(&b, " LIMIT ?13 OFFSET ?14");

    r = wharfd_store_reader(st);
    if (r == NULL) {
        return -1;
    }
    /* Rows and count read one snapshot: a transaction around both. A
     * single statement is its own snapshot: without a count, no BEGIN
     * and COMMIT to parse and run (sqlite3_exec prepares them each time:
     * 4,000 instructions of a latest-100 request). */
    if (q->want_total) {
        sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    }
    s = wharfd_reader_stmt(st, r, b.text);
    if (s != NULL) {
        query_bind(q, s);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (q->limit >= 0 && seen == q->limit) {
                *has_more = 1;
                rc = SQLITE_DONE;
                break;
            }
            wharfd_store_row(s, shape->names, shape->n, shape->json_cols, cols);
            seen++;
            if (fn(arg, cols, shape->n) != 0) {
                failed = 1;
                break;
            }
        }
        if (rc != SQLITE_DONE && !failed) {
            wharfd_store_log_error(st, r->db, "reading rows");
        }
        sqlite3_reset(s);
    }
    if (rc == SQLITE_DONE && !failed && q->want_total) {
        memset(&c, 0, sizeof(c));
        wharfd_sqltext_add(&c, "SELECT count(*) FROM ");
        wharfd_sqltext_add(&c, strstr(from, " FROM ") + 6);
        query_where(q, &c);
        s = wharfd_reader_stmt(st, r, c.text);
        if (s != NULL) {
            query_bind(q, s);
            if (sqlite3_step(s) == SQLITE_ROW) {
                *total = sqlite3_column_int64(s, 0);
            } else {
                rc = SQLITE_ERROR;
                wharfd_store_log_error(st, r->db, "counting rows");
            }
            sqlite3_reset(s);
        } else {
            rc = SQLITE_ERROR;
        }
    }
    if (q->want_total) {
        sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    }
    wharfd_store_reader_release(st, r);
    return (rc == SQLITE_DONE && !failed) ? 0 : -1;
}

int
wharfd_sqlite_last_sequence(struct wharfd_store *base, const char *worker,
                            const char *instance, long long *seq)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r = wharfd_store_reader(st);
    sqlite3_stmt *s;
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    /* The highest sequence seen of the instance, in its logs or carried by
     * a counted error: an error can carry the sequence of a line that was
     * dropped (buffer full), and an agent restarted after it must not
     * number new lines at or below it, or their errors would be taken for
     * resends (see storeErrors). Both maxima are index reads: the logs'
     * unique (worker, instance, sequence), the errors' (worker, instance,
     * hash) prefix over that instance's few distinct errors. */
    s = wharfd_reader_stmt(st, r,
                           "SELECT max("
                           "coalesce((SELECT max(sequence) FROM container_logs"
                           " WHERE worker_name = ?1 AND instance_id = ?2), 0),"
                           "coalesce((SELECT max(last_sequence)"
                           " FROM container_errors WHERE worker_name = ?1"
                           " AND instance_id = ?2), 0))");
    if (s != NULL) {
        sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, instance, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            *seq = sqlite3_column_int64(s, 0);
            rc = 0;
        } else {
            wharfd_store_log_error(st, r->db, "last sequence");
        }
    }
    wharfd_store_reader_release(st, r);
    return rc;
}

int
wharfd_sqlite_process_get(struct wharfd_store *base, const char *worker,
                          const char *instance, wharfd_row_fn fn, void *arg,
                          int *found)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    struct wharfd_reader *r = wharfd_store_reader(st);
    struct wharfd_col cols[17];
    sqlite3_stmt *s;
    int rc = -1, step;

    *found = 0;
    if (r == NULL) {
        return -1;
    }
    s = wharfd_reader_stmt(
        st, r,
        worker ? "SELECT " WHARFD_PROCESS_COLS " FROM container_processes"
                 " WHERE worker_name = ?1 AND instance_id = ?2"
               : "SELECT " WHARFD_PROCESS_COLS " FROM container_processes"
                 " WHERE instance_id = ?2 ORDER BY worker_name LIMIT 1");
    if (s != NULL) {
        if (worker) {
            sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
        }
        sqlite3_bind_text(s, worker ? 2 : 1, instance, -1, SQLITE_STATIC);
        step = sqlite3_step(s);
        if (step == SQLITE_ROW) {
            *found = 1;
            wharfd_store_row(s, wharfd_shape_processes.names,
                             wharfd_shape_processes.n,
                             wharfd_shape_processes.json_cols, cols);
            rc = fn(arg, cols, 17);
        } else if (step == SQLITE_DONE) {
            rc = 0;
        } else {
            wharfd_store_log_error(st, r->db, "reading a process");
        }
    }
    wharfd_store_reader_release(st, r);
    return rc;
}

/* Aggregates, grouped by one column, then the range row. The SQL per
 * (kind, which of worker/instance is given) is constant. */
int
wharfd_sqlite_stats(struct wharfd_store *base, enum wharfd_kind kind,
                    const char *worker, const char *instance, wharfd_row_fn fn,
                    void *arg)
{
    struct wharfd_sqlite *st = wharfd_sqlite_of(base);
    static const char *const group_names[] = { "group", "key", "count",
                                               "rows" };
    static const char *const range_names[] = { "group", "oldest", "newest",
                                               "total" };
    const char *groups[3], *tails[3];
    char where[96] = "", sql[512];
    struct wharfd_reader *r;
    struct wharfd_col cols[4];
    sqlite3_stmt *s;
    int g, ng, rc = 0, step;

    if (worker && instance) {
        snprintf(where, sizeof(where),
                 " WHERE worker_name = ?1"
                 " AND instance_id = ?2");
    } else if (worker) {
        snprintf(where, sizeof(where), " WHERE worker_name = ?1");
    } else if (instance) {
        snprintf(where, sizeof(where), " WHERE instance_id = ?2");
    }
    if (kind == WHARFD_KIND_LOGS) {
        groups[0] = "SELECT 'level', level, count(*), count(*)"
                    " FROM container_logs";
        tails[0] = " GROUP BY level";
        groups[1] = "SELECT 'stream', stream, count(*), count(*)"
                    " FROM container_logs";
        tails[1] = " GROUP BY stream";
        groups[2] = "SELECT 'range', min(timestamp), max(timestamp), count(*)"
                    " FROM container_logs";
        tails[2] = "";
        ng = 3;
    } else {
        groups[0] = "SELECT 'level', level, sum(occurrence_count), count(*)"
                    " FROM container_errors";
        tails[0] = " GROUP BY level";
        groups[1] = "SELECT 'range', min(first_seen), max(last_seen),"
                    " count(*) FROM container_errors";
        tails[1] = "";
        ng = 2;
    }
    r = wharfd_store_reader(st);
    if (r == NULL) {
        return -1;
    }
    sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    for (g = 0; g < ng && rc == 0; g++) {
        snprintf(sql, sizeof(sql), "%s%s%s", groups[g], where, tails[g]);
        s = wharfd_reader_stmt(st, r, sql);
        if (s == NULL) {
            rc = -1;
            break;
        }
        if (sqlite3_bind_parameter_index(s, "?1") > 0) {
            sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, "?1"), worker,
                              -1, SQLITE_STATIC);
        }
        if (sqlite3_bind_parameter_index(s, "?2") > 0) {
            sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, "?2"),
                              instance, -1, SQLITE_STATIC);
        }
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            wharfd_store_row(s, g == ng - 1 ? range_names : group_names, 4, 0,
                             cols);
            if (fn(arg, cols, 4) != 0) {
                rc = -1;
                break;
            }
        }
        if (rc == 0 && step != SQLITE_DONE) {
            wharfd_store_log_error(st, r->db, "statistics");
            rc = -1;
        }
        sqlite3_reset(s);
    }
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    wharfd_store_reader_release(st, r);
    return rc;
}
