/*
 * The store: every read and write of monitoring data goes through these
 * functions, whatever engine is behind them. The store knows no JSON
 * documents: writes take C structs (JSON values such as metadata arrive
 * already serialised), reads hand back rows as arrays of typed columns
 * (struct wharfd_col) through a callback.
 *
 * Two engines (store_engine.h), chosen by wharfd_store_open's target:
 *  - SQLite (store_sqlite*.c), the embedded default: one file, one writer
 *    connection, a pool of read-only connections (WAL);
 *  - PostgreSQL (store_pg*.c; a postgresql:// URL): several wharfd on one
 *    database, container_logs partitioned by day, the live feed fanned
 *    out through LISTEN/NOTIFY.
 * Both share the writer: a write call queues a job and waits; one writer
 * thread takes every job queued, runs them in ONE transaction (a failing
 * job rolls back alone), commits, and only then wakes the callers: a
 * request is answered only after its rows are committed, and the commit
 * cost is shared by every request of the group. Both keep the same
 * semantics (docs/wharfd.md): a resent log line is a no-op, a repeated
 * error bumps its count (with the resend rules of last_sequence), ids are
 * arrival order, the same filters, the same rows.
 *
 * SQL is constant text; values are always bound. Queries with optional
 * filters are assembled from constant fragments chosen by which filters
 * are present (never from their values) and cached prepared.
 *
 * All functions may be called from any thread. They return 0 on success
 * and -1 on failure, which they have logged.
 */
#ifndef WHARFD_STORE_H
#define WHARFD_STORE_H

#include <stddef.h>
#include <stdio.h>

struct wharfd_store;

/* Opens the database: target is a postgresql:// (or postgres://) URL,
 * in libpq's syntax, or else the path of a SQLite file (created if
 * needed). Applies pending migrations (once, even when several wharfd
 * start together), starts the writer thread. Refuses a database newer
 * than this binary. */
int wharfd_store_open(struct wharfd_store **out, const char *target);

/* Whether target names a PostgreSQL database (a postgresql:// or
 * postgres:// URL). */
int wharfd_store_target_is_pg(const char *target);

/* target as it may be written to a log: a URL's password replaced by
 * "***" (a SQLite path as it is), into buf. */
const char *wharfd_store_target_safe(const char *target, char *buf,
                                     size_t size);

/* The engine's name: "sqlite" or "postgresql". */
const char *wharfd_store_engine(const struct wharfd_store *st);

/* Stops the writer (after the queued jobs are committed), finalizes
 * statements and closes every connection (which checkpoints the WAL).
 * NULL is a no-op. */
void wharfd_store_close(struct wharfd_store *st);

/* A trivial query for health checks: the recorded schema version. */
int wharfd_store_ping(struct wharfd_store *st, int *schema_version);

/* --- rows going out ------------------------------------------------------ */

enum wharfd_col_type {
    WHARFD_COL_NULL,
    WHARFD_COL_INT,
    WHARFD_COL_REAL,
    WHARFD_COL_TEXT,
    WHARFD_COL_JSON /* text holding a JSON value (metadata, payload) */
};

struct wharfd_col {
    const char *name; /* camelCase API name */
    enum wharfd_col_type type;
    long long i;
    double d;
    const char *s; /* valid during the callback only */
    size_t len;
};

/* fn returns 0 to go on, -1 to stop (the query then returns -1). */
typedef int (*wharfd_row_fn)(void *arg, const struct wharfd_col *cols, int n);

enum wharfd_kind {
    WHARFD_KIND_LOGS,
    WHARFD_KIND_ERRORS,
    WHARFD_KIND_EVENTS,
    WHARFD_KIND_PROCESSES
};

/* A list query. NULL strings and has_* = 0 mean "no such filter". */
struct wharfd_query {
    enum wharfd_kind kind;
    const char *worker;
    const char *container;
    const char *instance;
    const char *since;   /* >= (logs, events: timestamp; errors: last_seen) */
    const char *until;   /* <= */
    const char *levels;  /* logs: ",info,warn," */
    const char *streams; /* logs: ",stdout," */
    const char *type;    /* events */
    const char *status;  /* processes */
    int has_after;       /* logs: sequence > after */
    long long after;
    int has_until_seq; /* logs: sequence <= until_seq */
    long long until_seq;
    int has_after_id; /* logs: id > after_id */
    long long after_id;
    int has_until_id; /* logs: id <= until_id */
    long long until_id;
    int has_min_level, has_max_level; /* errors */
    double min_level, max_level;
    long long limit; /* -1: no limit (streaming) */
    long long offset;
    int asc; /* oldest first */
    int want_total;
};

/* Runs q; fn sees at most q->limit rows. *has_more tells whether more
 * rows follow; *total is the count of all matching rows when
 * q->want_total, else -1. */
int wharfd_store_query(struct wharfd_store *st, const struct wharfd_query *q,
                       wharfd_row_fn fn, void *arg, long long *total,
                       int *has_more);

