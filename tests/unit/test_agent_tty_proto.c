/* Unit tests for wharf.tty.v1 control messages (agent/tty_proto.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../../agent/tty_proto.h"

static int
parse(const char *s, struct agent_tty_msg *msg, char *err, size_t errlen)
{
    return agent_tty_parse_control(s, strlen(s), msg, err, errlen);
}

static void
test_resize_accepted(void **state)
{
    struct agent_tty_msg m;
    char err[128];

    (void) state;
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":120,\"rows\":40}", &m,
                           err, sizeof(err)),
                     0);
    assert_int_equal(m.type, AGENT_TTY_MSG_RESIZE);
    assert_int_equal(m.cols, 120);
    assert_int_equal(m.rows, 40);

    /* key order, whitespace and extra fields do not matter */
    assert_int_equal(parse(" { \"rows\" : 1 , \"extra\":[1,2], \"cols\":1000,"
                           "\"type\":\"resize\" } ",
                           &m, err, sizeof(err)),
                     0);
    assert_int_equal(m.cols, 1000);
    assert_int_equal(m.rows, 1);
}

static void
test_resize_limits(void **state)
{
    struct agent_tty_msg m;
    char err[128];

    (void) state;
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":0,\"rows\":24}", &m,
                           err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "resize"));
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":80,\"rows\":1001}",
                           &m, err, sizeof(err)),
                     -1);
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":-5,\"rows\":24}", &m,
                           err, sizeof(err)),
                     -1);
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":80.5,\"rows\":24}",
                           &m, err, sizeof(err)),
                     -1);
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":\"80\",\"rows\":24}",
                           &m, err, sizeof(err)),
                     -1);
    assert_int_equal(
        parse("{\"type\":\"resize\",\"cols\":80}", &m, err, sizeof(err)), -1);
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":99999999999999999,"
                           "\"rows\":24}",
                           &m, err, sizeof(err)),
                     -1);
}

static void
test_malformed_rejected(void **state)
{
    struct agent_tty_msg m;
    char err[128];

    (void) state;
    assert_int_equal(parse("", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid JSON"));
    assert_int_equal(parse("not json", &m, err, sizeof(err)), -1);
    assert_int_equal(parse("[1,2]", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a JSON object"));
    assert_int_equal(parse("{\"cols\":1,\"rows\":1}", &m, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "type"));
    assert_int_equal(parse("{\"type\":7}", &m, err, sizeof(err)), -1);
    /* trailing garbage and duplicate keys are errors, not ignored */
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":1,\"rows\":1} x", &m,
                           err, sizeof(err)),
                     -1);
    assert_int_equal(parse("{\"type\":\"resize\",\"cols\":1,\"cols\":2,"
                           "\"rows\":1}",
                           &m, err, sizeof(err)),
                     -1);
    /* a small error buffer is truncated, not overrun */
    assert_int_equal(parse("nope", &m, err, 4), -1);
    assert_int_equal(strlen(err), 3);
    assert_int_equal(parse("nope", &m, NULL, 0), -1);
}

static void
test_not_nul_terminated(void **state)
{
    const char buf[] = "{\"type\":\"resize\",\"cols\":7,\"rows\":9}GARBAGE";
    struct agent_tty_msg m;
    char err[128];

    (void) state;
    assert_int_equal(
        agent_tty_parse_control(buf, strlen(buf) - 7, &m, err, sizeof(err)), 0);
    assert_int_equal(m.cols, 7);
    assert_int_equal(m.rows, 9);
}

static void
test_unknown_type_ignored(void **state)
{
    struct agent_tty_msg m;
    char err[128];

    (void) state;
    assert_int_equal(parse("{\"type\":\"ping\",\"x\":1}", &m, err, sizeof(err)),
                     0);
    assert_int_equal(m.type, AGENT_TTY_MSG_UNKNOWN);
}

static void
test_too_long(void **state)
{
    char buf[AGENT_TTY_CONTROL_MAX + 64];
    struct agent_tty_msg m;
    char err[128];
    int n;

    (void) state;
    n = snprintf(buf, sizeof(buf),
                 "{\"type\":\"resize\",\"cols\":1,"
                 "\"rows\":1,\"pad\":\"%*s\"}",
                 AGENT_TTY_CONTROL_MAX, "");
    assert_true(n > AGENT_TTY_CONTROL_MAX);
    assert_int_equal(
        agent_tty_parse_control(buf, (size_t) n, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
}

static void
test_encode_exit(void **state)
{
    char buf[AGENT_TTY_EXIT_MAX];

    (void) state;
    /* wait statuses as waitpid() reports them on Linux */
    assert_int_equal(agent_tty_encode_exit(0, buf, sizeof(buf)),
                     (int) strlen("{\"type\":\"exit\",\"code\":0}"));
    assert_string_equal(buf, "{\"type\":\"exit\",\"code\":0}");
    agent_tty_encode_exit(7 << 8, buf, sizeof(buf));
    assert_string_equal(buf, "{\"type\":\"exit\",\"code\":7}");
    agent_tty_encode_exit(255 << 8, buf, sizeof(buf));
    assert_string_equal(buf, "{\"type\":\"exit\",\"code\":255}");
    agent_tty_encode_exit(9, buf, sizeof(buf));
    assert_string_equal(buf, "{\"type\":\"exit\",\"signal\":9}");
    agent_tty_encode_exit(1 | 0x80, buf, sizeof(buf)); /* SIGHUP, core */
    assert_string_equal(buf, "{\"type\":\"exit\",\"signal\":1}");
    /* stopped is not an exit */
    assert_int_equal(agent_tty_encode_exit(0x137f, buf, sizeof(buf)), -1);
    /* too small a buffer */
    assert_int_equal(agent_tty_encode_exit(0, buf, 10), -1);
}

static void
test_query_args(void **state)
{
    unsigned cols = AGENT_TTY_DEFAULT_COLS, rows = AGENT_TTY_DEFAULT_ROWS;

    (void) state;
    agent_tty_apply_query_arg("cols=132", &cols, &rows);
    agent_tty_apply_query_arg("rows=43", &cols, &rows);
    assert_int_equal(cols, 132);
    assert_int_equal(rows, 43);

    agent_tty_apply_query_arg("cols=", &cols, &rows); /* kept */
    agent_tty_apply_query_arg("cols=12x", &cols, &rows);
    agent_tty_apply_query_arg("cols=-3", &cols, &rows);
    agent_tty_apply_query_arg("rows= 7", &cols, &rows);
    agent_tty_apply_query_arg("other=1", &cols, &rows);
    agent_tty_apply_query_arg("columns=5", &cols, &rows);
    assert_int_equal(cols, 132);
    assert_int_equal(rows, 43);

    agent_tty_apply_query_arg("cols=0", &cols, &rows); /* clamped */
    agent_tty_apply_query_arg("rows=100000000000000000000", &cols, &rows);
    assert_int_equal(cols, 1);
    assert_int_equal(rows, AGENT_TTY_MAX_ROWS);
    agent_tty_apply_query_arg("cols=1001", &cols, &rows);
    assert_int_equal(cols, AGENT_TTY_MAX_COLS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_accepted),
        cmocka_unit_test(test_resize_limits),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_unknown_type_ignored),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_encode_exit),
        cmocka_unit_test(test_query_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
