/* Unit tests for the worker-name rule shared by every part (common/name.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "name.h"

static int
valid(const char *s)
{
    return wharf_name_valid(s, strlen(s));
}

static void
test_accepts_dns_labels(void **state)
{
    (void) state;
    assert_true(valid("demo"));
    assert_true(valid("a"));
    assert_true(valid("0"));
    assert_true(valid("web-1"));
    assert_true(valid("a-"));
}

static void
test_rejects_bad_characters(void **state)
{
    (void) state;
    assert_false(valid(""));
    assert_false(valid("-a"));
    assert_false(valid("Demo"));
    assert_false(valid(".."));
    assert_false(valid("a/b"));
    assert_false(valid("a_b"));
    assert_false(valid("a b"));
    assert_false(valid("%2e"));
    assert_false(wharf_name_valid("a\0b", 3));
    assert_false(wharf_name_valid(NULL, 0));
}

static void
test_length_edge(void **state)
{
    char name[WHARF_NAME_MAX + 2];

    (void) state;
    memset(name, 'a', sizeof(name));
    assert_true(wharf_name_valid(name, WHARF_NAME_MAX));
    assert_false(wharf_name_valid(name, WHARF_NAME_MAX + 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_dns_labels),
        cmocka_unit_test(test_rejects_bad_characters),
        cmocka_unit_test(test_length_edge),
    };
    return cmocka_run_group_tests_name("common_name", tests, NULL, NULL);
}
