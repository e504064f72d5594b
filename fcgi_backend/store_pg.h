/*
 * The PostgreSQL engine of the store (store.h, store_engine.h), through
 * libpq. Shared by store_pg.c (connections, the group commit, readers),
 * store_pg_write.c (the writes), store_pg_query.c (the reads),
 * store_pg_retain.c (partitions, retention and its leader),
 * store_pg_listen.c (the live feed across wharfds) and
 * store_pg_migrate.c.
 *
 * Connections, each used by one thread at a time:
 *  - the writer's, in pipeline mode. A group commit is one transaction:
 *    the jobs of other kinds first, each sending its statements and
 *    reading their results after one sync (one round trip per job; the
 *    group's BEGIN travels with the first); then the locks of the
 *    instances it writes and its marker (below), every storeLogs call of
 *    the group (one INSERT ... SELECT FROM unnest() of binary arrays
 *    each, with the exactly-once filter inside it), the NOTIFYs and the
 *    COMMIT, sent together and read after one sync: no lock is held
 *    across a round trip to a wharfd. Nothing of a call's answer is needed
 *    before the COMMIT: the server builds the NOTIFY's ids, and a call's
 *    stored rows are read back, after the COMMIT, only when it was a
 *    resend (store_pg.c, pgw_sql).
 *  - readers: a pool, one per concurrent request, each with its prepared
 *    statements (by SQL text), read-only sessions.
 *  - the listener's (LISTEN wharf_feed), and the retention leader's (it
 *    holds the leader's advisory lock while it lives).
 * A connection that breaks is opened again: the writer's at the next
 * group (a group that failed before its COMMIT was sent is tried once
 * more on the new connection; after, its outcome is unknown and it is
 * answered as failed: the agents resend, and resends are no-ops), a
 * reader's at the next request (a read that failed on a broken
 * connection before any row went out is tried once more).
 *
 * The watermark. Log ids come from one sequence, taken by the writers of
 * every wharfd at once, so they do not follow commit order: a row can
 * commit after a row with a higher id. A reader that pages on from the
 * highest id it saw (afterId, wharfctl's follow, clearLogs untilId after
 * a read) would then miss it. So each writing transaction, before its
 * first id, takes a marker: a shared advisory lock, transaction-level, on
 * the bigint key "last id taken + 1", which is at or below every id it
 * will take; and a reader, before its rows' statement, reads the
 * sequence's last id L, then the markers held (pg_locks), and reads no
 * row above min(L, lowest marker - 1) (wharfd_pg_log_seen). Why that is
 * enough: a transaction that took an id at or below L had its marker
 * before, so the reader sees it unless it has ended, and PostgreSQL
 * releases a transaction's locks only after its commit is visible to new
 * snapshots, which the rows' statement, later, takes; a transaction
 * whose marker the reader missed takes its ids after, above L. A
 * storeLogs call is answered once the watermark covers its rows
 * (wharfd_pg_logs), so read-your-writes holds whichever wharfd serves
 * the read. What holds the watermark back: a transaction in flight, for
 * milliseconds; a writer stopped inside one, until the server ends its
 * session (WHARFD_PG_WRITER_STALL); and another application's bigint
 * advisory locks on the same database, which look like markers (rows
 * then show late, never go missing).
 *
 * Before, ids followed commit order under one lock for the database,
 * held from a group's first id to its commit: every wharfd's writer took
 * turns, and two wharfd could not write faster than one. Exactly-once,
 * which that lock also kept, is now kept per instance (the instance's
 * highest stored sequence is checked under the instance's lock: store_pg.c,
 * pgw_sql). The writers share the old lock (WHARFD_PG_LOCK_LOG_COMMIT), so
 * an older wharfd, which takes it alone, and this one never write logs at
 * once during an upgrade.
 */
#ifndef WHARFD_STORE_PG_H
#define WHARFD_STORE_PG_H

#include <pthread.h>
#include <stdatomic.h>

