/*
 * The SQLite engine of the store (design in store.h): shared by store.c
 * (connections, writer thread, reader pool) and the store_*.c files (the
 * SQL of each table).
 */
#ifndef WHARFD_STORE_SQLITE_H
#define WHARFD_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store.h"

/* The writer's statements, prepared once at open (a typo fails at start,
 * not at first use). The SQL is in store.c. */
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

/* A write waiting for the writer thread. It lives on the caller's stack
 * until done is set. */
struct wharfd_job {
    int (*run)(struct wharfd_store *st, void *arg); /* in a SAVEPOINT */
    void *arg;
    int kind; /* enum wharfd_kind to publish, or -1 */
    int rc;
    int done;
    struct wharfd_job *next;
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

struct wharfd_store {
    char *path; /* for messages */

    /* The writer connection: used by the writer thread alone (and by
     * store_open before the thread starts). */
    sqlite3 *wdb;
    sqlite3_stmt *wstmt[WHARFD_W__COUNT];

    pthread_t writer;
    int writer_started;
    pthread_mutex_t lock;           /* guards everything below */
    pthread_cond_t work;            /* the writer waits for jobs */
    pthread_cond_t done;            /* callers wait for their job */
    struct wharfd_job *head, *tail; /* queued jobs */
    int stopping;
    unsigned long long commits, jobs; /* counters, for tests/metrics */

    struct wharfd_reader *free_readers;

    wharfd_publish_fn publish; /* set before the first write */
    void *publish_arg;
};

/* Queues a job and waits until the group holding it is committed. kind:
 * what to publish after the commit (enum wharfd_kind), -1 for nothing. */
int wharfd_store_write(struct wharfd_store *st,
                       int (*run)(struct wharfd_store *st, void *arg),
                       void *arg, int kind);

/* The writer's statement id, reset and unbound (writer thread only). */
sqlite3_stmt *wharfd_store_wstmt(struct wharfd_store *st,
                                 enum wharfd_wstmt_id id);

/* The same without clearing the bindings, for a statement whose every
 * parameter the caller binds on each use (the per-row inserts: clearing
 * twelve bindings per row is wasted work there). */
sqlite3_stmt *wharfd_store_wstmt_all(struct wharfd_store *st,
                                     enum wharfd_wstmt_id id);

/* A reader connection for this thread's use until released. */
struct wharfd_reader *wharfd_store_reader(struct wharfd_store *st);
void wharfd_store_reader_release(struct wharfd_store *st,
                                 struct wharfd_reader *r);

/* The reader's prepared statement for sql (constant text), reset and
 * unbound; NULL on failure (logged). */
sqlite3_stmt *wharfd_reader_stmt(struct wharfd_store *st,
                                 struct wharfd_reader *r, const char *sql);

/* Logs db's last error, naming what was being done. */
void wharfd_store_log_error(struct wharfd_store *st, sqlite3 *db,
                            const char *what);

/* Text column, or NULL for SQL NULL. */
const char *wharfd_store_text(sqlite3_stmt *stmt, int col);

/* Fills cols[0..n) from the current row of stmt; names[i] are the API
 * names, json_cols a bit mask of columns holding JSON text. */
void wharfd_store_row(sqlite3_stmt *stmt, const char *const *names, int n,
                      unsigned json_cols, struct wharfd_col *cols);

#endif
