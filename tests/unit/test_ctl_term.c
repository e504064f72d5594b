/* Unit tests for wharfctl's pure helpers: wharf.tty.v1 messages
 * (cli/term_proto.c) and durations (cli/args.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/ctl.h"
#include "../../cli/term_proto.h"

static void
test_resize_msg(void **state)
{
    char buf[CTL_TTY_RESIZE_MAX];
    size_t n;

    (void) state;
    n = ctl_term_resize_msg(buf, sizeof(buf), 120, 40);
    assert_string_equal(buf, "{\"type\":\"resize\",\"cols\":120,\"rows\":40}");
    assert_int_equal(n, strlen(buf));
    /* Clamped to the agent's limits, never 0. */
    ctl_term_resize_msg(buf, sizeof(buf), 0, 100000);
    assert_string_equal(buf, "{\"type\":\"resize\",\"cols\":1,\"rows\":1000}");
    ctl_term_resize_msg(buf, sizeof(buf), CTL_TTY_MAX_COLS + 1, 1);
    assert_string_equal(buf, "{\"type\":\"resize\",\"cols\":1000,\"rows\":1}");
    /* The longest message fits the buffer. */
    n = ctl_term_resize_msg(buf, sizeof(buf), 1000, 1000);
    assert_true(n < sizeof(buf));
}

static void
test_parse_exit(void **state)
{
    int v = -1;

    (void) state;
#define P(s) ctl_term_parse(s, strlen(s), &v)
    assert_int_equal(P("{\"type\":\"exit\",\"code\":3}"),
                     CTL_TERM_MSG_EXIT_CODE);
    assert_int_equal(v, 3);
    assert_int_equal(P("{\"type\":\"exit\",\"code\":0}"),
                     CTL_TERM_MSG_EXIT_CODE);
    assert_int_equal(v, 0);
    assert_int_equal(P("{\"type\":\"exit\",\"code\":300}"),
                     CTL_TERM_MSG_EXIT_CODE);
    assert_int_equal(v, 300 & 0xff);
    assert_int_equal(P("{\"type\":\"exit\",\"signal\":9}"),
                     CTL_TERM_MSG_EXIT_SIGNAL);
    assert_int_equal(v, 9);
    assert_int_equal(P("{\"type\":\"exit\",\"signal\":0}"), CTL_TERM_MSG_OTHER);
    assert_int_equal(P("{\"type\":\"exit\",\"signal\":200}"),
                     CTL_TERM_MSG_OTHER);
    assert_int_equal(P("{\"type\":\"exit\"}"), CTL_TERM_MSG_OTHER);
    assert_int_equal(P("{\"type\":\"resize\",\"code\":1}"), CTL_TERM_MSG_OTHER);
    assert_int_equal(P("not json"), CTL_TERM_MSG_OTHER);
    assert_int_equal(P("[1]"), CTL_TERM_MSG_OTHER);
    assert_int_equal(P(""), CTL_TERM_MSG_OTHER);
#undef P
    assert_int_equal(ctl_term_exit_status(CTL_TERM_MSG_EXIT_CODE, 3), 3);
    assert_int_equal(ctl_term_exit_status(CTL_TERM_MSG_EXIT_SIGNAL, 9), 137);
    assert_int_equal(ctl_term_exit_status(CTL_TERM_MSG_OTHER, 0), 1);
}

static void
test_durations(void **state)
{
    long long s = 0;

    (void) state;
    assert_int_equal(ctl_parse_duration("90", 1000, &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(ctl_parse_duration("90s", 1000, &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(ctl_parse_duration("15m", 100000, &s), 0);
    assert_int_equal(s, 900);
    assert_int_equal(ctl_parse_duration("12h", 100000, &s), 0);
    assert_int_equal(s, 43200);
    assert_int_equal(ctl_parse_duration("7d", 1000000, &s), 0);
    assert_int_equal(s, 604800);
    /* The edge: max itself passes, one more does not. */
    assert_int_equal(ctl_parse_duration("366d", 366LL * 86400, &s), 0);
    assert_int_equal(ctl_parse_duration("367d", 366LL * 86400, &s), -1);
    assert_int_equal(ctl_parse_duration("31622401", 366LL * 86400, &s), -1);
    assert_int_equal(ctl_parse_duration("0", 1000, &s), -1);
    assert_int_equal(ctl_parse_duration("", 1000, &s), -1);
    assert_int_equal(ctl_parse_duration("h", 1000, &s), -1);
    assert_int_equal(ctl_parse_duration("1x", 1000, &s), -1);
    assert_int_equal(ctl_parse_duration("1hh", 100000, &s), -1);
    assert_int_equal(ctl_parse_duration("-1", 1000, &s), -1);
    assert_int_equal(ctl_parse_duration("99999999999999999999999", 1000, &s),
                     -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_msg),
        cmocka_unit_test(test_parse_exit),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests_name("ctl_term", tests, NULL, NULL);
}
