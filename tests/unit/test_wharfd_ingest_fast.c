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
    char *argv[] = { "wharfd", "--listen", "127.0.0.1:1", "--db",
                     NULL,     "--auth",   "off",         NULL };
    char err[256];

    snprintf(s->path, sizeof(s->path), "/tmp/wharf-fast-%s-%d.db", tag,
             (int) getpid());
    unlink(s->path);
    argv[4] = s->path;
    memset(&s->wd, 0, sizeof(s->wd));
    assert_int_equal(
        wharfd_config_load(&s->wd.config, 7, argv, err, sizeof(err)), 0);
    assert_int_equal(wharfd_auth_init(&s->wd.auth, NULL, 0, 1), 0);
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
    snprintf(p, sizeof(p), "%s-wharfd.lock", s->path);
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
        " occurrence_count, first_seen, last_seen, last_sequence"
        " FROM container_errors ORDER BY id",
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
                                    sqlite3_column_text(st, i) ? (
                                        const char *) sqlite3_column_text(st, i)
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
    int fast; /* 1: the fast path must take it */
    const char *body;
};

/* The table of request bodies is laid out as the JSON reads. */
/* clang-format off */
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
    /* Sequences (schema 0002): new ones count, a resend is a duplicate,
     * an overlapping batch counts only its new ones; repeats of a
     * sequence inside one batch count once; no sequence counts always. */
    { 1, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"seq a\","
         "\"sequence\":10," TS "},{\"level\":50,\"message\":\"seq b\","
         "\"sequence\":11," TS "},{\"level\":50,\"message\":\"seq a\","
         "\"sequence\":12,\"timestamp\":\"2026-11-27T09:05:00Z\"}]}}" },
    { 1, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"seq a\","
         "\"sequence\":10," TS "},{\"level\":50,\"message\":\"seq b\","
         "\"sequence\":11," TS "},{\"level\":50,\"message\":\"seq a\","
         "\"sequence\":12,\"timestamp\":\"2026-11-27T09:05:00Z\"}]}}" },
    { 1, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"seq a\","
         "\"sequence\":12," TS "},{\"level\":50,\"message\":\"seq b\","
         "\"sequence\":13,\"rawOutput\":\"new b\"," TS "},{\"level\":50,"
         "\"message\":\"seq a\",\"sequence\":14,\"rawOutput\":\"new a\","
         "\"timestamp\":\"2026-11-27T09:06:00Z\"},{\"level\":50,"
         "\"message\":\"seq a\",\"sequence\":14," TS "},{\"level\":50,"
         "\"message\":\"seq a\"," TS ",\"sequence\":null},{\"level\":50,"
         "\"message\":\"seq c\",\"sequence\":9000000000000000," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":0," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":-3," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":1.5," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":\"3\"," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":5,\"sequence\":6," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"x\","
         "\"sequence\":1e3," TS "}]}}" },
    { 0, HEAD("storeErrors") "\"errors\":[{\"level\":50,\"message\":\"big\","
         "\"sequence\":9223372036854775807," TS "}]}}" },
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
/* clang-format on */

static void
call_init(struct wharfd *wd, struct wharfd_call *c)
{
    memset(c, 0, sizeof(*c));
    wharfd_auth_request(wd, c, NULL, NULL, NULL);
}

/* Both stores hold the same rows (and some): then closes them. */
static void
same_rows_then_close(struct side *a, struct side *b)
{
    char *da = dump(a->path), *db = dump(b->path);

    assert_true(strlen(da) > 100);
    assert_string_equal(da, db);
    sqlite3_free(da);
    sqlite3_free(db);
    side_close(a);
    side_close(b);
}

static void
test_same_answers(void **state)
{
    struct side a, b;
    struct wharfd_rpc_reply ra, rb;
    struct wharfd_call ca, cb;
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
        if (took != cases[i].fast || ra.status != rb.status || ra.len != rb.len
            || (ra.len > 0 && memcmp(ra.body, rb.body, ra.len) != 0)) {
            fprintf(stderr,
                    "case %zu: fast %d (want %d)\n jansson %d %s\n"
                    " fast    %d %s\n",
                    i, took, cases[i].fast, ra.status, ra.body ? ra.body : "",
                    rb.status, rb.body ? rb.body : "");
        }
        assert_int_equal(took, cases[i].fast);
        assert_int_equal(ra.status, rb.status);
        assert_int_equal(ra.len, rb.len);
        if (ra.len > 0) { /* a 204 has no body at all */
            assert_memory_equal(ra.body, rb.body, ra.len);
        }
        wharfd_rpc_reply_free(&ra);
        wharfd_rpc_reply_free(&rb);
    }
    same_rows_then_close(&a, &b);
}

