/* The shipper's queue of log lines, compressed while it waits: see
 * ship_queue.h. */
#include "ship_queue.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lz4.h>

/* What a compressed chunk remembers of one instance's lines in it, so that
 * it can be dropped exactly without being decompressed. */
struct agent_shipq_sum {
    uint64_t first, last, n;
    uint32_t proc;
};

struct agent_shipq_chunk {
    struct agent_shipq_chunk *next;
    /* raw: a chunk_size buffer holding records at [head, used); compressed:
     * a block of nsum summaries followed by zlen bytes of LZ4 that
     * decompress to used bytes (head is then 0) */
    char *data;
    size_t head, used;
    size_t zlen;         /* 0: raw */
    size_t nrecs, bytes; /* its lines still queued, their REC_SIZEs */
    unsigned nsum;
};

/* A free raw buffer in the pool: the link lives in the buffer itself. */
struct agent_shipq_buf {
    struct agent_shipq_buf *next;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
mem_add(struct agent_shipq *q, size_t n)
{
    q->mem += n;
    if (q->mem > q->mem_peak) {
        q->mem_peak = q->mem;
    }
}

static char *
buf_get(struct agent_shipq *q)
{
    struct agent_shipq_buf *b = q->pool;
    char *p;

    if (b != NULL) {
        q->pool = b->next;
        q->npool--;
        return (char *) b;
    }
    p = malloc(q->chunk_size);
    if (p != NULL) {
        mem_add(q, q->chunk_size);
    }
    return p;
}

static void
buf_put(struct agent_shipq *q, char *p)
{
    struct agent_shipq_buf *b = (struct agent_shipq_buf *) (void *) p;

    if (q->npool < AGENT_SHIPQ_POOL_MAX) {
        b->next = q->pool;
        q->pool = b;
        q->npool++;
        return;
    }
    free(p);
    q->mem -= q->chunk_size;
}

static size_t
block_size(const struct agent_shipq_chunk *c)
{
    return c->nsum * sizeof(struct agent_shipq_sum) + c->zlen;
}

static const struct agent_shipq_rec *
rec_at(const struct agent_shipq_chunk *c)
{
    return (const struct agent_shipq_rec *) (const void *) (c->data + c->head);
}

void
agent_shipq_init(struct agent_shipq *q, size_t chunk_size, int compress,
                 agent_shipq_drop_fn *on_drop, void *drop_ctx)
{
    memset(q, 0, sizeof(*q));
    q->chunk_size = chunk_size;
    q->compress = compress;
    q->on_drop = on_drop;
    q->drop_ctx = drop_ctx;
}

void
agent_shipq_free(struct agent_shipq *q)
{
    struct agent_shipq_chunk *c, *next;
    struct agent_shipq_buf *b, *bn;

    for (c = q->head; c != NULL; c = next) {
        next = c->next;
        free(c->data);
        free(c);
    }
    for (b = q->pool; b != NULL; b = bn) {
        bn = b->next;
        free(b);
    }
    q->head = q->tail = NULL;
    q->pool = NULL;
    q->npool = 0;
    q->nrecs = q->bytes = q->mem = 0;
}

/* Fills sum with what c holds of each instance. Returns how many
 * instances, or 0 when more than AGENT_SHIPQ_SUMMARY_MAX. */
static unsigned
summarise(const struct agent_shipq_chunk *c, struct agent_shipq_sum *sum)
{
    unsigned nsum = 0, last = 0, i;
    size_t off;

    for (off = c->head; off < c->used;) {
        const struct agent_shipq_rec *r =
            (const struct agent_shipq_rec *) (const void *) (c->data + off);

        if (nsum == 0 || sum[last].proc != r->proc) {
            for (i = 0; i < nsum && sum[i].proc != r->proc; i++) {
            }
            if (i == nsum) {
                if (nsum == AGENT_SHIPQ_SUMMARY_MAX) {
                    return 0;
                }
                sum[nsum].proc = r->proc;
                sum[nsum].first = sum[nsum].last = r->seq;
                sum[nsum].n = 0;
                nsum++;
            }
            last = i;
        }
        if (r->seq < sum[last].first) {
            sum[last].first = r->seq;
        }
        if (r->seq > sum[last].last) {
            sum[last].last = r->seq;
        }
        sum[last].n++;
        off += AGENT_SHIPQ_REC_SIZE(r->len);
    }
    return nsum;
}

/* Seals c (the old tail, not the head): compresses it when that shrinks it
 * enough. Returns the scratch buffer the compression went through, now
 * free and handed to the caller (the next tail), or NULL when c stays raw.
 * Why hand it on: the scratch and c's old buffer are both free then, and
 * one of them is needed at once; nothing is allocated per chunk in a
 * steady state. */
static char *
seal(struct agent_shipq *q, struct agent_shipq_chunk *c)
{
    struct agent_shipq_sum sum[AGENT_SHIPQ_SUMMARY_MAX];
    unsigned nsum;
    size_t raw = c->used - c->head, limit, sumsz;
    uint64_t t0;
    char *scratch, *block;
    int n;

    if (!q->compress || raw == 0 || raw > (size_t) LZ4_MAX_INPUT_SIZE) {
        return NULL;
    }
    scratch = buf_get(q);
    if (scratch == NULL) {
        return NULL;
    }
    t0 = now_ns();
    n = 1;
    if (q->z_failed && raw > AGENT_SHIPQ_PROBE_BYTES) {
        /* the last chunk did not compress: try a prefix first, so that
         * incompressible output costs a fraction of a full attempt */
        n = LZ4_compress_default(
            c->data + c->head, scratch, (int) AGENT_SHIPQ_PROBE_BYTES,
            (int) (AGENT_SHIPQ_PROBE_BYTES / AGENT_SHIPQ_ZMAX_DEN
                   * AGENT_SHIPQ_ZMAX_NUM));
    }
    if (n > 0) {
        limit = raw / AGENT_SHIPQ_ZMAX_DEN * AGENT_SHIPQ_ZMAX_NUM;
        n = LZ4_compress_default(c->data + c->head, scratch, (int) raw,
                                 (int) limit);
    }
    q->z_ns += now_ns() - t0;
    q->z_failed = n <= 0;
    /* the summary, from the records (cache-hot: just compressed) */
    nsum = n > 0 ? summarise(c, sum) : 0;
    if (nsum == 0) {
        /* does not fit in limit: not worth it (or not compressible), or
         * (never with AGENT_PROCS_MAX instances) too many instances */
        buf_put(q, scratch);
        q->z_raw++;
        return NULL;
    }
    sumsz = nsum * sizeof(struct agent_shipq_sum);
    block = malloc(sumsz + (size_t) n);
    if (block == NULL) {
        buf_put(q, scratch);
        return NULL;
    }
    memcpy(block, sum, sumsz);
    memcpy(block + sumsz, scratch, (size_t) n);
    buf_put(q, c->data);
    c->data = block;
    c->zlen = (size_t) n;
    c->nsum = nsum;
    c->used = raw;
    c->head = 0;
    mem_add(q, block_size(c));
    q->z_chunks++;
    q->z_in += raw;
    q->z_out += (uint64_t) n;
    return scratch;
}

/* Decompresses c in place (a raw buffer again). 0, or -1 when out of
 * memory or the block does not decompress to its size. */
static int
unseal(struct agent_shipq *q, struct agent_shipq_chunk *c)
{
    size_t sumsz = c->nsum * sizeof(struct agent_shipq_sum);
    char *buf = buf_get(q);
    uint64_t t0;
    int n;

    if (buf == NULL) {
        return -1;
    }
    t0 = now_ns();
    n = LZ4_decompress_safe(c->data + sumsz, buf, (int) c->zlen,
                            (int) q->chunk_size);
    q->z_ns += now_ns() - t0;
    if (n < 0 || (size_t) n != c->used) {
        buf_put(q, buf);
        return -1;
    }
    q->mem -= block_size(c);
    free(c->data);
    c->data = buf;
    c->zlen = 0;
    c->nsum = 0;
    c->head = 0;
    q->z_unz++;
    return 0;
}

/* Unlinks the head chunk c (empty, or dropped whole) and frees it. */
static void
remove_head(struct agent_shipq *q, struct agent_shipq_chunk *c)
{
    q->head = c->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    if (c->zlen == 0) {
        buf_put(q, c->data);
    } else {
        q->mem -= block_size(c);
        free(c->data);
    }
    free(c);
}

/* Drops the compressed head chunk c whole, reported from its summary. */
static void
drop_chunk(struct agent_shipq *q, struct agent_shipq_chunk *c)
{
    const struct agent_shipq_sum *sum =
        (const struct agent_shipq_sum *) (const void *) c->data;
    unsigned i;

    for (i = 0; i < c->nsum; i++) {
        q->on_drop(q->drop_ctx, sum[i].proc, sum[i].first, sum[i].last,
                   sum[i].n);
    }
    q->nrecs -= c->nrecs;
    q->bytes -= c->bytes;
    q->rec_popped += c->nrecs;
    remove_head(q, c);
}

int
agent_shipq_push(struct agent_shipq *q, const struct agent_shipq_rec *hdr,
                 const char *data)
{
    struct agent_shipq_chunk *c = q->tail;
    struct agent_shipq_rec *r;
    size_t sz = AGENT_SHIPQ_REC_SIZE(hdr->len);

    if (sz > q->chunk_size) {
        q->on_drop(q->drop_ctx, hdr->proc, hdr->seq, hdr->seq, 1);
        return -1;
    }
    if (c == NULL || c->zlen != 0 || q->chunk_size - c->used < sz) {
        struct agent_shipq_chunk *n = calloc(1, sizeof(*n));
        char *buf = NULL;

        if (n != NULL) {
            if (c != NULL && c != q->head) {
                buf = seal(q, c);
            }
            if (buf == NULL) {
                buf = buf_get(q);
            }
        }
        if (n == NULL || buf == NULL) {
            free(n);
            q->on_drop(q->drop_ctx, hdr->proc, hdr->seq, hdr->seq, 1);
            return -1;
        }
        n->data = buf;
        if (c != NULL) {
            c->next = n;
        } else {
            q->head = n;
        }
        q->tail = c = n;
    }
    r = (struct agent_shipq_rec *) (void *) (c->data + c->used);
    memcpy(r, hdr, offsetof(struct agent_shipq_rec, data));
    memcpy(r->data, data, hdr->len);
    /* the alignment padding is zeroed: LZ4 reads every byte (stale heap
     * bytes there would be uninitialised input, and compress worse) */
    memset(r->data + hdr->len, 0,
           sz - offsetof(struct agent_shipq_rec, data) - hdr->len);
    c->used += sz;
    c->nrecs++;
    c->bytes += sz;
    q->nrecs++;
    q->bytes += sz;
    q->rec_next++;
    return 0;
}

const struct agent_shipq_rec *
agent_shipq_head(struct agent_shipq *q)
{
    struct agent_shipq_chunk *c;

    while ((c = q->head) != NULL) {
        if (c->zlen == 0 || unseal(q, c) == 0) {
            return rec_at(c);
        }
        /* cannot decompress it: its lines are lost, and reported exactly */
        drop_chunk(q, c);
    }
    return NULL;
}

void
agent_shipq_pop(struct agent_shipq *q)
{
    struct agent_shipq_chunk *c = q->head;
    size_t sz = AGENT_SHIPQ_REC_SIZE(rec_at(c)->len);

    c->head += sz;
    c->nrecs--;
    c->bytes -= sz;
    q->nrecs--;
    q->bytes -= sz;
    q->rec_popped++;
    if (c->head == c->used) {
        remove_head(q, c);
    }
}

size_t
agent_shipq_drop_oldest(struct agent_shipq *q, size_t want)
{
    struct agent_shipq_chunk *c = q->head;
    const struct agent_shipq_rec *r;
    size_t before = q->bytes;

    if (c == NULL) {
        return 0;
    }
    if (c->zlen != 0 && c->bytes <= want) {
        q->z_whole++;
        drop_chunk(q, c);
        return before - q->bytes;
    }
    r = agent_shipq_head(q);
    if (r != NULL && q->bytes == before) {
        q->on_drop(q->drop_ctx, r->proc, r->seq, r->seq, 1);
        agent_shipq_pop(q);
    }
    return before - q->bytes;
}
