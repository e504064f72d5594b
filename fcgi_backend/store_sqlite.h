/*
 * The SQLite engine of the store (design in store.h): shared by
 * store_sqlite.c (connections, group commit, reader pool) and the
 * store_sqlite_*.c files (the SQL of each table).
 */
#ifndef WHARFD_STORE_SQLITE_H
#define WHARFD_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store_engine.h"

/* The writer's statements, prepared once at open (a typo fails at start,
 * not at first use). The SQL is in store_sqlite.c. */
enum wharfd_wstmt_id {
    WHARFD_W_BEGIN,
    WHARFD_W_COMMIT,
    WHARFD_W_ROLLBACK,
    WHARFD_W_SAVEPOINT,
    WHARFD_W_RELEASE,
    WHARFD_W_ROLLBACK_TO,
    WHARFD_W_WORKER_HEARTBEAT,
    WHARFD_W_WORKER_REMOVE,
    WHARFD_W_WORKER_PROCESSES_REMOVE,
    WHARFD_W_LOG_INSERT,
    WHARFD_W_LOG_LAST_SEQ,
    WHARFD_W_ERROR_UPSERT,
    WHARFD_W_ERROR_LOOKUP,
    WHARFD_W_PROCESS_UPSERT,
    WHARFD_W_EVENT_INSERT,
    WHARFD_W_CLEAR_LOGS,
    WHARFD_W_CLEAR_LOGS_INSTANCE,
    WHARFD_W_CLEAR_ERRORS,
    WHARFD_W_CLEAR_ERRORS_INSTANCE,
    WHARFD_W_RETAIN_LOGS_BELOW,
    WHARFD_W_RETAIN_ERRORS_BEFORE,
    WHARFD_W__COUNT
};

/* Statements a reader has prepared, by their SQL text. */
#define WHARFD_READER_STMTS 64

struct wharfd_reader {
    sqlite3 *db;
    struct {
        char *sql;
        sqlite3_stmt *stmt;
    } cache[WHARFD_READER_STMTS];
    int ncache;
    struct wharfd_reader *next; /* in the free list */
};

struct wharfd_sqlite {
    struct wharfd_store base; /* first: a store pointer is this one */
    char *path;               /* for messages */
    int lock_fd;              /* PATH-wharfd.lock, flock'd; -1 */

    /* The writer connection: used by the writer thread alone (and by
     * open before the thread starts). Jobs run in a SAVEPOINT each. */
    sqlite3 *wdb;
    sqlite3_stmt *wstmt[WHARFD_W__COUNT];

    pthread_mutex_t readers_lock; /* guards free_readers */
    struct wharfd_reader *free_readers;
};

/* The engine's struct of a store (a SQLite one). */
static inline struct wharfd_sqlite *
wharfd_sqlite_of(struct wharfd_store *st)
{
    return (struct wharfd_sqlite *) st;
}

/* The writer's statement id, reset and unbound (writer thread only). */
sqlite3_stmt *wharfd_store_wstmt(struct wharfd_sqlite *st,
                                 enum wharfd_wstmt_id id);

/* The same without clearing the bindings, for a statement whose every
 * parameter the caller binds on each use (the per-row inserts: clearing
 * twelve bindings per row is wasted work there). */
sqlite3_stmt *wharfd_store_wstmt_all(struct wharfd_sqlite *st,
                                     enum wharfd_wstmt_id id);

/* A reader connection for this thread's use until released. */
struct wharfd_reader *wharfd_store_reader(struct wharfd_sqlite *st);
void wharfd_store_reader_release(struct wharfd_sqlite *st,
                                 struct wharfd_reader *r);

/* The reader's prepared statement for sql (constant text), reset and
 * unbound; NULL on failure (logged). */
sqlite3_stmt *wharfd_reader_stmt(struct wharfd_sqlite *st,
                                 struct wharfd_reader *r, const char *sql);

/* Logs db's last error, naming what was being done. */
void wharfd_store_log_error(struct wharfd_sqlite *st, sqlite3 *db,
                            const char *what);

/* Text column, or NULL for SQL NULL. */
const char *wharfd_store_text(sqlite3_stmt *stmt, int col);

/* The engine's operations, by file (store_sqlite_*.c), for the ops table
 * in store_sqlite.c. */
int wharfd_sqlite_query(struct wharfd_store *st, const struct wharfd_query *q,
                        wharfd_row_fn fn, void *arg, long long *total,
                        int *has_more);
int wharfd_sqlite_last_sequence(struct wharfd_store *st, const char *worker,
                                const char *instance, long long *seq);
int wharfd_sqlite_process_get(struct wharfd_store *st, const char *worker,
                              const char *instance, wharfd_row_fn fn, void *arg,
                              int *found);
int wharfd_sqlite_stats(struct wharfd_store *st, enum wharfd_kind kind,
                        const char *worker, const char *instance,
                        wharfd_row_fn fn, void *arg);
int wharfd_sqlite_logs(struct wharfd_store *st, struct wharfd_log_batch *b);
int wharfd_sqlite_errors(struct wharfd_store *st, struct wharfd_error_batch *b);
int wharfd_sqlite_process_upsert(struct wharfd_store *st,
                                 const struct wharfd_process_in *p);
int wharfd_sqlite_event(struct wharfd_store *st,
                        const struct wharfd_event_in *e);
int wharfd_sqlite_clear(struct wharfd_store *st, enum wharfd_kind kind,
                        const char *worker, const char *instance,
                        long long until_id, long long *count);
int wharfd_sqlite_worker_remove(struct wharfd_store *st, const char *name,
                                int *removed);
int wharfd_sqlite_worker_heartbeat(struct wharfd_store *st, const char *name,
                                   const char *container,
                                   const char *agent_version, const char *now);
int wharfd_sqlite_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                               void *arg);
int wharfd_sqlite_retain_next_worker(struct wharfd_store *st,
                                     enum wharfd_kind kind, const char *after,
                                     char *out, size_t size, int *found);
int wharfd_sqlite_retain_logs_plan(struct wharfd_store *st, const char *worker,
                                   const char *logs_before, long long max_logs,
                                   long long *below);
int wharfd_sqlite_retain_logs(struct wharfd_store *st, const char *worker,
                              long long below, long long step,
                              long long *deleted);
int wharfd_sqlite_retain_errors(struct wharfd_store *st, const char *worker,
                                const char *before, long long step,
                                long long *deleted);

/* Fills cols[0..n) from the current row of stmt; names[i] are the API
 * names, json_cols a bit mask of columns holding JSON text. */
void wharfd_store_row(sqlite3_stmt *stmt, const char *const *names, int n,
                      unsigned json_cols, struct wharfd_col *cols);

#endif
