/* Unit tests for the shipper's compressed queue of log lines
 * (agent/ship_queue.c): every line comes out once, in order, with its
 * bytes, through compression, decompression, whole-chunk drops and
 * partly taken chunks; every dropped line is reported exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/config.h"
#include "../../agent/ship_queue.h"

/* Small chunks: many of them with few lines. */
#define CHUNK    8192u
#define NPROC    3u
#define MAXLINES 20000u

/* What was dropped, per instance, as the queue reported it. */
struct drops {
    uint64_t n[NPROC], first[NPROC], last[NPROC];
    unsigned calls;
    /* every dropped sequence of each instance, to check exactness */
    unsigned char seen[NPROC][MAXLINES + 1];
};

static void
on_drop(void *ctx, unsigned proc, uint64_t first, uint64_t last, uint64_t n)
{
    struct drops *d = ctx;
    uint64_t s;

    assert_true(proc < NPROC);
    assert_true(first <= last);
    assert_true(last <= MAXLINES);
    if (d->n[proc] == 0 || first < d->first[proc]) {
        d->first[proc] = first;
    }
    if (d->n[proc] == 0 || last > d->last[proc]) {
        d->last[proc] = last;
    }
    d->n[proc] += n;
    d->calls++;
    /* a chunk holds one instance's lines contiguously here, so first..last
     * are exactly the n lines */
    assert_int_equal(last - first + 1, n);
    for (s = first; s <= last; s++) {
        assert_int_equal(d->seen[proc][s], 0);
        d->seen[proc][s] = 1;
    }
}

static uint32_t rng = 12345;

static uint32_t
xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* The text of line seq of instance proc: pino-like (compressible), or
 * random bytes (incompressible). Returns its length. */
static size_t
line_text(unsigned proc, uint64_t seq, int random, char *out)
{
    if (random) {
        size_t i, n = 200;
        uint32_t s = (uint32_t) (seq * 2654435761u) ^ proc;

        for (i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            out[i] = (char) s;
        }
        return n;
    }
    return (size_t) sprintf(out,
                            "{\"level\":30,\"time\":%llu,\"pid\":%u,"
                            "\"reqId\":\"req-%llu\",\"msg\":\"request "
                            "served\"}",
                            1764236400000ull + seq, proc,
                            (unsigned long long) seq * 7);
}

static void
push(struct agent_shipq *q, unsigned proc, uint64_t seq, int random)
{
    char buf[512];
    struct agent_shipq_rec h = { 0 };

    h.seq = seq;
    h.ts_ms = (int64_t) seq;
    h.proc = (uint16_t) proc;
    h.len = (uint32_t) line_text(proc, seq, random, buf);
    h.stream = (uint8_t) (seq & 1);
    assert_int_equal(agent_shipq_push(q, &h, buf), 0);
}

/* Takes the head line and checks it is (proc, seq) with its bytes. */
static void
take(struct agent_shipq *q, unsigned proc, uint64_t seq, int random)
{
    char buf[512];
    const struct agent_shipq_rec *r = agent_shipq_head(q);
    size_t n = line_text(proc, seq, random, buf);

    assert_non_null(r);
    assert_int_equal(r->proc, proc);
    assert_int_equal(r->seq, seq);
    assert_int_equal(r->ts_ms, (int64_t) seq);
    assert_int_equal(r->stream, seq & 1);
    assert_int_equal(r->len, n);
    assert_memory_equal(r->data, buf, n);
    agent_shipq_pop(q);
}

/* Takes every line left, proc's sequences from..to in order, and checks
 * that nothing else was queued. */
static void
take_rest(struct agent_shipq *q, unsigned proc, uint64_t from, uint64_t to,
          int random)
{
    uint64_t s;

    for (s = from; s <= to; s++) {
        take(q, proc, s, random);
    }
    assert_null(agent_shipq_head(q));
}

static size_t
rec_size(unsigned proc, uint64_t seq, int random)
{
    char buf[512];

    return AGENT_SHIPQ_REC_SIZE(line_text(proc, seq, random, buf));
}

