/* The recent rows' fill protocol (fcgi_backend/recent.h) on a real SQLite
 * store: a fill that a write or a deletion crossed is not kept. The store's
 * list query is wrapped so that the test acts at the exact moment the
 * integration tests can only hope to hit: while the fill's statement walks
 * its snapshot, a row is committed through the real writer thread (which
 * publishes it to the recent rows, as wharfd's does), or a deletion
 * touches the worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../fcgi_backend/recent.h"
#include "../../fcgi_backend/store_engine.h"

struct fx {
    struct wharfd_store *st;
    struct wharfd_recent recent;
    char path[64];
    long long next_seq;
    /* what the wrapped query does at its first row */
    enum {
        DURING_NOTHING,
        DURING_WRITE,
        DURING_TOUCH
    } during;
    int acted;
    int fill_before_publish; /* the publisher reads (fills) first, once */
};

static struct fx *the_fx; /* for the wrapped query (ops have no argument) */

static int answer(struct fx *f, long long limit, long long *seq, int *has_more,
                  int *served);
static struct wharfd_store_ops wrapped_ops;
static const struct wharfd_store_ops *real_ops;

/* The writer's publisher, as wharfd's. With fill_before_publish, a read
 * fills the worker's rows between the commit (visible) and its
 * publication, as a request thread can. */
static void
published(void *arg, enum wharfd_kind kind, const void *rows)
{
    struct fx *f = arg;
    long long seq[8];
    int more, served;

    if (f->fill_before_publish) {
        f->fill_before_publish = 0;
        (void) answer(f, 4, seq, &more, &served);
    }
    wharfd_recent_publish(&f->recent, kind, rows);
}

/* Stores n logs of worker W through the writer; returns once committed. */
static void
store_logs(struct fx *f, int n)
{
    struct wharfd_log_in logs[8];
    struct wharfd_log_batch b;
    char msg[8][32];
    int i;

    assert_true(n <= 8);
    memset(&b, 0, sizeof(b));
    memset(logs, 0, sizeof(logs));
    b.worker = "w";
    b.instance = "i1";
    b.logs = logs;
    b.n = (size_t) n;
    for (i = 0; i < n; i++) {
        logs[i].sequence = ++f->next_seq;
        strcpy(logs[i].timestamp, "2026-12-06T09:00:00.000Z");
        logs[i].level = "info";
        snprintf(msg[i], sizeof(msg[i]), "m%lld", logs[i].sequence);
        logs[i].message = msg[i];
        logs[i].message_len = strlen(msg[i]);
    }
    assert_int_equal(wharfd_store_logs(f->st, &b), 0);
    assert_int_equal(b.stored, n);
}

struct wrap {
    wharfd_row_fn fn;
    void *arg;
};

static int
wrapped_row(void *arg, const struct wharfd_col *cols, int n)
{
    struct wrap *w = arg;
    struct fx *f = the_fx;

    if (!f->acted && f->during == DURING_WRITE) {
        f->acted = 1;
        store_logs(f, 1); /* committed after this statement's snapshot */
    } else if (!f->acted && f->during == DURING_TOUCH) {
        f->acted = 1;
        wharfd_recent_touch(&f->recent, "w");
    }
    return w->fn(w->arg, cols, n);
}

static int
wrapped_query(struct wharfd_store *st, const struct wharfd_query *q,
              wharfd_row_fn fn, void *arg, long long *total, int *has_more)
{
    struct wrap w = { fn, arg };

    return real_ops->query(st, q, wrapped_row, &w, total, has_more);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->path, sizeof(f->path), "/tmp/wharf-recent-%d.db",
             (int) getpid());
    unlink(f->path);
    assert_int_equal(wharfd_store_open(&f->st, f->path), 0);
    assert_int_equal(wharfd_recent_init(&f->recent, 4, 1 << 20, 3600), 0);
    wharfd_store_set_publisher(f->st, published, NULL, f);
    real_ops = f->st->ops;
    wrapped_ops = *real_ops;
    wrapped_ops.query = wrapped_query;
    f->st->ops = &wrapped_ops;
    the_fx = f;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    static const char *const ext[] = { "", "-wal", "-shm", "-wharfd.lock" };
    char p[96];
    size_t i;

    f->st->ops = real_ops;
    wharfd_store_close(f->st);
    wharfd_recent_destroy(&f->recent);
    for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, ext[i]);
        unlink(p);
    }
    free(f);
    return 0;
}