#include <postgresql/libpq-fe.h>

#include "store_engine.h"

/* Advisory locks: pg_advisory_*lock(WHARFD_PG_LOCKS, key), the first
 * number "whar" in ASCII, so wharf's locks are told from an application's
 * own on a shared database. */
#define WHARFD_PG_LOCKS 2003329394
/* The instances' locks, pg_advisory_xact_lock(WHARFD_PG_LOCKS_INSTANCE,
 * key): an instance's key is a hash of (worker, instance) into
 * WHARFD_PG_INSTANCE_KEYS, so a group takes a bounded number of locks
 * (two instances that share a key only wait for each other). */
#define WHARFD_PG_LOCKS_INSTANCE 2003329395
#define WHARFD_PG_INSTANCE_KEYS  4096
enum wharfd_pg_lock {
    WHARFD_PG_LOCK_MIGRATE = 1,    /* session: while migrations run */
    WHARFD_PG_LOCK_LOG_COMMIT = 2, /* transaction, shared: writing logs */
    WHARFD_PG_LOCK_RETENTION = 3,  /* session: the retention leader */
    WHARFD_PG_LOCK_PARTITIONS = 4  /* transaction: creating partitions */
};

/* The last log id taken from the sequence so far, by anyone (0 when
 * none): the sequence's own row, read as it is now, whatever the reader's
 * snapshot. */
#define WHARFD_PG_LAST_ID_TAKEN            \
    "(SELECT CASE WHEN is_called"          \
    " THEN last_value ELSE last_value - 1" \
    " END FROM container_logs_id_seq)"

/* The markers held now ("The watermark", above), as a table markers(m)
 * for a FROM clause: the keys of the advisory locks on one bigint key
 * (objsubid 1) in this database, from pg_locks; wharf's other locks take
 * two keys. */
#define WHARFD_PG_MARKERS                                      \
    "(SELECT (l.classid::bigint << 32) | l.objid::bigint AS m" \
    " FROM pg_locks l WHERE l.locktype = 'advisory'"           \
    " AND l.objsubid = 1 AND l.database = (SELECT oid FROM"    \
    " pg_database WHERE datname = current_database())) markers"

/* The channel of the live feed across wharfds, and the most a NOTIFY
 * payload carries (PostgreSQL's limit is 8000 bytes). */
#define WHARFD_PG_CHANNEL    "wharf_feed"
#define WHARFD_PG_NOTIFY_MAX 7900
/* How long the server waits on a writer stopped inside a transaction
 * before it ends its session (store_pg.c, pgw_connect). */
#define WHARFD_PG_WRITER_STALL "10s"
/* The readers' lock_timeout: how long a reader waits for a lock, which
 * is for a storeLogs call waiting for the writes below it to end
 * (store_pg_write.c, logs_wait_visible: longer only when something is
 * stuck; the call is then answered all the same, logged) or for a
 * partition's DDL (retention's own lock_timeout is 2 s). */
#define WHARFD_PG_READER_LOCK_WAIT "15s"
/* Log partitions are created this many days ahead of today (UTC). */
#define WHARFD_PG_DAYS_AHEAD 2

/* Type OIDs of the built-in types we bind and read (pg_type.h). */
#define WHARFD_PG_BOOL    16
#define WHARFD_PG_INT8    20
#define WHARFD_PG_INT4    23
#define WHARFD_PG_TEXT    25
#define WHARFD_PG_FLOAT8  701
#define WHARFD_PG_INT4ARR 1007
#define WHARFD_PG_TEXTARR 1009
#define WHARFD_PG_INT8ARR 1016

/* --- parameters ------------------------------------------------------------ */

#define WHARFD_PG_PARAMS 24

/* The parameters of one statement, every one in binary format (text as
 * its bytes, so a value needs no escaping and no terminating NUL). */
