/* Unit tests for line splitting (agent/lines.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/lines.h"

struct got {
    char text[16][256];
    unsigned flags[16];
    const char *ptr[16];
    int n;
};

static void
collect(void *ctx, const char *line, size_t len, unsigned flags)
{
    struct got *g = ctx;

    assert_true(g->n < 16);
    assert_true(len < sizeof(g->text[0]));
    memcpy(g->text[g->n], line, len);
    g->text[g->n][len] = '\0';
    g->flags[g->n] = flags;
    g->ptr[g->n] = line;
    g->n++;
}

/* Feeds the n bytes at s as if read() returned them. */
static void
feedn(struct agent_lines *l, const char *s, size_t n, struct got *g)
{
    size_t room;
    char *at = agent_lines_space(l, &room);

    assert_true(n <= room);
    memcpy(at, s, n);
    agent_lines_commit(l, n, collect, g);
}

/* Feeds s as if read() returned it. */
static void
feed(struct agent_lines *l, const char *s, struct got *g)
{
    size_t room, n = strlen(s);
    char *at = agent_lines_space(l, &room);

    assert_true(n <= room);
    memcpy(at, s, n);
    agent_lines_commit(l, n, collect, g);
}

static void
test_lines_split_and_carry(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };

    (void) state;
    assert_int_equal(agent_lines_init(&l, 64), 0);
    feed(&l, "a\nb\n", &g); /* L1 */
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0], "a");
    assert_string_equal(g.text[1], "b");
    /* lines are handed out in place, not copied */
    assert_ptr_equal(g.ptr[0], l.buf);
    feed(&l, "ab", &g); /* L2: carried over */
    assert_int_equal(g.n, 2);
    feed(&l, "c\n", &g);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.text[2], "abc");
    assert_int_equal(g.flags[2], 0);
    feed(&l, "\n\n", &g); /* empty lines come out empty */
    assert_int_equal(g.n, 5);
    assert_string_equal(g.text[3], "");
    agent_lines_free(&l);
}

static void
test_lines_long_line_cut_and_flagged(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };
    char big[65];

    (void) state;
    assert_int_equal(agent_lines_init(&l, 16), 0);
    memset(big, 'x', 40);
    big[40] = '\0';
    feed(&l, "0123456789", &g);
    feed(&l, "abcdef", &g); /* exactly the limit: cut */
    assert_int_equal(g.n, 1);
    assert_string_equal(g.text[0], "0123456789abcdef");
    assert_int_equal(g.flags[0], AGENT_LINE_SPLIT);
    feed(&l, "0123456789abcdef", &g); /* a second full piece */
    assert_int_equal(g.n, 2);
    assert_int_equal(g.flags[1], AGENT_LINE_SPLIT | AGENT_LINE_CONT);
    feed(&l, "end\nnext\n", &g);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.text[2], "end");
    assert_int_equal(g.flags[2], AGENT_LINE_CONT);
    assert_string_equal(g.text[3], "next");
    assert_int_equal(g.flags[3], 0);
    /* a line of limit-1 bytes plus its newline is whole */
    feed(&l, "123456789012345", &g);
    feed(&l, "\n", &g);
    assert_int_equal(g.n, 5);
    assert_string_equal(g.text[4], "123456789012345");
    assert_int_equal(g.flags[4], 0);
    agent_lines_free(&l);
}

static void
test_lines_flush_last_fragment(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };

    (void) state;
    assert_int_equal(agent_lines_init(&l, 64), 0);
    feed(&l, "done\nno newline", &g);
    assert_int_equal(g.n, 1);
    agent_lines_flush(&l, collect, &g); /* L7 differs: kept */
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[1], "no newline");
    assert_int_equal(g.flags[1], AGENT_LINE_EOF);
    agent_lines_flush(&l, collect, &g); /* nothing twice */
    assert_int_equal(g.n, 2);
    agent_lines_free(&l);
}

#define R "\xef\xbf\xbd" /* U+FFFD */