/* Compressible lines over many chunks: the middle ones are compressed,
 * memory is far below the queued bytes, and every line comes out in
 * order with its bytes. */
static void
test_compress_and_take_all(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t s, n = 3000;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 0, s, 0);
    }
    assert_int_equal(q.nrecs, n);
    assert_true(q.z_chunks > 10);
    assert_int_equal(q.z_raw, 0);
    assert_true(q.z_in > 3 * q.z_out); /* pino-like lines: > 3x */
    /* head + tail raw, pool, and compressed blocks: well under the
     * queued bytes */
    assert_true(q.mem < q.bytes / 2);
    assert_int_equal(q.z_unz, 0);
    take_rest(&q, 0, 1, n, 0);
    assert_int_equal(q.nrecs, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.rec_popped, n);
    assert_int_equal(q.rec_next, n);
    assert_int_equal(q.z_unz, q.z_chunks);
    assert_int_equal(d->calls, 0);
    /* only pooled buffers are left */
    assert_int_equal(q.mem, q.npool * CHUNK);
    assert_true(q.npool <= AGENT_SHIPQ_POOL_MAX);
    agent_shipq_free(&q);
    free(d);
}

/* Dropping one line at a time (the full buffer's steady state) from a
 * compressed head decompresses it, then takes the rest exactly. */
static void
test_drop_lines_then_take(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t s, n = 2000, dropped = 700;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 0, s, 0);
    }
    for (s = 1; s <= dropped; s++) {
        size_t before = q.bytes;

        assert_int_equal(agent_shipq_drop_oldest(&q, 1), rec_size(0, s, 0));
        assert_int_equal(q.bytes, before - rec_size(0, s, 0));
    }
    assert_int_equal(q.z_whole, 0);
    assert_true(q.z_unz > 0);
    assert_int_equal(d->n[0], dropped);
    assert_int_equal(d->first[0], 1);
    assert_int_equal(d->last[0], dropped);
    take_rest(&q, 0, dropped + 1, n, 0);
    agent_shipq_free(&q);
    free(d);
}

/* A compressed head chunk that has to go whole is dropped from its
 * summary, without being decompressed; a partly taken head is dropped
 * line by line; the counts and ranges are exact, and what is left comes
 * out in order. */
static void
test_drop_whole_chunks_and_partial_head(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t s, n = 3000, next = 1, unz;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 0, s, 0);
    }
    /* the head chunk is the first, raw (it was the head when sealed):
     * take a few of its lines, then drop with a huge want: the partly
     * taken raw head goes line by line, the next (compressed) whole */
    take(&q, 0, next++, 0);
    take(&q, 0, next++, 0);
    unz = q.z_unz;
    {
        uint64_t before_n = q.nrecs;
        size_t freed = 0;

        while (q.z_whole < 3) {
            size_t f = agent_shipq_drop_oldest(&q, SIZE_MAX);

            assert_true(f > 0);
            freed += f;
        }
        /* no chunk was decompressed to be dropped */
        assert_int_equal(q.z_unz, unz);
        assert_int_equal(before_n - q.nrecs, d->n[0]);
        assert_true(freed > 3 * (CHUNK / 2));
    }
    assert_int_equal(d->first[0], next);
    assert_int_equal(d->last[0], next + d->n[0] - 1);
    next += d->n[0];
    /* a small want on a compressed head: one line, after decompressing */
    assert_int_equal(agent_shipq_drop_oldest(&q, 1), rec_size(0, next, 0));
    assert_int_equal(q.z_unz, unz + 1);
    assert_int_equal(d->last[0], next);
    next++;
    /* the partly dropped head, then the rest, taken in order */
    take_rest(&q, 0, next, n, 0);
    assert_int_equal(q.rec_popped, n);
    for (s = 1; s <= n; s++) {
        /* every line taken or dropped, none both (checked in on_drop) */
        if (s > 2 && s < 3 + d->n[0]) {
            assert_int_equal(d->seen[0][s], 1);
        } else {
            assert_int_equal(d->seen[0][s], 0);
        }
    }
    agent_shipq_free(&q);
    free(d);
}

