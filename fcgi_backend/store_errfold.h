/*
 * Repeats inside one storeErrors batch, folded into one upsert per error
 * hash, the same way on every engine (an error storm sends the same error
 * many times in a batch; bench/ingest sends each of 100 fingerprints 5
 * times per batch of 500). The batch gives the rows and answers that its
 * elements sent one by one, in order, would give
 * (tests/unit/test_wharfd_ingest_fast.c checks it):
 *   - an element counts unless it carries a sequence that is not above
 *     the highest sequence counted so far for its row: the row's
 *     last_sequence, or an earlier element of the group. The others are
 *     resends (duplicate = 1): they change nothing.
 *   - the counted elements of a group become one upsert with
 *     occurrence_count + k. A new row takes the group's first element's
 *     message, level and process_id (the first INSERT's), and raw_output
 *     of its last counted element (each repeat's DO UPDATE replaces it);
 *     timestamp and last_seen are the max, first_seen the min, over the
 *     counted elements and the row (max/min of ISO text are time order);
 *     last_sequence the max of the row's and theirs.
 *   - counted element j (1-based) of a group of k gets occurrenceCount
 *     C - k + j, C being the count the upsert returns: what its own
 *     upsert would have returned, so "stored" (count 1) is the same too;
 *     a resend gets the count as it stands when it comes (the count of
 *     the counted elements before it).
 * Which elements count can be told in the batch alone except against the
 * row's last_sequence. The engine's upsert carries a gate (the group's
 * lowest sequence): a new row, or one whose last_sequence is below every
 * sequence of the group, takes all of them in the one statement. Only
 * when the row already holds some of them (a resend, or a batch
 * overlapping an earlier one) is the row read and the group sorted out
 * element by element, then upserted without the gate.
 *
 * The engine supplies the two statements (struct wharfd_errfold_sql); the
 * rest is here.
 */
#ifndef WHARFD_STORE_ERRFOLD_H
#define WHARFD_STORE_ERRFOLD_H

#include <stddef.h>

#include "store.h"

#define WHARFD_ERR_NONE ((size_t) -1)

struct wharfd_err_group {
    size_t first, last;          /* first element; last counted element */
    const char *ts_min, *ts_max; /* over the counted elements */
    long long k;                 /* counted elements */
    long long seq_min, seq_max;  /* their lowest, highest sequence; 0 none */
    long long count;             /* the row's count after the upsert */
    long long seen;              /* counted elements answered so far */
};

struct wharfd_errfold_sql {
    /* Upserts groups g[0..n): for each, one row of b's worker and
     * instance with the hash, message, level and process_id of element
     * g->first, raw_output of g->last, timestamp and last_seen
     * g->ts_max, first_seen g->ts_min, occurrence_count + g->k,
     * last_sequence the max of the row's and g->seq_max (when not 0),
     * created_at now. Gated (gated = 1, and g->seq_min not 0): when the
     * row's last_sequence is not below g->seq_min, nothing changes and
     * applied[i] = 0. Else applied[i] = 1 and g[i].count is the row's
     * count after it. */
    int (*upsert)(void *ctx, const struct wharfd_error_batch *b,
                  struct wharfd_err_group *g, size_t n, const char *now,
                  int gated, int *applied);
    /* The row of hash (it exists): its count and last_sequence. */
    int (*lookup)(void *ctx, const struct wharfd_error_batch *b,
                  const char *hash, long long *count, long long *last);
};

/* Stores batch b through sql (ctx is its first argument), setting each
 * element's duplicate, occurrence_count and stored. 0, or -1 when a
 * statement failed. */
int wharfd_errfold_run(struct wharfd_error_batch *b,
                       const struct wharfd_errfold_sql *sql, void *ctx);

#endif
