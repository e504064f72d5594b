/*
 * GET /api/monitoring/metrics: wharfd's own metrics in Prometheus text
 * format 0.0.4 (the module's /metrics is the gateway's; this is the
 * backend's). Rows and batches ingested, the commit latency histogram,
 * the writer's queue depth (store.c writes those, wharfd_store_metrics),
 * the live feed's subscribers and lagged ones, retention's deletes; every
 * sample labelled engine="sqlite|postgresql" and wharfd="NAME" (--name,
 * by default HOST:LISTEN), so that one Prometheus scraping N wharfd on one
 * database tells them apart. The label is not "instance": Prometheus sets
 * that one itself from the scrape target.
 *
 * Who may read it: a token with scope "read" and sub "*", as the module's
 * /metrics (it counts every worker's rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"
#include "token.h"
#include "wharfd.h"

/* The Content-Type Prometheus expects of the text format. */
#define WHARFD_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* s as a label value: backslash, double quote and newline escaped
 * (the exposition format's three escapes). */
static void
label_escape(const char *s, char *buf, size_t size)
{
    size_t o = 0;

    for (; *s && o + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            buf[o++] = '\\';
            buf[o++] = *s;
        } else if (*s == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = '\0';
}

void
wharfd_metrics_name(const struct wharfd_config *cfg, char *buf, size_t size)
{
    char host[256];

    if (cfg->name[0]) {
        snprintf(buf, size, "%s", cfg->name);
        return;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, size, "%s:%s", host, cfg->has_listen ? cfg->listen.text : "");
}

static void
feed_metrics(struct wharfd *wd, FILE *out, const char *labels)
{
    unsigned subscribers, lagged;
    unsigned long long dropped;

    wharfd_feed_counts(wd, &subscribers, &lagged, &dropped);
    fprintf(out,
            "# HELP wharfd_feed_subscribers Live feed clients subscribed "
            "now.\n"
            "# TYPE wharfd_feed_subscribers gauge\n"
            "wharfd_feed_subscribers{%s} %u\n"
            "# HELP wharfd_feed_lagged_subscribers Subscribed clients that "
            "lost messages to a full queue since the last one they got.\n"
            "# TYPE wharfd_feed_lagged_subscribers gauge\n"
            "wharfd_feed_lagged_subscribers{%s} %u\n"
            "# HELP wharfd_feed_dropped_messages_total Feed messages dropped "
            "for full client queues (--feed-queue).\n"
            "# TYPE wharfd_feed_dropped_messages_total counter\n"
            "wharfd_feed_dropped_messages_total{%s} %llu\n",
            labels, subscribers, labels, lagged, labels, dropped);
}

static void
recent_metrics(struct wharfd *wd, FILE *out, const char *labels)
{
    struct wharfd_recent *r = &wd->recent;
    size_t workers, bytes;

    wharfd_recent_counts(r, &workers, &bytes);
    fprintf(out,
            "# HELP wharfd_recent_hits_total Latest-N log reads answered "
            "from the recent rows in memory (--recent-rows).\n"
            "# TYPE wharfd_recent_hits_total counter\n"
            "wharfd_recent_hits_total{%s} %llu\n"
            "# HELP wharfd_recent_misses_total Latest-N log reads the "
            "recent rows could serve that went to the database (their "
            "worker's rows were not in memory yet).\n"
            "# TYPE wharfd_recent_misses_total counter\n"
            "wharfd_recent_misses_total{%s} %llu\n"
            "# HELP wharfd_recent_fills_total Workers' recent rows read "
            "from the database and kept.\n"
            "# TYPE wharfd_recent_fills_total counter\n"
            "wharfd_recent_fills_total{%s} %llu\n"
            "# HELP wharfd_recent_evictions_total Workers' recent rows "
            "dropped to stay under --recent-memory.\n"
            "# TYPE wharfd_recent_evictions_total counter\n"
            "wharfd_recent_evictions_total{%s} %llu\n"
            "# HELP wharfd_recent_workers Workers whose recent rows are in "
            "memory or being read.\n"
            "# TYPE wharfd_recent_workers gauge\n"
            "wharfd_recent_workers{%s} %zu\n"
            "# HELP wharfd_recent_bytes Memory the recent rows hold.\n"
            "# TYPE wharfd_recent_bytes gauge\n"
            "wharfd_recent_bytes{%s} %zu\n",
            labels, (unsigned long long) atomic_load(&r->hits), labels,
            (unsigned long long) atomic_load(&r->misses), labels,
            (unsigned long long) atomic_load(&r->fills), labels,
            (unsigned long long) atomic_load(&r->evictions), labels, workers,
            labels, bytes);
}

void
wharfd_rest_metrics(struct wharfd_call *call, const struct wharfd_route *route,
                    const char *capture, const struct wharfd_http_request *req,
                    struct wharfd_http_response *resp)
{
    struct wharfd *wd = call->wd;
    char name[256], esc[512], labels[640];
    char *body = NULL;
    size_t len = 0;
    FILE *out;

    (void) route;
    (void) capture;
    (void) req;
    if (strcmp(call->claims.sub, "*") != 0
        || !wharf_claims_allow(&call->claims, "*", WHARF_SCOPE_READ)) {
        wharfd_http_error(resp, 403, "forbidden",
                          "/api/monitoring/metrics needs scope \"read\" "
                          "for every worker (sub \"*\")");
        wharfd_auth_challenge(call, "read", resp->www_authenticate,
                              sizeof(resp->www_authenticate));
        return;
    }
    wharfd_metrics_name(&wd->config, name, sizeof(name));
    label_escape(name, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "engine=\"%s\",wharfd=\"%s\"",
             wharfd_store_engine(wd->store), esc);

    out = open_memstream(&body, &len);
    if (out == NULL) {
        wharfd_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    fprintf(out,
            "# HELP wharfd_build_info This wharfd's version and store "
            "engine.\n"
            "# TYPE wharfd_build_info gauge\n"
            "wharfd_build_info{%s,version=\"%s\"} 1\n",
            labels, WHARFD_VERSION);
    wharfd_store_metrics(wd->store, out, labels);
    feed_metrics(wd, out, labels);
    recent_metrics(wd, out, labels);
    if (fclose(out) != 0 || body == NULL) {
        free(body);
        wharfd_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = WHARFD_METRICS_TYPE;
    resp->body = body;
    resp->body_len = len;
}
