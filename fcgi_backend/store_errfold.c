/*
 * Folding the repeats of a storeErrors batch (store_errfold.h), shared by
 * the engines.
 */
#include "store_errfold.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Adds element i (of e) to g as counted. */
static void
err_count(struct wharfd_err_group *g, size_t i, const struct wharfd_error_in *e)
{
    if (g->k == 0) {
        g->ts_min = g->ts_max = e->timestamp;
    } else {
        if (strcmp(e->timestamp, g->ts_min) < 0) {
            g->ts_min = e->timestamp;
        }
        if (strcmp(e->timestamp, g->ts_max) > 0) {
            g->ts_max = e->timestamp;
        }
    }
    g->k++;
    g->last = i;
    if (e->sequence > 0) {
        if (g->seq_min == 0) {
            g->seq_min = e->sequence;
        }
        g->seq_max = e->sequence; /* counted sequences only grow */
    }
}

/* A group of one element, i. */
static void
err_group_one(struct wharfd_err_group *g, size_t i,
              const struct wharfd_error_in *e)
{
    memset(g, 0, sizeof(*g));
    g->first = i;
    err_count(g, i, e);
}

/* The group of each element (groups in order of first appearance), by
 * an open-addressing table on the hash; next[] chains a group's elements
 * in order. Elements whose sequence is not above an earlier one of their
 * group are marked duplicate here. Returns the number of groups, or 0
 * when out of memory (each element then is its own upsert). */
static size_t
err_group(struct wharfd_error_batch *b, struct wharfd_err_group *g, size_t *of,
          size_t *next)
{
    size_t cap = 16, ng = 0, i, h, k, *tail;
    unsigned long long x;
    size_t *table;

    while (cap < 2 * b->n) {
        cap *= 2;
    }
    table = malloc(cap * sizeof(*table));
    tail = malloc(b->n * sizeof(*tail)); /* each group's last element */
    if (table == NULL || tail == NULL) {
        free(table);
        free(tail);
        return 0;
    }
    for (i = 0; i < cap; i++) {
        table[i] = WHARFD_ERR_NONE;
    }
    for (i = 0; i < b->n; i++) {
        struct wharfd_error_in *e = &b->errors[i];

        next[i] = WHARFD_ERR_NONE;
        /* The hash is hex of a SHA-256 (or the caller's 64 hex digits):
         * its first 16 digits spread well enough. */
        x = 1469598103934665603ULL;
        for (k = 0; k < 16; k++) {
            x = (x ^ (unsigned char) e->hash[k]) * 1099511628211ULL;
        }
        for (h = (size_t) x & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (table[h] == WHARFD_ERR_NONE) {
                table[h] = ng;
                err_group_one(&g[ng], i, e);
                tail[ng] = i;
                of[i] = ng++;
                break;
            }
            if (memcmp(b->errors[g[table[h]].first].hash, e->hash,
                       sizeof(e->hash))
                == 0) {
                struct wharfd_err_group *gr = &g[table[h]];

                next[tail[table[h]]] = i;
                tail[table[h]] = i;
                of[i] = table[h];
                if (e->sequence > 0 && e->sequence <= gr->seq_max) {
                    e->duplicate = 1; /* counted earlier in the batch */
                } else {
                    err_count(gr, i, e);
                }
                break;
            }
        }
    }
    free(table);
    free(tail);
    return ng;
}

/*
 * The row exists and has counted some of g's sequences (the gate held):
 * with its count and last_sequence, marks the elements it has counted as
 * duplicates, and makes *left the group of the others (left->k may be 0;
 * left->count is the row's count until they are upserted). The elements
 * are g->first and its chain in next (NULL: g is one element).
 */
static void
err_resend_plan(struct wharfd_error_batch *b, const struct wharfd_err_group *g,
                const size_t *next, long long count, long long last,
                struct wharfd_err_group *left)
{
    size_t i;

    memset(left, 0, sizeof(*left));
    left->first = g->first;
    for (i = g->first; i != WHARFD_ERR_NONE;
         i = next ? next[i] : WHARFD_ERR_NONE) {
        struct wharfd_error_in *e = &b->errors[i];

        if (e->duplicate) {
            continue; /* counted earlier in the batch */
        }
        if (e->sequence > 0 && e->sequence <= last) {
            e->duplicate = 1; /* the row has counted it */
            continue;
        }
        err_count(left, i, e);
    }
    left->count = count;
}

/* The gate of g held: sorts it out against the row, upserts what is
 * left without the gate; g becomes what was upserted. */
static int
err_resend(struct wharfd_error_batch *b, const struct wharfd_errfold_sql *sql,
           void *ctx, struct wharfd_err_group *g, const size_t *next,
           const char *now)
{
    struct wharfd_err_group left;
    long long count, last;
    int applied;

    if (sql->lookup(ctx, b, b->errors[g->first].hash, &count, &last) != 0) {
        return -1;
    }
    err_resend_plan(b, g, next, count, last, &left);
    if (left.k > 0) {
        /* ungated: the upsert always applies */
        if (sql->upsert(ctx, b, &left, 1, now, 0, &applied) != 0) {
            return -1;
        }
        if (!applied) {
            wharf_error("database: an ungated error upsert changed nothing");
            return -1;
        }
    }
    *g = left;
    return 0;
}

int
wharfd_errfold_run(struct wharfd_error_batch *b,
                   const struct wharfd_errfold_sql *sql, void *ctx)
{
    char now[WHARF_TIME_LEN];
    struct wharfd_err_group *g, one;
    size_t i, ng, *of, *next;
    int rc = 0, applied, *ok;

    wharf_now_iso8601(now, sizeof(now));
    for (i = 0; i < b->n; i++) {
        b->errors[i].duplicate = 0;
    }
    g = malloc(b->n * sizeof(*g));
    of = malloc(b->n * sizeof(*of));
    next = malloc(b->n * sizeof(*next));
    ok = malloc(b->n * sizeof(*ok));
    ng = g && of && next && ok ? err_group(b, g, of, next) : 0;
    if (ng == 0) {
        /* Out of memory for the groups: one upsert per element, in
         * order, each seeing the row as the one before left it. */
        for (i = 0; i < b->n && rc == 0; i++) {
            struct wharfd_error_in *e = &b->errors[i];

            err_group_one(&one, i, e);
            rc = sql->upsert(ctx, b, &one, 1, now, 1, &applied);
            if (rc == 0 && !applied) {
                rc = err_resend(b, sql, ctx, &one, NULL, now);
            }
            e->occurrence_count = one.count;
            e->stored = !e->duplicate && one.count == 1;
        }
    } else {
        /* Every group at once (the engine may send them together), then
         * the rows that had counted some already, one by one: the groups
         * are distinct rows, so their order does not matter. */
        rc = sql->upsert(ctx, b, g, ng, now, 1, ok);
        for (i = 0; i < ng && rc == 0; i++) {
            if (!ok[i]) {
                rc = err_resend(b, sql, ctx, &g[i], next, now);
            }
        }
        for (i = 0; i < b->n && rc == 0; i++) {
            struct wharfd_error_in *e = &b->errors[i];
            struct wharfd_err_group *gr = &g[of[i]];

            if (e->duplicate) {
                e->occurrence_count = gr->count - gr->k + gr->seen;
                e->stored = 0;
            } else {
                e->occurrence_count = gr->count - gr->k + ++gr->seen;
                e->stored = e->occurrence_count == 1;
            }
        }
    }
    free(g);
    free(of);
    free(next);
    free(ok);
    return rc;
}
