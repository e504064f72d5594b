/* Line splitting: see lines.h. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int
agent_lines_init(struct agent_lines *l, size_t line_max)
{
    memset(l, 0, sizeof(*l));
    /* out is touched only by a line with invalid UTF-8: until then its
     * pages cost no memory */
    l->buf = malloc(line_max);
    l->out = malloc(line_max);
    if (l->buf == NULL || l->out == NULL) {
        agent_lines_free(l);
        return -1;
    }
    l->cap = line_max;
    return 0;
}

void
agent_lines_free(struct agent_lines *l)
{
    free(l->buf);
    free(l->out);
    l->buf = l->out = NULL;
    l->cap = l->len = 0;
}

/* Hands one piece on; ends says whether it ends its line. */
static void
piece(struct agent_lines *l, const char *s, size_t n, unsigned end_flags,
      int ends, agent_line_cb cb, void *ctx)
{
    unsigned flags = l->continued ? AGENT_LINE_CONT : 0;

    cb(ctx, s, n, flags | (ends ? end_flags : AGENT_LINE_SPLIT));
    l->continued = !ends;
}

/*
 * Emits the n bytes at s, one line or the start of one. end: the line ends
 * after them (a newline was read: end_flags 0, or the stream ended:
 * AGENT_LINE_EOF). Otherwise the buffer is full: exactly one piece goes,
 * as long as fits, and a character the read cut stays for the next read.
 * Returns the bytes used.
 */
static size_t
emit(struct agent_lines *l, const char *s, size_t n, int end,
     unsigned end_flags, agent_line_cb cb, void *ctx)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = wharf_utf8_valid_prefix(u, n), o, k;
    enum wharf_utf8_unit unit;

    /* valid text (the common case) goes from the read buffer */
    if (i == n) {
        piece(l, s, n, end_flags, end, cb, ctx);
        return n;
    }
    if (!end && wharf_utf8_next(u + i, n - i, &k) == WHARF_UTF8_PARTIAL) {
        piece(l, s, i, end_flags, 0, cb, ctx);
        return i;
    }
    /* invalid bytes: replaced into out, cut where out is full */
    memcpy(l->out, s, i);
    o = i;
    while (i < n) {
        size_t add;

        unit = wharf_utf8_next(u + i, n - i, &k);
        if (unit == WHARF_UTF8_PARTIAL && !end) {
            break; /* the next read may complete it */
        }
        add = unit == WHARF_UTF8_VALID ? k : WHARF_UTF8_REPLACEMENT_LEN;
        if (o + add > l->cap) {
            piece(l, l->out, o, end_flags, 0, cb, ctx);
            o = 0;
            if (!end) {
                return i; /* one piece per full buffer */
            }
        }
        if (unit == WHARF_UTF8_VALID) {
            memcpy(l->out + o, s + i, k);
        } else {
            memcpy(l->out + o, WHARF_UTF8_REPLACEMENT,
                   WHARF_UTF8_REPLACEMENT_LEN);
        }
        o += add;
        i += k;
    }
    piece(l, l->out, o, end_flags, end, cb, ctx);
    return i;
}

void
agent_lines_commit(struct agent_lines *l, size_t n, agent_line_cb cb, void *ctx)
{
    char *start = l->buf, *end, *nl;
    size_t scan_from = l->len; /* the held bytes have no '\n' */

    l->len += n;
    end = l->buf + l->len;
    while ((nl = memchr(l->buf + scan_from, '\n',
                        (size_t) (end - (l->buf + scan_from))))
           != NULL) {
        (void) emit(l, start, (size_t) (nl - start), 1, 0, cb, ctx);
        start = nl + 1;
        scan_from = (size_t) (start - l->buf);
    }
    l->len = (size_t) (end - start);
    if (start == l->buf && l->len == l->cap) {
        /* A full buffer without a newline: one piece goes, what it left
         * (a cut character, or what did not fit once replaced) stays. */
        size_t used = emit(l, l->buf, l->len, 0, 0, cb, ctx);

        l->len -= used;
        memmove(l->buf, l->buf + used, l->len);
        return;
    }
    if (start != l->buf && l->len > 0) {
        memmove(l->buf, start, l->len);
    }
}

void
agent_lines_flush(struct agent_lines *l, agent_line_cb cb, void *ctx)
{
    if (l->len > 0) {
        (void) emit(l, l->buf, l->len, 1, AGENT_LINE_EOF, cb, ctx);
    }
    l->len = 0;
    l->continued = 0;
}