/* Several instances interleaved in runs: a whole-chunk drop reports each
 * instance's own count and range from the summary. */
static void
test_instances_interleaved(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t seq[NPROC] = { 0 }, taken[NPROC] = { 0 }, total = 0;
    unsigned i, p;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (i = 0; i < 4000; i++) {
        p = (i / 7) % NPROC; /* runs of 7 lines per instance */
        push(&q, p, ++seq[p], 0);
    }
    /* drop the raw head line by line until a compressed chunk is the
     * head, then three whole chunks */
    while (q.z_whole < 3) {
        assert_true(agent_shipq_drop_oldest(&q, SIZE_MAX) > 0);
    }
    for (p = 0; p < NPROC; p++) {
        total += d->n[p];
        /* the oldest lines of each instance: 1..n */
        assert_int_equal(d->first[p], 1);
        assert_int_equal(d->last[p], d->n[p]);
        taken[p] = d->n[p];
    }
    assert_int_equal(q.nrecs, 4000 - total);
    /* the rest in queue order */
    for (i = 0; i < 4000; i++) {
        p = (i / 7) % NPROC;
        if (i < total) {
            continue;
        }
        take(&q, p, ++taken[p], 0);
    }
    for (p = 0; p < NPROC; p++) {
        assert_int_equal(taken[p], seq[p]);
    }
    assert_null(agent_shipq_head(&q));
    agent_shipq_free(&q);
    free(d);
}

/* Random bytes do not compress: every chunk stays raw, memory is one raw
 * buffer per chunk as without compression, and lines come out intact. */
static void
test_incompressible(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t s, n = 1000;
    size_t chunks;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 1, s, 1);
    }
    assert_int_equal(q.z_chunks, 0);
    assert_true(q.z_raw > 10);
    chunks = (q.bytes + CHUNK - 1) / CHUNK;
    /* the queued chunks, at most one more (a scratch kept in the pool) */
    assert_true(q.mem <= (chunks + 1 + AGENT_SHIPQ_POOL_MAX) * CHUNK);
    assert_true(q.mem_peak <= (chunks + 1 + AGENT_SHIPQ_POOL_MAX) * CHUNK);
    /* drops of raw chunks go line by line */
    for (s = 1; s <= 50; s++) {
        assert_int_equal(agent_shipq_drop_oldest(&q, SIZE_MAX),
                         rec_size(1, s, 1));
    }
    assert_int_equal(d->n[1], 50);
    take_rest(&q, 1, 51, n, 1);
    agent_shipq_free(&q);
    free(d);
}

/* Compressible and incompressible chunks mixed, then compression off. */
static void
test_mixed_and_off(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t s, n = 3000;

    (void) state;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 2, s, (s / 300) % 2); /* runs of 300 */
    }
    assert_true(q.z_chunks > 0);
    assert_true(q.z_raw > 0);
    for (s = 1; s <= n; s++) {
        take(&q, 2, s, (s / 300) % 2);
    }
    agent_shipq_free(&q);

    agent_shipq_init(&q, CHUNK, 0, on_drop, d);
    for (s = 1; s <= n; s++) {
        push(&q, 2, s, 0);
    }
    assert_int_equal(q.z_chunks, 0);
    assert_int_equal(q.z_raw, 0);
    for (s = 1; s <= n; s++) {
        take(&q, 2, s, 0);
    }
    assert_int_equal(d->calls, 0);
    agent_shipq_free(&q);
    free(d);
}

