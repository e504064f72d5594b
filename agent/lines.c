/* Line splitting: see lines.h. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

int
agent_lines_init(struct agent_lines *l, size_t line_max)
{
    memset(l, 0, sizeof(*l));
    l->buf = malloc(line_max);
    if (l->buf == NULL) {
        return -1;
    }
    l->cap = line_max;
    return 0;
}

void
agent_lines_free(struct agent_lines *l)
{
    free(l->buf);
    l->buf = NULL;
    l->cap = l->len = 0;
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
        cb(ctx, start, (size_t) (nl - start),
           l->continued ? AGENT_LINE_CONT : 0);
        l->continued = 0;
        start = nl + 1;
        scan_from = (size_t) (start - l->buf);
    }
    if (start == l->buf && l->len == l->cap) {
        /* A full buffer without a newline: cut here. */
        cb(ctx, l->buf, l->len,
           AGENT_LINE_SPLIT | (l->continued ? AGENT_LINE_CONT : 0));
        l->continued = 1;
        l->len = 0;
        return;
    }
    l->len = (size_t) (end - start);
    if (start != l->buf && l->len > 0) {
        memmove(l->buf, start, l->len);
    }
}

void
agent_lines_flush(struct agent_lines *l, agent_line_cb cb, void *ctx)
{
    if (l->len > 0) {
        cb(ctx, l->buf, l->len,
           AGENT_LINE_EOF | (l->continued ? AGENT_LINE_CONT : 0));
    }
    l->len = 0;
    l->continued = 0;
}
