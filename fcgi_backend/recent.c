/* The recent rows: see recent.h. */
#include "recent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "store_shape.h"

enum {
    TAIL_FILLING,
    TAIL_FILLED
};

/* One row's JSON object, as wharfd_jsonw_row writes it. */
struct recent_row {
    char *text;
    size_t len;
};

struct wharfd_recent_tail {
    struct wharfd_recent_tail *hnext;       /* same bucket */
    struct wharfd_recent_tail *prev, *next; /* LRU, FILLED only */
    int state;
    int dirty; /* FILLING: a write of the worker was published since */
    int older; /* the worker has rows older than the oldest held */
    /* A ring of r->rows slots (allocated with the first row): the oldest
     * row at head, n held; rows are in id order, as the writer commits
     * them. */
    struct recent_row *ring;
    size_t head, n;
    /* The id of the newest row held (0: none). The writer publishes a
     * commit after it is visible, so a fill can read a row and be kept
     * before that row's publication reaches it: rows at or below this id
     * are in the tail already and are not appended twice. */
    long long newest_id;
    size_t bytes;     /* what this tail adds to r->bytes */
    time_t last_read; /* CLOCK_MONOTONIC seconds */
    char worker[];
};

static time_t
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

/* FNV-1a: worker names are short and chosen by operators. */
static size_t
name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
    }
    return (size_t) h;
}

int
wharfd_recent_init(struct wharfd_recent *r, size_t rows, size_t memory_max,
                   unsigned idle)
{
    memset(r, 0, sizeof(*r));
    r->rows = rows;
    r->memory_max = memory_max;
    r->idle = idle;
    pthread_mutex_init(&r->lock, NULL);
    if (rows == 0) {
        return 0;
    }
    r->nbuckets = 64;
    r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
    return r->buckets ? 0 : -1;
}

static struct wharfd_recent_tail **
tail_slot(struct wharfd_recent *r, const char *worker)
{
    struct wharfd_recent_tail **p =
        &r->buckets[name_hash(worker) & (r->nbuckets - 1)];

    while (*p != NULL && strcmp((*p)->worker, worker) != 0) {
        p = &(*p)->hnext;
    }
    return p;
}

/* Doubles the buckets when there are more tails than buckets; a failed
 * allocation keeps the longer chains. */
static void
grow_buckets(struct wharfd_recent *r)
{
    struct wharfd_recent_tail **nb, *t, *next;
    size_t n = r->nbuckets * 2, i;

    nb = calloc(n, sizeof(*nb));
    if (nb == NULL) {
        return;
    }
    for (i = 0; i < r->nbuckets; i++) {
        for (t = r->buckets[i]; t != NULL; t = next) {
            next = t->hnext;
            t->hnext = nb[name_hash(t->worker) & (n - 1)];
            nb[name_hash(t->worker) & (n - 1)] = t;
        }
    }
    free(r->buckets);
    r->buckets = nb;
    r->nbuckets = n;
}

static void
lru_unlink(struct wharfd_recent *r, struct wharfd_recent_tail *t)
{
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        r->lru_first = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    } else {
        r->lru_last = t->prev;
    }
    t->prev = t->next = NULL;
}

static void
lru_push_front(struct wharfd_recent *r, struct wharfd_recent_tail *t)
{
    t->prev = NULL;
    t->next = r->lru_first;
    if (r->lru_first) {
        r->lru_first->prev = t;
    } else {
        r->lru_last = t;
    }
    r->lru_first = t;
}

static void
rows_free(struct recent_row *rows, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(rows[i].text);
    }
}

/* Unlinks t (found at *slot) and frees it. */
static void
tail_drop(struct wharfd_recent *r, struct wharfd_recent_tail **slot)
{
    struct wharfd_recent_tail *t = *slot;
    size_t i;

    *slot = t->hnext;
    if (t->state == TAIL_FILLED) {
        lru_unlink(r, t);
    }
    for (i = 0; i < t->n; i++) {
        free(t->ring[(t->head + i) % r->rows].text);
    }
    free(t->ring);
    r->bytes -= t->bytes;
    r->ntails--;
    free(t);
}

/* Drops the least recently read tails while over --recent-memory. */
static void
evict(struct wharfd_recent *r)
{
    while (r->bytes > r->memory_max && r->lru_last != NULL) {
        tail_drop(r, tail_slot(r, r->lru_last->worker));
        atomic_fetch_add(&r->evictions, 1);
    }
}

