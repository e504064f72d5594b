/*
 * wharfd's memory budget (docs/wharfd.md, "Memory budget").
 *
 * A request's cost in memory is not its body: a JSON-RPC batch of 95,000
 * calls in 7.8 MiB became ~200 MB of jansson trees and answers, and four
 * such requests at once took wharfd from 14 MB to over 800 MB of RSS,
 * most of which malloc then kept. So what a request holds is counted, as
 * it is allocated, and bounded:
 *
 *   --rpc-batch-max N           calls in one JSON-RPC batch (counted
 *                               before the body is parsed: rpc.c)
 *   --answer-max BYTES          bytes of one /rpc answer (rpc.c)
 *   --request-memory-max BYTES  everything one request holds at once: its
 *                               body, the jansson trees of its calls and
 *                               results, its answer
 *   --memory-budget BYTES       the same, summed over every request in
 *                               progress
 *
 * Counting: every allocation jansson makes goes through this file
 * (json_set_alloc_funcs), and so do the body and the answer buffers
 * (wharfd_budget_malloc and friends). On a request thread, between
 * wharfd_budget_begin and wharfd_budget_end, each allocation is added to
 * the request's count and to the global one (malloc_usable_size, so
 * malloc's rounding counts too) and refused when either would pass its
 * limit: jansson then fails the parse or the call as out of memory, and
 * the answer says which limit (wharfd_budget_exceeded). Allocations of
 * other threads (the feed, the writer) are not counted. What a request
 * still holds at its end is taken off the global count, so the count
 * never drifts.
 *
 * Giving memory back: malloc's mmap and trim thresholds are fixed
 * (WHARFD_MMAP_THRESHOLD, WHARFD_TRIM_THRESHOLD), so large buffers are
 * unmapped when freed and an arena's free top is released; and after a
 * request that held more than WHARFD_TRIM_AFTER bytes, malloc_trim(0)
 * returns the free pages inside every arena. So RSS goes back down after
 * a burst (tests/integration/wharfd_memory.test.mjs measures it).
 */
#ifndef WHARFD_BUDGET_H
#define WHARFD_BUDGET_H

#include <stddef.h>

/* Defaults (config.c has the flags). Plain numbers: the options table
 * shows them as they are written (WHARF_OPT_STR). 32, 64 and 256 MiB. */
#define WHARFD_RPC_BATCH_MAX_DEFAULT      1000
#define WHARFD_RPC_BATCH_MAX_MAX          1000000
#define WHARFD_ANSWER_MAX_DEFAULT         33554432
#define WHARFD_REQUEST_MEMORY_MAX_DEFAULT 67108864
#define WHARFD_MEMORY_BUDGET_DEFAULT      268435456
#define WHARFD_MEMORY_LIMIT_MAX           (1UL << 40)

/* A request that held more than this gets malloc_trim(0) at its end. */
#define WHARFD_TRIM_AFTER (4UL * 1024 * 1024)

/* malloc's thresholds (mallopt), fixed: allocations from this size on
 * are mmaps of their own; an arena gives its free top back beyond this. */
#define WHARFD_MMAP_THRESHOLD (256UL * 1024)
#define WHARFD_TRIM_THRESHOLD (1UL * 1024 * 1024)

/* Which limit a refused allocation hit. */
enum wharfd_budget_hit {
    WHARFD_BUDGET_OK = 0,
    WHARFD_BUDGET_REQUEST, /* --request-memory-max */
    WHARFD_BUDGET_TOTAL    /* --memory-budget */
};

/* One request's count, on its thread's stack. */
struct wharfd_budget_request {
    long long used; /* may dip below 0: frees of older memory */
    long long peak;
    size_t max;
    enum wharfd_budget_hit hit;
};

/* Installs the counting allocator for jansson, with the global limit.
 * Once, before any thread starts and before jansson is used. */
void wharfd_budget_init(size_t total);

/* Starts counting this thread's allocations for a request. */
void wharfd_budget_begin(struct wharfd_budget_request *r, size_t max);

/* Stops counting; gives back the pages of a large request. */
void wharfd_budget_end(struct wharfd_budget_request *r);

/* The limit the current request hit, if any. */
enum wharfd_budget_hit wharfd_budget_exceeded(void);

/* A message naming the limit that was hit (static). */
const char *wharfd_budget_message(enum wharfd_budget_hit hit);

/* Counted allocations (the same as jansson's), for bodies and answers. */
void *wharfd_budget_malloc(size_t n);
void *wharfd_budget_realloc(void *p, size_t n);
void wharfd_budget_free(void *p);

/* Bytes counted over all requests in progress (tests, logs). */
size_t wharfd_budget_used(void);

#endif
