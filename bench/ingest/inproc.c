/*
 * bench/ingest/inproc: wharfd's own cost per log line, per error and per
 * query, without nginx, FastCGI or a client: the request bodies of
 * bench/ingest and bench/query are handed to wharfd_route() in-process
 * (the same code path a FastCGI request takes after libfcgi), one after
 * another, with the writer thread committing as in production.
 *
 * Meant to run under callgrind, collecting only the measured phase, so
 * the instruction count per row is the same however loaded the machine
 * is (docs/BENCHMARKS.md has the commands):
 *   logs, errors: --collect-atstart=no --toggle-collect=wharfd_route
 *                 --toggle-collect=store_writer (request + writer thread)
 *   query:        --collect-atstart=no (CALLGRIND_TOGGLE_COLLECT below;
 *                 reads run on the calling thread)
 * Without valgrind it prints CPU time per row (getrusage, every thread).
 *
 *   inproc DB logs ROWS       storeLogs, 4 workers, batches of 500
 *   inproc DB errors ROWS     storeErrors, 500 per batch, the bench's
 *                             messages (300 distinct raw texts, 100
 *                             fingerprints per worker), hashed by wharfd
 *   inproc DB query ROWS REQ  ROWS logs over 50 workers, then REQ times
 *                             GET /api/monitoring/logs?worker=qN&limit=100
 *
 * Prints one JSON line: {"kind","rows","requests","cpuS","cpuUsPerUnit"}.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <valgrind/callgrind.h>

#include "../../fcgi_backend/router.h"
#include "../../fcgi_backend/wharfd.h"

#define INPROC_BATCH         500
#define INPROC_CLIENTS       4
#define INPROC_QUERY_WORKERS 50
#define INPROC_QUERY_BATCH   10000

static const char inproc_msg[] =
    "GET /api/items?page=2 200 in 12 ms from 10.0.0.7 user-agent curl/8";

static double
cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
        + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A growing text buffer for the bodies. */
struct tbuf {
    char *p;
    size_t len, cap;
};

static void
tput(struct tbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < b->cap - b->len) {
            b->len += (size_t) n;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 1 << 16;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            abort();
        }
    }
}

/* One storeLogs or storeErrors body: worker w, sequences from..from+n-1. */
static char *
body(const char *kind, int w, long from, long n, size_t *len)
{
    struct tbuf b = { NULL, 0, 0 };
    long i, s;

    tput(&b,
         "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":"
         "\"ContainerMonitoringOps.%s\",\"params\":{\"worker\":\"%s%d\","
         "\"instanceId\":\"%s\",\"%s\":[",
         from, strcmp(kind, "errors") == 0 ? "storeErrors" : "storeLogs",
         strcmp(kind, "query") == 0 ? "q" : "bench-", w,
         strcmp(kind, "query") == 0 ? "app" : kind,
         strcmp(kind, "errors") == 0 ? "errors" : "logs");
    for (i = 0; i < n; i++) {
        s = from + i;
        if (strcmp(kind, "logs") == 0) {
            tput(&b,
                 "%s{\"sequence\":%ld,\"timestamp\":"
                 "\"2026-11-27T09:00:00.000Z\",\"level\":\"info\","
                 "\"message\":\"%s\",\"stream\":\"stdout\"}",
                 i ? "," : "", s, inproc_msg);
        } else if (strcmp(kind, "errors") == 0) {
            tput(&b,
                 "%s{\"level\":50,\"message\":\"TypeError: x is "
                 "undefined #%ld at 2026-11-27T09:00:%02ld.123Z\","
                 "\"timestamp\":\"2026-11-27T09:00:00.000Z\"}",
                 i ? "," : "", s % 100, s % 60);
        } else {
            tput(&b,
                 "%s{\"sequence\":%ld,\"level\":\"%s\",\"message\":"
                 "\"request %ld served in %ld ms\",\"stream\":\"stdout\"}",
                 i ? "," : "", s, i % 7 ? "info" : "error", s, i % 97);
        }
    }
    tput(&b, "]}}");
    *len = b.len;
    return b.p;
}