/* Sends one storeErrors element as a request of its own (the jansson
 * path, one upsert) to side a: its occurrenceCount and duplicate mark. */
static void
one_error(struct side *a, const char *el, long long *count, int *dup)
{
    struct wharfd_rpc_reply r;
    struct wharfd_call c;
    char one[1024];
    json_t *doc, *arr, *x;

    snprintf(one, sizeof(one), HEAD("storeErrors") "\"errors\":[%s]}}", el);
    call_init(&a->wd, &c);
    wharfd_rpc_handle(wharfd_methods_lookup, &c, one, strlen(one), &r);
    doc = json_loadb(r.body, r.len, 0, NULL);
    arr = json_object_get(json_object_get(doc, "result"), "errors");
    assert_int_equal(json_array_size(arr), 1);
    x = json_array_get(arr, 0);
    *count = json_integer_value(json_object_get(x, "occurrenceCount"));
    *dup = json_is_true(json_object_get(x, "duplicate"));
    json_decref(doc);
    wharfd_rpc_reply_free(&r);
}

/* Sends a whole storeErrors batch through the fast path to side b (folded
 * by the writer) and checks each element's answer against the one
 * request per element gave. */
static void
check_batch(struct side *b, const char *body, size_t n, const long long *want,
            const int *wantdup)
{
    struct wharfd_rpc_reply r;
    struct wharfd_call c;
    json_t *doc, *arr, *x;
    size_t i;

    call_init(&b->wd, &c);
    memset(&r, 0, sizeof(r));
    assert_int_equal(wharfd_ingest_fast(&c, body, strlen(body), &r), 1);
    doc = json_loadb(r.body, r.len, 0, NULL);
    arr = json_object_get(json_object_get(doc, "result"), "errors");
    assert_int_equal(json_array_size(arr), n);
    for (i = 0; i < n; i++) {
        x = json_array_get(arr, i);
        assert_int_equal(
            json_integer_value(json_object_get(x, "occurrenceCount")), want[i]);
        assert_int_equal(json_is_true(json_object_get(x, "duplicate")),
                         wantdup[i]);
    }
    json_decref(doc);
    wharfd_rpc_reply_free(&r);
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
    char body[1 << 16], el[512];
    long long want[64];
    int wantdup[64];
    size_t i, n = 40, len;
    int round;

    (void) state;
    side_open(&a, "seq");
    side_open(&b, "fold");
    for (round = 0; round < 2; round++) {
        len = (size_t) snprintf(body, sizeof(body),
                                HEAD("storeErrors") "\"errors\":[");
        for (i = 0; i < n; i++) {
            snprintf(el, sizeof(el),
                     "{\"level\":%d,\"message\":\"%s\","
                     "\"timestamp\":\"2026-11-27T09:%02zu:00.000Z\""
                     "%s%s%s,\"processId\":\"p%zu\"}",
                     i % 5 == 4 ? 60 : 50, msgs[(i * 7 + (size_t) round) % 4],
                     (i * 37 + 11) % 60, i % 3 ? ",\"rawOutput\":\"raw " : "",
                     i % 3 ? msgs[i % 4] : "", i % 3 ? "\"" : "", i);
            len += (size_t) snprintf(body + len, sizeof(body) - len, "%s%s",
                                     i ? "," : "", el);
            one_error(&a, el, &want[i], &wantdup[i]);
        }
        snprintf(body + len, sizeof(body) - len, "]}}");
        check_batch(&b, body, n, want, wantdup);
    }
    same_rows_then_close(&a, &b);
}

/* The body through the fast path (which must take it) and the jansson
 * path on two stores; both answers must be the same bytes. Returns the
 * parsed result (the caller frees it). */
static json_t *
both(struct side *a, struct side *b, const char *body)
{
    struct wharfd_rpc_reply ra, rb;
    struct wharfd_call ca, cb;
    json_t *doc, *res;
    size_t len = strlen(body);

    call_init(&a->wd, &ca);
    call_init(&b->wd, &cb);
    wharfd_rpc_handle(wharfd_methods_lookup, &ca, body, len, &ra);
    memset(&rb, 0, sizeof(rb));
    assert_int_equal(wharfd_ingest_fast(&cb, body, len, &rb), 1);
    assert_int_equal(ra.len, rb.len);
    assert_memory_equal(ra.body, rb.body, ra.len);
    doc = json_loadb(ra.body, ra.len, 0, NULL);
    assert_non_null(doc);
    res = json_incref(json_object_get(doc, "result"));
    assert_non_null(res);
    json_decref(doc);
    wharfd_rpc_reply_free(&ra);
    wharfd_rpc_reply_free(&rb);
    return res;
}

