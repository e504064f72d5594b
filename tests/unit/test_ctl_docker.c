/* Unit tests for the Docker watcher (wharfctl workers watch-docker): the
 * event stream's lines and events, container lists and labels
 * (cli/docker_events.c), and every decision of the model
 * (cli/docker_watch.c): what is put, what is removed, what is owned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/docker_events.h"
#include "../../cli/docker_watch.h"

/* Events as Docker 20.10 sends them (GET /events), one per line. */
#define ID_A "780bf7ef7323d5adeaadaffe6493ca342c8d7ca2ac3dbc84cd9f803213c1b3d8"
#define ID_B "1111111111111111111111111111111111111111111111111111111111111111"

#define EV(action, id, attrs, nano)                                            \
    "{\"status\":\"" action "\",\"id\":\"" id                                  \
    "\",\"from\":\"debian:bookworm\","                                         \
    "\"Type\":\"container\",\"Action\":\"" action "\",\"Actor\":{\"ID\":\"" id \
    "\",\"Attributes\":{" attrs "}},\"scope\":\"local\",\"time\":1796518380,"  \
    "\"timeNano\":" nano "}"

#define ATTRS_W1                                                     \
    "\"image\":\"debian:bookworm\",\"name\":\"c1\",\"wharf.agent\":" \
    "\"127.0.0.1:19001\",\"wharf.worker\":\"w1\""

/* --- lines ------------------------------------------------------------------ */

static void
test_lines_any_chunks(void **state)
{
    const char *stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"d\"";
    struct ctl_linebuf b;
    char *line;
    size_t len, i, n = strlen(stream);
    const char *want[] = { "{\"a\":1}", "{\"b\":2}", "{\"c\":3}" };
    int got;

    (void) state;
    /* Whatever the chunk size, the same lines come out, whole. */
    for (size_t chunk = 1; chunk <= n; chunk++) {
        memset(&b, 0, sizeof(b));
        got = 0;
        for (i = 0; i < n; i += chunk) {
            assert_int_equal(
                ctl_linebuf_feed(&b, stream + i, i + chunk > n ? n - i : chunk),
                0);
            while ((line = ctl_linebuf_next(&b, &len)) != NULL) {
                assert_true(got < 3);
                assert_string_equal(line, want[got]);
                assert_int_equal(len, strlen(want[got]));
                got++;
            }
        }
        assert_int_equal(got, 3);
        /* The unfinished last line waits for its end. */
        assert_int_equal(ctl_linebuf_feed(&b, ":4}\n", 4), 0);
        line = ctl_linebuf_next(&b, &len);
        assert_non_null(line);
        assert_string_equal(line, "{\"d\":4}");
        assert_null(ctl_linebuf_next(&b, &len));
        ctl_linebuf_free(&b);
    }
}

static void
test_lines_too_long_dropped_whole(void **state)
{
    struct ctl_linebuf b;
    size_t len, big = CTL_DOCKER_LINE_MAX + 10, i;
    char *chunk = malloc(65536), *line;

    (void) state;
    memset(&b, 0, sizeof(b));
    memset(chunk, 'x', 65536);
    assert_int_equal(ctl_linebuf_feed(&b, "{\"ok\":1}\n", 9), 0);
    for (i = 0; i < big; i += 65536) {
        assert_int_equal(ctl_linebuf_feed(&b, chunk, 65536), 0);
    }
    assert_int_equal(ctl_linebuf_feed(&b, "tail\n{\"ok\":2}\n", 14), 0);
    line = ctl_linebuf_next(&b, &len);
    assert_string_equal(line, "{\"ok\":1}");
    /* The long line is dropped whole, never handed out in pieces: the
     * next line is the one after it. */
    line = ctl_linebuf_next(&b, &len);
    assert_non_null(line);
    assert_string_equal(line, "{\"ok\":2}");
    assert_null(ctl_linebuf_next(&b, &len));
    assert_int_equal(b.dropped, 1);
    /* Memory stays bounded by the limit. */
    assert_true(b.cap <= 2 * (CTL_DOCKER_LINE_MAX + 65536) + 1);
    ctl_linebuf_free(&b);
    free(chunk);
}