/* Puts a row at the new end of t's ring (which it owns from then on),
 * the oldest going when the ring is full. -1: no memory for the ring. */
static int
tail_push(struct wharfd_recent *r, struct wharfd_recent_tail *t,
          struct recent_row row)
{
    struct recent_row *old;
    size_t add = row.len;

    if (t->ring == NULL) {
        t->ring = malloc(r->rows * sizeof(*t->ring));
        if (t->ring == NULL) {
            free(row.text);
            return -1;
        }
        add += r->rows * sizeof(*t->ring);
    }
    if (t->n == r->rows) {
        old = &t->ring[t->head];
        t->bytes -= old->len;
        r->bytes -= old->len;
        free(old->text);
        t->head = (t->head + 1) % r->rows;
        t->n--;
        t->older = 1;
    }
    t->ring[(t->head + t->n) % r->rows] = row;
    t->n++;
    t->bytes += add;
    r->bytes += add;
    return 0;
}

/* --- the writer's side ----------------------------------------------------- */

static void
col_text(struct wharfd_col *c, const char *s)
{
    if (s == NULL) {
        c->type = WHARFD_COL_NULL;
    } else {
        c->type = WHARFD_COL_TEXT;
        c->s = s;
        c->len = strlen(s);
    }
}

/* The columns of a stored log as a list query reads them back (the
 * SELECT of store_sqlite_query.c, in wharfd_shape_logs' order): the same
 * values through the same writer give the same bytes, which
 * tests/integration/wharfd_recent.test.mjs compares. */
static void
log_cols(const struct wharfd_log_batch *b, const struct wharfd_log_in *l,
         struct wharfd_col *c)
{
    int i;

    memset(c, 0, 13 * sizeof(*c));
    for (i = 0; i < 13; i++) {
        c[i].name = wharfd_shape_logs.names[i];
    }
    c[0].type = WHARFD_COL_INT;
    c[0].i = l->id;
    col_text(&c[1], b->worker);
    col_text(&c[2], b->container);
    col_text(&c[3], b->instance);
    col_text(&c[4], l->process_id);
    c[5].type = WHARFD_COL_INT;
    c[5].i = l->sequence;
    col_text(&c[6], l->timestamp);
    col_text(&c[7], l->level);
    c[8].type = WHARFD_COL_TEXT;
    c[8].s = l->message;
    c[8].len = l->message_len;
    col_text(&c[9], l->stream);
    col_text(&c[10], l->source);
    col_text(&c[11], l->metadata);
    if (l->metadata != NULL) {
        c[11].type = WHARFD_COL_JSON;
    }
    col_text(&c[12], b->created_at);
}

/* Takes w's text as a row: the buffer shrunk to the text (a row's
 * buffer is reserved at its worst case, six bytes per byte of text), so
 * --recent-memory counts what is held. */
static int
row_take(struct wharf_textbuf *w, struct recent_row *out)
{
    char *p;

    if (w->oom) {
        wharf_textbuf_free(w);
        return -1;
    }
    p = realloc(w->p, w->len + 1);
    out->text = p != NULL ? p : w->p;
    out->len = w->len;
    return 0;
}

/* The JSON text of one row, malloc'd. */
static int
row_render(const struct wharfd_col *cols, int n, struct recent_row *out)
{
    struct wharf_textbuf w;

    memset(&w, 0, sizeof(w));
    wharfd_jsonw_row(&w, cols, n);
    return row_take(&w, out);
}

