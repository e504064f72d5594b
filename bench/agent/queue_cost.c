/*
 * bench/agent: the CPU cost of the compressed line queue alone
 * (agent/ship_queue.c), counted in instructions with callgrind, away from
 * the noise of a shared machine. Reads lines from stdin, then runs them
 * through a queue bounded as the agent's default buffer bounds it (3/4 of
 * 16 MiB) in the full-buffer steady state: each line pushed after dropping
 * the oldest until it fits; then takes every line left. run_queue() is
 * what callgrind counts (--toggle-collect=run_queue).
 *
 *   cc -O2 -g -Iagent -o build/queue_cost bench/agent/queue_cost.c \
 *       agent/ship_queue.c -llz4
 *   cc -O2 -o build/pino_lines bench/agent/pino_lines.c
 *   build/pino_lines 2 | head -n 300000 > build/lines.txt
 *   valgrind --tool=callgrind --toggle-collect=run_queue \
 *       build/queue_cost on < build/lines.txt     (and off)
 * (the `yes` input: 300,000 copies of run.mjs's 60-byte line; `random`:
 * base64 -w 100 of /dev/urandom, 300,000 lines)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ship_queue.h"

#define LIMIT ((16u << 20) / 4 * 3)
#define CHUNK (2u * 65536u + 4096u)

static uint64_t dropped;

static void
on_drop(void *ctx, unsigned proc, uint64_t first, uint64_t last, uint64_t n)
{
    (void) ctx;
    (void) proc;
    (void) first;
    (void) last;
    dropped += n;
}

/* Returns the lines taken at the end. */
static __attribute__((noinline)) uint64_t
run_queue(struct agent_shipq *q, char *text, size_t nlines)
{
    struct agent_shipq_rec h = { 0 };
    uint64_t taken = 0;
    size_t i;
    char *s = text;

    for (i = 0; i < nlines; i++) {
        size_t len = strlen(s), sz = AGENT_SHIPQ_REC_SIZE(len);

        while (q->bytes + sz > LIMIT) {
            agent_shipq_drop_oldest(q, q->bytes + sz - LIMIT);
        }
        h.seq = i + 1;
        h.ts_ms = 1764236400000 + (int64_t) i / 1000;
        h.len = (uint32_t) len;
        agent_shipq_push(q, &h, s);
        s += len + 1;
    }
    while (agent_shipq_head(q) != NULL) {
        agent_shipq_pop(q);
        taken++;
    }
    return taken;
}

int
main(int argc, char **argv)
{
    struct agent_shipq q;
    size_t cap = 1 << 20, len = 0, nlines = 0, n, i;
    char *text = malloc(cap);
    uint64_t taken;

    if (argc < 2 || text == NULL) {
        fprintf(stderr, "usage: queue_cost on|off < lines\n");
        return 2;
    }
    while ((n = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            text = realloc(text, cap *= 2);
            if (text == NULL) {
                return 1;
            }
        }
    }
    for (i = 0; i < len; i++) {
        if (text[i] == '\n') {
            text[i] = '\0';
            nlines++;
        }
    }
    agent_shipq_init(&q, CHUNK, strcmp(argv[1], "on") == 0, on_drop, NULL);
    taken = run_queue(&q, text, nlines);
    printf("%zu lines: %llu dropped, %llu taken; %llu chunks compressed, "
           "%llu -> %llu bytes (ratio %.2f), %llu kept raw; queue memory "
           "peak %zu bytes\n",
           nlines, (unsigned long long) dropped, (unsigned long long) taken,
           (unsigned long long) q.z_chunks, (unsigned long long) q.z_in,
           (unsigned long long) q.z_out,
           q.z_out ? (double) q.z_in / (double) q.z_out : 0.0,
           (unsigned long long) q.z_raw, q.mem_peak);
    agent_shipq_free(&q);
    free(text);
    return 0;
}