/* --- labels ------------------------------------------------------------------- */

static int
labels(struct ctl_docker_container *c, const char *name, const char *json)
{
    json_t *l = json_loads(json, 0, NULL);
    int r;

    assert_non_null(l);
    r = ctl_docker_from_labels(c, ID_A, name, l, 5);
    json_decref(l);
    return r;
}

static void
test_labels(void **state)
{
    struct ctl_docker_container c;
    char *body;

    (void) state;
    /* Not a worker's container. */
    assert_int_equal(labels(&c, "web", "{\"x\":\"y\"}"), 0);
    /* The defaults: the agent on 127.0.0.1:7681, no session cap; the list
     * names a container "/NAME". */
    assert_int_equal(labels(&c, "/c-1", "{\"wharf.worker\":\"w1\"}"), 1);
    assert_string_equal(c.error, "");
    assert_string_equal(c.worker, "w1");
    assert_string_equal(c.name, "c-1");
    assert_string_equal(c.upstream, CTL_DOCKER_AGENT_DEFAULT);
    assert_int_equal(c.max_sessions, -1);
    body = ctl_docker_put_body(&c);
    assert_string_equal(
        body, "{\"container\":\"c-1\",\"upstream\":\"127.0.0.1:7681\"}");
    free(body);
    /* Every label given. */
    assert_int_equal(labels(&c, "c1",
                            "{\"wharf.worker\":\"w1\",\"wharf.agent\":"
                            "\"[::1]:9001\",\"wharf.max-sessions\":\"20\"}"),
                     1);
    assert_string_equal(c.error, "");
    body = ctl_docker_put_body(&c);
    assert_string_equal(body,
                        "{\"container\":\"c1\",\"max_sessions\":20,"
                        "\"upstream\":\"[::1]:9001\"}");
    free(body);
    /* max-sessions at its edges. */
    assert_int_equal(labels(&c, "c1",
                            "{\"wharf.worker\":\"w1\",\"wharf.max-sessions\":"
                            "\"1000000\"}"),
                     1);
    assert_string_equal(c.error, "");
    assert_int_equal(c.max_sessions, 1000000);
    assert_int_equal(labels(&c, "c1",
                            "{\"wharf.worker\":\"w1\",\"wharf.max-sessions\":"
                            "\"0\"}"),
                     1);
    assert_string_equal(c.error, "");
    assert_int_equal(c.max_sessions, 0);
    const char *bad_max[] = { "1000001", "-1", "",
                              "2x",      " 3", "99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad_max) / sizeof(bad_max[0]); i++) {
        char json[128];

        snprintf(json, sizeof(json),
                 "{\"wharf.worker\":\"w1\",\"wharf.max-sessions\":\"%s\"}",
                 bad_max[i]);
        assert_int_equal(labels(&c, "c1", json), 1);
        assert_non_null(strstr(c.error, "wharf.max-sessions"));
    }
    /* A bad name, a bad address, a container name the gateway refuses:
     * each says which label. */
    assert_int_equal(labels(&c, "c1", "{\"wharf.worker\":\"Web_1\"}"), 1);
    assert_non_null(strstr(c.error, "wharf.worker='Web_1'"));
    assert_int_equal(labels(&c, "c1",
                            "{\"wharf.worker\":\"w1\",\"wharf.agent\":"
                            "\"localhost\"}"),
                     1);
    assert_non_null(strstr(c.error, "wharf.agent='localhost'"));
    assert_int_equal(labels(&c, "", "{\"wharf.worker\":\"w1\"}"), 1);
    assert_non_null(strstr(c.error, "container's name"));
}