void
wharfd_recent_publish(struct wharfd_recent *r, enum wharfd_kind kind,
                      const void *rows)
{
    const struct wharfd_log_batch *b = rows;
    struct wharfd_recent_tail **slot, *t;
    struct wharfd_col cols[13];
    struct recent_row row;
    size_t i;

    if (r->rows == 0 || kind != WHARFD_KIND_LOGS || b->stored == 0) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    if (r->ntails == 0) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    slot = tail_slot(r, b->worker);
    t = *slot;
    if (t == NULL) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (t->state == TAIL_FILLING) {
        t->dirty = 1;
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (now_seconds() - t->last_read > (time_t) r->idle) {
        /* nobody reads it any more: stop rendering its rows */
        tail_drop(r, slot);
        pthread_mutex_unlock(&r->lock);
        return;
    }
    for (i = 0; i < b->n; i++) {
        if (!b->logs[i].stored || b->logs[i].id <= t->newest_id) {
            continue; /* a resend, or read by the fill already */
        }
        t->newest_id = b->logs[i].id;
        log_cols(b, &b->logs[i], cols);
        if (row_render(cols, 13, &row) != 0 || tail_push(r, t, row) != 0) {
            /* a tail that missed a row must not serve */
            tail_drop(r, slot);
            pthread_mutex_unlock(&r->lock);
            return;
        }
    }
    evict(r);
    pthread_mutex_unlock(&r->lock);
}

void
wharfd_recent_touch(struct wharfd_recent *r, const char *worker)
{
    struct wharfd_recent_tail **slot;

    if (r->rows == 0) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    slot = tail_slot(r, worker);
    if (*slot != NULL && (*slot)->state == TAIL_FILLING) {
        (*slot)->dirty = 1;
    } else if (*slot != NULL) {
        tail_drop(r, slot);
    }
    pthread_mutex_unlock(&r->lock);
}

/* --- the readers' side ------------------------------------------------------ */

/* Whether the recent rows answer q (recent.h, "What it serves"). */
static int
servable(const struct wharfd_recent *r, const struct wharfd_query *q)
{
    return r->rows > 0 && q->kind == WHARFD_KIND_LOGS && q->worker != NULL
        && q->container == NULL && q->instance == NULL && q->since == NULL
        && q->until == NULL && q->levels == NULL && q->streams == NULL
        && !q->has_after && !q->has_until_seq && !q->has_after_id
        && !q->has_until_id && q->offset == 0 && !q->asc && !q->want_total
        && q->limit >= 0 && (size_t) q->limit <= r->rows;
}

/* Appends the rows, newest first (rows[i] is the i-th newest), with one
 * reservation. */
static int
put_rows(struct wharf_textbuf *w, struct recent_row *(*nth)(void *, size_t),
         void *arg, size_t n)
{
    size_t need = n, i;
    char *o;

    for (i = 0; i < n; i++) {
        need += nth(arg, i)->len;
    }
    o = wharf_textbuf_room(w, need);
    if (o == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        struct recent_row *row = nth(arg, i);

        if (i > 0) {
            *o++ = ',';
        }
        memcpy(o, row->text, row->len);
        o += row->len;
    }
    *o = '\0';
    w->len = (size_t) (o - w->p);
    return 0;
}

struct ring_at {
    struct wharfd_recent_tail *t;
    size_t rows;
};

static struct recent_row *
ring_nth(void *arg, size_t i)
{
    struct ring_at *a = arg;

    return &a->t->ring[(a->t->head + a->t->n - 1 - i) % a->rows];
}

static struct recent_row *
array_nth(void *arg, size_t i)
{
    return &((struct recent_row *) arg)[i];
}

/* A fill's rows, newest first, as the query gives them. */
struct fill {
    struct recent_row *rows;
    size_t n, cap;
    long long newest_id; /* the first row's (rows come newest first) */
    struct wharfd_jsonw_names names;
    int failed;
};

static int
fill_row(void *arg, const struct wharfd_col *cols, int n)
{
    struct fill *f = arg;
    struct wharf_textbuf w;

    if (f->n == f->cap) {
        return -1; /* the query asks for cap rows: not reached */
    }
    if (f->n == 0 && n > 0 && cols[0].type == WHARFD_COL_INT) {
        f->newest_id = cols[0].i; /* the id column (wharfd_shape_logs) */
    }
    memset(&w, 0, sizeof(w));
    wharfd_jsonw_row_named(&w, cols, n, &f->names);
    if (row_take(&w, &f->rows[f->n]) != 0) {
        f->failed = 1;
        return -1;
    }
    f->n++;
    return 0;
}

/* No tail for q->worker yet: reads it from the database, answers from
 * those rows, and keeps them as the tail when no write of the worker was
 * published meanwhile. Called and returns with the lock not held. */
static int
answer_by_fill(struct wharfd_recent *r, struct wharfd_store *st,
               const struct wharfd_query *q, struct wharfd_recent_tail *t,
               struct wharf_textbuf *w, int *has_more)
{
    struct wharfd_recent_tail **slot;
    struct wharfd_query fq;
    struct fill f;
    long long total;
    int more = 0, rc, keep;
    size_t n, i;

    memset(&f, 0, sizeof(f));
    memset(&fq, 0, sizeof(fq));
    fq.kind = WHARFD_KIND_LOGS;
    fq.worker = q->worker;
    fq.limit = (long long) r->rows;
    f.cap = r->rows;
    f.rows = malloc(f.cap * sizeof(*f.rows));
    rc = f.rows == NULL
        ? -1
        : wharfd_store_query(st, &fq, fill_row, &f, &total, &more);
    n = (size_t) q->limit < f.n ? (size_t) q->limit : f.n;
    if (rc == 0 && put_rows(w, array_nth, f.rows, n) != 0) {
        f.failed = 1;
    }
    *has_more = n < f.n || more;

    pthread_mutex_lock(&r->lock);
    slot = tail_slot(r, q->worker);
    keep = rc == 0 && !f.failed && !t->dirty;
    for (i = 0; keep && i < f.n; i++) {
        /* oldest first into the ring */
        if (tail_push(r, t, f.rows[f.n - 1 - i]) != 0) {
            rows_free(f.rows, f.n - 1 - i); /* the rest, not yet pushed */
            keep = 0;
        }
    }
    if (keep) {
        t->older = more;
        t->newest_id = f.newest_id;
        t->state = TAIL_FILLED;
        t->last_read = now_seconds();
        lru_push_front(r, t);
        atomic_fetch_add(&r->fills, 1);
        evict(r);
    } else {
        if (rc != 0 || f.failed || t->dirty) {
            rows_free(f.rows, f.n);
        }
        tail_drop(r, slot);
    }
    pthread_mutex_unlock(&r->lock);
    free(f.rows);
    if (f.failed) {
        return -1;
    }
    return rc == 0 ? 1 : 0;
}

int
wharfd_recent_answer(struct wharfd_recent *r, struct wharfd_store *st,
                     const struct wharfd_query *q, struct wharf_textbuf *w,
                     int *has_more)
{
    struct wharfd_recent_tail **slot, *t;
    struct ring_at at;
    size_t n, len;
    int rc;

    if (!servable(r, q)) {
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    slot = tail_slot(r, q->worker);
    t = *slot;
    if (t != NULL && t->state == TAIL_FILLED) {
        n = (size_t) q->limit < t->n ? (size_t) q->limit : t->n;
        at.t = t;
        at.rows = r->rows;
        rc = put_rows(w, ring_nth, &at, n);
        *has_more = n < t->n || t->older;
        t->last_read = now_seconds();
        lru_unlink(r, t);
        lru_push_front(r, t);
        pthread_mutex_unlock(&r->lock);
        atomic_fetch_add(&r->hits, 1);
        return rc == 0 ? 1 : -1;
    }
    atomic_fetch_add(&r->misses, 1);
    if (t != NULL) {
        /* another thread fills it: the database answers this one */
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    len = strlen(q->worker);
    t = calloc(1, sizeof(*t) + len + 1);
    if (t == NULL) {
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    memcpy(t->worker, q->worker, len + 1);
    t->state = TAIL_FILLING;
    t->bytes = sizeof(*t) + len + 1;
    r->bytes += t->bytes;
    t->hnext = *slot;
    *slot = t;
    r->ntails++;
    if (r->ntails > r->nbuckets) {
        grow_buckets(r);
    }
    pthread_mutex_unlock(&r->lock);
    return answer_by_fill(r, st, q, t, w, has_more);
}

void
wharfd_recent_counts(struct wharfd_recent *r, size_t *workers, size_t *bytes)
{
    pthread_mutex_lock(&r->lock);
    *workers = r->ntails;
    *bytes = r->bytes;
    pthread_mutex_unlock(&r->lock);
}

void
wharfd_recent_destroy(struct wharfd_recent *r)
{
    size_t i;

    for (i = 0; r->buckets != NULL && i < r->nbuckets; i++) {
        while (r->buckets[i] != NULL) {
            r->buckets[i]->state = TAIL_FILLING; /* not in the LRU list */
            tail_drop(r, &r->buckets[i]);
        }
    }
    free(r->buckets);
    r->buckets = NULL;
    pthread_mutex_destroy(&r->lock);
}
