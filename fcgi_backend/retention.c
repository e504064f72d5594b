#include "retention.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "isotime.h"
#include "log.h"
#include "wharfd.h"

/* ISO time (as stored: milliseconds) of now_ms - seconds, into buf; NULL
 * when seconds is 0 (kept whatever their age). */
static const char *
cutoff(long long now_ms, long long seconds, char *buf, size_t size)
{
    if (seconds <= 0) {
        return NULL;
    }
    /* before 1970 with a 100-year age: floored (isotime.h) */
    wharf_iso_ms(now_ms - seconds * 1000, buf, size);
    return buf;
}

/* The values of one worker: its --retention-worker where a key was
 * given, the global ones for the rest. */
void
wharfd_retention_policy(const struct wharfd_config *c, const char *worker,
                        struct wharfd_retention_policy *p)
{
    size_t i;

    p->max_logs = (long long) c->max_logs;
    p->log_age = (long long) c->log_days * 86400;
    p->error_age = (long long) c->error_days * 86400;
    for (i = 0; i < c->nretention_workers; i++) {
        const struct wharfd_retention_worker *w = &c->retention_workers[i];

        if (strcmp(w->name, worker) == 0) {
            if (w->max_logs >= 0) {
                p->max_logs = w->max_logs;
            }
            if (w->log_age >= 0) {
                p->log_age = w->log_age;
            }
            if (w->error_age >= 0) {
                p->error_age = w->error_age;
            }
            return;
        }
    }
}

/*
 * PostgreSQL: the partitions of logs whose whole day is older than the
 * global log age go at once, unless a worker whose own log age is longer
 * (or keeps logs) has logs in them (store.h). A no-op on SQLite.
 */
static long long
retention_partitions(struct wharfd *wd, long long now_ms)
{
    const struct wharfd_config *c = &wd->config;
    const char *keep[WHARFD_RETENTION_WORKERS_MAX];
    long long global = (long long) c->log_days * 86400, dropped;
    char before[32];
    size_t i, nkeep = 0;

    if (cutoff(now_ms, global, before, sizeof(before)) == NULL) {
        return 0; /* logs are kept: no partition is ever all due */
    }
    for (i = 0; i < c->nretention_workers; i++) {
        const struct wharfd_retention_worker *w = &c->retention_workers[i];

        if (w->log_age == 0 || w->log_age > global) {
            keep[nkeep++] = w->name;
        }
    }
    if (wharfd_store_retain_partitions(wd->store, before, keep, nkeep, &dropped)
        != 0) {
        return -1;
    }
    return dropped;
}

/*
 * One pass, worker by worker: for each worker with logs, the cut-off id
 * of its policy (found on a reader, store.h), then its old logs in writer
 * steps of WHARFD_RETENTION_STEP; then each worker's old errors alike.
 * Every cut-off of the pass is taken from one clock reading. On
 * PostgreSQL only the wharfd that leads retention runs it, and whole
 * partitions go first.
 */
long long
wharfd_retention_run_at(struct wharfd *wd, long long now_ms)
{
    const struct wharfd_config *c = &wd->config;
    struct wharfd_retention_policy p;
    char worker[1024] = "", before[32]; /* names are <= 63 bytes */
    long long below, deleted, total = 0;
    int found, kind, leader, rc;

    if (wharfd_store_retention_lead(wd->store, &leader) != 0) {
        return -1;
    }
    if (!leader) {
        return 0; /* another wharfd on the database runs it */
    }
    total = retention_partitions(wd, now_ms);
    if (total < 0) {
        return -1;
    }
    for (kind = 0; kind < 2; kind++) {
        worker[0] = '\0';
        for (;;) {
            if (atomic_load(&wd->stopping)) {
                return total;
            }
            if (wharfd_store_retain_next_worker(
                    wd->store,
                    kind == 0 ? WHARFD_KIND_LOGS : WHARFD_KIND_ERRORS, worker,
                    worker, sizeof(worker), &found)
                != 0) {
                return -1;
            }
            if (!found) {
                break;
            }
            wharfd_retention_policy(c, worker, &p);
            if (kind == 0) {
                if (wharfd_store_retain_logs_plan(
                        wd->store, worker,
                        cutoff(now_ms, p.log_age, before, sizeof(before)),
                        p.max_logs, &below)
                    != 0) {
                    return -1;
                }
                deleted = below > 0 ? WHARFD_RETENTION_STEP : 0;
                while (deleted == WHARFD_RETENTION_STEP
                       && !atomic_load(&wd->stopping)) {
                    /* the worker's recent rows go before and after each
                     * step (recent.h) */
                    wharfd_recent_touch(&wd->recent, worker);
                    rc = wharfd_store_retain_logs(wd->store, worker, below,
                                                  WHARFD_RETENTION_STEP,
                                                  &deleted);
                    wharfd_recent_touch(&wd->recent, worker);
                    if (rc != 0) {
                        return -1;
                    }
                    total += deleted;
                }
            } else if (cutoff(now_ms, p.error_age, before, sizeof(before))
                       != NULL) {
                do {
                    if (wharfd_store_retain_errors(wd->store, worker, before,
                                                   WHARFD_RETENTION_STEP,
                                                   &deleted)
                        != 0) {
                        return -1;
                    }
                    total += deleted;
                } while (deleted == WHARFD_RETENTION_STEP
                         && !atomic_load(&wd->stopping));
            }
        }
    }
    return total;
}

long long
wharfd_retention_run(struct wharfd *wd)
{
    long long total;

    total = wharfd_retention_run_at(wd, wharf_wall_ms());
    if (total > 0) {
        wharf_info("retention: %lld rows deleted", total);
    }
    return total;
}

static void *
retention_thread(void *arg)
{
    struct wharfd *wd = arg;
    struct wharfd_retention *r = &wd->retention;
    struct timespec at;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        pthread_mutex_unlock(&r->lock);
        wharfd_retention_run(wd);
        pthread_mutex_lock(&r->lock);
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += wd->config.retention_interval;
        while (!r->stop
               && pthread_cond_timedwait(&r->wake, &r->lock, &at)
                   != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int
wharfd_retention_start(struct wharfd *wd)
{
    struct wharfd_retention *r = &wd->retention;

    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (wd->config.retention_interval == 0) {
        return 0;
    }
    if (pthread_create(&r->thread, NULL, retention_thread, wd) != 0) {
        wharf_error("cannot start the retention thread");
        return -1;
    }
    pthread_setname_np(r->thread, "wharfd-retain");
    r->started = 1;
    return 0;
}

void
wharfd_retention_stop(struct wharfd *wd)
{
    struct wharfd_retention *r = &wd->retention;

    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        r->started = 0;
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
}