/* Invalid bytes are replaced (a copy), valid text is not copied. */
static void
test_lines_invalid_bytes_replaced(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };

    (void) state;
    assert_int_equal(agent_lines_init(&l, 64), 0);
    feed(&l,
         "ok \xc3\xa9\na\xff"
         "b\n",
         &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0], "ok \xc3\xa9");
    assert_ptr_equal(g.ptr[0], l.buf);
    assert_string_equal(g.text[1], "a" R "b");
    assert_int_equal(g.flags[1], 0);
    assert_ptr_equal(g.ptr[1], l.out);
    /* a character cut at the end of the stream is one U+FFFD */
    feed(&l, "end\xe2\x82", &g);
    agent_lines_flush(&l, collect, &g);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.text[2], "end" R);
    assert_int_equal(g.flags[2], AGENT_LINE_EOF);
    agent_lines_free(&l);
}

/* A full buffer is cut between characters, never inside one: the cut
 * character waits for the next read (issue 12: "a" then e-acute x 70,000
 * was cut mid-character and its stray byte grew past the limit). */
static void
test_lines_cut_between_characters(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };

    (void) state;
    assert_int_equal(agent_lines_init(&l, 16), 0);
    /* 15 bytes then the first byte of e-acute: the buffer is full */
    feedn(&l, "aaaaaaaaaaaaaaa\xc3", 16, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.text[0], "aaaaaaaaaaaaaaa");
    assert_int_equal(g.flags[0], AGENT_LINE_SPLIT);
    assert_int_equal(l.len, 1);
    feed(&l, "\xa9!\n", &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[1], "\xc3\xa9!");
    assert_int_equal(g.flags[1], AGENT_LINE_CONT);
    /* the same with a subpart that turns out invalid after the cut: the
     * pieces decode as the whole would (E2 82 'x' -> U+FFFD 'x') */
    feedn(&l, "bbbbbbbbbbbbbb\xe2\x82", 16, &g);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.text[2], "bbbbbbbbbbbbbb");
    feed(&l, "x\n", &g);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.text[3], R "x");
    assert_int_equal(g.flags[3], AGENT_LINE_CONT);
    agent_lines_free(&l);
}

/* Replacement grows a line threefold: it is measured after, so no piece
 * is longer than line_max (issue 12: 30,000 bytes of 0xFF became 90 KB). */
static void
test_lines_measured_after_replacement(void **state)
{
    struct agent_lines l;
    struct got g = { 0 };
    char ff[17];
    int i;

    (void) state;
    assert_int_equal(agent_lines_init(&l, 16), 0);
    /* a complete line of 10 invalid bytes: 30 bytes once replaced */
    feed(&l, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\n", &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0], R R R R R);
    assert_int_equal(g.flags[0], AGENT_LINE_SPLIT);
    assert_string_equal(g.text[1], R R R R R);
    assert_int_equal(g.flags[1], AGENT_LINE_CONT);
    /* a full buffer of them: one piece as long as fits, the rest waits */
    memset(ff, 0xff, 16);
    ff[16] = '\0';
    feedn(&l, ff, 16, &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(strlen(g.text[2]), 15);
    assert_int_equal(g.flags[2], AGENT_LINE_SPLIT);
    assert_int_equal(l.len, 11);
    feed(&l, "\n", &g);
    /* 11 more: 15 + 15 + 3 bytes */
    assert_int_equal(g.n, 6);
    assert_int_equal(g.flags[3], AGENT_LINE_SPLIT | AGENT_LINE_CONT);
    assert_int_equal(g.flags[4], AGENT_LINE_SPLIT | AGENT_LINE_CONT);
    assert_int_equal(g.flags[5], AGENT_LINE_CONT);
    assert_string_equal(g.text[5], R);
    for (i = 0; i < g.n; i++) {
        assert_true(strlen(g.text[i]) <= 16);
    }
    agent_lines_free(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_and_carry),
        cmocka_unit_test(test_lines_long_line_cut_and_flagged),
        cmocka_unit_test(test_lines_flush_last_fragment),
        cmocka_unit_test(test_lines_invalid_bytes_replaced),
        cmocka_unit_test(test_lines_cut_between_characters),
        cmocka_unit_test(test_lines_measured_after_replacement),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
