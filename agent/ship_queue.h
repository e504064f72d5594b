/*
 * The shipper's queue of log lines (ship.c): a FIFO of records in large
 * chunks, copied once, no allocation per line; the waiting part kept
 * compressed with LZ4.
 *
 * - Records are appended to the tail chunk (raw). When the tail is full a
 *   new tail starts and the old one is *sealed*: unless it is also the
 *   head, it is compressed (LZ4_compress_default) into an exact-size block
 *   and its raw buffer is reused. Only the head (lines are taken or
 *   dropped from it) and the tail (lines are appended to it) are raw, plus
 *   at most AGENT_SHIPQ_POOL_MAX free raw buffers kept for reuse: memory is
 *   the compressed size of the waiting lines plus a few chunks.
 * - A compressed chunk is decompressed when it becomes the head and a line
 *   is taken from it or dropped from it.
 * - A chunk that does not shrink to AGENT_SHIPQ_ZMAX_NUM/DEN of its size
 *   (random, already compressed output) stays raw: incompressible output
 *   costs what it cost without compression (one raw buffer per chunk);
 *   after such a chunk the next is first tried on a prefix
 *   (AGENT_SHIPQ_PROBE_BYTES), so it costs little CPU too.
 * - The bound stays in records: bytes counts REC_SIZE of every queued line
 *   (uncompressed), so --buffer-bytes keeps its meaning (how much output is
 *   retained), whatever the compression saves in memory.
 * - A sealed chunk keeps a summary (lines, bytes, and per instance the
 *   first and last sequence and count), so a whole compressed chunk can be
 *   dropped exactly without being decompressed; a drop is reported through
 *   on_drop with the instance, the first and last sequence and the count.
 * Errors: allocation failures drop (and report) the line or chunk that
 * could not be kept; nothing else fails.
 */
#ifndef AGENT_SHIP_QUEUE_H
#define AGENT_SHIP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Free raw chunk buffers kept for reuse (the rest are freed). */
#define AGENT_SHIPQ_POOL_MAX 1u
/* A chunk is kept compressed only when that is at most 3/4 of its size:
 * below that saving, memory is not worth the CPU of decompressing (random
 * base64 text still shrinks ~12% from the record headers alone). */
#define AGENT_SHIPQ_ZMAX_NUM 3u
#define AGENT_SHIPQ_ZMAX_DEN 4u
/* After a chunk that did not compress, the next one is first tried on
 * this prefix (a full attempt on random data costs as much as compressing
 * it); the full attempt follows only when the prefix shrinks enough. */
#define AGENT_SHIPQ_PROBE_BYTES (8u << 10)
/* Most distinct instances summarised in one chunk (a chunk with more stays
 * raw); at least AGENT_PROCS_MAX (checked in ship.c). */
#define AGENT_SHIPQ_SUMMARY_MAX 64u

/* One log line in a chunk, followed by its bytes; 8-byte aligned. */
struct agent_shipq_rec {
    uint64_t seq;
    int64_t ts_ms;
    uint32_t len;
    uint32_t run;
    uint16_t proc;
    uint8_t stream, level, flags;
    char data[];
};

#define AGENT_SHIPQ_REC_SIZE(len) \
    ((sizeof(struct agent_shipq_rec) + (len) + 7) & ~(size_t) 7)

struct agent_shipq_chunk;
struct agent_shipq_buf;

/* Lines of instance proc with sequences first..last (n of them) left the
 * queue unsent. */
typedef void agent_shipq_drop_fn(void *ctx, unsigned proc, uint64_t first,
                                 uint64_t last, uint64_t n);

struct agent_shipq {
    struct agent_shipq_chunk *head, *tail;
    struct agent_shipq_buf *pool; /* free raw buffers */
    unsigned npool;
    size_t chunk_size; /* bytes of a raw chunk buffer */
    int compress;      /* compress sealed chunks (--buffer-compress) */
    int z_failed;      /* the last sealed chunk stayed raw */
    agent_shipq_drop_fn *on_drop;
    void *drop_ctx;

    size_t nrecs;        /* lines queued */
    size_t bytes;        /* their REC_SIZEs (the bound's unit) */
    uint64_t rec_next;   /* queue index of the next line pushed */
    uint64_t rec_popped; /* queue index of the oldest line queued */

    /* memory held: raw buffers (queued and pooled) and compressed blocks */
    size_t mem, mem_peak;
    /* compression counters (logged at exit; bench/agent) */
    uint64_t z_chunks;    /* chunks compressed */
    uint64_t z_in, z_out; /* their raw and compressed bytes */
    uint64_t z_raw;       /* sealed chunks kept raw (incompressible) */
    uint64_t z_unz;       /* chunks decompressed */
    uint64_t z_whole;     /* compressed chunks dropped undecompressed */
    uint64_t z_ns;        /* wall time compressing + decompressing */
};

void agent_shipq_init(struct agent_shipq *q, size_t chunk_size, int compress,
                      agent_shipq_drop_fn *on_drop, void *drop_ctx);
void agent_shipq_free(struct agent_shipq *q);

/* Appends a copy of hdr (its len, seq, ...) and data. Returns 0, or -1
 * when out of memory (the line is reported dropped). */
int agent_shipq_push(struct agent_shipq *q, const struct agent_shipq_rec *hdr,
                     const char *data);

/* The oldest queued line (its chunk decompressed if need be), or NULL when
 * the queue is empty. Valid until the next call on q. */
const struct agent_shipq_rec *agent_shipq_head(struct agent_shipq *q);

/* Removes the line agent_shipq_head() returned (taken into a request). */
void agent_shipq_pop(struct agent_shipq *q);

/* Drops the oldest lines, unsent, and reports them: the whole head chunk
 * without decompressing it when it is compressed and at most want bytes,
 * else the oldest line. Returns the bytes freed (0: queue empty). */
size_t agent_shipq_drop_oldest(struct agent_shipq *q, size_t want);

#endif
