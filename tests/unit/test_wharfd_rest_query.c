/* Unit tests for the query strings of wharfd's REST routes
 * (rest_monitoring.c), through wharfd_route() on a real SQLite database
 * in a temporary folder, seeded through POST /rpc. The regressions found
 * while fuzzing them (tests/fuzz/fuzz_wharfd_rest.c) live here:
 *   - levels=error,%FF read as levels=error (the element that is not
 *     UTF-8 was dropped without a word);
 *   - worker=demo%00x read as worker=demo (a %00 cut the value);
 *   - minLevel=nan answered "a query value is not valid UTF-8";
 * and the WHARFD_QUERY_MAX edge (4096 bytes accepted, 4097 refused).
 * Also every key and member that is not a method's (methods_params.c):
 * refused by name, over REST and JSON-RPC, never ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../fcgi_backend/methods.h"
#include "../../fcgi_backend/router.h"
#include "../../fcgi_backend/wharfd.h"
#include "log.h"

struct fixture {
    struct wharfd wd;
    char dir[256];
};

static const char seed_logs[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ContainerMonitoringOps."
    "storeLogs\","
    "\"params\":{\"worker\":\"demo\",\"instanceId\":\"web\",\"logs\":["
    "{\"sequence\":1,\"level\":\"info\",\"message\":\"listening\",\"stream\":"
    "\"stdout\"},"
    "{\"sequence\":2,\"level\":\"error\",\"message\":\"boom\",\"stream\":"
    "\"stderr\"}]}}";

/* POST /rpc with body: the status; the answer into *answer. */
static int
rpc(struct fixture *f, const char *body, char **answer)
{
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    int status;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "POST";
    req.path = "/rpc";
    req.query = "";
    req.content_type = "application/json";
    req.body = body;
    req.body_len = strlen(body);
    req.body_limit = f->wd.config.body_limit;
    wharfd_route(&f->wd, &req, &resp);
    status = resp.status;
    *answer = strdup(resp.body ? resp.body : "");
    wharfd_http_response_free(&resp);
    return status;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char db[300], err[256], *answer;
    char *args[] = { "wharfd", "--listen", "127.0.0.1:1", "--db",
                     db,       "--auth",   "off",         NULL };

    wharf_log_init("wharfd", WHARF_LOG_ERROR);
    snprintf(f->dir, sizeof(f->dir), "%s/wharf-unit-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir);
    assert_non_null(mkdtemp(f->dir));
    snprintf(db, sizeof(db), "%s/db", f->dir);
    assert_int_equal(
        wharfd_config_load(&f->wd.config, 7, args, err, sizeof(err)), 0);
    assert_int_equal(wharfd_auth_init(&f->wd.auth, NULL, 0, 1), 0);
    assert_int_equal(wharfd_store_open(&f->wd.store, db), 0);

    assert_int_equal(rpc(f, seed_logs, &answer), 200);
    assert_non_null(strstr(answer, "\"result\""));
    free(answer);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[300];
    static const char *const files[] = { "db", "db-wal", "db-shm",
                                         "db-wharfd.lock" };
    size_t i;

    wharfd_store_close(f->wd.store);
    wharfd_auth_free(&f->wd.auth);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* GET path?query: the status; the body into *body (malloc'd, "" for
 * none). */
static int
get(struct fixture *f, const char *path, const char *query, char **body)
{
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    int status;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "GET";
    req.path = path;
    req.query = query;
    wharfd_route(&f->wd, &req, &resp);
    status = resp.status;
    *body = strdup(resp.body ? resp.body : "");
    wharfd_http_response_free(&resp);
    return status;
}

static void
expect_at(struct fixture *f, const char *path, const char *query, int status,
          const char *part)
{
    char *body;
    int got = get(f, path, query, &body);

    if (got != status || strstr(body, part) == NULL) {
        fail_msg("%s?%s: %d %s (expected %d with %s)", path, query, got, body,
                 status, part);
    }
    free(body);
}

static void
expect(struct fixture *f, const char *query, int status, const char *part)
{
    expect_at(f, "/api/monitoring/logs", query, status, part);
}

static void
test_list_values(void **state)
{
    struct fixture *f = *state;

    expect(f, "worker=demo&levels=error", 200, "\"boom\"");
    expect(f, "worker=demo&levels=error,info", 200, "\"listening\"");
    /* an element that is not UTF-8 fails the list, not only itself */
    expect(f, "worker=demo&levels=error,%FF", 400, "not valid UTF-8");
    expect(f, "worker=demo&levels=%C3%28", 400, "not valid UTF-8");
    expect(f, "worker=demo&streams=stdout,%80", 400, "not valid UTF-8");
    expect(f, "worker=demo&levels=error,,info", 400, "\"levels\"");
}

static void
test_nul_bytes(void **state)
{
    struct fixture *f = *state;

    expect(f, "worker=demo%00x", 400, "NUL byte");
    expect(f, "worker%00x=other&worker=demo", 400, "NUL byte");
    expect(f, "worker=demo&levels=error%00,info", 400, "NUL byte");
    /* an escape that is not one stays as it is */
    expect(f, "worker=demo&levels=error%0", 400, "\"levels\"");
}

/* since/until on every list: each kind has its own time column, and
 * processes had none named "timestamp" (a 500 found by fuzz_wharfd_rest) */
static void
test_time_filters(void **state)
{
    struct fixture *f = *state;
    static const char *const lists[] = { "/api/monitoring/logs",
                                         "/api/monitoring/errors",
                                         "/api/monitoring/events",
                                         "/api/monitoring/processes" };
    size_t i;

    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        expect_at(f, lists[i], "since=2000-01-01T00:00:00Z", 200,
                  "\"pagination\"");
        expect_at(f, lists[i], "until=2100-01-01T00:00:00Z", 200,
                  "\"pagination\"");
        expect_at(f, lists[i], "since=yesterday", 400, "\"since\"");
    }
    /* and the filter is applied: nothing of the seed lies in the future */
    expect(f, "worker=demo&since=2100-01-01T00:00:00Z", 200, "\"data\":[]");
}

static void
test_numbers(void **state)
{
    struct fixture *f = *state;

    expect(f, "worker=demo&limit=1", 200, "\"limit\":1");
    expect(f, "worker=demo&limit=abc", 400, "\"field\":\"limit\"");
    expect(f, "worker=demo&limit=99999999999999999999", 400,
           "\"field\":\"limit\"");
    /* JSON has no nan or inf: refused as not a number, by name */
    expect_at(f, "/api/monitoring/errors", "worker=demo&minLevel=40", 200,
              "\"data\"");
    expect_at(f, "/api/monitoring/errors", "worker=demo&minLevel=nan", 400,
              "\"field\":\"minLevel\"");
    expect_at(f, "/api/monitoring/errors", "worker=demo&maxLevel=inf", 400,
              "\"field\":\"maxLevel\"");
    expect_at(f, "/api/monitoring/errors", "worker=demo&minLevel=1e999", 400,
              "\"field\":\"minLevel\"");
}

static void
test_query_max(void **state)
{
    struct fixture *f = *state;
    /* a key the method takes (an unknown one is refused), whose value
     * can be that long: offset=000...0 is 0 */
    static const char head[] = "worker=demo&offset=";
    char *q = malloc(4097 + 1);

    /* 4096 bytes (WHARFD_QUERY_MAX): read; 4097: refused */
    memcpy(q, head, sizeof(head) - 1);
    memset(q + sizeof(head) - 1, '0', 4096 - (sizeof(head) - 1));
    q[4096] = '\0';
    expect(f, q, 200, "\"data\"");
    q[4096] = '0';
    q[4097] = '\0';
    expect(f, q, 400, "longer than 4096 bytes");
    free(q);
}

/* Query keys a route does not take: 400 invalid_params naming the key,
 * where they were ignored (a mistyped filter answered unfiltered data). */
static void
test_strict_keys(void **state)
{
    struct fixture *f = *state;

    expect(f, "worker=demo&foo=bar", 400, "\"field\":\"foo\"");
    expect(f, "worker=demo&levle=error", 400, "\"field\":\"levle\"");
    expect(f, "limit=1&limit=2", 400, "\"field\":\"limit\"");
    expect(f, "worker=demo&format=xml", 400, "\"field\":\"format\"");
    expect(f, "format=json&format=ndjson", 400, "\"field\":\"format\"");
    expect(f, "worker=demo&format=json", 200, "\"data\"");
    expect(f, "worker=demo&stream=true", 400, "\"field\":\"stream\"");
    expect(f, "=1", 400, "has no name");
    expect(f, "worker=demo&&limit=1", 200, "\"limit\":1");
    /* sequences are per instance: refused without one (the docs' 400) */
    expect(f, "afterSequence=3", 400, "\"field\":\"afterSequence\"");
    expect(f, "untilSequence=3", 400, "\"field\":\"untilSequence\"");
    expect(f, "worker=demo&instanceId=web&afterSequence=1", 200, "\"boom\"");
    /* the path's instance, not the query's */
    expect_at(f, "/api/monitoring/logs/web", "instanceId=other", 400,
              "\"field\":\"instanceId\"");
    /* format is the logs routes' only */
    expect_at(f, "/api/monitoring/workers", "format=ndjson", 400,
              "\"field\":\"format\"");
    expect_at(f, "/api/monitoring/errors", "worker=demo&levels=error", 400,
              "\"field\":\"levels\"");
    expect_at(f, "/api/monitoring/processes", "worker=demo&bogus=1", 400,
              "\"field\":\"bogus\"");
    expect_at(f, "/api/monitoring/workers", "foo=bar", 400,
              "\"field\":\"foo\"");
    /* a key that is not UTF-8, or a long non-ASCII one: a JSON answer
     * naming what it can (was a 500 with no body, found by
     * fuzz_wharfd_rest) */
    expect(f, "worker=demo&format%B8%B8=ndjson", 400, "not valid UTF-8");
    {
        /* 40 two-byte characters: a field of 63 bytes at most, cut
         * between characters (31 of them) */
        char q[128] = "worker=demo&";
        char want[96] = "\"field\":\"";
        int i;

        for (i = 0; i < 40; i++) {
            strcat(q, "\xc3\xa9");
        }
        strcat(q, "=1");
        for (i = 0; i < 31; i++) {
            strcat(want, "\xc3\xa9");
        }
        strcat(want, "\"");
        expect(f, q, 400, want);
    }
    expect(f, "worker=demo&%C3%A9=1&%C3%A9=2", 400, "more than once");
    /* the token's parameter is auth's, never refused */
    expect(f, "worker=demo&access_token=x&access_token=y", 200, "\"data\"");
}

/* id bounds: arrival order, with or without an instance */
static void
test_id_bounds(void **state)
{
    struct fixture *f = *state;
    char *body, q[64];
    const char *p;
    long long id1;

    assert_int_equal(
        get(f, "/api/monitoring/logs", "worker=demo&order=asc", &body), 200);
    p = strstr(body, "\"id\":");
    assert_non_null(p);
    id1 = atoll(p + 5);
    free(body);
    snprintf(q, sizeof(q), "worker=demo&untilId=%lld", id1);
    expect(f, q, 200, "\"listening\"");
    assert_int_equal(get(f, "/api/monitoring/logs", q, &body), 200);
    assert_null(strstr(body, "\"boom\""));
    free(body);
    snprintf(q, sizeof(q), "worker=demo&afterId=%lld", id1);
    assert_int_equal(get(f, "/api/monitoring/logs", q, &body), 200);
    assert_non_null(strstr(body, "\"boom\""));
    assert_null(strstr(body, "\"listening\""));
    free(body);
    expect(f, "worker=demo&instanceId=web&untilSequence=1", 200,
           "\"listening\"");
    expect(f, "worker=demo&untilId=-1", 400, "\"field\":\"untilId\"");
}

/* Every method of the params table, with valid params plus one it does
 * not take: -32602 naming that member, before anything is done. */
static void
test_strict_rpc_params(void **state)
{
    struct fixture *f = *state;
    /* Valid params of each method (without the unknown member). */
    static const char *const valid[][2] = {
        { "heartbeat", "\"worker\":\"demo\"" },
        { "getWorkers", "\"worker\":\"demo\"" },
        { "removeWorker", "\"worker\":\"demo\"" },
        { "storeLogs",
          "\"worker\":\"demo\",\"instanceId\":\"s\",\"logs\":[{"
          "\"sequence\":1,\"level\":\"info\",\"message\":\"m\"}]" },
        { "storeLog",
          "\"worker\":\"demo\",\"instanceId\":\"s\","
          "\"sequence\":2,\"level\":\"info\",\"message\":\"m\"" },
        { "storeErrors",
          "\"worker\":\"demo\",\"instanceId\":\"s\",\"errors\":[{"
          "\"level\":50,\"message\":\"m\"}]" },
        { "storeError",
          "\"worker\":\"demo\",\"instanceId\":\"s\","
          "\"level\":50,\"message\":\"m\"" },
        { "upsertProcess",
          "\"worker\":\"demo\",\"instanceId\":\"s\","
          "\"command\":\"c\",\"status\":\"running\"" },
        { "recordEvent", "\"worker\":\"demo\",\"type\":\"t\"" },
        { "getLastSequence", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
        { "getLogs", "\"worker\":\"demo\"" },
        { "getLogStats", "\"worker\":\"demo\"" },
        { "getErrors", "\"worker\":\"demo\"" },
        { "getErrorSummary", "\"worker\":\"demo\"" },
        { "getEvents", "\"worker\":\"demo\"" },
        { "getProcesses", "\"worker\":\"demo\"" },
        { "getProcess", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
        { "getProcessStatus", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
        { "clearErrors", "\"worker\":\"demo\",\"confirm\":true" },
        { "clearLogs", "\"worker\":\"demo\",\"confirm\":true" },
        { "startProcess", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
        { "stopProcess", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
        { "restartProcess", "\"worker\":\"demo\",\"instanceId\":\"s\"" },
    };
    const struct wharfd_method_params *t;
    char body[512], *answer;
    size_t i, n = sizeof(valid) / sizeof(valid[0]);

    /* the table covers every method, and the test every row of it */
    for (t = wharfd_method_params; t->method != NULL; t++) {
        for (i = 0; i < n && strcmp(valid[i][0], t->method) != 0; i++) {
        }
        assert_true(i < n || strcmp(t->method, "subscribe") == 0);
    }
    for (i = 0; i < n; i++) {
        snprintf(body, sizeof(body),
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                 "\"ContainerMonitoringOps.%s\",\"params\":{%s,"
                 "\"bogus\":1}}",
                 valid[i][0], valid[i][1]);
        assert_int_equal(rpc(f, body, &answer), 200);
        if (strstr(answer, "-32602") == NULL
            || strstr(answer, "\"field\":\"bogus\"") == NULL) {
            fail_msg("%s: %s", valid[i][0], answer);
        }
        free(answer);
        snprintf(body, sizeof(body), WHARFD_RPC_PREFIX "%s", valid[i][0]);
        assert_non_null(wharfd_methods_lookup(body));
    }
    /* an element member, by its path */
    assert_int_equal(
        rpc(f,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
            "\"ContainerMonitoringOps.storeLogs\",\"params\":{"
            "\"worker\":\"demo\",\"instanceId\":\"s\",\"logs\":["
            "{\"sequence\":5,\"level\":\"info\",\"message\":\"m\"},"
            "{\"sequence\":6,\"level\":\"info\",\"message\":\"m\","
            "\"strem\":\"stderr\"}]}}",
            &answer),
        200);
    assert_non_null(strstr(answer, "\"field\":\"logs[1].strem\""));
    free(answer);
    /* nothing of the refused calls was stored */
    expect(f, "worker=demo&instanceId=s", 200, "\"data\":[]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_rpc_params, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("wharfd_rest_query", tests, NULL, NULL);
}