struct wharfd_pgp {
    int n;
    Oid types[WHARFD_PG_PARAMS];
    const char *values[WHARFD_PG_PARAMS];
    int lengths[WHARFD_PG_PARAMS];
    int formats[WHARFD_PG_PARAMS];
    char num[WHARFD_PG_PARAMS][8]; /* int8 and float8, big-endian */
};

void wharfd_pgp_reset(struct wharfd_pgp *p);
void wharfd_pgp_text(struct wharfd_pgp *p, const char *s); /* NULL: NULL */
void wharfd_pgp_textn(struct wharfd_pgp *p, const char *s, size_t n);
void wharfd_pgp_int8(struct wharfd_pgp *p, long long v);
void wharfd_pgp_int8_or_null(struct wharfd_pgp *p, int has, long long v);
void wharfd_pgp_float8(struct wharfd_pgp *p, double v);
void wharfd_pgp_bytes(struct wharfd_pgp *p, Oid type, const char *s, size_t n);

/* A one-dimensional array in binary format, built element by element. */
struct wharfd_pgarr {
    char *p;
    size_t len, cap;
    int n, has_null, oom;
    Oid elem;
};

void wharfd_pgarr_start(struct wharfd_pgarr *a, Oid elem);
void wharfd_pgarr_text(struct wharfd_pgarr *a, const char *s, size_t n);
void wharfd_pgarr_null(struct wharfd_pgarr *a);
void wharfd_pgarr_int8(struct wharfd_pgarr *a, long long v);
/* Finishes the header; the array is a->p, a->len bytes (0 on oom). */
void wharfd_pgarr_end(struct wharfd_pgarr *a);
void wharfd_pgarr_free(struct wharfd_pgarr *a);

/* Values of a binary result. */
long long wharfd_pg_int8(const PGresult *r, int row, int col);
double wharfd_pg_float8(const PGresult *r, int row, int col);

/* A message holding NUL bytes, as PostgreSQL text can hold it: each NUL
 * becomes U+FFFD, whose byte offsets go into *nuls as an int[] literal
 * ("{3,17}"). Returns 0 with *out = NULL when msg holds no NUL (stored as
 * it is), -1 when out of memory. Both are malloc'd. */
int wharfd_pg_nul_encode(const char *msg, size_t len, char **out,
                         size_t *out_len, char **nuls);

/* The message back: the replacements at the offsets of the int4[]
 * (binary) nuls become NUL again, into buf (malloc'd, *len bytes). */
int wharfd_pg_nul_decode(const char *text, size_t len, const char *nuls,
                         size_t nuls_len, char **buf, size_t *out_len);

/* --- connections ----------------------------------------------------------- */

#define WHARFD_PG_STMTS 64

/* A connection with its prepared statements (a reader's, the writer's,
 * the leader's). */
struct wharfd_pgconn {
    PGconn *c;
    struct {
        char *sql;
        char name[16];
    } cache[WHARFD_PG_STMTS];
    int ncache;
    unsigned serial;
    struct wharfd_pgconn *next; /* in the free list */
};

/* The writer's statements, prepared at connect, by name = index. */
enum wharfd_pgw_id {
    WHARFD_PGW_LOG_MARK,
    WHARFD_PGW_LOG_INSTANCES,
    WHARFD_PGW_LOG_INSERT,
    WHARFD_PGW_LOG_STORED,
    WHARFD_PGW_LOG_AFTER,
    WHARFD_PGW_LOG_NOTIFY,
    WHARFD_PGW_LOG_LOCK,
    WHARFD_PGW_LOG_SETTLED,
    WHARFD_PGW_ERROR_UPSERT,
    WHARFD_PGW_ERROR_LOOKUP,
    WHARFD_PGW_PROCESS_UPSERT,
    WHARFD_PGW_EVENT_INSERT,
    WHARFD_PGW_HEARTBEAT,
    WHARFD_PGW_WORKER_REMOVE,
    WHARFD_PGW_WORKER_PROCESSES_REMOVE,
    WHARFD_PGW_CLEAR_LOGS,
    WHARFD_PGW_CLEAR_LOGS_INSTANCE,
    WHARFD_PGW_CLEAR_ERRORS,
    WHARFD_PGW_CLEAR_ERRORS_INSTANCE,
    WHARFD_PGW_RETAIN_LOGS,
    WHARFD_PGW_RETAIN_ERRORS,
    WHARFD_PGW_NOTIFY,
    WHARFD_PGW_BEGIN,
    WHARFD_PGW_COMMIT,
    WHARFD_PGW_ROLLBACK,
    WHARFD_PGW__COUNT
};

