/* Unit tests for wharfd's params helpers at their edges (methods.c) and
 * the JSON text writer (jsonw.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../fcgi_backend/jsonw.h"
#include "../../fcgi_backend/methods.h"

static void
test_time(void **state)
{
    struct wharfd_rpc_error err;
    char out[WHARFD_TS_LEN + 1];
    int present;
    json_t *o;

    (void) state;
    o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "a", "2026-11-27T09:30:00Z", "b",
                  "2026-11-27T09:30:00.5Z", "c",
                  "2026-11-27T09:30:00.123456789Z", "d", "2026-13-27T09:30:00Z",
                  "e", "2026-11-27 09:30:00Z", "f", 5);
    assert_int_equal(wharfd_param_time(o, "a", out, &present, &err), 0);
    assert_string_equal(out, "2026-11-27T09:30:00.000Z");
    assert_int_equal(wharfd_param_time(o, "b", out, &present, &err), 0);
    assert_string_equal(out, "2026-11-27T09:30:00.500Z");
    assert_int_equal(wharfd_param_time(o, "c", out, &present, &err), 0);
    assert_string_equal(out, "2026-11-27T09:30:00.123Z");
    assert_int_equal(wharfd_param_time(o, "d", out, &present, &err), -1);
    assert_string_equal(err.field, "d");
    assert_int_equal(wharfd_param_time(o, "e", out, &present, &err), -1);
    assert_int_equal(wharfd_param_time(o, "f", out, &present, &err), -1);
    assert_int_equal(wharfd_param_time(o, "absent", out, &present, &err), 0);
    assert_int_equal(present, 0);
    json_decref(o);
}

static void
test_instance(void **state)
{
    struct wharfd_rpc_error err;
    char longest[WHARFD_INSTANCE_MAX + 2];
    const char *s;
    json_t *o;

    (void) state;
    memset(longest, 'a', sizeof(longest));
    longest[WHARFD_INSTANCE_MAX] = '\0';
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "ok", "App_1-x", "max", longest,
                  "dash", "-a", "dot", "a.b", "slash", "a/b");
    assert_int_equal(wharfd_param_instance(o, "ok", 1, &s, &err), 0);
    assert_string_equal(s, "App_1-x");
    assert_int_equal(wharfd_param_instance(o, "max", 1, &s, &err), 0);
    assert_int_equal(wharfd_param_instance(o, "dash", 1, &s, &err), -1);
    assert_int_equal(wharfd_param_instance(o, "dot", 1, &s, &err), -1);
    assert_int_equal(wharfd_param_instance(o, "slash", 1, &s, &err), -1);
    json_decref(o);
    longest[WHARFD_INSTANCE_MAX] = 'a';
    longest[WHARFD_INSTANCE_MAX + 1] = '\0';
    o = json_pack("{s:s}", "over", longest);
    assert_int_equal(wharfd_param_instance(o, "over", 1, &s, &err), -1);
    assert_string_equal(err.field, "over");
    json_decref(o);
}

static void
test_page(void **state)
{
    struct wharfd_rpc_error err;
    struct wharfd_query q;
    json_t *o;

    (void) state;
    memset(&q, 0, sizeof(q));
    assert_int_equal(wharfd_params_page(NULL, &q, &err), 0);
    assert_int_equal(q.limit, WHARFD_LIMIT_DEFAULT);
    o = json_pack("{s:i,s:i,s:s,s:b}", "limit", WHARFD_LIMIT_MAX, "offset", 0,
                  "order", "asc", "total", 1);
    assert_int_equal(wharfd_params_page(o, &q, &err), 0);
    assert_int_equal(q.limit, WHARFD_LIMIT_MAX);
    assert_true(q.asc);
    assert_true(q.want_total);
    json_object_set_new(o, "limit", json_integer(WHARFD_LIMIT_MAX + 1));
    assert_int_equal(wharfd_params_page(o, &q, &err), -1);
    assert_string_equal(err.field, "limit");
    json_decref(o);
}

static void
test_jsonw(void **state)
{
    struct wharfd_jsonw w;
    struct wharfd_col cols[5];
    json_t *back;

    (void) state;
    memset(&w, 0, sizeof(w));
    memset(cols, 0, sizeof(cols));
    cols[0] = (struct wharfd_col){ "s", WHARFD_COL_TEXT,       0,
                                   0,   "q\"\\\n\x01\xC3\xA9", 7 };
    cols[1] = (struct wharfd_col){ "i", WHARFD_COL_INT, -42, 0, NULL, 0 };
    cols[2] = (struct wharfd_col){ "d", WHARFD_COL_REAL, 0, 50.0, NULL, 0 };
    cols[3] =
        (struct wharfd_col){ "j", WHARFD_COL_JSON, 0, 0, "{\"a\":[1]}", 9 };
    cols[4] = (struct wharfd_col){ "n", WHARFD_COL_NULL, 0, 0, NULL, 0 };
    wharfd_jsonw_row(&w, cols, 5);
    assert_false(w.oom);
    back = json_loads(w.p, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "s")),
                        "q\"\\\n\x01\xC3\xA9");
    assert_int_equal(json_integer_value(json_object_get(back, "i")), -42);
    assert_true(json_is_integer(json_object_get(back, "d")));
    assert_int_equal(
        json_integer_value(
            json_object_get(json_object_get(back, "j"), "a") ? json_array_get(
                json_object_get(json_object_get(back, "j"), "a"), 0)
                                                             : NULL),
        1);
    assert_true(json_is_null(json_object_get(back, "n")));
    json_decref(back);
    wharfd_jsonw_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_instance),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_jsonw),
    };
    return cmocka_run_group_tests_name("wharfd_params", tests, NULL, NULL);
}
