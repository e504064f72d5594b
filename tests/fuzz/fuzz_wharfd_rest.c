/* libFuzzer target: wharfd's REST routes (fcgi_backend/router.c and
 * rest_monitoring.c) on any request target "PATH?QUERY": the route match
 * and its percent-decoded :instanceId, the query string into method params
 * (limit, offset, levels, streams, since, until, format=ndjson, worker,
 * total, ...), the methods' own checks of those params (methods*.c) and
 * the query they run against a real SQLite database, seeded once with a
 * few rows through POST /rpc. The input is what server.c hands the router:
 * REQUEST_URI split at its first '?' (a FastCGI param is a C string, so
 * the input ends at its first NUL).
 *
 * Every answer must be a known status with a JSON body (an error in the
 * REST shape {"error":{"code","message"}}), or an NDJSON stream whose every
 * line is a JSON object; a query with a %00 in a key or value is never
 * answered 200 (it would be read cut short). Auth is off (everyone an operator): what is
 * fuzzed here is the parsing; the auth matrix has its own tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../fcgi_backend/router.h"
#include "../../fcgi_backend/wharfd.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Longest request target tried: REST query strings stop at 4096 bytes
 * (WHARFD_QUERY_MAX), so a little more reaches that edge. */
#define FUZZ_TARGET_MAX 6000

static struct wharfd wd;
static char dir[512]; /* the database's temporary folder */

static const char *const seed_rpc[] = {
    ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ContainerMonitoringOps."
     "storeLogs\","
     "\"params\":{\"worker\":\"demo\",\"instanceId\":\"web\",\"logs\":["
     "{\"sequence\":1,\"level\":\"info\",\"message\":\"listening on "
     "3000\",\"stream\":\"stdout\"},"
     "{\"sequence\":2,\"level\":\"error\",\"message\":\"boom "
     "\\u001b[31mred\",\"stream\":\"stderr\"},"
     "{\"sequence\":3,\"level\":\"warn\",\"message\":\"slow\",\"stream\":"
     "\"stdout\"}]}}"),
    ("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ContainerMonitoringOps."
     "storeErrors\","
     "\"params\":{\"worker\":\"demo\",\"instanceId\":\"web\",\"errors\":["
     "{\"level\":50,\"message\":\"TypeError: x is undefined\"},"
     "{\"level\":60,\"message\":\"fatal: out of memory\"}]}}"),
    ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ContainerMonitoringOps."
     "upsertProcess\","
     "\"params\":{\"worker\":\"demo\",\"instanceId\":\"web\",\"command\":"
     "\"node\","
     "\"args\":[\"server.js\"],\"status\":\"running\",\"pid\":4242}}"),
    ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ContainerMonitoringOps."
     "heartbeat\","
     "\"params\":{\"worker\":\"demo\",\"agentVersion\":\"fuzz\"}}"),
};

static void
die(const char *what)
{
    fprintf(stderr, "fuzz_wharfd_rest: %s\n", what);
    abort();
}

