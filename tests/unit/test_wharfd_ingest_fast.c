/* The storeLogs/storeErrors fast path (fcgi_backend/ingest_fast.c) against
 * the jansson path: two stores, the same bodies; one store gets every
 * body through the jansson path (wharfd_rpc_handle), the other through
 * the fast path as rpc_route.c does it (fast, or jansson when the fast
 * path gives the body back). The answers must be byte for byte the same,
 * the fast path must take the common shapes and give back the others,
 * and in the end both databases must hold the same rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "../../fcgi_backend/ingest_fast.h"
#include "../../fcgi_backend/methods.h"
#include "../../fcgi_backend/wharfd.h"

struct side {
    struct wharfd wd;
    char path[64];
};

static void
side_open(struct side *s, const char *tag)
{
    char *argv[] = { "wharfd", "--listen", "127.0.0.1:1", "--db", NULL,
                     "--auth", "off", NULL };
    char err[256];

    snprintf(s->path, sizeof(s->path), "/tmp/wharf-fast-%s-%d.db", tag,
             (int) getpid());
    unlink(s->path);
    argv[4] = s->path;
    memset(&s->wd, 0, sizeof(s->wd));
    assert_int_equal(wharfd_config_load(&s->wd.config, 7, argv, err,
                                        sizeof(err)), 0);
    assert_int_equal(wharfd_auth_init(&s->wd.auth, NULL, 1), 0);
    assert_int_equal(wharfd_store_open(&s->wd.store, s->path), 0);
}

static void
side_close(struct side *s)
{
    char p[80];

    wharfd_store_close(s->wd.store);
    wharfd_auth_free(&s->wd.auth);
    unlink(s->path);
    snprintf(p, sizeof(p), "%s-wal", s->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", s->path);
    unlink(p);
}

/* Every row of the two data tables as text, but created_at (the commit's
 * time). */
