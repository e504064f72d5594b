/* Unit tests for the agent's pure helpers: JSON escaping of log lines
 * (ship.c), process specs and instance ids (proc.c), Origin checks
 * (auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../agent/auth.h"
#include "../../agent/proc.h"
#include "../../agent/ship.h"

static char *
escape(const char *s, size_t n)
{
    char *out = malloc(6 * n + 1);
    size_t len = agent_json_escape(s, n, out);

    out[len] = '\0';
    return out;
}

static void
test_json_escape(void **state)
{
    char *e;
    json_t *j;
    char doc[256];

    (void) state;
    e = escape("plain", 5);
    assert_string_equal(e, "plain");
    free(e);
    e = escape("q\"b\\n\n\t\x01", 8);
    assert_string_equal(e, "q\\\"b\\\\n\\n\\t\\u0001");
    free(e);
    e = escape("h\xc3\xa9!", 4); /* valid UTF-8 kept */
    assert_string_equal(e, "h\xc3\xa9!");
    free(e);
    e = escape("a\xff"
               "b\xc3",
               4); /* invalid -> U+FFFD */
    assert_string_equal(e,
                        "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd");
    snprintf(doc, sizeof(doc), "\"%s\"", e);
    j = json_loads(doc, JSON_DECODE_ANY, NULL); /* jansson takes it */
    assert_non_null(j);
    json_decref(j);
    free(e);
    e = escape("\xed\xa0\x80", 3); /* surrogate: invalid */
    assert_string_equal(e, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    free(e);
    e = escape("\xf0\x9f\x98\x80", 4); /* 4-byte emoji */
    assert_string_equal(e, "\xf0\x9f\x98\x80");
    free(e);
}

static void
test_instance_ids(void **state)
{
    char id[AGENT_INSTANCE_ID_MAX + 2];

    (void) state;
    assert_true(agent_instance_id_valid("app"));
    assert_true(agent_instance_id_valid("a_b-1"));
    assert_false(agent_instance_id_valid(""));
    assert_false(agent_instance_id_valid("-a"));
    assert_false(agent_instance_id_valid("_a"));
    assert_false(agent_instance_id_valid("a b"));
    assert_false(agent_instance_id_valid("a/b"));
    memset(id, 'a', AGENT_INSTANCE_ID_MAX);
    id[AGENT_INSTANCE_ID_MAX] = '\0';
    assert_true(agent_instance_id_valid(id));
    id[AGENT_INSTANCE_ID_MAX] = 'a';
    id[AGENT_INSTANCE_ID_MAX + 1] = '\0';
    assert_false(agent_instance_id_valid(id));
}

static int
spec(const char *text, struct agent_proc_spec *s, char *err, size_t n)
{
    json_t *j = json_loads(text, 0, NULL);
    int rc;

    assert_non_null(j);
    rc = agent_proc_spec_from_json(j, s, err, n);
    json_decref(j);
    return rc;
}

static void
test_specs(void **state)
{
    struct agent_proc_spec s;
    char err[256];

    (void) state;
    assert_int_equal(spec("{\"instanceId\":\"app\",\"command\":\"node\","
                          "\"args\":[\"a.js\"],\"env\":{\"A\":\"1\"}}",
                          &s, err, sizeof(err)),
                     0);
    assert_string_equal(s.command, "node");
    assert_string_equal(s.args[0], "a.js");
    assert_null(s.args[1]);
    assert_string_equal(s.env[0], "A=1");
    /* the peer's defaults (TY:297-306) */
    assert_int_equal(s.max_restarts, 3);
    assert_int_equal(s.restart_delay_ms, 1000);
    assert_int_equal(s.kill_timeout_ms, 10000);
    assert_int_equal(s.health_interval_ms, 30000);
    assert_true(s.auto_restart);
    agent_proc_spec_free(&s);

    /* with a port: the peer CLI's (CLI:232-249); explicit ones win */
    assert_int_equal(spec("{\"instanceId\":\"w\",\"command\":\"x\","
                          "\"expectedPort\":3000,\"restartDelayMs\":5,"
                          "\"killTimeoutMs\":0}",
                          &s, err, sizeof(err)),
                     0);
    assert_int_equal(s.max_restarts, 120);
    assert_int_equal(s.health_interval_ms, 10000);
    assert_int_equal(s.restart_delay_ms, 5);
    assert_int_equal(s.kill_timeout_ms, 10000); /* K3: 0 = default */
    agent_proc_spec_free(&s);

    assert_int_equal(spec("{\"instanceId\":\"w\"}", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "command"));
    assert_int_equal(
        spec("{\"instanceId\":\"-w\",\"command\":\"x\"}", &s, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "instanceId"));
    assert_int_equal(spec("{\"instanceId\":\"w\",\"command\":\"x\","
                          "\"expectedPort\":70000}",
                          &s, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "expectedPort"));
    assert_int_equal(spec("{\"instanceId\":\"w\",\"command\":\"x\","
                          "\"args\":[1]}",
                          &s, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "args[0]"));
    assert_int_equal(spec("{\"instanceId\":\"w\",\"command\":\"x\","
                          "\"env\":{\"A=B\":\"1\"}}",
                          &s, err, sizeof(err)),
                     -1);
    assert_int_equal(spec("{\"instanceId\":\"w\",\"command\":\"x\","
                          "\"autoRestart\":1}",
                          &s, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "autoRestart"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_instance_ids),
        cmocka_unit_test(test_specs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