static void
cleanup(void)
{
    char path[sizeof(dir) + 16];

    wharfd_store_close(wd.store);
    wharfd_auth_free(&wd.auth);
    snprintf(path, sizeof(path), "%s/db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/db-shm", dir);
    unlink(path);
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char db[sizeof(dir) + 8], err[256];
    char *args[] = { "wharfd", "--listen", "127.0.0.1:1", "--db",
                     db,       "--auth",   "off",         NULL };
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    size_t i;

    (void) argc;
    (void) argv;
    wharf_log_init("wharfd", WHARF_LOG_ERROR);
    snprintf(dir, sizeof(dir), "%s/wharf-fuzz-rest-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir);
    if (mkdtemp(dir) == NULL) {
        die("mkdtemp");
    }
    snprintf(db, sizeof(db), "%s/db", dir);
    if (wharfd_config_load(&wd.config, 7, args, err, sizeof(err)) != 0) {
        die(err);
    }
    if (wharfd_auth_init(&wd.auth, NULL, 0, 1) != 0
        || wharfd_store_open(&wd.store, db) != 0) {
        die("cannot open the database");
    }
    atexit(cleanup);
    for (i = 0; i < sizeof(seed_rpc) / sizeof(seed_rpc[0]); i++) {
        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.method = "POST";
        req.path = "/rpc";
        req.query = "";
        req.content_type = "application/json";
        req.body = seed_rpc[i];
        req.body_len = strlen(seed_rpc[i]);
        req.body_limit = wd.config.body_limit;
        wharfd_route(&wd, &req, &resp);
        if (resp.status != 200 || resp.body == NULL
            || strstr(resp.body, "\"result\"") == NULL) {
            die(resp.body ? resp.body : "seeding failed");
        }
        wharfd_http_response_free(&resp);
    }

    /* the seeded rows are there to be found: the target reads data, not
     * only refusals */
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "GET";
    req.path = "/api/monitoring/logs";
    req.query = "worker=demo&levels=info,error&limit=10";
    wharfd_route(&wd, &req, &resp);
    if (resp.status != 200 || resp.body == NULL
        || strstr(resp.body, "listening on 3000") == NULL) {
        die(resp.body ? resp.body : "the seeded rows are not found");
    }
    wharfd_http_response_free(&resp);
    return 0;
}

/* Collects a streamed body. */
struct sink {
    char *buf;
    size_t len, cap;
};

static int
sink_out(void *arg, const char *buf, size_t len)
{
    struct sink *s = arg;

    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (s->buf == NULL) {
            die("out of memory");
        }
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return 0;
}

static void
check_json(const char *text, size_t len, int want_error)
{
    json_error_t e;
    json_t *doc = json_loadb(text, len, 0, &e), *err;

    if (doc == NULL) {
        die("answer is not JSON");
    }
    if (want_error) {
        err = json_object_get(doc, "error");
        if (!json_is_string(json_object_get(err, "code"))
            || !json_is_string(json_object_get(err, "message"))) {
            die("error answer without error.code and error.message");
        }
    }
    json_decref(doc);
}

/* 1 when a key=value of the query, one that is read (a key of 1 to 127
 * bytes), holds a %00: no route may read it as a shorter string. */
static int
query_has_nul(const char *q)
{
    const char *p, *amp, *eq, *x;
    size_t n, kn;

    for (p = q; *p; p = amp ? amp + 1 : p + n) {
        amp = strchr(p, '&');
        n = amp ? (size_t) (amp - p) : strlen(p);
        eq = memchr(p, '=', n);
        kn = eq ? (size_t) (eq - p) : n;
        if (kn == 0 || kn >= 128) {
            continue;
        }
        for (x = p; x + 3 <= p + n; x++) {
            if (x[0] == '%' && x[1] == '0' && x[2] == '0') {
                return 1;
            }
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    struct sink s = { NULL, 0, 0 };
    char *target, *path, *q, *line, *nl;
    int ok;

    if (size > FUZZ_TARGET_MAX) {
        return 0;
    }
    target = malloc(size + 1);
    memcpy(target, data, size);
    target[size] = '\0';

    /* as server.c: the path of REQUEST_URI, and what follows its '?' */
    q = strchr(target, '?');
    path = q ? strndup(target, (size_t) (q - target)) : strdup(target);

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "GET";
    req.path = path;
    req.query = q ? q + 1 : "";
    req.body_limit = wd.config.body_limit;
    wharfd_route(&wd, &req, &resp);

    ok = resp.status == 200 || resp.status == 400 || resp.status == 404
        || resp.status == 405 || resp.status == 409 || resp.status == 502;
    if (!ok) {
        fprintf(stderr, "status %d: %.*s\n", resp.status,
                resp.body ? (int) resp.body_len : 0,
                resp.body ? resp.body : "");
        die("unexpected status");
    }
    if (resp.status == 200 && strcmp(path, "/api/monitoring/health") != 0
        && query_has_nul(req.query)) {
        die("a %00 in the query was read");
    }
    if (resp.stream != NULL) {
        if (resp.status != 200 || resp.body != NULL) {
            die("a stream with a body or a non-200 status");
        }
        if (resp.stream(resp.stream_arg, sink_out, &s) != 0) {
            die("the stream failed");
        }
        /* NDJSON: one JSON object per line, the last one says "done" */
        for (line = s.buf; line != NULL && *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl == NULL) {
                die("NDJSON stream does not end with a newline");
            }
            check_json(line, (size_t) (nl - line), 0);
        }
        free(s.buf);
    } else {
        if (resp.body == NULL) {
            die("answer without a body");
        }
        check_json(resp.body, resp.body_len, resp.status != 200);
    }
    wharfd_http_response_free(&resp);
    free(path);
    free(target);
    return 0;
}
