/*
 * Splitting a child's output into lines, without a copy or an allocation
 * per line.
 *
 * Each stream (a child's stdout or stderr) owns one buffer of line_max
 * bytes, allocated once. The caller read()s straight into the free tail of
 * that buffer (agent_lines_space / agent_lines_commit); complete lines are
 * handed to the callback as pointers into the buffer, and only the
 * unfinished tail is moved to the front afterwards.
 *
 * Lines leave as valid UTF-8 of at most line_max bytes, whatever the
 * child printed:
 *   - Invalid UTF-8 is replaced, each maximal subpart by one U+FFFD
 *     (common/utf8.h), before the line is measured, so a replaced line is
 *     never longer than line_max (a byte becomes 3). Only such a line is
 *     copied (into a second buffer of line_max bytes); valid text is
 *     handed on from the read buffer.
 *   - A line longer than line_max (in replaced bytes) is cut between
 *     characters, never inside one: the pieces go out with AGENT_LINE_SPLIT
 *     (more follows) and AGENT_LINE_CONT (continues a cut line), so that
 *     nothing is lost and a reader joins them back into the line as a
 *     UTF-8 decoder with replacement reads the child's bytes.
 * So everything downstream (classification, the orchestrator's message
 * limit, JSON) sees text whose length is its stored length.
 *
 * Pure (no I/O, no libuv): unit-tested in tests/unit/test_agent_lines.c.
 */
#ifndef AGENT_LINES_H
#define AGENT_LINES_H

#include <stddef.h>

/* Default and bounds of the longest line kept whole, in bytes. */
#define AGENT_LINE_MAX_DEFAULT 65536u
#define AGENT_LINE_MAX_MIN     64u
#define AGENT_LINE_MAX_MAX     (1u << 20)

enum agent_line_flags {
    AGENT_LINE_SPLIT = 1 << 0, /* cut at line_max: the line goes on */
    AGENT_LINE_CONT = 1 << 1,  /* the rest of a line that was cut */
    AGENT_LINE_EOF = 1 << 2    /* last fragment, no newline, at exit */
};

typedef void (*agent_line_cb)(void *ctx, const char *line, size_t len,
                              unsigned flags);

struct agent_lines {
    char *buf;
    size_t cap;    /* line_max */
    size_t len;    /* bytes held: an unfinished line */
    int continued; /* the bytes held continue a cut line */
    char *out;     /* cap bytes: a line with invalid UTF-8, replaced */
};

/* Returns 0, or -1 when out of memory. */
int agent_lines_init(struct agent_lines *l, size_t line_max);
void agent_lines_free(struct agent_lines *l);

/* Where the next read() goes, and how much it may read (never 0: a full
 * buffer was already emitted as a cut line by agent_lines_commit). */
static inline char *
agent_lines_space(struct agent_lines *l, size_t *room)
{
    *room = l->cap - l->len;
    return l->buf + l->len;
}

/* n bytes were read into agent_lines_space(): emits every complete line
 * (without its '\n') and, when the buffer is full, one cut piece. */
void agent_lines_commit(struct agent_lines *l, size_t n, agent_line_cb cb,
                        void *ctx);

/* The stream ended: emits what is held as a last line (AGENT_LINE_EOF). */
void agent_lines_flush(struct agent_lines *l, agent_line_cb cb, void *ctx);

#endif