/* What a job came to (writer thread): its run returns one of these, or
 * WHARFD_STORE_FULL (-2) when the disk is full. */
enum wharfd_pg_outcome {
    WHARFD_PG_OK = 0,
    WHARFD_PG_FAILED = -1, /* a statement of the job failed */
    WHARFD_PG_LOST = -3,   /* the connection broke: the group is lost */
    WHARFD_PG_NOROOM = -4  /* a log row had no partition */
};

/* The rows of one group commit to announce to the other wharfds. */
struct wharfd_pg_news {
    int logs;                          /* a storeLogs call was sent */
    char *errors, *events, *processes; /* " 12 15", " w/i" lists */
    size_t errors_len, events_len, processes_len;
    int oom;
};

struct wharfd_pg {
    struct wharfd_store base; /* first: a store pointer is this one */
    char *url;                /* the --db URL, for libpq */
    char safe[512];           /* the same without its password */
    char origin[17];          /* this wharfd, in its NOTIFY payloads */

    /* writer thread only */
    struct wharfd_pgconn w;
    int w_ready;                  /* connected, statements prepared */
    int w_prelude;                /* results to read before a job's */
    int w_sent;                   /* a job's statements since a flush */
    struct wharfd_pgarr w_arr[9]; /* a log job's columns */
    struct wharfd_pg_news news;

    /* readers */
    pthread_mutex_t readers_lock;

    /* The logs' watermark, read once for every reader waiting on it
     * (store_pg_query.c, wharfd_pg_log_seen): reads number `started`
     * began, `done` ended, the last with `value`. */
    struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned long long started, done;
        long long value;
    } seen;
    struct wharfd_pgconn *free_readers;

    /* the retention leader's connection (retention thread) */
    pthread_mutex_t lead_lock;
    struct wharfd_pgconn *lead;
    int lead_holds; /* it holds the leader's advisory lock */

    /* the listener thread (store_pg_listen.c) */
    pthread_t listener;
    int listener_started;
    int wake[2]; /* a pipe: a byte wakes the listener (to stop) */
    atomic_int stop;
};

static inline struct wharfd_pg *
wharfd_pg_of(struct wharfd_store *st)
{
    return (struct wharfd_pg *) st;
}

/* Opens a connection to st's database (readonly: a reader's session).
 * NULL on failure (logged). */
struct wharfd_pgconn *wharfd_pg_connect(struct wharfd_pg *st, int readonly);
void wharfd_pg_disconnect(struct wharfd_pgconn *c);

/* A reader connection for this thread's use until released; release
 * with broken = 1 closes it instead of keeping it. */
struct wharfd_pgconn *wharfd_pg_reader(struct wharfd_pg *st);
void wharfd_pg_reader_release(struct wharfd_pg *st, struct wharfd_pgconn *c);

/* Runs sql (constant text, prepared once per connection) with p on c
 * (not in pipeline mode); binary results. NULL on failure (logged; the
 * result is cleared). */
PGresult *wharfd_pg_exec(struct wharfd_pg *st, struct wharfd_pgconn *c,
                         const char *sql, const struct wharfd_pgp *p,
                         ExecStatusType want);

/* The same, unprepared, for statements that run once (DDL, SET). */
int wharfd_pg_simple(struct wharfd_pg *st, PGconn *c, const char *sql);