/* Checks a storeErrors result: its three counts, each element's
 * occurrenceCount, and which elements are marked duplicate (a string of
 * 0/1, one per element). */
static void
check_errors(json_t *res, long long stored, long long repeated, long long dups,
             const long long *counts, const char *dupmask)
{
    json_t *arr = json_object_get(res, "errors"), *el;
    size_t i;

    assert_int_equal(json_integer_value(json_object_get(res, "stored")),
                     stored);
    assert_int_equal(json_integer_value(json_object_get(res, "repeated")),
                     repeated);
    assert_int_equal(json_integer_value(json_object_get(res, "duplicates")),
                     dups);
    assert_int_equal(json_array_size(arr), strlen(dupmask));
    json_array_foreach (arr, i, el) {
        assert_int_equal(
            json_integer_value(json_object_get(el, "occurrenceCount")),
            counts[i]);
        if (dupmask[i] == '1') {
            assert_true(json_is_true(json_object_get(el, "duplicate")));
            assert_int_equal(json_object_size(el), 3);
        } else {
            /* the version-1 shape, unchanged */
            assert_null(json_object_get(el, "duplicate"));
            assert_int_equal(json_object_size(el), 2);
        }
    }
    json_decref(res);
}

/* A row's occurrence_count, last_sequence (-1: NULL) and raw_output. */
static void
check_row(const char *path, const char *msg, long long count,
          long long last_seq, const char *raw)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT occurrence_count,"
                           " coalesce(last_sequence, -1), raw_output"
                           " FROM container_errors WHERE message = ?1",
                           -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, msg, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), count);
    assert_int_equal(sqlite3_column_int64(st, 1), last_seq);
    if (raw == NULL) {
        assert_null(sqlite3_column_text(st, 2));
    } else {
        assert_string_equal((const char *) sqlite3_column_text(st, 2), raw);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* storeErrors with sequences, the cases of docs/wharfd.md one by one:
 * the answers and rows, not only their agreement. */
static void
test_error_sequences(void **state)
{
    static const char first[] = HEAD(
        "storeErrors") "\"errors\":["
                       "{\"level\":50,\"message\":\"a\",\"sequence\":10,"
                       "\"rawOutput\":\"a10\"," TS "},"
                       "{\"level\":50,\"message\":\"b\",\"sequence\":11," TS
                       "},"
                       "{\"level\":50,\"message\":\"a\",\"sequence\":12,"
                       "\"rawOutput\":\"a12\"," TS "}]}}";
    /* overlapping: a@12 was counted; a@14 twice in the batch; a without
     * sequence; b@13 new; c new */
    static const char overlap[] =
        HEAD("storeErrors") "\"errors\":["
                            "{\"level\":50,\"message\":\"a\",\"sequence\":12,"
                            "\"rawOutput\":\"again\"," TS "},"
                            "{\"level\":50,\"message\":\"b\",\"sequence\":13,"
                            "\"rawOutput\":\"b13\"," TS "},"
                            "{\"level\":50,\"message\":\"a\",\"sequence\":14,"
                            "\"rawOutput\":\"a14\"," TS "},"
                            "{\"level\":50,\"message\":\"a\",\"sequence\":14,"
                            "\"rawOutput\":\"a14 twice\"," TS "},"
                            "{\"level\":50,\"message\":\"a\",\"rawOutput\":"
                            "\"plain\"," TS "},"
                            "{\"level\":50,\"message\":\"c\",\"sequence\":1," TS
                            "}]}}";
    static const char plain[] =
        HEAD("storeErrors") "\"errors\":["
                            "{\"level\":50,\"message\":\"p\"," TS "},"
                            "{\"level\":50,\"message\":\"p\"," TS "}]}}";
    static const long long c1[] = { 1, 1, 2 }, c2[] = { 2, 1, 2 },
                           c3[] = { 2, 2, 3, 3, 4, 1 }, c4[] = { 1, 2 },
                           c5[] = { 3, 4 };
    struct side a, b;
    struct wharfd_rpc_reply r;
    struct wharfd_call c;
    json_t *doc, *res;
    char one[512];

    (void) state;
    side_open(&a, "sq-j");
    side_open(&b, "sq-f");
    check_errors(both(&a, &b, first), 2, 1, 0, c1, "000");
    check_row(b.path, "a", 2, 12, "a12");
    /* the same batch again: nothing counted, nothing changed */
    check_errors(both(&a, &b, first), 0, 0, 3, c2, "111");
    check_row(b.path, "a", 2, 12, "a12");
    check_row(b.path, "b", 1, 11, NULL);
    check_errors(both(&a, &b, overlap), 1, 3, 2, c3, "100100");
    /* a: +2 (a@14 once, the plain one); raw_output the last counted */
    check_row(b.path, "a", 4, 14, "plain");
    check_row(b.path, "b", 2, 13, "b13");
    check_row(b.path, "c", 1, 1, NULL);
    /* no sequence: every send counts, last_sequence stays NULL */
    check_errors(both(&a, &b, plain), 1, 1, 0, c4, "00");
    check_errors(both(&a, &b, plain), 0, 2, 0, c5, "00");
    check_row(b.path, "p", 4, -1, NULL);

    /* storeError (jansson path only): a resend says duplicate */
    snprintf(one, sizeof(one),
             HEAD("storeError") "\"level\":50,"
                                "\"message\":\"a\",\"sequence\":13," TS "}}");
    call_init(&b.wd, &c);
    wharfd_rpc_handle(wharfd_methods_lookup, &c, one, strlen(one), &r);
    doc = json_loadb(r.body, r.len, 0, NULL);
    res = json_object_get(doc, "result");
    assert_int_equal(
        json_integer_value(json_object_get(res, "occurrenceCount")), 4);
    assert_int_equal(json_integer_value(json_object_get(res, "stored")), 0);
    assert_true(json_is_true(json_object_get(res, "duplicate")));
    json_decref(doc);
    wharfd_rpc_reply_free(&r);
    snprintf(one, sizeof(one),
             HEAD("storeError") "\"level\":50,"
                                "\"message\":\"a\",\"sequence\":15," TS "}}");
    call_init(&b.wd, &c);
    wharfd_rpc_handle(wharfd_methods_lookup, &c, one, strlen(one), &r);
    doc = json_loadb(r.body, r.len, 0, NULL);
    res = json_object_get(doc, "result");
    assert_int_equal(
        json_integer_value(json_object_get(res, "occurrenceCount")), 5);
    assert_null(json_object_get(res, "duplicate"));
    json_decref(doc);
    wharfd_rpc_reply_free(&r);
    check_row(b.path, "a", 5, 15, NULL);
    side_close(&a);
    side_close(&b);
}

/* Random batches with sequences (repeated, out of order, absent, and
 * resent across batches) through the fast path, folded by the writer,
 * against the same elements sent one request each: every element's
 * occurrenceCount and duplicate mark, and in the end every row. */
static void
test_folded_sequences(void **state)
{
    static const char *const msgs[] = { "a", "b at App.tsx:1:2", "c" };
    struct side a, b;
    char body[1 << 16], el[512], seq[32];
    long long want[64];
    int wantdup[64];
    size_t i, n = 48, len;
    unsigned rnd = 12345;
    int round;

    (void) state;
    side_open(&a, "fs-one");
    side_open(&b, "fs-fold");
    for (round = 0; round < 6; round++) {
        len = (size_t) snprintf(body, sizeof(body),
                                HEAD("storeErrors") "\"errors\":[");
        for (i = 0; i < n; i++) {
            rnd = rnd * 1103515245u + 12345u;
            /* sequences 1..40 over all rounds: later rounds resend */
            if ((rnd >> 16) % 5 == 0) {
                seq[0] = '\0';
            } else {
                snprintf(seq, sizeof(seq), ",\"sequence\":%u",
                         1 + (rnd >> 8) % (8 + 6 * (unsigned) round));
            }
            snprintf(el, sizeof(el),
                     "{\"level\":50,\"message\":\"%s\","
                     "\"timestamp\":\"2026-11-27T09:%02u:00.000Z\"%s,"
                     "\"rawOutput\":\"r%d-%zu\"}",
                     msgs[(rnd >> 20) % 3], (rnd >> 4) % 60, seq, round, i);
            len += (size_t) snprintf(body + len, sizeof(body) - len, "%s%s",
                                     i ? "," : "", el);
            one_error(&a, el, &want[i], &wantdup[i]);
        }
        snprintf(body + len, sizeof(body) - len, "]}}");
        check_batch(&b, body, n, want, wantdup);
    }
    same_rows_then_close(&a, &b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_folded_repeats),
        cmocka_unit_test(test_error_sequences),
        cmocka_unit_test(test_folded_sequences),
    };
    return cmocka_run_group_tests_name("wharfd_ingest_fast", tests, NULL, NULL);
}
