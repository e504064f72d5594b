#include "retention.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "wharfd.h"

/* ISO time of now - days. */
static void
cutoff(unsigned days, char *buf, size_t size)
{
    time_t t = time(NULL) - (time_t) days * 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

long long
wharfd_retention_run(struct wharfd *wd)
{
    const struct wharfd_config *c = &wd->config;
    char logs_before[32], errors_before[32];
    long long deleted, total = 0;

    cutoff(c->log_days, logs_before, sizeof(logs_before));
    cutoff(c->error_days, errors_before, sizeof(errors_before));
    do {
        if (wharfd_store_retain(wd->store, c->log_days ? logs_before : NULL,
                                c->error_days ? errors_before : NULL,
                                (long long) c->max_logs,
                                WHARFD_RETENTION_STEP, &deleted) != 0)
        {
            return -1;
        }
        total += deleted;
    } while (deleted == WHARFD_RETENTION_STEP && !atomic_load(&wd->stopping));
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
               && pthread_cond_timedwait(&r->wake, &r->lock, &at) != ETIMEDOUT)
        {
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