/* getLastSequence: the highest stored sequence of (worker, instance), 0
 * when none. */
int wharfd_store_last_sequence(struct wharfd_store *st, const char *worker,
                               const char *instance, long long *seq);

/* One process row (fn called once) or nothing (*found = 0). */
int wharfd_store_process_get(struct wharfd_store *st, const char *worker,
                             const char *instance, wharfd_row_fn fn, void *arg,
                             int *found);

/* Aggregates: rows of (key, count) grouped, plus extremes. kind LOGS:
 * fn gets {group:"level"|"stream", key, count} rows then one
 * {group:"range", oldest, newest, total}. kind ERRORS: {group:"level",
 * key (level), occurrences, rows} then {group:"range", ...}. worker and
 * instance may be NULL. */
int wharfd_store_stats(struct wharfd_store *st, enum wharfd_kind kind,
                       const char *worker, const char *instance,
                       wharfd_row_fn fn, void *arg);

/* --- rows going in ------------------------------------------------------- */

#define WHARFD_TS_LEN 24 /* "2026-11-27T09:30:00.123Z" */

struct wharfd_log_in {
    long long sequence;
    char timestamp[WHARFD_TS_LEN + 1];
    const char *level;
    const char *message;
    size_t message_len;
    const char *stream;     /* NULL */
    const char *source;     /* NULL */
    char *metadata;         /* JSON text, malloc'd, or NULL */
    const char *process_id; /* NULL */
    int stored;             /* out: 1 new, 0 a resend */
    long long id;           /* out, SQLite: the row's id when stored */
};

struct wharfd_log_batch {
    const char *worker;
    const char *container;
    const char *instance;
    struct wharfd_log_in *logs;
    size_t n;
    /* out */
    long long stored, duplicates, last_sequence;
    char created_at[32]; /* SQLite: the stored rows' createdAt */
    long long last_id;   /* PostgreSQL: the call's highest id, to wait
                          * for (store_pg.h); 0: none, or settled */
};

/* What a write returns when SQLite found the disk full (SQLITE_FULL):
 * nothing of it is stored, and a retry succeeds once space is back, so the
 * caller says so (wharfd_store_failed) instead of a bare internal error.
 * Any other failure is -1. */
#define WHARFD_STORE_FULL (-2)

int wharfd_store_logs(struct wharfd_store *st, struct wharfd_log_batch *b);

/*
 * One occurrence of an error. sequence is the sequence number of the log
 * line it was seen in (>= 1), 0 when the caller gave none. An occurrence
 * with a sequence is counted once: the row keeps the highest sequence it
 * has counted (last_sequence), and an occurrence whose sequence is not
 * above it is a resend (duplicate = 1) that changes nothing. One without
 * a sequence is counted every time it is sent.
 */
struct wharfd_error_in {
    double level;
    char timestamp[WHARFD_TS_LEN + 1];
    const char *message;
    size_t message_len;
    const char *raw_output; /* NULL */
    const char *process_id; /* NULL */
    char hash[65];
    long long sequence; /* 0: none */
    /* out */
    long long occurrence_count; /* the row's count once this one is applied */
    int stored;                 /* 1: a new row */
    int duplicate;              /* 1: a resend, not counted */
};

struct wharfd_error_batch {
    const char *worker;
    const char *container;
    const char *instance;
    struct wharfd_error_in *errors;
    size_t n;
    const char *now;
};

int wharfd_store_errors(struct wharfd_store *st, struct wharfd_error_batch *b);

struct wharfd_process_in {
    const char *worker, *container, *instance, *process_id;
    const char *command, *cwd, *status, *last_error;
    char *args, *env; /* JSON text or NULL */
    int has_pid, has_exit_code;
    long long pid, exit_code, restart_count;
    const char *start_time, *end_time; /* normalised or NULL */
    const char *now;
};

int wharfd_store_process_upsert(struct wharfd_store *st,
                                const struct wharfd_process_in *p);

struct wharfd_event_in {
    const char *worker, *container, *instance, *process_id, *type;
    char *payload; /* JSON text or NULL */
    char timestamp[WHARFD_TS_LEN + 1];
};

int wharfd_store_event(struct wharfd_store *st,
                       const struct wharfd_event_in *e);

/* Deletes the rows of kind (LOGS or ERRORS) of worker (and instance when
 * not NULL); logs only up to id until_id when it is >= 0; *count receives
 * how many. */
int wharfd_store_clear(struct wharfd_store *st, enum wharfd_kind kind,
                       const char *worker, const char *instance,
                       long long until_id, long long *count);

/*
 * Retention, driven by retention.c one worker at a time. What is to go is
 * found on a reader connection (never in the writer's way); the writer
 * then deletes it in jobs of at most `step` rows, so ingestion waits for
 * at most one small step. Times are ISO text as stored.
 */

