/* libFuzzer target: the agent's line splitter (agent/lines.c), fed an app's
 * output in reads of fuzzer-chosen sizes. The splitter must be lossless:
 * the emitted pieces plus one '\n' per complete line give back the input
 * exactly; no piece holds a '\n' or exceeds line_max. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/lines.h"

struct check {
    const uint8_t *in;
    size_t in_len, pos, cap;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_line(void *ctx, const char *line, size_t len, unsigned flags)
{
    struct check *c = ctx;

    if (len > c->cap || memchr(line, '\n', len) != NULL
        || c->pos + len > c->in_len || memcmp(c->in + c->pos, line, len) != 0) {
        abort();
    }
    c->pos += len;
    if (!(flags & (AGENT_LINE_SPLIT | AGENT_LINE_EOF))) {
        /* a complete line: its newline was consumed */
        if (c->pos >= c->in_len || c->in[c->pos] != '\n') {
            abort();
        }
        c->pos++;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_lines l;
    struct check c;
    size_t off = 2, room, step;
    char *space;

    if (size < 2) {
        return 0;
    }
    /* byte 0: line_max above the minimum; byte 1: the read size */
    c.cap = AGENT_LINE_MAX_MIN + data[0];
    c.in = data + 2;
    c.in_len = size - 2;
    c.pos = 0;
    if (agent_lines_init(&l, c.cap) != 0) {
        return 0;
    }
    while (off < size) {
        space = agent_lines_space(&l, &room);
        step = 1 + data[1] % 97;
        if (step > room) {
            step = room;
        }
        if (step > size - off) {
            step = size - off;
        }
        memcpy(space, data + off, step);
        agent_lines_commit(&l, step, on_line, &c);
        off += step;
    }
    agent_lines_flush(&l, on_line, &c);
    if (c.pos != c.in_len) {
        abort(); /* bytes lost */
    }
    agent_lines_free(&l);
    return 0;
}
