/* Unit tests for wharfd's memory budget (fcgi_backend/budget.c): each
 * limit at its edge, jansson's allocations counted, the count given back
 * at a request's end; the global limit with two request threads held at
 * a barrier, so that it is hit deterministically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../fcgi_backend/budget.h"

#define KiB 1024UL
#define MiB (1024UL * 1024)

static int
setup(void **state)
{
    (void) state;
    wharfd_budget_init(4 * MiB);
    return 0;
}

static void
test_request_limit_edge(void **state)
{
    struct wharfd_budget_request r;
    void *a, *b;

    (void) state;
    wharfd_budget_begin(&r, 1 * MiB);
    /* the limit itself is allowed; one byte more is not */
    assert_null(wharfd_budget_malloc(1 * MiB + 1));
    assert_int_equal(wharfd_budget_exceeded(), WHARFD_BUDGET_REQUEST);
    r.hit = WHARFD_BUDGET_OK;
    a = wharfd_budget_malloc(1 * MiB);
    assert_non_null(a);
    assert_true(wharfd_budget_used() >= 1 * MiB);
    b = wharfd_budget_malloc(64);
    assert_null(b);
    assert_int_equal(wharfd_budget_exceeded(), WHARFD_BUDGET_REQUEST);
    /* freeing gives it back to the request */
    wharfd_budget_free(a);
    b = wharfd_budget_malloc(512 * KiB);
    assert_non_null(b);
    /* realloc past the limit fails and keeps the block */
    assert_null(wharfd_budget_realloc(b, 2 * MiB));
    memset(b, 1, 512 * KiB);
    wharfd_budget_free(b);
    wharfd_budget_end(&r);
    assert_int_equal(wharfd_budget_used(), 0);
    /* outside a request nothing is counted or refused */
    a = wharfd_budget_malloc(8 * MiB);
    assert_non_null(a);
    assert_int_equal(wharfd_budget_used(), 0);
    free(a);
}

/* jansson allocates through the budget: a parse that needs more than the
 * request may hold fails, and says so. */
static void
test_jansson_counted(void **state)
{
    struct wharfd_budget_request r;
    json_error_t err;
    json_t *v;
    char *text;
    size_t i, n = 200000;

    (void) state;
    text = malloc(n * 2 + 2);
    text[0] = '[';
    for (i = 0; i < n; i++) {
        text[1 + 2 * i] = '1';
        text[2 + 2 * i] = i + 1 < n ? ',' : ']';
    }
    text[2 * n + 1] = '\0';
    /* 400 KB of text, ~10 MB of tree: over a 2 MiB request */
    wharfd_budget_begin(&r, 2 * MiB);
    v = json_loads(text, 0, &err);
    assert_null(v);
    assert_int_equal(wharfd_budget_exceeded(), WHARFD_BUDGET_REQUEST);
    wharfd_budget_end(&r);
    /* the same within a larger one, and the count goes back to 0 */
    wharfd_budget_begin(&r, 64 * MiB);
    /* the global limit (4 MiB) is what stops it now */
    v = json_loads(text, 0, &err);
    assert_null(v);
    assert_int_equal(wharfd_budget_exceeded(), WHARFD_BUDGET_TOTAL);
    wharfd_budget_end(&r);
    assert_int_equal(wharfd_budget_used(), 0);
    free(text);
}

struct two {
    pthread_barrier_t held, done;
    enum wharfd_budget_hit second;
};

static void *
holder(void *arg)
{
    struct two *t = arg;
    struct wharfd_budget_request r;
    void *p;

    wharfd_budget_begin(&r, 4 * MiB);
    p = wharfd_budget_malloc(3 * MiB);
    pthread_barrier_wait(&t->held); /* 3 of the 4 MiB in use */
    pthread_barrier_wait(&t->done);
    wharfd_budget_free(p);
    wharfd_budget_end(&r);
    return NULL;
}

static void
test_total_across_requests(void **state)
{
    struct wharfd_budget_request r;
    struct two t;
    pthread_t th;
    void *p;

    (void) state;
    pthread_barrier_init(&t.held, NULL, 2);
    pthread_barrier_init(&t.done, NULL, 2);
    pthread_create(&th, NULL, holder, &t);
    pthread_barrier_wait(&t.held);
    wharfd_budget_begin(&r, 4 * MiB);
    /* within its own limit, but not within what is left of the total */
    assert_null(wharfd_budget_malloc(2 * MiB));
    assert_int_equal(wharfd_budget_exceeded(), WHARFD_BUDGET_TOTAL);
    assert_non_null(
        strstr(wharfd_budget_message(WHARFD_BUDGET_TOTAL), "--memory-budget"));
    p = wharfd_budget_malloc(512 * KiB);
    assert_non_null(p);
    wharfd_budget_free(p);
    wharfd_budget_end(&r);
    pthread_barrier_wait(&t.done);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&t.held);
    pthread_barrier_destroy(&t.done);
    assert_int_equal(wharfd_budget_used(), 0);
}

/* Memory a request keeps past its end (handed to another owner) leaves
 * the count anyway: the count never drifts. */
static void
test_end_settles_the_count(void **state)
{
    struct wharfd_budget_request r;
    void *kept;

    (void) state;
    wharfd_budget_begin(&r, 4 * MiB);
    kept = wharfd_budget_malloc(1 * MiB);
    wharfd_budget_end(&r);
    assert_int_equal(wharfd_budget_used(), 0);
    /* freed later, outside any request: no count to take it from */
    wharfd_budget_free(kept);
    assert_int_equal(wharfd_budget_used(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_limit_edge),
        cmocka_unit_test(test_jansson_counted),
        cmocka_unit_test(test_total_across_requests),
        cmocka_unit_test(test_end_settles_the_count),
    };
    return cmocka_run_group_tests_name("wharfd_budget", tests, setup, NULL);
}