static void
test_upstreams(void **state)
{
    (void) state;
    assert_true(ctl_docker_upstream_valid("127.0.0.1:7681"));
    assert_true(ctl_docker_upstream_valid("agent-1.example.org:1"));
    assert_true(ctl_docker_upstream_valid("[fe80::1]:65535"));
    assert_false(ctl_docker_upstream_valid("127.0.0.1"));
    assert_false(ctl_docker_upstream_valid("127.0.0.1:0"));
    assert_false(ctl_docker_upstream_valid("127.0.0.1:65536"));
    assert_false(ctl_docker_upstream_valid("127.0.0.1:123456"));
    assert_false(ctl_docker_upstream_valid(":80"));
    assert_false(ctl_docker_upstream_valid("-x:80"));
    assert_false(ctl_docker_upstream_valid("a b:80"));
    assert_false(ctl_docker_upstream_valid("[]:80"));
    assert_false(ctl_docker_upstream_valid("[::1]80"));
    assert_false(ctl_docker_upstream_valid("unix:/run/a.sock"));
    assert_false(ctl_docker_upstream_valid("h;x:80"));
}

/* --- events ------------------------------------------------------------------ */

static int
event(const char *line, struct ctl_docker_container *c, const char **why)
{
    return ctl_docker_event_parse(line, strlen(line), c, why);
}

static void
test_events(void **state)
{
    struct ctl_docker_container c;
    const char *why = NULL;

    (void) state;
    assert_int_equal(
        event(EV("start", ID_A, ATTRS_W1, "1796518380443608641"), &c, &why),
        CTL_DOCKER_EV_START);
    assert_string_equal(c.id, ID_A);
    assert_string_equal(c.name, "c1");
    assert_string_equal(c.worker, "w1");
    assert_string_equal(c.upstream, "127.0.0.1:19001");
    assert_true(c.started == 1796518380443608641LL);
    assert_string_equal(c.error, "");
    /* die, stop and destroy all mean gone; kill does not (the container
     * may live on after a signal). */
    assert_int_equal(
        event(EV("die", ID_A, "\"exitCode\":\"137\"," ATTRS_W1, "1"), &c, &why),
        CTL_DOCKER_EV_GONE);
    assert_string_equal(c.id, ID_A);
    assert_int_equal(event(EV("stop", ID_A, ATTRS_W1, "1"), &c, &why),
                     CTL_DOCKER_EV_GONE);
    assert_int_equal(event(EV("destroy", ID_A, ATTRS_W1, "1"), &c, &why),
                     CTL_DOCKER_EV_GONE);
    assert_int_equal(
        event(EV("kill", ID_A, "\"signal\":\"15\"," ATTRS_W1, "1"), &c, &why),
        CTL_DOCKER_EV_IGNORE);
    assert_int_equal(event(EV("create", ID_A, ATTRS_W1, "1"), &c, &why),
                     CTL_DOCKER_EV_IGNORE);
    assert_int_equal(
        event(EV("health_status: healthy", ID_A, ATTRS_W1, "1"), &c, &why),
        CTL_DOCKER_EV_IGNORE);
    /* A bad label still ends a container: only its id counts. */
    assert_int_equal(
        event(EV("die", ID_A, "\"name\":\"c1\",\"wharf.worker\":\"BAD\"", "1"),
              &c, &why),
        CTL_DOCKER_EV_GONE);
    assert_string_equal(c.error, "");
    /* A start with a bad label is a start that says why. */
    assert_int_equal(event(EV("start", ID_A,
                              "\"name\":\"c1\",\"wharf.worker\":\"BAD\"", "1"),
                           &c, &why),
                     CTL_DOCKER_EV_START);
    assert_non_null(strstr(c.error, "wharf.worker"));
    /* A rename carries the new name. */
    assert_int_equal(
        event(EV("rename", ID_A,
                 "\"name\":\"c2\",\"oldName\":\"/c1\",\"wharf.worker\":\"w1\"",
                 "1"),
              &c, &why),
        CTL_DOCKER_EV_RENAME);
    assert_string_equal(c.name, "c2");
    /* Not a worker's container, not a container. */
    assert_int_equal(event(EV("start", ID_A, "\"name\":\"x\"", "1"), &c, &why),
                     CTL_DOCKER_EV_IGNORE);
    assert_int_equal(event("{\"Type\":\"network\",\"Action\":\"connect\","
                           "\"Actor\":{\"ID\":\"n\",\"Attributes\":{}}}",
                           &c, &why),
                     CTL_DOCKER_EV_IGNORE);
    /* Not events at all. */
    assert_int_equal(event("{\"Type\":\"container\"", &c, &why), -1);
    assert_int_equal(event("[1,2]", &c, &why), -1);
    assert_int_equal(event("{\"status\":\"start\"}", &c, &why), -1);
    assert_int_equal(
        event("{\"Type\":\"container\",\"Action\":\"start\"}", &c, &why), -1);
    assert_non_null(why);
}