/* Interleaved pushes, takes and drops, against a model FIFO. */
static void
test_random_ops_against_model(void **state)
{
    struct agent_shipq q;
    struct drops *d = calloc(1, sizeof(*d));
    uint64_t pushed = 0, gone = 0;
    unsigned i, k;

    (void) state;
    rng = 777;
    agent_shipq_init(&q, CHUNK, 1, on_drop, d);
    for (i = 0; i < 4000 && pushed < MAXLINES; i++) {
        unsigned op = xorshift() % 10;

        if (op < 6) {
            for (k = xorshift() % 200; k > 0 && pushed < MAXLINES; k--) {
                pushed++;
                push(&q, 0, pushed, (pushed / 500) % 4 == 3);
            }
        } else if (op < 9) {
            for (k = xorshift() % 150; k > 0 && gone < pushed; k--) {
                gone++;
                take(&q, 0, gone, (gone / 500) % 4 == 3);
            }
        } else {
            /* a burst of drops, one line or as much as may go */
            size_t want = xorshift() % 2 ? 1 : SIZE_MAX;

            for (k = xorshift() % 300; k > 0 && gone < pushed; k--) {
                uint64_t before = d->n[0];

                assert_true(agent_shipq_drop_oldest(&q, want) > 0);
                assert_int_equal(d->last[0], gone + (d->n[0] - before));
                gone += d->n[0] - before;
            }
        }
        assert_int_equal(q.nrecs, pushed - gone);
        assert_int_equal(q.rec_popped, gone);
    }
    while (gone < pushed) {
        gone++;
        take(&q, 0, gone, (gone / 500) % 4 == 3);
    }
    fprintf(stderr,
            "ops: %llu lines, %llu compressed, %llu raw, %llu "
            "decompressed, %llu dropped whole, %llu dropped\n",
            (unsigned long long) pushed, (unsigned long long) q.z_chunks,
            (unsigned long long) q.z_raw, (unsigned long long) q.z_unz,
            (unsigned long long) q.z_whole, (unsigned long long) d->n[0]);
    /* every path was taken */
    assert_true(q.z_chunks > 0 && q.z_raw > 0 && q.z_unz > 0);
    assert_true(q.z_whole > 0 && d->n[0] > 0);
    assert_null(agent_shipq_head(&q));
    assert_int_equal(q.bytes, 0);
    agent_shipq_free(&q);
    free(d);
}

/* --buffer-compress on|off (WHARF_BUFFER_COMPRESS), default on. */
static void
test_buffer_compress_flag(void **state)
{
    struct agent_config c;
    char err[256];
    char *base[] = { "wharf-agent", "--worker", "w", "--listen",
                     "127.0.0.1:0", NULL,       NULL };
    char *env_off[] = { "WHARF_BUFFER_COMPRESS=off", NULL };
    char *no_env[] = { NULL };

    (void) state;
    assert_int_equal(agent_config_parse(&c, 5, base, no_env, err, sizeof(err)),
                     0);
    assert_int_equal(c.buffer_compress, 1);
    assert_int_equal(agent_config_parse(&c, 5, base, env_off, err, sizeof(err)),
                     0);
    assert_int_equal(c.buffer_compress, 0);
    base[5] = "--buffer-compress=on"; /* a flag wins */
    assert_int_equal(agent_config_parse(&c, 6, base, env_off, err, sizeof(err)),
                     0);
    assert_int_equal(c.buffer_compress, 1);
    base[5] = "--buffer-compress=off";
    assert_int_equal(agent_config_parse(&c, 6, base, no_env, err, sizeof(err)),
                     0);
    assert_int_equal(c.buffer_compress, 0);
    base[5] = "--buffer-compress=yes";
    assert_int_equal(agent_config_parse(&c, 6, base, no_env, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "--buffer-compress: must be on or off"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_and_take_all),
        cmocka_unit_test(test_drop_lines_then_take),
        cmocka_unit_test(test_drop_whole_chunks_and_partial_head),
        cmocka_unit_test(test_instances_interleaved),
        cmocka_unit_test(test_incompressible),
        cmocka_unit_test(test_mixed_and_off),
        cmocka_unit_test(test_random_ops_against_model),
        cmocka_unit_test(test_buffer_compress_flag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