/* The answer's sequences, newest first, into seq (at most 8); the count. */
static int
answer(struct fx *f, long long limit, long long *seq, int *has_more,
       int *served)
{
    struct wharfd_query q;
    struct wharf_textbuf w;
    const char *p;
    int n = 0;

    memset(&q, 0, sizeof(q));
    memset(&w, 0, sizeof(w));
    q.kind = WHARFD_KIND_LOGS;
    q.worker = "w";
    q.limit = limit;
    wharf_textbuf_str(&w, "");
    *served = wharfd_recent_answer(&f->recent, f->st, &q, &w, has_more);
    for (p = w.p; (p = strstr(p, "\"sequence\":")) != NULL && n < 8; p++) {
        seq[n++] = atoll(p + strlen("\"sequence\":"));
    }
    wharf_textbuf_free(&w);
    return n;
}

static unsigned long long
hits(struct fx *f)
{
    return atomic_load(&f->recent.hits);
}

/* Fill, hit, append, the ring's edge and hasMore. */
static void
test_fill_then_append(void **state)
{
    struct fx *f = *state;
    long long seq[8];
    int more, served, n;

    store_logs(f, 3);
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(served, 1);
    assert_int_equal(n, 3);
    assert_int_equal(seq[0], 3);
    assert_false(more);
    assert_int_equal(hits(f), 0); /* a fill */
    store_logs(f, 2);
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(hits(f), 1);
    assert_int_equal(n, 4);
    assert_int_equal(seq[0], 5);
    assert_int_equal(seq[3], 2);
    assert_true(more); /* row 1 left the ring of 4 */
    n = answer(f, 5, seq, &more, &served);
    assert_int_equal(served, 0); /* over --recent-rows: the database's */
}

/* A row committed while the fill walks its snapshot: the fill answers
 * from the snapshot (without the row) and is not kept; the next read
 * fills again and has it. Kept, the tail would lack it for good. */
static void
test_write_during_fill(void **state)
{
    struct fx *f = *state;
    long long seq[8];
    int more, served, n;

    store_logs(f, 2);
    f->during = DURING_WRITE;
    n = answer(f, 4, seq, &more, &served);
    assert_true(f->acted);
    assert_int_equal(served, 1);
    assert_int_equal(n, 2);
    assert_int_equal(seq[0], 2);           /* the snapshot's newest */
    assert_int_equal(f->recent.ntails, 0); /* not kept */
    f->during = DURING_NOTHING;
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(hits(f), 0); /* filled again */
    assert_int_equal(n, 3);
    assert_int_equal(seq[0], 3);
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(hits(f), 1);
    assert_int_equal(seq[0], 3);
}

/* A deletion's touch while the fill walks: not kept either. */
static void
test_touch_during_fill(void **state)
{
    struct fx *f = *state;
    long long seq[8];
    int more, served;

    store_logs(f, 2);
    f->during = DURING_TOUCH;
    (void) answer(f, 4, seq, &more, &served);
    assert_true(f->acted);
    assert_int_equal(served, 1);
    assert_int_equal(f->recent.ntails, 0);
    /* and a touch of a kept tail drops it */
    f->during = DURING_NOTHING;
    (void) answer(f, 4, seq, &more, &served);
    assert_int_equal(f->recent.ntails, 1);
    wharfd_recent_touch(&f->recent, "w");
    assert_int_equal(f->recent.ntails, 0);
    assert_int_equal(f->recent.bytes, 0);
}

/* A row committed before the fill's snapshot and published after the
 * fill was kept: it is in the tail once, not twice. */
static void
test_publish_after_fill(void **state)
{
    struct fx *f = *state;
    long long seq[8];
    int more, served, n;

    store_logs(f, 2);
    f->fill_before_publish = 1;
    store_logs(f, 1); /* the publisher fills first: rows 1-3 */
    assert_int_equal(f->fill_before_publish, 0);
    assert_int_equal(f->recent.ntails, 1);
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(hits(f), 1);
    assert_int_equal(n, 3);
    assert_int_equal(seq[0], 3);
    assert_int_equal(seq[1], 2);
    assert_int_equal(seq[2], 1);
    store_logs(f, 1);
    n = answer(f, 4, seq, &more, &served);
    assert_int_equal(n, 4);
    assert_int_equal(seq[0], 4);
    assert_int_equal(seq[1], 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fill_then_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_during_fill, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_touch_during_fill, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_after_fill, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("wharfd_recent", tests, NULL, NULL);
}
