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
#include "../../agent/refusal.h"
#include "../../agent/server.h"
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
    e = escape("\xe2\x82x", 3); /* a cut character: one U+FFFD */
    assert_string_equal(e, "\xef\xbf\xbdx");
    free(e);
}

/* What wharfd's -32602 names: an element of the array, maybe a member. */
static void
test_refusal_field(void **state)
{
    const char *m;
    size_t i, n;

    (void) state;
    assert_int_equal(agent_refusal_field("logs[3].message", "logs", &i, &m, &n),
                     0);
    assert_int_equal(i, 3);
    assert_int_equal(n, 7);
    assert_memory_equal(m, "message", 7);
    assert_int_equal(agent_refusal_field("errors[0]", "errors", &i, &m, &n), 0);
    assert_int_equal(i, 0);
    assert_null(m);
    assert_int_equal(agent_refusal_field("instanceId", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field("logs", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field("logs[x]", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field("logs[1]x", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field("logs[1].", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field("errors[1]", "logs", &i, &m, &n), -1);
    assert_int_equal(agent_refusal_field(NULL, "logs", &i, &m, &n), -1);
}

/* A refused text is cut to the limit, between characters, and marked. */
static void
test_truncate_text(void **state)
{
    char line[300];
    size_t cut;
    json_t *j;
    const char *t;

    (void) state;
    memset(line, 'a', 200);
    j = agent_truncate_text(line, 200, 100, &cut);
    assert_non_null(j);
    t = json_string_value(j);
    assert_int_equal(json_string_length(j), 100);
    assert_int_equal(cut,
                     200
                         - (100
                            - strlen(" \xe2\x80\xa6[wharf: truncated, "
                                     "137 bytes cut]")));
    assert_non_null(
        strstr(t, " \xe2\x80\xa6[wharf: truncated, 137 bytes cut]"));
    json_decref(j);
    /* never inside a character: e-acute x 100 */
    for (cut = 0; cut < 100; cut++) {
        memcpy(line + 2 * cut, "\xc3\xa9", 2);
    }
    j = agent_truncate_text(line, 200, 100, &cut);
    assert_non_null(j);
    t = json_string_value(j);
    assert_true(json_string_length(j) <= 100);
    assert_int_equal((200 - cut) % 2, 0);
    assert_int_equal(memcmp(t, line, 200 - cut), 0);
    json_decref(j);
    /* fits already, or no room even for the marker */
    assert_null(agent_truncate_text(line, 100, 100, &cut));
    assert_null(agent_truncate_text(line, 200, 10, &cut));
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

/* the browser's token as a subprotocol entry (issue 13) */
static void
test_bearer_entries(void **state)
{
    char buf[64];

    (void) state;
    assert_int_equal(agent_bearer_entries("", buf, sizeof(buf)), 0);
    assert_int_equal(agent_bearer_entries("wharf.tty.v1", buf, sizeof(buf)), 0);
    assert_int_equal(agent_bearer_entries("wharf.tty.v1, wharf.bearer.a.b.c",
                                          buf, sizeof(buf)),
                     1);
    assert_string_equal(buf, "a.b.c");
    assert_int_equal(
        agent_bearer_entries("wharf.bearer.x,wharf.bearer.y", buf, sizeof(buf)),
        2);
    assert_string_equal(buf, "x");
    /* names are case-sensitive, and the prefix alone is no entry of it */
    assert_int_equal(agent_bearer_entries("Wharf.Bearer.x", NULL, 0), 0);
    assert_int_equal(agent_bearer_entries("wharf.bearer", NULL, 0), 0);
    assert_int_equal(
        agent_bearer_entries(" \twharf.bearer. ,", buf, sizeof(buf)), 1);
    assert_string_equal(buf, "");
}

/* Sec-WebSocket-Key: base64 of 16 bytes, nothing else (RFC 6455 4.1) */
static void
test_ws_key(void **state)
{
    (void) state;
    assert_true(agent_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_true(agent_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert_true(agent_ws_key_valid("+/+/+/+/+/+/+/+/+/+/+w=="));
    assert_false(agent_ws_key_valid(""));
    assert_false(agent_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));
    assert_false(agent_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==="));
    assert_false(agent_ws_key_valid("dGhlIHNhbXBsZSBub25jZ==="));
    assert_false(agent_ws_key_valid("dGhlIHNhbXBsZSBub25jZ!=="));
    assert_false(agent_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_refusal_field),
        cmocka_unit_test(test_truncate_text),
        cmocka_unit_test(test_instance_ids),
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_bearer_entries),
        cmocka_unit_test(test_ws_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
