/* Unit tests for the query strings of wharfd's REST routes
 * (rest_monitoring.c), through wharfd_route() on a real SQLite database
 * in a temporary folder, seeded through POST /rpc. The regressions found
 * while fuzzing them (tests/fuzz/fuzz_wharfd_rest.c) live here:
 *   - levels=error,%FF read as levels=error (the element that is not
 *     UTF-8 was dropped without a word);
 *   - worker=demo%00x read as worker=demo (a %00 cut the value);
 *   - minLevel=nan answered "a query value is not valid UTF-8";
 * and the WHARFD_QUERY_MAX edge (4096 bytes accepted, 4097 refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

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

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    char db[300], err[256];
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

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "POST";
    req.path = "/rpc";
    req.query = "";
    req.content_type = "application/json";
    req.body = seed_logs;
    req.body_len = strlen(seed_logs);
    req.body_limit = f->wd.config.body_limit;
    wharfd_route(&f->wd, &req, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "\"result\""));
    wharfd_http_response_free(&resp);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[300];
    static const char *const files[] = { "db", "db-wal", "db-shm" };
    size_t i;

    wharfd_store_close(f->wd.store);
    wharfd_auth_free(&f->wd.auth);
    for (i = 0; i < 3; i++) {
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
    static const char head[] = "worker=demo&x=";
    char *q = malloc(4097 + 1);

    /* 4096 bytes (WHARFD_QUERY_MAX): read; 4097: refused */
    memcpy(q, head, sizeof(head) - 1);
    memset(q + sizeof(head) - 1, 'a', 4096 - (sizeof(head) - 1));
    q[4096] = '\0';
    expect(f, q, 200, "\"data\"");
    q[4096] = 'a';
    q[4097] = '\0';
    expect(f, q, 400, "too long");
    free(q);
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
    };
    return cmocka_run_group_tests_name("wharfd_rest_query", tests, NULL, NULL);
}
