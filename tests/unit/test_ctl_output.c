/* Unit tests for wharfctl's output formats (cli/output.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/output.h"

/* Prints text (JSON) in format; returns what was printed (malloc'd). */
static char *
render(enum ctl_format format, const char *text, const char *const *columns)
{
    struct ctl c;
    char *buf;
    size_t len;
    json_t *v;

    memset(&c, 0, sizeof(c));
    c.args.format = format;
    c.out = open_memstream(&buf, &len);
    c.err = stderr;
    v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    ctl_output(&c, v, text, strlen(text), columns);
    json_decref(v);
    fclose(c.out);
    return buf;
}

static void
check(enum ctl_format format, const char *text, const char *const *columns,
      const char *expect)
{
    char *got = render(format, text, columns);

    assert_string_equal(got, expect);
    free(got);
}

static void
test_table_rows(void **state)
{
    (void) state;
    check(CTL_FORMAT_TABLE,
          "[{\"name\":\"a\",\"containerName\":null,\"n\":1},"
          "{\"name\":\"longer\",\"containerName\":\"c\",\"n\":22}]",
          NULL,
          "NAME     CONTAINER_NAME   N\n"
          "a        -                1\n"
          "longer   c                22\n");

    /* An object of one list is shown as the list. */
    check(CTL_FORMAT_TABLE, "{\"workers\":[{\"name\":\"w\"}]}", NULL,
          "NAME\n"
          "w\n");

    /* Given columns: their order, and a header for an empty list. */
    {
        static const char *const cols[] = { "status", "name", NULL };

        check(CTL_FORMAT_TABLE, "[{\"name\":\"w\",\"status\":\"online\"}]",
              cols, "STATUS   NAME\nonline   w\n");
        check(CTL_FORMAT_TABLE, "[]", cols, "STATUS   NAME\n");
    }
}

static void
test_table_shapes(void **state)
{
    (void) state;
    check(CTL_FORMAT_TABLE,
          "{\"status\":\"ok\",\"schema_version\":1,\"ok\":true}", NULL,
          "STATUS   SCHEMA_VERSION   OK\n"
          "ok       1                true\n");
    check(CTL_FORMAT_TABLE, "{\"a\":{\"b\":1},\"cc\":\"x\"}", NULL,
          "KEY   VALUE\n"
          "a     {\"b\":1}\n"
          "cc    x\n");
    check(CTL_FORMAT_TABLE, "[1,\"two\"]", NULL, "VALUE\n1\ntwo\n");
    check(CTL_FORMAT_TABLE, "\"just\\ttext\"", NULL, "just text\n");
    /* Width counts characters, not UTF-8 bytes. */
    check(CTL_FORMAT_TABLE,
          "[{\"n\":\"\\u00e9\\u00e9\",\"m\":1},{\"n\":\"abc\",\"m\":2}]", NULL,
          "N     M\n\xc3\xa9\xc3\xa9    1\nabc   2\n");
}

static void
test_json_and_raw(void **state)
{
    (void) state;
    check(CTL_FORMAT_JSON, "{\"a\":[1]}", NULL,
          "{\n  \"a\": [\n    1\n  ]\n}\n");
    /* Raw is the body byte for byte, spacing included, nothing added. */
    check(CTL_FORMAT_RAW, "{ \"a\" : 1 }", NULL, "{ \"a\" : 1 }");
}

static void
test_columns_by_path(void **state)
{
    static const struct ctl_column cols[] = { { "NAME", "name" },
                                              { "UP", "upstream.servers" },
                                              { "T", "health.terminal.status" },
                                              { "MS", "ms" },
                                              { NULL, NULL } };
    struct ctl c;
    char *buf;
    size_t len;
    json_t *v;

    (void) state;
    memset(&c, 0, sizeof(c));
    c.out = open_memstream(&buf, &len);
    v = json_loads(
        "[{\"name\":\"a\",\"upstream\":{\"servers\":[\"h:1\",\"h:2\"]},"
        "\"health\":{\"terminal\":{\"status\":\"healthy\"}},\"ms\":0.227},"
        "{\"name\":\"bb\",\"health\":null,\"ms\":null}]",
        0, NULL);
    assert_non_null(v);
    ctl_print_columns(&c, v, cols);
    json_decref(v);
    /* An empty list still prints its header. */
    v = json_array();
    ctl_print_columns(&c, v, cols);
    json_decref(v);
    fclose(c.out);
    assert_string_equal(buf,
                        "NAME   UP        T         MS\n"
                        "a      h:1,h:2   healthy   0.227\n"
                        "bb     -         -         -\n"
                        "NAME   UP   T   MS\n");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_table_shapes),
        cmocka_unit_test(test_json_and_raw),
        cmocka_unit_test(test_columns_by_path),
    };
    return cmocka_run_group_tests_name("ctl_output", tests, NULL, NULL);
}
