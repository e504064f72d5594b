/* common/isotime.c and percent.c: the one ISO-8601 formatter and the one
 * percent-decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isotime.h"
#include "log.h"
#include "percent.h"

static void
test_iso_ms(void **state)
{
    char buf[WHARF_ISO_MS_LEN];
    long long now;

    (void) state;
    wharf_iso_ms(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    wharf_iso_ms(1795772400123LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-27T09:40:00.123Z");
    /* before 1970: floored, as Date#toISOString does */
    wharf_iso_ms(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    wharf_iso_ms(-1000, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.000Z");
    wharf_iso_ms(-1001, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:58.999Z");
    /* 100 years back, retention's longest age */
    wharf_iso_ms(-36500LL * 86400 * 1000 + 1, buf, sizeof(buf));
    assert_string_equal(buf, "1870-01-25T00:00:00.001Z");
    now = wharf_wall_ms();
    assert_true(now > 1700000000000LL);
    wharf_now_iso8601(buf, sizeof(buf));
    assert_int_equal(strlen(buf), 24);
    assert_int_equal(buf[23], 'Z');
}

static void
test_percent(void **state)
{
    char out[8];

    (void) state;
    assert_int_equal(wharf_hexval('0'), 0);
    assert_int_equal(wharf_hexval('f'), 15);
    assert_int_equal(wharf_hexval('F'), 15);
    assert_int_equal(wharf_hexval('g'), -1);
    assert_int_equal(wharf_hexval('/'), -1);
    assert_int_equal(wharf_percent_decode("a%2Fb+c", 7, out, sizeof(out), 0),
                     5);
    assert_string_equal(out, "a/b+c");
    assert_int_equal(wharf_percent_decode("a%2fb+c", 7, out, sizeof(out),
                                          WHARF_PERCENT_PLUS),
                     5);
    assert_string_equal(out, "a/b c");
    /* a '%' without two hex digits stays */
    assert_int_equal(wharf_percent_decode("%4%g1%", 6, out, sizeof(out), 0), 6);
    assert_string_equal(out, "%4%g1%");
    /* "%4" with the '1' past n: not a byte */
    assert_int_equal(wharf_percent_decode("%41", 2, out, sizeof(out), 0), 2);
    assert_string_equal(out, "%4");
    /* %00 decodes: the length says so */
    assert_int_equal(wharf_percent_decode("a%00b", 5, out, sizeof(out), 0), 3);
    assert_int_equal(strlen(out), 1);
    /* 7 bytes and the NUL fit in 8; 8 do not */
    assert_int_equal(wharf_percent_decode("1234567", 7, out, sizeof(out), 0),
                     7);
    assert_int_equal(wharf_percent_decode("12345678", 8, out, sizeof(out), 0),
                     -1);
    assert_int_equal(wharf_percent_decode("%41%41%41%41%41%41%41%41", 24, out,
                                          sizeof(out), 0),
                     -1);
    assert_int_equal(wharf_percent_decode("", 0, out, 0, 0), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_ms),
        cmocka_unit_test(test_percent),
    };
    return cmocka_run_group_tests_name("common_isotime", tests, NULL, NULL);
}
