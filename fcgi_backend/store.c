/*
 * The store's front (store.h): the engine chosen by the --db value, the
 * writer thread with group commit that both engines share, the live
 * feed's publisher, and the store's metrics. Everything else is the
 * engine's (store_engine.h).
 */
#include "store_engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Commit latency buckets (seconds): a group commit on SQLite takes from
 * ~50 us (a few rows, WAL in the page cache) to tens of ms (10,000 rows);
 * on PostgreSQL the commit's WAL flush adds ~1 ms on a disk, more on a
 * network volume. */
const double wharfd_commit_bucket_le[WHARFD_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
};

int
wharfd_store_target_is_pg(const char *target)
{
    return strncmp(target, "postgresql://", 13) == 0
        || strncmp(target, "postgres://", 11) == 0;
}

const char *
wharfd_store_target_safe(const char *target, char *buf, size_t size)
{
    const char *scheme, *at, *colon, *slash;

    if (!wharfd_store_target_is_pg(target)) {
        return target;
    }
    /* postgresql://user:password@host/db?...: the userinfo ends at the
     * last '@' before the path. */
    scheme = strstr(target, "://") + 3;
    slash = strchr(scheme, '/');
    at = NULL;
    for (const char *p = scheme; *p && (slash == NULL || p < slash); p++) {
        if (*p == '@') {
            at = p;
        }
    }
    colon = at ? memchr(scheme, ':', (size_t) (at - scheme)) : NULL;
    if (colon == NULL) {
        snprintf(buf, size, "%s", target);
    } else {
        snprintf(buf, size, "%.*s***%s", (int) (colon + 1 - target), target,
                 at);
    }
    /* a password= parameter in the query string goes too */
    {
        char *pw = strstr(buf, "password=");

        if (pw != NULL && (pw[-1] == '?' || pw[-1] == '&')) {
            char *end = strchr(pw, '&');
            char rest[256] = "";

            if (end != NULL) {
                snprintf(rest, sizeof(rest), "%s", end);
            }
            snprintf(pw + 9, size - (size_t) (pw + 9 - buf), "***%s", rest);
        }
    }
    return buf;
}

int
wharfd_store_open(struct wharfd_store **out, const char *target)
{
    *out = NULL;
    if (wharfd_store_target_is_pg(target)) {
        return wharfd_pg_open(out, target);
    }
    return wharfd_sqlite_open(out, target);
}

const char *
wharfd_store_engine(const struct wharfd_store *st)
{
    return st->ops->name;
}

/* --- writer thread --------------------------------------------------------- */

void
wharfd_store_base_init(struct wharfd_store *st,
                       const struct wharfd_store_ops *ops)
{
    st->ops = ops;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->work, NULL);
    pthread_cond_init(&st->done, NULL);
}

