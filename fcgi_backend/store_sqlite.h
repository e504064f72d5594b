/*
 * Inside the SQLite store: shared by store.c (connection, statements) and
 * the per-table files (store_workers.c, ...). Not for other parts.
 */
#ifndef WHARFD_STORE_SQLITE_H
#define WHARFD_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store.h"

/* Every statement the store runs, prepared once at open (so a typo fails
 * at start, not at first use) and reused. The SQL is in store.c. */
enum wharfd_stmt_id {
    WHARFD_STMT_SCHEMA_VERSION,
    WHARFD_STMT_WORKER_HEARTBEAT,
    WHARFD_STMT_WORKERS_LIST,
    WHARFD_STMT__COUNT
};

/*
 * One connection guarded by one mutex: simple and correct for the walking
 * skeleton. The lock also makes bind/step/reset of a shared statement one
 * step. The store issue replaces this with a writer thread doing group
 * commit and per-thread reader connections (WAL lets them read while it
 * writes); the functions of store.h stay as they are.
 */
struct wharfd_store {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *stmt[WHARFD_STMT__COUNT];
    char *path;                  /* for messages */
};

/* Locks the store and returns the statement, reset and unbound. */
sqlite3_stmt *wharfd_store_begin(struct wharfd_store *st,
                                 enum wharfd_stmt_id id);

/* Resets the statement and unlocks the store. */
void wharfd_store_end(struct wharfd_store *st, sqlite3_stmt *stmt);

/* Logs the connection's last error, naming what was being done. Call
 * with the lock held. */
void wharfd_store_log_error(struct wharfd_store *st, const char *what);

/* Text column, or NULL for SQL NULL. */
const char *wharfd_store_text(sqlite3_stmt *stmt, int col);

#endif
