/* Unit tests for the WebSocket Origin rule shared by the agent and wharfd's
 * feed (common/origin.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "origin.h"

static void
test_same_host(void **state)
{
    (void) state;
    assert_true(
        wharf_origin_same_host("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(
        wharf_origin_same_host("https://Console.Example", "console.example"));
    /* nginx's $host drops the port: the browser's origin then differs */
    assert_false(wharf_origin_same_host("http://127.0.0.1:8080", "127.0.0.1"));
    assert_false(
        wharf_origin_same_host("https://evil.example", "127.0.0.1:8080"));
    assert_false(wharf_origin_same_host("null", "x"));
    assert_false(wharf_origin_same_host("http://a", ""));
    assert_false(wharf_origin_same_host("http://a", NULL));
}

static void
test_in_list(void **state)
{
    (void) state;
    assert_true(wharf_origin_in_list("https://a.example",
                                     "https://b.example, https://a.example"));
    assert_true(wharf_origin_in_list("https://a.example",
                                     "https://b.example,https://A.example"));
    assert_false(
        wharf_origin_in_list("https://a.example", "https://a.example.evil"));
    assert_false(wharf_origin_in_list("https://a", ""));
    assert_false(wharf_origin_in_list("", "https://a, ,"));
}

static void
test_allowed(void **state)
{
    (void) state;
    /* no Origin: not a browser page */
    assert_true(wharf_origin_allowed(NULL, NULL, NULL));
    assert_true(wharf_origin_allowed("", "https://a", "x"));
    /* no list: the host the browser addressed */
    assert_true(
        wharf_origin_allowed("http://127.0.0.1:8080", NULL, "127.0.0.1:8080"));
    assert_true(
        wharf_origin_allowed("http://127.0.0.1:8080", "", "127.0.0.1:8080"));
    assert_false(
        wharf_origin_allowed("http://evil.example", NULL, "127.0.0.1:8080"));
    /* a list: only the list, not the host itself */
    assert_true(wharf_origin_allowed("https://console.example",
                                     "https://console.example",
                                     "127.0.0.1:8080"));
    assert_false(wharf_origin_allowed(
        "http://127.0.0.1:8080", "https://console.example", "127.0.0.1:8080"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_host),
        cmocka_unit_test(test_in_list),
        cmocka_unit_test(test_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
