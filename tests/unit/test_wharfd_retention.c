/* Retention (fcgi_backend/retention.c, store_retain.c) on a real SQLite
 * file: per-worker values (--retention-worker) against the global ones,
 * the count and age edges, the age cut-off's binary search against a
 * plain scan, and deletion in writer steps. Rows are written through the
 * store; their created_at (set by the writer at commit) is then rewritten
 * to chosen times, still growing with id, so the age edges are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "../../fcgi_backend/retention.h"
#include "../../fcgi_backend/store.h"
#include "../../fcgi_backend/wharfd.h"

struct rt {
    struct wharfd wd;
    char path[64];
};

static void
rt_open(struct rt *t, const char *tag, int argc, char **args)
{
    char *argv[32] = { "wharfd", "--listen",    "127.0.0.1:1", "--db",
                       NULL,     "--log-level", "warn" };
    char err[512];
    int i, n = 7;

    snprintf(t->path, sizeof(t->path), "/tmp/wharf-ret-%s-%d.db", tag,
             (int) getpid());
    unlink(t->path);
    argv[4] = t->path;
    for (i = 0; i < argc; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    memset(&t->wd, 0, sizeof(t->wd));
    assert_int_equal(
        wharfd_config_load(&t->wd.config, n, argv, err, sizeof(err)), 0);
    assert_int_equal(wharfd_store_open(&t->wd.store, t->path), 0);
}

static void
rt_close(struct rt *t)
{
    char p[80];

    wharfd_store_close(t->wd.store);
    unlink(t->path);
    snprintf(p, sizeof(p), "%s-wal", t->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", t->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-wharfd.lock", t->path);
    unlink(p);
}

/* n logs of worker w, sequences from..from+n-1, in one batch. */
static void
add_logs(struct rt *t, const char *w, long long from, size_t n)
{
    struct wharfd_log_in *logs = calloc(n, sizeof(*logs));
    struct wharfd_log_batch b;
    size_t i;

    assert_non_null(logs);
    for (i = 0; i < n; i++) {
        logs[i].sequence = from + (long long) i;
        strcpy(logs[i].timestamp, "2026-11-27T09:00:00.000Z");
        logs[i].level = "info";
        logs[i].message = "m";
        logs[i].message_len = 1;
    }
    memset(&b, 0, sizeof(b));
    b.worker = w;
    b.instance = "app";
    b.logs = logs;
    b.n = n;
    assert_int_equal(wharfd_store_logs(t->wd.store, &b), 0);
    assert_int_equal(b.stored, (long long) n);
    free(logs);
}

/* One error of worker w, message msg, last seen at ts. */
static void
add_error(struct rt *t, const char *w, const char *msg, const char *ts)
{
    struct wharfd_error_in e;
    struct wharfd_error_batch b;

    memset(&e, 0, sizeof(e));
    e.level = 50;
    snprintf(e.timestamp, sizeof(e.timestamp), "%s", ts);
    e.message = msg;
    e.message_len = strlen(msg);
    snprintf(e.hash, sizeof(e.hash), "%064zx",
             strlen(msg) * 7919 + (size_t) w[0]);
    memset(&b, 0, sizeof(b));
    b.worker = w;
    b.instance = "app";
    b.errors = &e;
    b.n = 1;
    b.now = ts;
    assert_int_equal(wharfd_store_errors(t->wd.store, &b), 0);
}

static void
exec_sql(struct rt *t, const char *sql)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The first integer of sql's first row. */
static long long
query_int(struct rt *t, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v;

    assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static long long
count_logs(struct rt *t, const char *w)
{
    char sql[160];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM container_logs WHERE "
             "worker_name = '%s'",
             w);
    return query_int(t, sql);
}

static long long
min_seq(struct rt *t, const char *w)
{
    char sql[160];

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(min(sequence), 0) FROM "
             "container_logs WHERE worker_name = '%s'",
             w);
    return query_int(t, sql);
}

/* 2026-11-27T09:00:00.000Z in milliseconds since the epoch. */
#define T0_MS 1795770000000LL

/* Worker a with a small log-count override, b at exactly the global
 * limit, c one over it, d with an override of 0 (no limit): only a and c
 * are cut, each to its own limit, the newest kept. */