static size_t
route(struct wharfd *wd, const char *method, const char *path,
      const char *query, const char *b, size_t len)
{
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    size_t out;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = method;
    req.path = path;
    req.query = query;
    req.content_type = b ? "application/json" : NULL;
    req.body = b;
    req.body_len = len;
    req.body_limit = wd->config.body_limit;
    wharfd_route(wd, &req, &resp);
    if (resp.status != 200 || resp.body == NULL
        || strstr(resp.body, "\"error\":{") != NULL) {
        fprintf(stderr, "inproc: %s %s: %d %.*s\n", method, path, resp.status,
                (int) (resp.body_len > 300 ? 300 : resp.body_len),
                resp.body ? resp.body : "");
        exit(1);
    }
    out = resp.body_len;
    wharfd_http_response_free(&resp);
    return out;
}

int
main(int argc, char **argv)
{
    char *cargv[] = { "wharfd", "--listen", "127.0.0.1:1", "--db", NULL,
                      "--auth", "off",      "--log-level", "warn", NULL };
    char err[512], query[128];
    struct wharfd wd;
    const char *kind;
    long rows, reqs = 0, per, from, n, r;
    char **bodies;
    size_t *lens, nb = 0, i;
    double c0, c1;
    int w;

    if (argc < 4) {
        fprintf(stderr, "usage: inproc DB logs|errors|query ROWS [REQUESTS]\n");
        return 2;
    }
    kind = argv[2];
    rows = atol(argv[3]);
    reqs = argc > 4 ? atol(argv[4]) : 1000;
    cargv[4] = argv[1];
    memset(&wd, 0, sizeof(wd));
    if (wharfd_config_load(&wd.config, 9, cargv, err, sizeof(err)) != 0
        || wharfd_auth_init(&wd.auth, NULL, 0, 1) != 0
        || wharfd_store_open(&wd.store, argv[1]) != 0) {
        fprintf(stderr, "inproc: setup failed: %s\n", err);
        return 1;
    }

    /* Bodies built before the clock starts, as the node bench does. */
    bodies = calloc((size_t) rows / 100 + 64, sizeof(*bodies));
    lens = calloc((size_t) rows / 100 + 64, sizeof(*lens));
    if (strcmp(kind, "query") == 0) {
        per = rows / INPROC_QUERY_WORKERS;
        for (w = 0; w < INPROC_QUERY_WORKERS; w++) {
            for (from = 1; from <= per; from += INPROC_QUERY_BATCH) {
                n = per - from + 1 < INPROC_QUERY_BATCH ? per - from + 1
                                                        : INPROC_QUERY_BATCH;
                bodies[nb] = body(kind, w, from, n, &lens[nb]);
                route(&wd, "POST", "/rpc", "", bodies[nb], lens[nb]);
                free(bodies[nb]);
            }
        }
        c0 = cpu_now();
        CALLGRIND_TOGGLE_COLLECT;
        for (r = 0; r < reqs; r++) {
            snprintf(query, sizeof(query), "worker=q%ld&limit=100",
                     (r * 17) % INPROC_QUERY_WORKERS);
            route(&wd, "GET", "/api/monitoring/logs", query, NULL, 0);
        }
        CALLGRIND_TOGGLE_COLLECT;
        c1 = cpu_now();
    } else {
        per = rows / INPROC_CLIENTS;
        for (from = 1; from <= per; from += INPROC_BATCH) {
            for (w = 0; w < INPROC_CLIENTS; w++) {
                bodies[nb] = body(kind, w, from, INPROC_BATCH, &lens[nb]);
                nb++;
            }
        }
        /* Writes run on the writer thread too: collect with
         * --toggle-collect=wharfd_route --toggle-collect=store_writer
         * (both threads, only while they work for these requests). */
        c0 = cpu_now();
        for (i = 0; i < nb; i++) {
            route(&wd, "POST", "/rpc", "", bodies[i], lens[i]);
        }
        c1 = cpu_now();
        for (i = 0; i < nb; i++) {
            free(bodies[i]);
        }
        reqs = (long) nb;
    }
    printf("{\"kind\":\"%s\",\"rows\":%ld,\"requests\":%ld,\"cpuS\":%.3f,"
           "\"cpuUsPerUnit\":%.2f}\n",
           kind, rows, reqs, c1 - c0,
           (c1 - c0) * 1e6 / (strcmp(kind, "query") == 0 ? reqs : rows));
    free(bodies);
    free(lens);
    wharfd_store_close(wd.store);
    wharfd_auth_free(&wd.auth);
    return 0;
}
