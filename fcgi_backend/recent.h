/*
 * The recent rows: for each worker whose newest logs were read lately,
 * its newest --recent-rows logs kept in memory as the JSON text of their
 * rows, so "the latest N logs of worker W" (the console's and a
 * dashboard's first read, `wharfctl logs tail`) is answered without the
 * database.
 *
 * Why this exists: such a read through SQLite costs ~850,000 instructions
 * (an index walk, a seek and 13 columns per row, then 29 KB of JSON for
 * 100 rows; docs/BENCHMARKS.md), while the rows it returns were written by
 * this very process moments before. The writer thread, which commits every
 * row, keeps each watched worker's tail current as it commits; a read
 * takes a copy of text.
 *
 * Why it is not a cache of answers: it is never invalidated by ingestion.
 * New rows of a watched worker are appended by the writer after their
 * commit and before their sender is answered, so a tail is always the
 * newest rows committed (read-your-writes holds), however fast the worker
 * logs. Only deletions (clear, retention) drop a tail; the next read
 * fills it again from the database.
 *
 * The states of one worker's tail, and why a fill cannot miss a row:
 *
 *   (none) --read of W--> FILLING --fill done, no write of W meanwhile-->
 *   FILLED --write of W--> FILLED (rows appended)
 *
 * A fill registers FILLING before its query starts, so the query's
 * snapshot holds every commit published before that. A commit of W
 * published while FILLING marks the tail dirty (its rows may or may not
 * be in the snapshot), and a dirty fill is not kept: the read that
 * filled is answered from its own rows (a consistent snapshot), and the
 * next read tries again. A commit is visible before it is published, so
 * a whole fill can also run between the two: its rows are then in the
 * snapshot and their publication finds the tail FILLED; ids grow with
 * commits (one writer), so the tail appends only rows above the newest
 * id it holds. A deletion touches twice, before its job (a FILLED tail
 * goes, so none serves rows being deleted) and after its commit (a fill
 * that began meanwhile is dirty, one that ended meanwhile goes).
 * tests/unit/test_wharfd_recent.c makes each of these interleavings
 * happen on a real store.
 *
 * What it serves: kind logs, worker set and nothing else filtering
 * (container, instance, since, until, levels, streams, sequence and id
 * bounds), newest first, offset 0, no total, limit <= --recent-rows.
 * Anything else goes to the database, as before.
 *
 * It assumes this wharfd is the only writer of the data: on SQLite one
 * wharfd per file (the store refuses a second one); on PostgreSQL other
 * wharfd write too, so it is off there.
 *
 * Bounds: --recent-rows rows per worker; --recent-memory bytes for all
 * (text, slots and names), least recently read tails dropped first; a
 * tail not read for --recent-idle seconds is dropped at its next write,
 * so a closed dashboard stops costing ingestion the rendering of rows.
 *
 * Thread safety: one mutex. Writer thread: wharfd_recent_publish,
 * wharfd_recent_touch. Request threads: wharfd_recent_answer,
 * wharfd_recent_touch, wharfd_recent_counts.
 */
#ifndef WHARFD_RECENT_H
#define WHARFD_RECENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "store.h"
#include "textbuf.h"

/* Defaults and bounds of --recent-rows, --recent-memory, --recent-idle. */
#define WHARFD_RECENT_ROWS_DEFAULT   200 /* the console's page (LOG_PAGE) */
#define WHARFD_RECENT_ROWS_MAX       10000
#define WHARFD_RECENT_MEMORY_DEFAULT 33554432 /* 32 MiB */
#define WHARFD_RECENT_IDLE_DEFAULT   300      /* seconds */

struct wharfd_recent_tail;

struct wharfd_recent {
    size_t rows;       /* per worker; 0: off */
    size_t memory_max; /* bytes */
    unsigned idle;     /* seconds */

    pthread_mutex_t lock;
    struct wharfd_recent_tail **buckets; /* by worker name */
    size_t nbuckets, ntails;
    /* FILLED tails, most recently read first (a sentinel's links) */
    struct wharfd_recent_tail *lru_first, *lru_last;
    size_t bytes; /* held by every tail */

    /* for /api/monitoring/metrics */
    atomic_ullong hits, misses, fills, evictions;
};

/* rows 0 leaves it off (every call then does nothing or serves nothing).
 * Returns 0, or -1 when out of memory. */
int wharfd_recent_init(struct wharfd_recent *r, size_t rows, size_t memory_max,
                       unsigned idle);
void wharfd_recent_destroy(struct wharfd_recent *r);

/* The writer thread, after each commit (store.h's publisher): appends
 * the stored rows of kind LOGS to their worker's tail, when it has one. */
void wharfd_recent_publish(struct wharfd_recent *r, enum wharfd_kind kind,
                           const void *rows);

/* Rows of worker are being deleted or were: its
 * tail goes, a fill under way is not kept. Called before and after. */
void wharfd_recent_touch(struct wharfd_recent *r, const char *worker);

/* When q is a read the recent rows serve: appends its rows, newest first
 * and comma-separated, to w and sets *has_more; filling the worker's tail
 * from st first when it has none. Returns 1 when it answered, 0 when the
 * caller must ask the database (not such a read, or a fill under way in
 * another thread, or the fill failed), -1 when out of memory. */
int wharfd_recent_answer(struct wharfd_recent *r, struct wharfd_store *st,
                         const struct wharfd_query *q, struct wharf_textbuf *w,
                         int *has_more);

/* Workers with a tail and the bytes held, for the metrics. */
void wharfd_recent_counts(struct wharfd_recent *r, size_t *workers,
                          size_t *bytes);

#endif