static char *
dump(const char *path)
{
    static const char *const sql[] = {
        "SELECT id, worker_name, container_name, instance_id, process_id,"
        " sequence, timestamp, level, message, stream, source, metadata"
        " FROM container_logs ORDER BY id",
        "SELECT id, worker_name, container_name, instance_id, process_id,"
        " error_hash, timestamp, level, message, raw_output,"
        " occurrence_count, first_seen, last_seen FROM container_errors"
        " ORDER BY id",
    };
    sqlite3 *db;
    sqlite3_stmt *st;
    char *out = NULL, *t;
    size_t q;
    int i;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    out = sqlite3_mprintf("");
    for (q = 0; q < 2; q++) {
        assert_int_equal(sqlite3_prepare_v2(db, sql[q], -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (i = 0; i < sqlite3_column_count(st); i++) {
                t = sqlite3_mprintf("%s%s|", out,
                                    sqlite3_column_text(st, i)
                                    ? (const char *) sqlite3_column_text(st, i)
                                    : "<null>");
                sqlite3_free(out);
                out = t;
            }
            t = sqlite3_mprintf("%s\n", out);
            sqlite3_free(out);
            out = t;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

struct fcase {
    int fast;           /* 1: the fast path must take it */
    const char *body;
};

#define HEAD(m) "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":" \
                "\"ContainerMonitoringOps." m "\",\"params\":{\"worker\":\"w1\"," \
                "\"instanceId\":\"app\","
#define TS "\"timestamp\":\"2026-11-27T09:00:00.123Z\""

static const struct fcase cases[] = {
    /* Taken. */
    { 1, HEAD("storeLogs") "\"logs\":[{\"sequence\":1," TS ",\"level\":\"info\","
         "\"message\":\"plain\",\"stream\":\"stdout\"},{\"sequence\":2," TS
         ",\"level\":\"warn\",\"message\":\"esc \\\" \\\\ \\/ \\b\\f\\n\\r\\t"
         " \\u001b[31m \\u00e9 \\u20ac \xc3\xa9 \xf0\x9f\x98\x80\","
         "\"stream\":\"stderr\",\"source\":\"process\",\"processId\":\"p-9\","
         "\"metadata\":{\"split\":true,\"continued\":false,\"n\":-12,"
         "\"s\":\"x/y\",\"z\":null}}]}}" },
    { 1, HEAD("storeLogs") "\"logs\":[{\"sequence\":1," TS ",\"level\":\"info\","
         "\"message\":\"plain\",\"stream\":\"stdout\"}]}}" },   /* a resend */
    { 1, "{\"jsonrpc\":\"2.0\",\"id\":\"req-1/a\",\"method\":"
         "\"ContainerMonitoringOps.storeLogs\",\"params\":{\"worker\":\"w1\","
         "\"container\":\"c1\",\"instanceId\":\"app2\",\"processId\":\"head\","
         "\"logs\":[{\"sequence\":5,\"timestamp\":\"2026-11-27T09:00:01Z\","
         "\"level\":\"debug\",\"message\":\"\",\"processId\":null,"
         "\"stream\":null,\"metadata\":null,\"source\":null},"
         "{\"sequence\":6,\"timestamp\":\"2026-11-27T09:00:01.5Z\","
         "\"level\":\"output\",\"message\":\"m\",\"metadata\":{}}]}}" },
    { 1, " {\n \"jsonrpc\" : \"2.0\" ,\t\"id\" : null , \"method\" : "
         "\"ContainerMonitoringOps.storeLogs\" , \"params\" : { \"worker\" : "
         "\"w2\" , \"instanceId\" : \"app\" , \"logs\" : [ { \"sequence\" : "
         "99 , \"timestamp\" : \"2026-11-27T09:00:02.123456789Z\" , "
         "\"level\" : \"error\" , \"message\" : \"spaced\" } ] } }\r\n" },
    { 1, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"boom at "
         "App.tsx:42:15 2025-01-02T03:04:05.678Z\"," TS "},{\"level\":60,"
         "\"message\":\"fatal \\u00e9\",\"rawOutput\":\"{\\\"level\\\":60}\","
         "\"processId\":\"p1\"," TS "},{\"level\":50,\"message\":\"given\","
         "\"errorHash\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
         "\"timestamp\":\"2026-11-27T09:00:03Z\"}]}}" },
    { 1, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"boom at "
         "App.tsx:42:16 2025-01-02T03:04:06.678Z\",\"timestamp\":"
         "\"2026-11-27T08:00:00.000Z\"},{\"message\":\"boom at App.tsx:1:2 "
         "2025-01-02T03:04:05.678Z\",\"level\":50,\"timestamp\":"
         "\"2026-11-27T10:00:00.000Z\",\"rawOutput\":null}]}}" },
    /* Given back: each is another shape or an error, which the jansson
     * path answers. */
    { 0, "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"worker\":\"w1\","
         "\"instanceId\":\"app\",\"logs\":[{\"sequence\":50," TS ",\"level\":"
         "\"info\",\"message\":\"params first\"}]},\"method\":"
         "\"ContainerMonitoringOps.storeLogs\"}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":51," TS ",\"level\":\"info\","
         "\"message\":\"x\",\"foo\":1}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":52," TS ",\"level\":\"info\","
         "\"level\":\"warn\",\"message\":\"x\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":53," TS ",\"level\":\"info\","
         "\"message\":\"\\ud83d\\ude00\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":54.0," TS ",\"level\":\"info\","
         "\"message\":\"x\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":0," TS ",\"level\":\"info\","
         "\"message\":\"x\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":55," TS ",\"level\":\"fatal\","
         "\"message\":\"x\"}]}}" },
    { 1, "[" HEAD("storeLogs") "\"logs\":[{\"sequence\":56," TS ",\"level\":"
         "\"info\",\"message\":\"x\"}]}}]" },
    { 1, " [ " HEAD("storeLogs") "\"logs\":[{\"sequence\":70," TS ",\"level\":"
         "\"info\",\"message\":\"batch a\"}]}} ,{\"jsonrpc\":\"2.0\",\"id\":8,"
         "\"method\":\"ContainerMonitoringOps.storeLogs\",\"params\":{"
         "\"worker\":\"w3\",\"instanceId\":\"i3\",\"logs\":[{\"sequence\":1,"
         TS ",\"level\":\"info\",\"message\":\"batch b\"}]}},"
         HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"batch e\","
         TS "}]}} ] " },
    { 0, "[" HEAD("storeLogs") "\"logs\":[{\"sequence\":71," TS ",\"level\":"
         "\"info\",\"message\":\"x\"}]}},{\"jsonrpc\":\"2.0\",\"id\":9,"
         "\"method\":\"ContainerMonitoringOps.getLastSequence\",\"params\":{"
         "\"worker\":\"w1\",\"instanceId\":\"app\"}}]" },
    { 0, "[" HEAD("storeLogs") "\"logs\":[{\"sequence\":72," TS ",\"level\":"
         "\"info\",\"message\":\"x\"}]}},{\"jsonrpc\":\"2.0\",\"method\":"
         "\"ContainerMonitoringOps.storeLogs\",\"params\":{\"worker\":\"w1\","
         "\"instanceId\":\"app\",\"logs\":[{\"sequence\":73," TS ",\"level\":"
         "\"info\",\"message\":\"notification\"}]}}]" },
    { 0, "[" HEAD("storeLogs") "\"logs\":[{\"sequence\":74," TS ",\"level\":"
         "\"info\",\"message\":\"x\"}]}}," HEAD("storeLogs") "\"logs\":[{"
         "\"sequence\":-1," TS ",\"level\":\"info\",\"message\":\"bad\"}]}}]" },
    { 0, "[]" },
    { 0, "[" HEAD("storeLogs") "\"logs\":[{\"sequence\":75," TS ",\"level\":"
         "\"info\",\"message\":\"x\"}]}},]" },
    { 0, "{\"jsonrpc\":\"2.0\",\"method\":\"ContainerMonitoringOps.storeLogs\","
         "\"params\":{\"worker\":\"w1\",\"instanceId\":\"app\",\"logs\":[{"
         "\"sequence\":57," TS ",\"level\":\"info\",\"message\":\"x\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":58," TS ",\"level\":\"info\","
         "\"message\":\"x\",\"metadata\":{\"a\":{\"b\":1}}}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":59," TS ",\"level\":\"info\","
         "\"message\":\"x\"}]}}x" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":60," TS ",\"level\":\"info\","
         "\"message\":\"\xff\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":61," TS ",\"level\":\"info\","
         "\"message\":\"x\",\"metadata\":{\"a\":1,\"a\":2}}]}}" },
    /* metadata twice: the first copy leaked (fuzz_wharfd_ingest_fast) */
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":63," TS ",\"level\":\"info\","
         "\"message\":\"x\",\"metadata\":{\"a\":1},\"metadata\":{\"b\":2}}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":62,\"timestamp\":"
         "\"2026-13-27T09:00:00Z\",\"level\":\"info\",\"message\":\"x\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":63," TS ",\"level\":\"info\","
         "\"message\":\"x\",\"source\":\"\"}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50.5,\"message\":\"x\"," TS
         "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"errorHash\":\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\","
         TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"message\":\"no level\"," TS "}]}}" },
    { 0, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
         "\"ContainerMonitoringOps.storeLogs\",\"params\":{\"instanceId\":"
         "\"app\",\"logs\":[{\"sequence\":64," TS ",\"level\":\"info\","
         "\"message\":\"no worker\"}]}}" },
    { 0, HEAD("storeLogs") "\"logs\":[{\"sequence\":65," TS ",\"level\":\"info\","
         "\"message\":\"x\"}],\"logs\":[]}}" },
    { 0, HEAD("storeLog") "\"sequence\":66," TS ",\"level\":\"info\","
         "\"message\":\"single\"}}" },
    { 0, "{\"jsonrpc\":\"2.0\",\"id\":12345678901234567890,\"method\":"
         "\"ContainerMonitoringOps.storeLogs\",\"params\":{}}" },
    { 0, "not json" },
};

static void
call_init(struct wharfd *wd, struct wharfd_call *c)
{
    memset(c, 0, sizeof(*c));
    wharfd_auth_request(wd, c, NULL, NULL);
}

static void
test_same_answers(void **state)
{
    struct side a, b;
    struct wharfd_rpc_reply ra, rb;
    struct wharfd_call ca, cb;
    char *da, *db;
    size_t i, len;
    int took;

    (void) state;
    side_open(&a, "slow");
    side_open(&b, "fast");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = strlen(cases[i].body);
        call_init(&a.wd, &ca);
        call_init(&b.wd, &cb);
        wharfd_rpc_handle(wharfd_methods_lookup, &ca, cases[i].body, len, &ra);
        memset(&rb, 0, sizeof(rb));
        took = wharfd_ingest_fast(&cb, cases[i].body, len, &rb);
        if (!took) {
            wharfd_rpc_handle(wharfd_methods_lookup, &cb, cases[i].body, len,
                              &rb);
        }
        if (took != cases[i].fast || ra.status != rb.status
            || ra.len != rb.len
            || (ra.len > 0 && memcmp(ra.body, rb.body, ra.len) != 0))
        {
            fprintf(stderr, "case %zu: fast %d (want %d)\n jansson %d %s\n"
                    " fast    %d %s\n", i, took, cases[i].fast, ra.status,
                    ra.body ? ra.body : "", rb.status, rb.body ? rb.body : "");
        }
        assert_int_equal(took, cases[i].fast);
        assert_int_equal(ra.status, rb.status);
        assert_int_equal(ra.len, rb.len);
        if (ra.len > 0) {   /* a 204 has no body at all */
            assert_memory_equal(ra.body, rb.body, ra.len);
        }
        wharfd_rpc_reply_free(&ra);
        wharfd_rpc_reply_free(&rb);
    }
    da = dump(a.path);
    db = dump(b.path);
    assert_true(strlen(da) > 100);
    assert_string_equal(da, db);
    sqlite3_free(da);
    sqlite3_free(db);
    side_close(&a);
    side_close(&b);
}

/* Repeats inside one storeErrors batch are folded into one upsert per
 * hash (store_write.c): the rows and every element's occurrenceCount must
 * be what one request per error gives. Two rounds: new rows, then
 * repeats of stored ones; times out of order, rawOutput sometimes absent
 * (the last one's wins, absent included), processId varying (the first's
 * stays). */
static void
test_folded_repeats(void **state)
{
    static const char *const msgs[] = { "a", "b at App.tsx:1:2", "c", "d" };
    struct side a, b;
    struct wharfd_rpc_reply r;
    struct wharfd_call c;
    char body[1 << 16], one[1024], el[512], *da, *db;
    long long want[64];
    json_t *doc, *arr;
    size_t i, n = 40, len;
    int round;

    (void) state;
    side_open(&a, "seq");
    side_open(&b, "fold");
    for (round = 0; round < 2; round++) {
        len = (size_t) snprintf(body, sizeof(body), HEAD("storeErrors")
                                "\"errors\":[");
        for (i = 0; i < n; i++) {
            snprintf(el, sizeof(el), "{\"level\":%d,\"message\":\"%s\","
                     "\"timestamp\":\"2026-11-27T09:%02zu:00.000Z\""
                     "%s%s%s,\"processId\":\"p%zu\"}", i % 5 == 4 ? 60 : 50,
                     msgs[(i * 7 + (size_t) round) % 4], (i * 37 + 11) % 60,
                     i % 3 ? ",\"rawOutput\":\"raw " : "",
                     i % 3 ? msgs[i % 4] : "", i % 3 ? "\"" : "", i);
            len += (size_t) snprintf(body + len, sizeof(body) - len, "%s%s",
                                     i ? "," : "", el);
            snprintf(one, sizeof(one), HEAD("storeErrors") "\"errors\":[%s]}}",
                     el);
            call_init(&a.wd, &c);
            wharfd_rpc_handle(wharfd_methods_lookup, &c, one, strlen(one), &r);
            doc = json_loadb(r.body, r.len, 0, NULL);
            arr = json_object_get(json_object_get(doc, "result"), "errors");
            assert_int_equal(json_array_size(arr), 1);
            want[i] = json_integer_value(json_object_get(json_array_get(arr, 0),
                                                         "occurrenceCount"));
            json_decref(doc);
            wharfd_rpc_reply_free(&r);
        }
        snprintf(body + len, sizeof(body) - len, "]}}");
        call_init(&b.wd, &c);
        memset(&r, 0, sizeof(r));
        assert_int_equal(wharfd_ingest_fast(&c, body, strlen(body), &r), 1);
        doc = json_loadb(r.body, r.len, 0, NULL);
        arr = json_object_get(json_object_get(doc, "result"), "errors");
        assert_int_equal(json_array_size(arr), n);
        for (i = 0; i < n; i++) {
            assert_int_equal(json_integer_value(json_object_get(
                json_array_get(arr, i), "occurrenceCount")), want[i]);
        }
        json_decref(doc);
        wharfd_rpc_reply_free(&r);
    }
    da = dump(a.path);
    db = dump(b.path);
    assert_true(strlen(da) > 100);
    assert_string_equal(da, db);
    sqlite3_free(da);
    sqlite3_free(db);
    side_close(&a);
    side_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_folded_repeats),
    };
    return cmocka_run_group_tests_name("wharfd_ingest_fast", tests, NULL, NULL);
}
