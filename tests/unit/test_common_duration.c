/* common/duration.c: the one duration grammar of the CLI and wharfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "duration.h"

static void
test_units_and_edges(void **state)
{
    long long s = -1;

    (void) state;
    assert_int_equal(wharf_duration_parse("0", 10, &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(wharf_duration_parse("0d", 10, &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(wharf_duration_parse("45", 100, &s), 0);
    assert_int_equal(s, 45);
    assert_int_equal(wharf_duration_parse("45s", 100, &s), 0);
    assert_int_equal(s, 45);
    assert_int_equal(wharf_duration_parse("2m", 120, &s), 0);
    assert_int_equal(s, 120);
    assert_int_equal(wharf_duration_parse("3h", 10800, &s), 0);
    assert_int_equal(s, 10800);
    assert_int_equal(wharf_duration_parse("36500d", 36500LL * 86400, &s), 0);
    assert_int_equal(s, 36500LL * 86400);
    /* one above max, in each form */
    assert_int_equal(wharf_duration_parse("36501d", 36500LL * 86400, &s), -1);
    assert_int_equal(wharf_duration_parse("121", 120, &s), -1);
    assert_int_equal(wharf_duration_parse("3m", 179, &s), -1);
}

static void
test_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "d",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1x",
        "1dd",
        "1.5h",
        "0x10",
        "99999999999999999999999999",
    };
    long long s = 7;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wharf_duration_parse(bad[i], 1LL << 40, &s), -1);
        assert_int_equal(s, 7); /* untouched */
    }
    assert_int_equal(wharf_duration_parse("1", -1, &s), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_and_edges),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