/* --- container lists ---------------------------------------------------------- */

struct seen {
    int n, running;
    char names[8][400];
};

static void
on_item(void *arg, const struct ctl_docker_container *c, int running)
{
    struct seen *s = arg;

    snprintf(s->names[s->n++], sizeof(s->names[0]), "%s:%s:%s", c->name,
             c->worker, c->error[0] ? "bad" : "ok");
    s->running += running;
}

static void
test_list(void **state)
{
    const char *body =
        "[{\"Id\":\"" ID_A "\",\"Names\":[\"/c1\"],\"Created\":1700000000,"
        "\"State\":\"running\",\"Labels\":{\"wharf.worker\":\"w1\"}},"
        "{\"Id\":\"" ID_B "\",\"Names\":[\"/old\"],\"Created\":1,"
        "\"State\":\"exited\",\"Labels\":{\"wharf.worker\":\"w2\"}},"
        "{\"Id\":\"x\",\"Names\":[\"/plain\"],\"State\":\"running\","
        "\"Labels\":{}},"
        "{\"Id\":\"y\",\"Names\":[\"/odd\"],\"State\":\"running\","
        "\"Labels\":{\"wharf.worker\":\"-no\"}}]";
    struct seen s;
    const char *why = NULL;

    (void) state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        ctl_docker_list_parse(body, strlen(body), on_item, &s, &why), 3);
    assert_string_equal(s.names[0], "c1:w1:ok");
    assert_string_equal(s.names[1], "old:w2:ok");
    assert_string_equal(s.names[2], "odd::bad");
    assert_int_equal(s.running, 2);
    assert_int_equal(ctl_docker_list_parse("{}", 2, on_item, &s, &why), -1);
    assert_int_equal(
        ctl_docker_list_parse("[{\"Names\":[]}]", 14, on_item, &s, &why), -1);
    assert_int_equal(ctl_docker_list_parse("[]", 2, on_item, &s, &why), 0);
}

/* --- the model ------------------------------------------------------------------ */

static struct ctl_docker_container
container(const char *id, const char *name, const char *worker,
          const char *upstream, long long started)
{
    struct ctl_docker_container c;

    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    snprintf(c.name, sizeof(c.name), "%s", name);
    snprintf(c.worker, sizeof(c.worker), "%s", worker);
    snprintf(c.upstream, sizeof(c.upstream), "%s", upstream);
    c.max_sessions = -1;
    c.started = started;
    return c;
}

/* The next step at time now, checked: action, name, container. */
static void
expect_step(struct ctl_watch *w, long long now, struct ctl_watch_step *s,
            enum ctl_watch_action action, const char *name, const char *cont)
{
    assert_int_equal(ctl_watch_next(w, now, s), 1);
    assert_int_equal(s->action, action);
    assert_string_equal(s->name, name);
    assert_string_equal(s->container, cont);
}

