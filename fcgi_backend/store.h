/*
 * The store: every read and write of monitoring data goes through these
 * functions, so the engine behind them can change (SQLite now; PostgreSQL
 * for several orchestrators later) without touching methods or routes.
 * Rows come back through callbacks with plain C strings; the store knows
 * no JSON.
 *
 * All functions may be called from any thread. They return 0 on success
 * and -1 on failure, which they have logged.
 */
#ifndef WHARFD_STORE_H
#define WHARFD_STORE_H

struct wharfd_store;

/* Opens (creating if needed) the database at path and applies pending
 * migrations. Refuses a database newer than this binary. */
int wharfd_store_open(struct wharfd_store **out, const char *path);

/* Finalizes statements and closes the database (which checkpoints the
 * WAL). NULL is a no-op. */
void wharfd_store_close(struct wharfd_store *st);

/* A trivial query for health checks: the recorded schema version. */
int wharfd_store_ping(struct wharfd_store *st, int *schema_version);

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

/* Calls fn for every worker, by name. fn returns 0 to go on, -1 to stop
 * (the call then returns -1). */
typedef int (*wharfd_worker_fn)(void *arg, const struct wharfd_worker_row *row);
int wharfd_store_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                              void *arg);

#endif