static void
test_count_override(void **state)
{
    char *args[] = { "--max-logs",         "5",
                     "--log-days",         "0",
                     "--error-days",       "0",
                     "--retention-worker", "a:max-logs=2",
                     "--retention-worker", "d:max-logs=0" };
    struct rt t;

    (void) state;
    rt_open(&t, "count", 10, args);
    add_logs(&t, "a", 1, 10);
    add_logs(&t, "b", 1, 5);
    add_logs(&t, "c", 1, 6);
    add_logs(&t, "d", 1, 10);
    add_logs(&t, "a", 11, 1); /* interleaved ids */
    assert_int_equal(wharfd_retention_run(&t.wd), 9 + 1);
    assert_int_equal(count_logs(&t, "a"), 2);
    assert_int_equal(min_seq(&t, "a"), 10);   /* 10 and 11 kept */
    assert_int_equal(count_logs(&t, "b"), 5); /* exactly at the limit */
    assert_int_equal(min_seq(&t, "b"), 1);
    assert_int_equal(count_logs(&t, "c"), 5); /* one over: the oldest */
    assert_int_equal(min_seq(&t, "c"), 2);
    assert_int_equal(count_logs(&t, "d"), 10);
    /* a second pass finds nothing more */
    assert_int_equal(wharfd_retention_run(&t.wd), 0);
    rt_close(&t);
}

/* Age edges. a keeps logs 60 s and errors 30 s; b the global 7 days.
 * a's logs were received at T0 + 0, 10, 20, 30, 40 s: at T0 + 80 s the
 * cut-off is T0 + 20 s exactly, and the log received then is kept (only
 * older ones go); 1 ms later it goes too. Errors alike on last_seen. */
static void
test_age_edges(void **state)
{
    char *args[] = { "--retention-worker", "a:log-age=1m,error-age=30",
                     "--max-logs", "0" };
    struct rt t;

    (void) state;
    rt_open(&t, "age", 4, args);
    add_logs(&t, "a", 1, 1);
    add_logs(&t, "b", 1, 1);
    add_logs(&t, "a", 2, 4);
    add_logs(&t, "b", 2, 1);
    /* a: sequence s received at T0 + (s - 1) * 10 s; b: long ago */
    exec_sql(&t,
             "UPDATE container_logs SET created_at = CASE worker_name"
             " WHEN 'a' THEN strftime('%Y-%m-%dT%H:%M:%fZ', "
             "'2026-11-27T09:00:00', '+' || ((sequence - 1) * 10) || "
             "' seconds') ELSE '2026-11-22T00:00:00.000Z' END");
    add_error(&t, "a", "old", "2026-11-27T09:00:49.999Z");
    add_error(&t, "a", "edge", "2026-11-27T09:00:50.000Z");
    add_error(&t, "b", "old", "2026-11-27T08:00:00.000Z");

    /* T0 + 80 s: logs before T0 + 20 s go (1, 2), errors before
     * T0 + 50 s (old); b's are within 7 days of its clock */
    assert_int_equal(wharfd_retention_run_at(&t.wd, T0_MS + 80000), 2 + 1);
    assert_int_equal(count_logs(&t, "a"), 3);
    assert_int_equal(min_seq(&t, "a"), 3);
    assert_int_equal(query_int(&t,
                               "SELECT count(*) FROM container_errors "
                               "WHERE worker_name = 'a' AND message = "
                               "'edge'"),
                     1);
    assert_int_equal(query_int(&t, "SELECT count(*) FROM container_errors"), 2);
    assert_int_equal(count_logs(&t, "b"), 2);
    /* 1 ms later the edge rows go */
    assert_int_equal(wharfd_retention_run_at(&t.wd, T0_MS + 80001), 1 + 1);
    assert_int_equal(min_seq(&t, "a"), 4);
    assert_int_equal(query_int(&t, "SELECT count(*) FROM container_errors"), 1);
    assert_int_equal(wharfd_retention_run_at(&t.wd, T0_MS + 80001), 0);
    /* three days on, b's logs (received 2026-11-22) are over the global
     * 7 days, a's over its minute; b's error (seen at T0) is not */
    assert_int_equal(wharfd_retention_run_at(&t.wd, T0_MS + 3 * 86400000LL),
                     2 + 2);
    assert_int_equal(count_logs(&t, "a") + count_logs(&t, "b"), 0);
    assert_int_equal(query_int(&t,
                               "SELECT count(*) FROM container_errors "
                               "WHERE worker_name = 'b'"),
                     1);
    rt_close(&t);
}

