/* libFuzzer target: the agent's line splitter (agent/lines.c), fed an app's
 * output in reads of fuzzer-chosen sizes. The splitter must be lossless
 * up to the replacement of invalid UTF-8: the pieces of each line, joined,
 * are that line (up to its '\n') with every maximal invalid subpart
 * replaced by U+FFFD, as if replaced whole; every piece is valid UTF-8, no
 * longer than line_max, and holds no '\n'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/lines.h"
#include "utf8.h"

struct check {
    const uint8_t *in;
    size_t in_len, pos, cap;
    char *acc; /* the pieces of the current line, joined */
    size_t acc_len;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The pieces joined so far must be the next input line, replaced. */
static void
line_done(struct check *c, int newline)
{
    const uint8_t *nl = memchr(c->in + c->pos, '\n', c->in_len - c->pos);
    size_t end = nl != NULL ? (size_t) (nl - c->in) : c->in_len, n;
    char *want = malloc(3 * (end - c->pos) + 1);

    if (want == NULL) {
        abort();
    }
    /* replaced whole, where the splitter replaced piece by piece */
    n = wharf_utf8_replace(c->in + c->pos, end - c->pos, want);
    if (n != c->acc_len || memcmp(want, c->acc, n) != 0) {
        abort();
    }
    free(want);
    if (newline && nl == NULL) {
        abort(); /* a line said complete without its newline */
    }
    c->pos = nl != NULL ? end + 1 : end;
    c->acc_len = 0;
}

static void
on_line(void *ctx, const char *line, size_t len, unsigned flags)
{
    struct check *c = ctx;

    if (len > c->cap || memchr(line, '\n', len) != NULL
        || wharf_utf8_valid_prefix((const unsigned char *) line, len) != len) {
        abort();
    }
    memcpy(c->acc + c->acc_len, line, len);
    c->acc_len += len;
    if (!(flags & AGENT_LINE_SPLIT)) {
        line_done(c, !(flags & AGENT_LINE_EOF));
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
    c.acc_len = 0;
    c.acc = malloc(3 * c.in_len + 1);
    if (c.acc == NULL || agent_lines_init(&l, c.cap) != 0) {
        free(c.acc);
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
    if (c.acc_len > 0) {
        /* the input ended right after a cut piece: nothing was held */
        line_done(&c, 0);
    }
    if (c.pos != c.in_len) {
        abort(); /* bytes lost */
    }
    agent_lines_free(&l);
    free(c.acc);
    return 0;
}
