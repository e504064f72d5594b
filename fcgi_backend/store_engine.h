/*
 * What every engine of the store shares (store.h is the interface the
 * rest of wharfd sees): the operations an engine provides, the part of
 * the store struct that is the same for each, and the writer queue with
 * group commit.
 *
 * An engine is a struct of operations (struct wharfd_store_ops) and a
 * struct of its own that begins with struct wharfd_store, so a pointer to
 * one is a pointer to the other. wharfd_store_open picks the engine by
 * the --db value: a postgresql:// or postgres:// URL is PostgreSQL
 * (store_pg*.c), anything else the path of a SQLite file (store_sqlite*.c).
 *
 * The writer queue (store.c) is the engines' own: a write call queues a
 * job and waits; the one writer thread takes every queued job as one
 * group, hands it to the engine's run_group, which runs them in one
 * transaction and commits; then the writer publishes what was committed
 * to the live feed, counts it for /api/monitoring/metrics and wakes the
 * callers.
 */
#ifndef WHARFD_STORE_ENGINE_H
#define WHARFD_STORE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "store.h"

/* A write waiting for the writer thread. It lives on the caller's stack
 * until done is set. run is the engine's: it gets the store (the engine's
 * struct, whose first member is struct wharfd_store) and arg. */
struct wharfd_job {
    int (*run)(struct wharfd_store *st, void *arg);
    void *arg;
    int kind; /* enum wharfd_kind to publish, or -1 */
    int rc;
    int done;
    struct wharfd_job *next;
};

struct wharfd_store_ops {
    const char *name; /* "sqlite", "postgresql": the metrics' engine label */

    /* Runs the jobs of group (linked by next) in one transaction and
     * commits; sets each job's rc (0, -1, WHARFD_STORE_FULL). A job whose
     * rc is 0 when it returns is committed. Writer thread only. */
    void (*run_group)(struct wharfd_store *st, struct wharfd_job *group);
    /* Stops what the engine runs beside the writer (the writer itself is
     * stopped by store.c first), closes everything, frees st. */
    void (*close)(struct wharfd_store *st);

    int (*ping)(struct wharfd_store *st, int *schema_version);
    int (*query)(struct wharfd_store *st, const struct wharfd_query *q,
                 wharfd_row_fn fn, void *arg, long long *total, int *has_more);
    int (*last_sequence)(struct wharfd_store *st, const char *worker,
                         const char *instance, long long *seq);
    int (*process_get)(struct wharfd_store *st, const char *worker,
                       const char *instance, wharfd_row_fn fn, void *arg,
                       int *found);
    int (*stats)(struct wharfd_store *st, enum wharfd_kind kind,
                 const char *worker, const char *instance, wharfd_row_fn fn,
                 void *arg);
    int (*workers_each)(struct wharfd_store *st, wharfd_worker_fn fn,
                        void *arg);

    /* Writes: each queues one job (wharfd_store_write) and returns its
     * rc. */
    int (*logs)(struct wharfd_store *st, struct wharfd_log_batch *b);
    int (*errors)(struct wharfd_store *st, struct wharfd_error_batch *b);
    int (*process_upsert)(struct wharfd_store *st,
                          const struct wharfd_process_in *p);
    int (*event)(struct wharfd_store *st, const struct wharfd_event_in *e);
    int (*worker_heartbeat)(struct wharfd_store *st, const char *name,
                            const char *container, const char *agent_version,
                            const char *now);
    int (*worker_remove)(struct wharfd_store *st, const char *name,
                         int *removed);
    int (*clear)(struct wharfd_store *st, enum wharfd_kind kind,
                 const char *worker, const char *instance, long long until_id,
                 long long *count);

    /* Retention (store.h). */
    int (*retention_lead)(struct wharfd_store *st, int *leader);
    int (*retain_partitions)(struct wharfd_store *st, const char *before,
                             const char *const *keep, size_t nkeep,
                             long long *dropped);
    int (*retain_next_worker)(struct wharfd_store *st, enum wharfd_kind kind,
                              const char *after, char *out, size_t size,
                              int *found);
    int (*retain_logs_plan)(struct wharfd_store *st, const char *worker,
                            const char *logs_before, long long max_logs,
                            long long *below);
    int (*retain_logs)(struct wharfd_store *st, const char *worker,
                       long long below, long long step, long long *deleted);
    int (*retain_errors)(struct wharfd_store *st, const char *worker,
                         const char *before, long long step,
                         long long *deleted);
};

/* Upper bounds of the commit latency histogram, in seconds. */
#define WHARFD_COMMIT_BUCKETS 14
extern const double wharfd_commit_bucket_le[WHARFD_COMMIT_BUCKETS];

struct wharfd_store {
    const struct wharfd_store_ops *ops;

    pthread_t writer;
    int writer_started;
    pthread_mutex_t lock;           /* guards the queue and publisher */
    pthread_cond_t work;            /* the writer waits for jobs */
    pthread_cond_t done;            /* callers wait for their job */
    struct wharfd_job *head, *tail; /* queued jobs */
    long long queued;               /* jobs in the queue */
    int stopping;
    unsigned long long commits, jobs; /* counters, for tests/metrics */

    wharfd_publish_fn publish; /* set before the first write */
    wharfd_listening_fn listening;
    void *publish_arg;

    /* For /api/monitoring/metrics; atomics, so reading them takes no
     * lock the writer holds. */
    struct {
        atomic_ullong rows[4], duplicates[4], batches[4]; /* by kind */
        atomic_ullong failed_jobs;
        atomic_ullong commit_bucket[WHARFD_COMMIT_BUCKETS + 1]; /* +Inf */
        atomic_ullong commit_ns;                                /* sum */
        atomic_ullong retention_rows[2]; /* logs, errors */
        atomic_ullong retention_partitions;
        atomic_ullong remote_rows; /* other wharfds' rows, to the feed */
        atomic_ullong reconnects;
        atomic_int retention_leader;
    } m;
};

/* Sets up the common part (before the engine fills its own). */
void wharfd_store_base_init(struct wharfd_store *st,
                            const struct wharfd_store_ops *ops);
void wharfd_store_base_destroy(struct wharfd_store *st);

/* Starts the writer thread (the engine's connections are ready). */
int wharfd_store_start_writer(struct wharfd_store *st);

/* Queues a job and waits until the group holding it is committed. kind:
 * what to publish after the commit (enum wharfd_kind), -1 for nothing. */
int wharfd_store_write(struct wharfd_store *st,
                       int (*run)(struct wharfd_store *st, void *arg),
                       void *arg, int kind);

/* Hands rows that another wharfd committed to this one's live feed (the
 * PostgreSQL engine's listener): the same publisher the writer calls. */
void wharfd_store_publish_remote(struct wharfd_store *st, enum wharfd_kind kind,
                                 const void *rows, size_t nrows);

/* Whether anyone subscribes to the live feed now (a read-back of other
 * wharfds' rows is wasted otherwise). */
int wharfd_store_feed_listening(struct wharfd_store *st);

/* Engines. */
extern const struct wharfd_store_ops wharfd_sqlite_ops;
int wharfd_sqlite_open(struct wharfd_store **out, const char *path);

extern const struct wharfd_store_ops wharfd_pg_ops;
int wharfd_pg_open(struct wharfd_store **out, const char *url);

#endif
