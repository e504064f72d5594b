/* Unit tests for strict UTF-8 and its replacement (common/utf8.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

#define R WHARF_UTF8_REPLACEMENT

static void
expect(const char *in, size_t inlen, const char *want)
{
    char out[256];
    size_t n = wharf_utf8_replace((const unsigned char *) in, inlen, out);

    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void
test_valid_characters(void **state)
{
    size_t n;

    (void) state;
    assert_int_equal(wharf_utf8_next((const unsigned char *) "a", 1, &n),
                     WHARF_UTF8_VALID);
    assert_int_equal(n, 1);
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\xc3\xa9", 2, &n),
                     WHARF_UTF8_VALID);
    assert_int_equal(n, 2);
    assert_int_equal(
        wharf_utf8_next((const unsigned char *) "\xe2\x82\xac", 3, &n),
        WHARF_UTF8_VALID);
    assert_int_equal(n, 3);
    assert_int_equal(
        wharf_utf8_next((const unsigned char *) "\xf4\x8f\xbf\xbf", 4, &n),
        WHARF_UTF8_VALID); /* U+10FFFF, the last */
    assert_int_equal(n, 4);
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\0", 1, &n),
                     WHARF_UTF8_VALID); /* NUL is a character */
}

static void
test_partial_at_the_end(void **state)
{
    size_t n;

    (void) state;
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\xe2\x82", 2, &n),
                     WHARF_UTF8_PARTIAL);
    assert_int_equal(n, 2);
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\xf0", 1, &n),
                     WHARF_UTF8_PARTIAL);
    assert_int_equal(n, 1);
    /* a lead that can never start a character is not partial */
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\xf5", 1, &n),
                     WHARF_UTF8_INVALID);
    /* E0 80 is already wrong (overlong): invalid, not partial */
    assert_int_equal(wharf_utf8_next((const unsigned char *) "\xe0\x80", 2, &n),
                     WHARF_UTF8_INVALID);
    assert_int_equal(n, 1);
}

/* The Unicode standard's own example (chapter 3, "U+FFFD substitution of
 * maximal subparts"), and forms that must each cost one U+FFFD per byte. */
static void
test_maximal_subparts(void **state)
{
    (void) state;
    expect("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 13,
           "a" R R R "b" R "c" R R "d");
    expect("\xc0\xaf", 2, R R);             /* overlong '/' */
    expect("\xe0\x80\xaf", 3, R R R);       /* overlong, 3 bytes */
    expect("\xed\xa0\x80", 3, R R R);       /* a surrogate */
    expect("\xf4\x90\x80\x80", 4, R R R R); /* above U+10FFFF */
    expect("\xe2\x82"
           "a",
           3, R "a");             /* cut euro sign: one */
    expect("\xf0\x9f\x98", 3, R); /* cut emoji at the end: one */
    expect("\xff\xfe", 2, R R);
    expect("\xef\xbb\xbf"
           "a",
           4,
           "\xef\xbb\xbf"
           "a"); /* a BOM is kept */
}

static void
test_valid_prefix(void **state)
{
    const unsigned char *s =
        (const unsigned char *) "abcdefghij\xc3\xa9klm\xff";

    (void) state;
    assert_int_equal(wharf_utf8_valid_prefix(s, 16), 15);
    assert_int_equal(wharf_utf8_valid_prefix(s, 11), 10); /* cut e-acute */
    assert_int_equal(wharf_utf8_valid_prefix(s, 0), 0);
    assert_int_equal(
        wharf_utf8_valid_prefix((const unsigned char *) "0123456789abcdef", 16),
        16);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_characters),
        cmocka_unit_test(test_partial_at_the_end),
        cmocka_unit_test(test_maximal_subparts),
        cmocka_unit_test(test_valid_prefix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