void
wharfd_store_base_destroy(struct wharfd_store *st)
{
    pthread_cond_destroy(&st->done);
    pthread_cond_destroy(&st->work);
    pthread_mutex_destroy(&st->lock);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double) (t1.tv_sec - t0->tv_sec)
        + (double) (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
observe_commit(struct wharfd_store *st, double secs)
{
    int b;

    for (b = 0; b < WHARFD_COMMIT_BUCKETS; b++) {
        if (secs <= wharfd_commit_bucket_le[b]) {
            break;
        }
    }
    atomic_fetch_add(&st->m.commit_bucket[b], 1);
    atomic_fetch_add(&st->m.commit_ns, (unsigned long long) (secs * 1e9));
}

/* Counts a committed job's rows for the metrics. */
static void
count_job(struct wharfd_store *st, const struct wharfd_job *j)
{
    unsigned long long rows = 0, dups = 0;
    size_t i;

    switch (j->kind) {
    case WHARFD_KIND_LOGS: {
        const struct wharfd_log_batch *b = j->arg;

        rows = (unsigned long long) b->stored;
        dups = (unsigned long long) b->duplicates;
        break;
    }
    case WHARFD_KIND_ERRORS: {
        const struct wharfd_error_batch *b = j->arg;

        for (i = 0; i < b->n; i++) {
            if (b->errors[i].duplicate) {
                dups++;
            } else {
                rows++;
            }
        }
        break;
    }
    case WHARFD_KIND_PROCESSES:
    case WHARFD_KIND_EVENTS:
        rows = 1;
        break;
    default:
        return;
    }
    atomic_fetch_add(&st->m.rows[j->kind], rows);
    atomic_fetch_add(&st->m.duplicates[j->kind], dups);
    atomic_fetch_add(&st->m.batches[j->kind], 1);
}

static void *
store_writer(void *arg)
{
    struct wharfd_store *st = arg;
    struct wharfd_job *group, *j, *next;
    wharfd_publish_fn publish;
    void *publish_arg;
    struct timespec t0;
    unsigned long long n;

    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (st->head == NULL && !st->stopping) {
            pthread_cond_wait(&st->work, &st->lock);
        }
        if (st->head == NULL) {
            break; /* stopping, and nothing is left */
        }
        /* Every job queued so far is one group: the longer the previous
         * commit took, the more requests share this one. */
        group = st->head;
        st->head = st->tail = NULL;
        st->queued = 0;
        publish = st->publish;
        publish_arg = st->publish_arg;
        pthread_mutex_unlock(&st->lock);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        st->ops->run_group(st, group);
        observe_commit(st, seconds_since(&t0));

        /* Committed (rc 0): now the live feed may see the rows. */
        for (j = group; j != NULL; j = j->next) {
            if (j->rc == 0) {
                count_job(st, j);
                if (publish != NULL && j->kind >= 0) {
                    publish(publish_arg, (enum wharfd_kind) j->kind, j->arg);
                }
            } else {
                atomic_fetch_add(&st->m.failed_jobs, 1);
            }
        }

        pthread_mutex_lock(&st->lock);
        for (n = 0, j = group; j != NULL; j = next, n++) {
            next = j->next;
            j->done = 1; /* j may be gone once the lock is released */
        }
        st->commits++;
        st->jobs += n;
        pthread_cond_broadcast(&st->done);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

int
wharfd_store_start_writer(struct wharfd_store *st)
{
    if (pthread_create(&st->writer, NULL, store_writer, st) != 0) {
        wharf_error("database: cannot start the writer thread");
        return -1;
    }
    /* thread names show in top -H, ps -L and /proc/PID/task/TID/comm */
    pthread_setname_np(st->writer, "wharfd-writer");
    st->writer_started = 1;
    return 0;
}

int
wharfd_store_write(struct wharfd_store *st,
                   int (*run)(struct wharfd_store *st, void *arg), void *arg,
                   int kind)
{
    struct wharfd_job job = { run, arg, kind, -1, 0, NULL };

    pthread_mutex_lock(&st->lock);
    if (st->stopping) {
        pthread_mutex_unlock(&st->lock);
        return -1;
    }
    if (st->tail != NULL) {
        st->tail->next = &job;
    } else {
        st->head = &job;
    }
    st->tail = &job;
    st->queued++;
    pthread_cond_signal(&st->work);
    while (!job.done) {
        pthread_cond_wait(&st->done, &st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return job.rc;
}

void
wharfd_store_close(struct wharfd_store *st)
{
    if (st == NULL) {
        return;
    }
    if (st->writer_started) {
        pthread_mutex_lock(&st->lock);
        st->stopping = 1;
        pthread_cond_signal(&st->work);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->writer, NULL);
        st->writer_started = 0;
    }
    st->ops->close(st);
}

/* --- the live feed ----------------------------------------------------------- */

void
wharfd_store_set_publisher(struct wharfd_store *st, wharfd_publish_fn fn,
                           wharfd_listening_fn listening, void *arg)
{
    pthread_mutex_lock(&st->lock);
    st->publish = fn;
    st->listening = listening;
    st->publish_arg = arg;
    pthread_mutex_unlock(&st->lock);
}

int
wharfd_store_feed_listening(struct wharfd_store *st)
{
    wharfd_listening_fn listening;
    void *arg;

    pthread_mutex_lock(&st->lock);
    listening = st->publish ? st->listening : NULL;
    arg = st->publish_arg;
    pthread_mutex_unlock(&st->lock);
    return listening != NULL && listening(arg);
}

void
wharfd_store_publish_remote(struct wharfd_store *st, enum wharfd_kind kind,
                            const void *rows, size_t nrows)
{
    wharfd_publish_fn publish;
    void *arg;

    pthread_mutex_lock(&st->lock);
    publish = st->publish;
    arg = st->publish_arg;
    pthread_mutex_unlock(&st->lock);
    atomic_fetch_add(&st->m.remote_rows, nrows);
    if (publish != NULL) {
        publish(arg, kind, rows);
    }
}

void
wharfd_store_counters(struct wharfd_store *st, unsigned long long *commits,
                      unsigned long long *jobs)
{
    pthread_mutex_lock(&st->lock);
    *commits = st->commits;
    *jobs = st->jobs;
    pthread_mutex_unlock(&st->lock);
}

/* --- metrics ------------------------------------------------------------------- */

void
wharfd_store_metrics(struct wharfd_store *st, FILE *out, const char *labels)
{
    static const char *const kinds[4] = { "log", "error", "event", "process" };
    static const int order[4] = { WHARFD_KIND_LOGS, WHARFD_KIND_ERRORS,
                                  WHARFD_KIND_EVENTS, WHARFD_KIND_PROCESSES };
    unsigned long long commits, jobs, cum = 0;
    long long queued;
    int i;

    pthread_mutex_lock(&st->lock);
    queued = st->queued;
    commits = st->commits;
    jobs = st->jobs;
    pthread_mutex_unlock(&st->lock);

    fputs("# HELP wharfd_ingested_rows_total Rows committed by this wharfd: "
          "new log lines, counted error occurrences, events, process "
          "rows.\n# TYPE wharfd_ingested_rows_total counter\n",
          out);
    for (i = 0; i < 4; i++) {
        fprintf(out, "wharfd_ingested_rows_total{%s,kind=\"%s\"} %llu\n",
                labels, kinds[i], atomic_load(&st->m.rows[order[i]]));
    }
    fputs("# HELP wharfd_ingested_duplicates_total Resent log lines and "
          "error occurrences that changed nothing.\n"
          "# TYPE wharfd_ingested_duplicates_total counter\n",
          out);
    for (i = 0; i < 2; i++) {
        fprintf(out, "wharfd_ingested_duplicates_total{%s,kind=\"%s\"} %llu\n",
                labels, kinds[i], atomic_load(&st->m.duplicates[order[i]]));
    }
    fputs("# HELP wharfd_ingested_batches_total Write calls committed "
          "(a storeLogs call is one batch).\n"
          "# TYPE wharfd_ingested_batches_total counter\n",
          out);
    for (i = 0; i < 4; i++) {
        fprintf(out, "wharfd_ingested_batches_total{%s,kind=\"%s\"} %llu\n",
                labels, kinds[i], atomic_load(&st->m.batches[order[i]]));
    }
    fprintf(out,
            "# HELP wharfd_write_failures_total Write calls answered with "
            "an error by the store.\n"
            "# TYPE wharfd_write_failures_total counter\n"
            "wharfd_write_failures_total{%s} %llu\n"
            "# HELP wharfd_writer_jobs_total Write calls the writer has "
            "run (committed or not).\n"
            "# TYPE wharfd_writer_jobs_total counter\n"
            "wharfd_writer_jobs_total{%s} %llu\n"
            "# HELP wharfd_writer_queue_depth Write calls waiting for the "
            "writer's next group.\n"
            "# TYPE wharfd_writer_queue_depth gauge\n"
            "wharfd_writer_queue_depth{%s} %lld\n",
            labels, atomic_load(&st->m.failed_jobs), labels, jobs, labels,
            queued);

    fputs("# HELP wharfd_commit_duration_seconds Time of one group commit: "
          "every write of the group run in one transaction, and the "
          "commit.\n# TYPE wharfd_commit_duration_seconds histogram\n",
          out);
    for (i = 0; i < WHARFD_COMMIT_BUCKETS; i++) {
        cum += atomic_load(&st->m.commit_bucket[i]);
        fprintf(out,
                "wharfd_commit_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                labels, wharfd_commit_bucket_le[i], cum);
    }
    cum += atomic_load(&st->m.commit_bucket[WHARFD_COMMIT_BUCKETS]);
    /* _count is what the buckets hold: a group observed between reading
     * the counters above and the buckets is in neither or both. */
    fprintf(out,
            "wharfd_commit_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n"
            "wharfd_commit_duration_seconds_sum{%s} %.9f\n"
            "wharfd_commit_duration_seconds_count{%s} %llu\n",
            labels, cum, labels, (double) atomic_load(&st->m.commit_ns) / 1e9,
            labels, cum);
    (void) commits;

    fprintf(out,
            "# HELP wharfd_retention_deleted_rows_total Rows deleted by "
            "retention (logs in dropped partitions included).\n"
            "# TYPE wharfd_retention_deleted_rows_total counter\n"
            "wharfd_retention_deleted_rows_total{%s,kind=\"log\"} %llu\n"
            "wharfd_retention_deleted_rows_total{%s,kind=\"error\"} %llu\n"
            "# HELP wharfd_retention_dropped_partitions_total Log partitions "
            "dropped by retention (PostgreSQL).\n"
            "# TYPE wharfd_retention_dropped_partitions_total counter\n"
            "wharfd_retention_dropped_partitions_total{%s} %llu\n"
            "# HELP wharfd_retention_leader 1 when this wharfd runs "
            "retention (PostgreSQL: the holder of the advisory lock).\n"
            "# TYPE wharfd_retention_leader gauge\n"
            "wharfd_retention_leader{%s} %d\n"
            "# HELP wharfd_feed_remote_rows_total Rows committed by other "
            "wharfd, read back for this one's live feed (PostgreSQL).\n"
            "# TYPE wharfd_feed_remote_rows_total counter\n"
            "wharfd_feed_remote_rows_total{%s} %llu\n"
            "# HELP wharfd_database_reconnects_total Connections to the "
            "database opened again after one was lost.\n"
            "# TYPE wharfd_database_reconnects_total counter\n"
            "wharfd_database_reconnects_total{%s} %llu\n",
            labels, atomic_load(&st->m.retention_rows[0]), labels,
            atomic_load(&st->m.retention_rows[1]), labels,
            atomic_load(&st->m.retention_partitions), labels,
            atomic_load(&st->m.retention_leader), labels,
            atomic_load(&st->m.remote_rows), labels,
            atomic_load(&st->m.reconnects));
}

/* --- dispatch ------------------------------------------------------------------ */

int
wharfd_store_ping(struct wharfd_store *st, int *schema_version)
{
    return st->ops->ping(st, schema_version);
}

int
wharfd_store_query(struct wharfd_store *st, const struct wharfd_query *q,
                   wharfd_row_fn fn, void *arg, long long *total, int *has_more)
{
    return st->ops->query(st, q, fn, arg, total, has_more);
}

int
wharfd_store_last_sequence(struct wharfd_store *st, const char *worker,
                           const char *instance, long long *seq)
{
    return st->ops->last_sequence(st, worker, instance, seq);
}

int
wharfd_store_process_get(struct wharfd_store *st, const char *worker,
                         const char *instance, wharfd_row_fn fn, void *arg,
                         int *found)
{
    return st->ops->process_get(st, worker, instance, fn, arg, found);
}

int
wharfd_store_stats(struct wharfd_store *st, enum wharfd_kind kind,
                   const char *worker, const char *instance, wharfd_row_fn fn,
                   void *arg)
{
    return st->ops->stats(st, kind, worker, instance, fn, arg);
}

int
wharfd_store_logs(struct wharfd_store *st, struct wharfd_log_batch *b)
{
    return st->ops->logs(st, b);
}

int
wharfd_store_errors(struct wharfd_store *st, struct wharfd_error_batch *b)
{
    return st->ops->errors(st, b);
}

int
wharfd_store_process_upsert(struct wharfd_store *st,
                            const struct wharfd_process_in *p)
{
    return st->ops->process_upsert(st, p);
}

int
wharfd_store_event(struct wharfd_store *st, const struct wharfd_event_in *e)
{
    return st->ops->event(st, e);
}

int
wharfd_store_clear(struct wharfd_store *st, enum wharfd_kind kind,
                   const char *worker, const char *instance, long long until_id,
                   long long *count)
{
    return st->ops->clear(st, kind, worker, instance, until_id, count);
}

int
wharfd_store_worker_heartbeat(struct wharfd_store *st, const char *name,
                              const char *container, const char *agent_version,
                              const char *now)
{
    return st->ops->worker_heartbeat(st, name, container, agent_version, now);
}

int
wharfd_store_worker_remove(struct wharfd_store *st, const char *name,
                           int *removed)
{
    return st->ops->worker_remove(st, name, removed);
}

int
wharfd_store_workers_each(struct wharfd_store *st, wharfd_worker_fn fn,
                          void *arg)
{
    return st->ops->workers_each(st, fn, arg);
}

int
wharfd_store_retention_lead(struct wharfd_store *st, int *leader)
{
    int rc = st->ops->retention_lead(st, leader);

    atomic_store(&st->m.retention_leader, rc == 0 && *leader);
    return rc;
}

int
wharfd_store_retain_partitions(struct wharfd_store *st, const char *before,
                               const char *const *keep, size_t nkeep,
                               long long *dropped)
{
    int rc;

    *dropped = 0;
    if (st->ops->retain_partitions == NULL) {
        return 0;
    }
    rc = st->ops->retain_partitions(st, before, keep, nkeep, dropped);
    atomic_fetch_add(&st->m.retention_rows[0], (unsigned long long) *dropped);
    return rc;
}

int
wharfd_store_retain_next_worker(struct wharfd_store *st, enum wharfd_kind kind,
                                const char *after, char *out, size_t size,
                                int *found)
{
    return st->ops->retain_next_worker(st, kind, after, out, size, found);
}

int
wharfd_store_retain_logs_plan(struct wharfd_store *st, const char *worker,
                              const char *logs_before, long long max_logs,
                              long long *below)
{
    return st->ops->retain_logs_plan(st, worker, logs_before, max_logs, below);
}

int
wharfd_store_retain_logs(struct wharfd_store *st, const char *worker,
                         long long below, long long step, long long *deleted)
{
    int rc = st->ops->retain_logs(st, worker, below, step, deleted);

    if (rc == 0) {
        atomic_fetch_add(&st->m.retention_rows[0],
                         (unsigned long long) *deleted);
    }
    return rc;
}

int
wharfd_store_retain_errors(struct wharfd_store *st, const char *worker,
                           const char *before, long long step,
                           long long *deleted)
{
    int rc = st->ops->retain_errors(st, worker, before, step, deleted);

    if (rc == 0) {
        atomic_fetch_add(&st->m.retention_rows[1],
                         (unsigned long long) *deleted);
    }
    return rc;
}
