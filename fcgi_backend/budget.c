/* The memory budget: see budget.h. */
#include "budget.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <jansson.h>

static atomic_llong budget_used; /* over every request in progress */
static size_t budget_total;

/* The request this thread is serving, or NULL (not counted). */
static _Thread_local struct wharfd_budget_request *budget_cur;

/* Counts n bytes (negative: given back) for request r, unchecked. */
static void
budget_add(struct wharfd_budget_request *r, long long n)
{
    atomic_fetch_add(&budget_used, n);
    r->used += n;
    if (r->used > r->peak) {
        r->peak = r->used;
    }
}

/* Counts n more bytes for request r when both limits allow: 0, or -1
 * with the limit it hit in r->hit (nothing counted). */
static int
budget_take(struct wharfd_budget_request *r, long long n)
{
    if (n <= 0) {
        budget_add(r, n);
        return 0;
    }
    if (r->used + n > 0 && (size_t) (r->used + n) > r->max) {
        r->hit = WHARFD_BUDGET_REQUEST;
        return -1;
    }
    if ((size_t) (atomic_fetch_add(&budget_used, n) + n) > budget_total) {
        atomic_fetch_sub(&budget_used, n);
        r->hit = WHARFD_BUDGET_TOTAL;
        return -1;
    }
    r->used += n;
    if (r->used > r->peak) {
        r->peak = r->used;
    }
    return 0;
}

void *
wharfd_budget_malloc(size_t n)
{
    struct wharfd_budget_request *r = budget_cur;
    void *p;

    if (r == NULL) {
        return malloc(n);
    }
    /* checked on the size asked for, counted at the size malloc gave */
    if (budget_take(r, (long long) n) != 0) {
        return NULL;
    }
    p = malloc(n);
    if (p == NULL) {
        budget_add(r, -(long long) n);
        return NULL;
    }
    budget_add(r, (long long) malloc_usable_size(p) - (long long) n);
    return p;
}

void *
wharfd_budget_realloc(void *p, size_t n)
{
    struct wharfd_budget_request *r = budget_cur;
    long long before;
    void *q;

    if (r == NULL) {
        return realloc(p, n);
    }
    before = p ? (long long) malloc_usable_size(p) : 0;
    if (budget_take(r, (long long) n - before) != 0) {
        return NULL;
    }
    q = realloc(p, n);
    if (q == NULL) {
        budget_add(r, before - (long long) n);
        return NULL;
    }
    budget_add(r, (long long) malloc_usable_size(q) - (long long) n);
    return q;
}

void
wharfd_budget_free(void *p)
{
    struct wharfd_budget_request *r = budget_cur;

    if (p != NULL && r != NULL) {
        budget_add(r, -(long long) malloc_usable_size(p));
    }
    free(p);
}

void
wharfd_budget_init(size_t total)
{
    budget_total = total;
    /* Fixed thresholds (setting them turns glibc's dynamic ones off): a
     * large buffer, a body say, is its own mmap and goes back to the
     * system when freed; and an arena's free top is given back once it
     * passes WHARFD_TRIM_THRESHOLD. With the dynamic ones, freeing one
     * 8 MiB body raised both to 8 and 16 MiB, and the 64 MiB heaps of the
     * request threads' arenas stayed resident after a burst (their top,
     * unlike their bins, is not released by malloc_trim). */
    mallopt(M_MMAP_THRESHOLD, WHARFD_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, WHARFD_TRIM_THRESHOLD);
    json_set_alloc_funcs(wharfd_budget_malloc, wharfd_budget_free);
}

void
wharfd_budget_begin(struct wharfd_budget_request *r, size_t max)
{
    r->used = 0;
    r->peak = 0;
    r->max = max;
    r->hit = WHARFD_BUDGET_OK;
    budget_cur = r;
}

void
wharfd_budget_end(struct wharfd_budget_request *r)
{
    budget_cur = NULL;
    /* what it still holds (or freed of older memory) leaves the count */
    atomic_fetch_sub(&budget_used, r->used);
    r->used = 0;
    if ((size_t) r->peak > WHARFD_TRIM_AFTER) {
        /* every arena's free pages back to the system (glibc >= 2.8) */
        malloc_trim(0);
    }
}

enum wharfd_budget_hit
wharfd_budget_exceeded(void)
{
    return budget_cur ? budget_cur->hit : WHARFD_BUDGET_OK;
}

const char *
wharfd_budget_message(enum wharfd_budget_hit hit)
{
    switch (hit) {
    case WHARFD_BUDGET_REQUEST:
        return "the request needs more memory than wharfd gives one request "
               "(--request-memory-max): send fewer or smaller calls";
    case WHARFD_BUDGET_TOTAL:
        return "wharfd's memory budget is in use by other requests "
               "(--memory-budget): retry";
    default:
        return "out of memory";
    }
}

size_t
wharfd_budget_used(void)
{
    long long n = atomic_load(&budget_used);

    return n > 0 ? (size_t) n : 0;
}