/* Logs a failed result or connection, naming what was being done. */
void wharfd_pg_log_error(struct wharfd_pg *st, PGconn *c, const PGresult *r,
                         const char *what);

/* Whether a read failed because its connection broke (worth one retry
 * on a fresh one). */
int wharfd_pg_broken(const struct wharfd_pgconn *c);

/* --- the writer (store_pg.c) ---------------------------------------------------- */

/* Sends writer statement id with p (pipeline mode, no sync); its
 * result is read by the next wharfd_pgw_flush. */
void wharfd_pgw_send(struct wharfd_pg *st, enum wharfd_pgw_id id,
                     const struct wharfd_pgp *p);

/* Sends a sync and reads: the prelude's results (the group's BEGIN, the
 * log lock), then one result per statement sent since the last flush
 * into res[] (the caller checks and PQclears each; at most
 * WHARFD_PG_FLUSH_MAX), then the sync. WHARFD_PG_OK, or WHARFD_PG_LOST
 * (the connection broke, or the prelude failed: the group is lost; res
 * then holds nothing). */
#define WHARFD_PG_FLUSH_MAX 256
int wharfd_pgw_flush(struct wharfd_pg *st, PGresult **res);

/* The same in three steps, for a caller that reads its results one by
 * one: wharfd_pgw_sync sends the sync and reads the prelude's results
 * (OK or LOST), wharfd_pgw_next gives the next result (NULL when the
 * connection broke), wharfd_pgw_synced reads the sync's (OK or LOST). */
int wharfd_pgw_sync(struct wharfd_pg *st);
PGresult *wharfd_pgw_next(struct wharfd_pg *st);
int wharfd_pgw_synced(struct wharfd_pg *st);

/* store_pg_query.c: the logs' watermark, read on c: every log id at or
 * below it is committed or will never be (store_pg.h, "The watermark");
 * -1 when the read failed. */
long long wharfd_pg_log_seen(struct wharfd_pg *st, struct wharfd_pgconn *c);

/* store_pg_write.c: a storeLogs call, in two halves. The job's run
 * sends its statements (OK, or FAILED when out of memory, then nothing
 * was sent); the writer reads their results later, after the sync of the
 * group's pipeline, with wharfd_pg_logs_read (the batch's counts set;
 * OK, FAILED, NOROOM, WHARFD_STORE_FULL or LOST). Which rows it stored is
 * set too, unless it stored fewer than it sent (a resend): then *span
 * says where its ids are, and after the COMMIT the writer sends
 * wharfd_pg_logs_stored_send and reads wharfd_pg_logs_stored_read (NULL:
 * the answer was lost, no row is marked), which returns how many rows it
 * marked: the insert's count, b->stored, unless something is amiss. */
struct wharfd_pg_logspan {
    long long lo, hi; /* the call's ids are in (lo, hi] */
    int read_back;    /* its stored rows are to be read back */
};
int wharfd_pg_logs_send(struct wharfd_store *st, void *arg);
int wharfd_pg_logs_read(struct wharfd_pg *st, struct wharfd_log_batch *b,
                        struct wharfd_pg_logspan *span);
void wharfd_pg_logs_stored_send(struct wharfd_pg *st,
                                const struct wharfd_log_batch *b,
                                const struct wharfd_pg_logspan *span);
long long wharfd_pg_logs_stored_read(struct wharfd_log_batch *b,
                                     const PGresult *r);

/* The outcome of one result: OK when its status is want, else FAILED
 * (logged; NOROOM when a row found no partition, and WHARFD_STORE_FULL
 * when the disk is full). */
int wharfd_pgw_check(struct wharfd_pg *st, const PGresult *r,
                     ExecStatusType want, const char *what);

/* PQclears res[0..n). */
void wharfd_pg_clear_all(PGresult **res, int n);

/* Adds an id or a name to the news of the group (store_pg_listen.c
 * announces them at the commit). */