/* The plan's age cut-off (a binary search over ids) against a plain scan,
 * with the worker's ids interleaved with another's and many cut-offs,
 * including every row's own time and the ends. */
static void
test_age_cutoff_search(void **state)
{
    struct rt t;
    sqlite3 *db;
    sqlite3_stmt *st;
    char before[32], sql[256];
    long long below, want, ms;
    int i, k;

    (void) state;
    rt_open(&t, "search", 0, NULL);
    for (i = 0; i < 40; i++) {
        add_logs(&t, i % 3 ? "a" : "b", i * 10 + 1, (size_t) (1 + i % 4));
    }
    /* created_at: id-monotonic, several rows per millisecond sometimes */
    exec_sql(&t,
             "UPDATE container_logs SET created_at = strftime("
             "'%Y-%m-%dT%H:%M:%fZ', '2026-11-27T09:00:00', '+' || "
             "((id / 3) * 0.007) || ' seconds')");
    assert_int_equal(sqlite3_open_v2(t.path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    for (k = -2; k < 400; k++) {
        ms = T0_MS + (long long) k * 3;
        {
            time_t s = (time_t) (ms / 1000);
            struct tm tm;
            size_t n;

            gmtime_r(&s, &tm);
            n = strftime(before, sizeof(before), "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(before + n, sizeof(before) - n, ".%03dZ",
                     (int) (ms % 1000));
        }
        snprintf(sql, sizeof(sql),
                 "SELECT coalesce((SELECT min(id) FROM "
                 "container_logs WHERE worker_name = 'a' AND created_at >= "
                 "'%s'), (SELECT max(id) + 1 FROM container_logs WHERE "
                 "worker_name = 'a'))",
                 before);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        want = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        assert_int_equal(
            wharfd_store_retain_logs_plan(t.wd.store, "a", before, 0, &below),
            0);
        /* 0: nothing goes, which is "below the oldest" */
        if (below == 0) {
            assert_int_equal(
                want,
                query_int(&t,
                          "SELECT min(id) FROM "
                          "container_logs WHERE worker_name = 'a'"));
        } else {
            assert_int_equal(below, want);
        }
    }
    sqlite3_close(db);
    assert_int_equal(
        wharfd_store_retain_logs_plan(t.wd.store, "nobody", before, 3, &below),
        0);
    assert_int_equal(below, 0);
    rt_close(&t);
}

/* 2,500 logs over a limit of 10: deleted in writer jobs of at most
 * WHARFD_RETENTION_STEP rows, each its own commit; a pass with nothing
 * to delete queues no writer job. */
static void
test_steps(void **state)
{
    char *args[] = { "--retention-worker", "big:max-logs=10" };
    unsigned long long c0, j0, c1, j1;
    struct rt t;

    (void) state;
    rt_open(&t, "steps", 2, args);
    add_logs(&t, "big", 1, 2500);
    wharfd_store_counters(t.wd.store, &c0, &j0);
    assert_int_equal(wharfd_retention_run(&t.wd), 2490);
    wharfd_store_counters(t.wd.store, &c1, &j1);
    assert_int_equal(j1 - j0, 3); /* 1000 + 1000 + 490 */
    assert_int_equal(count_logs(&t, "big"), 10);
    assert_int_equal(min_seq(&t, "big"), 2491);
    /* nothing left to delete, young errors: no writer job at all */
    add_error(&t, "big", "fresh", "2026-11-27T09:00:00.000Z");
    wharfd_store_counters(t.wd.store, &c0, &j0);
    assert_int_equal(wharfd_retention_run_at(&t.wd, T0_MS + 1000), 0);
    wharfd_store_counters(t.wd.store, &c1, &j1);
    assert_int_equal(j1 - j0, 0);
    rt_close(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_override),
        cmocka_unit_test(test_age_edges),
        cmocka_unit_test(test_age_cutoff_search),
        cmocka_unit_test(test_steps),
    };
    return cmocka_run_group_tests_name("wharfd_retention", tests, NULL, NULL);
}