static void
test_model_start_stop(void **state)
{
    struct ctl_watch w;
    struct ctl_watch_step s;
    struct ctl_docker_container a =
        container("a", "c1", "w1", "127.0.0.1:1", 1);

    (void) state;
    ctl_watch_init(&w);
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    /* A container starts: its entry is put, once. */
    assert_int_equal(ctl_watch_running(&w, &a), 0);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    assert_string_equal(s.body,
                        "{\"container\":\"c1\",\"upstream\":\"127.0.0.1:1\"}");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    assert_true(w.state_dirty);
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    /* Seen again (a fresh list): nothing to do. */
    ctl_watch_clear_running(&w);
    assert_int_equal(ctl_watch_running(&w, &a), 0);
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    /* Its labels change: put again. */
    a.max_sessions = 3;
    assert_int_equal(ctl_watch_running(&w, &a), 0);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    /* It stops: the entry is read back and removed, then forgotten. */
    ctl_watch_gone(&w, "a");
    expect_step(&w, 0, &s, CTL_WATCH_DELETE, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    assert_int_equal(w.nworkers, 0);
    ctl_watch_free(&w);
}

static void
test_model_not_ours(void **state)
{
    struct ctl_watch w;
    struct ctl_watch_step s;
    struct ctl_docker_container a =
        container("a", "c1", "w1", "127.0.0.1:1", 1);
    char *dump;

    (void) state;
    ctl_watch_init(&w);
    /* A container whose entry the gateway refuses (a static worker of the
     * same name, 409) is not asked again, and not owned: its stop removes
     * nothing. */
    ctl_watch_running(&w, &a);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_REFUSED, 0);
    assert_int_equal(ctl_watch_next(&w, 100000, &s), 0);
    ctl_watch_gone(&w, "a");
    assert_int_equal(ctl_watch_next(&w, 100000, &s), 0);
    /* An owned entry that changed hands meanwhile is let go. */
    ctl_watch_own(&w, "w2", "c2");
    expect_step(&w, 0, &s, CTL_WATCH_DELETE, "w2", "c2");
    ctl_watch_done(&w, &s, CTL_WATCH_NOT_OURS, 0);
    dump = ctl_watch_state_dump(&w);
    assert_string_equal(dump, "{\n  \"owned\": {}\n}");
    free(dump);
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    ctl_watch_free(&w);
}

static void
test_model_backoff(void **state)
{
    struct ctl_watch w;
    struct ctl_watch_step s;
    struct ctl_docker_container a =
        container("a", "c1", "w1", "127.0.0.1:1", 1);
    long long t = 1000, expect = CTL_WATCH_BACKOFF_MIN_MS;
    int i;

    (void) state;
    ctl_watch_init(&w);
    ctl_watch_running(&w, &a);
    /* Each failure doubles the wait, up to the most. */
    for (i = 0; i < 12; i++) {
        expect_step(&w, t, &s, CTL_WATCH_PUT, "w1", "c1");
        ctl_watch_done(&w, &s, CTL_WATCH_RETRY, t);
        assert_int_equal(ctl_watch_next_due(&w), t + expect);
        assert_int_equal(ctl_watch_next(&w, t + expect - 1, &s), 0);
        t += expect;
        expect = expect * 2 > CTL_WATCH_BACKOFF_MAX_MS
            ? CTL_WATCH_BACKOFF_MAX_MS
            : expect * 2;
    }
    /* A success resets it. */
    expect_step(&w, t, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, t);
    assert_int_equal(ctl_watch_next_due(&w), -1);
    ctl_watch_gone(&w, "a");
    expect_step(&w, t, &s, CTL_WATCH_DELETE, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_RETRY, t);
    assert_int_equal(ctl_watch_next_due(&w), t + CTL_WATCH_BACKOFF_MIN_MS);
    ctl_watch_free(&w);
}

