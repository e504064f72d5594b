/*
 * Retention: a thread that, every --retention-interval seconds, deletes
 * each worker's logs received longer ago than its log age, its errors not
 * seen for its error age, and its logs beyond its newest max-logs. A
 * worker's values are its --retention-worker ones where given, else the
 * global --log-days, --error-days and --max-logs.
 *
 * It never stands in the writer's way for long: what to delete is found
 * on a reader connection (a few index seeks per worker, store.h), and the
 * rows go in steps of WHARFD_RETENTION_STEP, each step one job of the
 * writer queue, so ingestion interleaves with it and waits for at most
 * one small step.
 */
#ifndef WHARFD_RETENTION_H
#define WHARFD_RETENTION_H

#include <pthread.h>

#define WHARFD_RETENTION_STEP 1000

struct wharfd;

struct wharfd_retention {
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
};

/* Starts the thread unless the interval is 0. */
int wharfd_retention_start(struct wharfd *wd);

/* Stops and joins it (a step in progress finishes first). */
void wharfd_retention_stop(struct wharfd *wd);

/* One full pass now (also used by the thread); returns rows deleted or
 * -1. */
long long wharfd_retention_run(struct wharfd *wd);

/* The same with the clock at now_ms (milliseconds since the epoch), for
 * tests of the age edges. */
long long wharfd_retention_run_at(struct wharfd *wd, long long now_ms);

/* What a worker keeps: its --retention-worker values where given, else
 * the global ones. Ages in seconds (0: kept), max_logs 0: no limit. */
struct wharfd_retention_policy {
    long long max_logs, log_age, error_age;
};

struct wharfd_config;
void wharfd_retention_policy(const struct wharfd_config *c, const char *worker,
                             struct wharfd_retention_policy *p);

#endif
