/* Unit tests for error detection (agent/detect.c), after the cases of
 * docs/vibesdk-behavior.md section 2 and wharf's differences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/detect.h"

static struct agent_detect d;

static void
detect(const char *line, struct agent_detect_result *r)
{
    agent_detect_line(&d, line, strlen(line), r);
}

static void
test_pino_levels(void **state)
{
    struct agent_detect_result r;

    (void) state;
    agent_detect_init(&d);
    detect("{\"level\":50,\"msg\":\"lvl50 error\",\"time\":1735689600000}", &r);
    assert_true(r.is_error); /* E1 */
    assert_int_equal((int) r.err_level, 50);
    assert_int_equal(r.msg_len, strlen("lvl50 error"));
    assert_memory_equal(r.msg, "lvl50 error", r.msg_len);
    assert_true(r.time_ms == 1735689600000LL);
    assert_false(r.fatal); /* E11 */
    assert_int_equal(r.level, AGENT_LEVEL_ERROR);
    agent_detect_release(&r);

    detect("{\"level\":60,\"msg\":\"lvl60 fatal\"}", &r); /* E2, E10 */
    assert_true(r.is_error && r.fatal);
    agent_detect_release(&r);

    detect("{\"level\":40,\"msg\":\"fatal error but warn\"}", &r); /* E3 */
    assert_false(r.is_error);
    assert_int_equal(r.level, AGENT_LEVEL_WARN);
    agent_detect_release(&r);

    detect("{\"level\":30,\"msg\":\"hi\"}", &r);
    assert_int_equal(r.level, AGENT_LEVEL_INFO);
    agent_detect_release(&r);
    detect("{\"level\":20,\"msg\":\"hi\"}", &r);
    assert_int_equal(r.level, AGENT_LEVEL_DEBUG);
    agent_detect_release(&r);

    detect("{\"level\":\"50\",\"msg\":\"s\"}", &r); /* E4 */
    assert_true(r.is_error);
    agent_detect_release(&r);
    detect("{\"level\":\"error\",\"msg\":\"label\"}", &r); /* E5 differs */
    assert_true(r.is_error);
    assert_int_equal((int) r.err_level, 50);
    agent_detect_release(&r);
    detect("{\"level\":\"fatal\",\"msg\":\"label\"}", &r);
    assert_true(r.is_error && r.fatal);
    assert_int_equal((int) r.err_level, 60);
    agent_detect_release(&r);
    detect("{\"level\":\"warn\",\"msg\":\"label\"}", &r);
    assert_false(r.is_error);
    assert_int_equal(r.level, AGENT_LEVEL_WARN);
    agent_detect_release(&r);

    detect("{\"level\":50}", &r); /* E6 */
    assert_true(r.is_error);
    assert_memory_equal(r.msg, "Unknown error", r.msg_len);
    agent_detect_release(&r);

    detect("{\"level\":50,\"msg\":\"x\",\"time\":\"not-a-date\"}", &r);
    assert_true(r.is_error); /* E7 differs */
    assert_true(r.time_ms == -1);
    agent_detect_release(&r);

    detect("{\"level\":55.5,\"msg\":\"x\"}", &r); /* E9d */
    assert_true(r.is_error);
    assert_true(r.err_level == 55.5);
    agent_detect_release(&r);

    detect("{\"level\":50,\"msg\":\"Cannot find module 'x'\"}", &r);
    assert_true(r.is_error && r.fatal); /* E10 */
    agent_detect_release(&r);
}

static void
test_not_errors_and_plain_text(void **state)
{
    struct agent_detect_result r;

    (void) state;
    agent_detect_init(&d);
    detect("{\"lvl\":50,\"msg\":\"x\"}", &r); /* E9c */
    assert_false(r.is_error);
    assert_int_equal(r.level, AGENT_LEVEL_OUTPUT);
    agent_detect_release(&r);
    detect("{\"level\":50,\"msg\":", &r); /* invalid JSON */
    assert_false(r.is_error);
    agent_detect_release(&r);
    detect("ERROR: something", &r); /* not a default pattern */
    assert_false(r.is_error);
    assert_int_equal(r.level, AGENT_LEVEL_OUTPUT);
    agent_detect_release(&r);
    detect("Error: listen EADDRINUSE: address already in use", &r);
    assert_true(r.is_error && r.fatal); /* E9 differs */
    assert_int_equal((int) r.err_level, 50);
    agent_detect_release(&r);
    detect("Segmentation FAULT (core dumped)", &r); /* any case */
    assert_true(r.is_error && r.fatal);
    agent_detect_release(&r);

    /* configured patterns replace the defaults */
    assert_int_equal(agent_detect_add_plain(&d, "ERROR:", 1), 0);
    detect("error: something", &r);
    assert_true(r.is_error);
    assert_false(r.fatal);
    agent_detect_release(&r);
    detect("segmentation fault", &r); /* still fatal if it were an
                                               error, but not a pattern now */
    assert_false(r.is_error);
    agent_detect_release(&r);
}

static void
test_pattern_limits(void **state)
{
    char big[AGENT_DETECT_PATTERN_LEN_MAX + 2];
    int i;

    (void) state;
    agent_detect_init(&d);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(agent_detect_add_plain(&d, big, 1), -1);
    big[AGENT_DETECT_PATTERN_LEN_MAX] = '\0';
    assert_int_equal(agent_detect_add_plain(&d, big, 1), 0);
    assert_int_equal(agent_detect_add_plain(&d, "", 0), -1);
    for (i = 1; i < AGENT_DETECT_PATTERNS_MAX; i++) {
        assert_int_equal(agent_detect_add_plain(&d, "p", 0), 0);
    }
    assert_int_equal(agent_detect_add_plain(&d, "p", 0), -1);
    assert_true(agent_detect_match(&d.plain, "xxPxx", 5));
    assert_false(agent_detect_match(&d.plain, "xxxx", 4));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pino_levels),
        cmocka_unit_test(test_not_errors_and_plain_text),
        cmocka_unit_test(test_pattern_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