static void
test_model_newest_wins(void **state)
{
    struct ctl_watch w;
    struct ctl_watch_step s;
    struct ctl_docker_container a =
        container("a", "c1", "w1", "127.0.0.1:1", 10);
    struct ctl_docker_container b =
        container("b", "c2", "w1", "127.0.0.1:2", 20);

    (void) state;
    ctl_watch_init(&w);
    /* Whatever order they are seen in, the one started last wins. */
    ctl_watch_running(&w, &b);
    ctl_watch_running(&w, &a);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c2");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    /* It stops: the other takes the name over (a PUT, no DELETE). */
    ctl_watch_gone(&w, "b");
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    assert_non_null(strstr(s.body, "127.0.0.1:1"));
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    ctl_watch_gone(&w, "a");
    expect_step(&w, 0, &s, CTL_WATCH_DELETE, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    /* A bad relabelling ends a running container's claim. */
    ctl_watch_running(&w, &a);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    snprintf(a.error, sizeof(a.error), "bad");
    ctl_watch_running(&w, &a);
    assert_false(ctl_watch_is_running(&w, "a"));
    expect_step(&w, 0, &s, CTL_WATCH_DELETE, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    ctl_watch_free(&w);
}

static void
test_model_state_and_resync(void **state)
{
    struct ctl_watch w, w2;
    struct ctl_watch_step s;
    struct ctl_docker_container a =
        container("a", "c1", "w1", "127.0.0.1:1", 1);
    const char *why = NULL;
    char *dump;

    (void) state;
    ctl_watch_init(&w);
    ctl_watch_running(&w, &a);
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    dump = ctl_watch_state_dump(&w);
    assert_string_equal(dump, "{\n  \"owned\": {\n    \"w1\": \"c1\"\n  }\n}");
    /* Another watcher (after a restart) reads it: w1 is its own, and with
     * no container running it is removed. */
    ctl_watch_init(&w2);
    assert_int_equal(ctl_watch_state_load(&w2, dump, strlen(dump), &why), 0);
    assert_false(w2.state_dirty);
    expect_step(&w2, 0, &s, CTL_WATCH_DELETE, "w1", "c1");
    ctl_watch_done(&w2, &s, CTL_WATCH_OK, 0);
    ctl_watch_free(&w2);
    free(dump);
    /* Bad names in a state file are skipped; a file that is not one is
     * refused. */
    ctl_watch_init(&w2);
    dump = "{\"owned\":{\"ok\":\"c\",\"Bad\":\"c\",\"x\":5,\"y\":\"\"}}";
    assert_int_equal(ctl_watch_state_load(&w2, dump, strlen(dump), &why), 0);
    assert_int_equal(w2.nworkers, 1);
    assert_int_equal(ctl_watch_state_load(&w2, "[]", 2, &why), -1);
    assert_int_equal(ctl_watch_state_load(&w2, "{\"owned\":[]}", 12, &why), -1);
    ctl_watch_free(&w2);
    /* A resync that finds the entry missing forgets what was put: it is
     * put again. */
    assert_int_equal(ctl_watch_next(&w, 0, &s), 0);
    ctl_watch_forget_applied(&w, "w1");
    expect_step(&w, 0, &s, CTL_WATCH_PUT, "w1", "c1");
    ctl_watch_done(&w, &s, CTL_WATCH_OK, 0);
    ctl_watch_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_any_chunks),
        cmocka_unit_test(test_lines_too_long_dropped_whole),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_upstreams),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_model_start_stop),
        cmocka_unit_test(test_model_not_ours),
        cmocka_unit_test(test_model_backoff),
        cmocka_unit_test(test_model_newest_wins),
        cmocka_unit_test(test_model_state_and_resync),
    };
    return cmocka_run_group_tests_name("ctl_docker", tests, NULL, NULL);
}