void wharfd_pg_news_add(struct wharfd_pg *st, char **list, size_t *len,
                        const char *item);

/* --- per file ------------------------------------------------------------------ */

/* store_pg_migrate.c: brings the database to the newest version, under
 * the migration lock (session), on c. */
int wharfd_pg_migrate(struct wharfd_pg *st, PGconn *c, int *applied);

/* store_pg_retain.c: creates the log partitions of today (the
 * database's clock, UTC) and WHARFD_PG_DAYS_AHEAD days ahead that are
 * missing (one wharfd at a time). -1 only when today's is missing and
 * could not be made. */
int wharfd_pg_partitions_ensure(struct wharfd_pg *st, PGconn *c);

/* store_pg_listen.c */
int wharfd_pg_listen_start(struct wharfd_pg *st);
void wharfd_pg_listen_stop(struct wharfd_pg *st);
/* Sends the NOTIFY statements of the group's news (writer, before the
 * COMMIT, no sync); how many. */
int wharfd_pg_news_send(struct wharfd_pg *st);
void wharfd_pg_news_reset(struct wharfd_pg *st);

/* The operations, by file. */
int wharfd_pg_query(struct wharfd_store *st, const struct wharfd_query *q,
                    wharfd_row_fn fn, void *arg, long long *total,
                    int *has_more);
int wharfd_pg_last_sequence(struct wharfd_store *st, const char *worker,
                            const char *instance, long long *seq);
int wharfd_pg_process_get(struct wharfd_store *st, const char *worker,
                          const char *instance, wharfd_row_fn fn, void *arg,
                          int *found);
int wharfd_pg_stats(struct wharfd_store *st, enum wharfd_kind kind,
                    const char *worker, const char *instance, wharfd_row_fn fn,
                    void *arg);
int wharfd_pg_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                           void *arg);
int wharfd_pg_logs(struct wharfd_store *st, struct wharfd_log_batch *b);
int wharfd_pg_errors(struct wharfd_store *st, struct wharfd_error_batch *b);
int wharfd_pg_process_upsert(struct wharfd_store *st,
                             const struct wharfd_process_in *p);
int wharfd_pg_event(struct wharfd_store *st, const struct wharfd_event_in *e);
int wharfd_pg_worker_remove(struct wharfd_store *st, const char *name,
                            int *removed);
int wharfd_pg_worker_heartbeat(struct wharfd_store *st, const char *name,
                               const char *container, const char *agent_version,
                               const char *now);
int wharfd_pg_clear(struct wharfd_store *st, enum wharfd_kind kind,
                    const char *worker, const char *instance,
                    long long until_id, long long *count);
int wharfd_pg_retention_lead(struct wharfd_store *st, int *leader);
int wharfd_pg_retain_partitions(struct wharfd_store *st, const char *before,
                                const char *const *keep, size_t nkeep,
                                long long *dropped);
int wharfd_pg_retain_next_worker(struct wharfd_store *st, enum wharfd_kind kind,
                                 const char *after, char *out, size_t size,
                                 int *found);
int wharfd_pg_retain_logs_plan(struct wharfd_store *st, const char *worker,
                               const char *logs_before, long long max_logs,
                               long long *below);
int wharfd_pg_retain_logs(struct wharfd_store *st, const char *worker,
                          long long below, long long step, long long *deleted);
int wharfd_pg_retain_errors(struct wharfd_store *st, const char *worker,
                            const char *before, long long step,
                            long long *deleted);

/* Rows read back (store_pg_query.c): fills cols from row of r, whose
 * columns are names[0..n) plus, when nuls_col >= 0, message_nuls at
 * nuls_col (after the message at nuls_col - 1), which decodes the message
 * into *buf (freed by the caller). */
void wharfd_pg_row(const PGresult *r, int row, const char *const *names, int n,
                   unsigned json_cols, int nuls_col, struct wharfd_col *cols,
                   char **buf);

#endif