/* Whether this wharfd runs retention: always on SQLite (one wharfd per
 * file); on PostgreSQL, the one wharfd that holds an advisory lock (taken
 * here when free, kept until its connection ends), so retention runs once
 * across every wharfd on the database. */
int wharfd_store_retention_lead(struct wharfd_store *st, int *leader);

/*
 * PostgreSQL: drops the partitions of container_logs whose whole day is
 * before `before` (the global age cut-off) and that hold no log of the
 * workers in keep[] (those whose own log age keeps logs longer, or for
 * ever); *dropped receives the rows they held. A no-op on SQLite. Logs
 * of a partition that cannot go yet stay until the per-worker pass
 * (below) deletes them by rows.
 */
int wharfd_store_retain_partitions(struct wharfd_store *st, const char *before,
                                   const char *const *keep, size_t nkeep,
                                   long long *dropped);

/* The first worker name after `after` ("" for the first) that has rows
 * of kind (LOGS or ERRORS), into out; *found = 0 when there is none. */
int wharfd_store_retain_next_worker(struct wharfd_store *st,
                                    enum wharfd_kind kind, const char *after,
                                    char *out, size_t size, int *found);

/* The cut-off of worker's logs: *below receives the id under which every
 * log of the worker is either received (created_at) before logs_before
 * (NULL: no age limit) or beyond its newest max_logs (0: no limit); 0
 * when no log goes. created_at is set at commit and so grows with id: the
 * age cut-off is found by a binary search over the ids, a few index
 * seeks whatever the number of rows. On PostgreSQL the age cut-off is
 * that of whole partitions: logs received before the start of the day
 * (UTC) that holds logs_before, so a log lives between its age and its
 * age plus one day there (docs/wharfd.md, "Retention on PostgreSQL"). */
int wharfd_store_retain_logs_plan(struct wharfd_store *st, const char *worker,
                                  const char *logs_before, long long max_logs,
                                  long long *below);

/* Deletes up to step logs of worker with an id below `below`, oldest
 * first; *deleted says how many (call again while it is step). */
int wharfd_store_retain_logs(struct wharfd_store *st, const char *worker,
                             long long below, long long step,
                             long long *deleted);

/* Deletes up to step errors of worker last seen before `before`. */
int wharfd_store_retain_errors(struct wharfd_store *st, const char *worker,
                               const char *before, long long step,
                               long long *deleted);

/*
 * Called by the writer thread after each commit, once per committed write
 * of kind LOGS (rows: struct wharfd_log_batch *), ERRORS (struct
 * wharfd_error_batch *), PROCESSES (struct wharfd_process_in *) or EVENTS
 * (struct wharfd_event_in *), valid during the call only. It must not
 * block: ingestion waits for it (the live feed, feed.h, only queues).
 * Set once before any write.
 */
typedef void (*wharfd_publish_fn)(void *arg, enum wharfd_kind kind,
                                  const void *rows);
/* Whether the feed has a subscriber now (cheap, any thread): the
 * PostgreSQL engine reads back other wharfds' rows only then. */
typedef int (*wharfd_listening_fn)(void *arg);
void wharfd_store_set_publisher(struct wharfd_store *st, wharfd_publish_fn fn,
                                wharfd_listening_fn listening, void *arg);

/* Groups committed and writes in them, since open. The writer's own
 * counters, for wharfd's /metrics (issue 16: group commits and writes per
 * commit) and for the retention tests, which count writer jobs with it;
 * kept on purpose though nothing in wharfd reads it yet (issue 17). */
void wharfd_store_counters(struct wharfd_store *st, unsigned long long *commits,
                           unsigned long long *jobs);

/* Writes the store's metrics in Prometheus text format to out (an
 * open_memstream; metrics.c writes the rest); labels is the text inside
 * every sample's {} (engine and wharfd). */
void wharfd_store_metrics(struct wharfd_store *st, FILE *out,
                          const char *labels);

/* --- workers (store_workers.c) ------------------------------------------ */

/* A row of workers; strings are NULL for SQL NULL and valid only during
 * the callback. */
struct wharfd_worker_row {
    const char *name;
    const char *container_name;
    const char *agent_version;
    const char *first_seen;
    const char *last_seen;
    const char *status;
};

/* Upserts the worker: first_seen set once, last_seen := now, status
 * "online"; container and agent_version replace the stored ones when not
 * NULL. */
int wharfd_store_worker_heartbeat(struct wharfd_store *st, const char *name,
                                  const char *container,
                                  const char *agent_version, const char *now);

/* Forgets the worker (removeWorker): its row and its processes' rows.
 * *removed is 1 when there was a row. */
int wharfd_store_worker_remove(struct wharfd_store *st, const char *name,
                               int *removed);

/* Calls fn for every worker, by name. fn returns 0 to go on, -1 to stop
 * (the call then returns -1). */
typedef int (*wharfd_worker_fn)(void *arg, const struct wharfd_worker_row *row);
int wharfd_store_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                              void *arg);

#endif
