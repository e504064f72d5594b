/*
 * Retention: a thread that, every --retention-interval seconds, deletes
 * logs older than --log-days, errors not seen for --error-days, and logs
 * beyond --max-logs per worker. It deletes in steps of
 * WHARFD_RETENTION_STEP rows, each step one job of the writer queue
 * (store.h), so ingestion interleaves with it and never waits for more
 * than one small step.
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

#endif
