/* Unit tests for wharfd's JSON-RPC 2.0 envelope (fcgi_backend/rpc.c), with
 * fake methods: no database, no FastCGI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../fcgi_backend/rpc.h"

/* --- fake methods ------------------------------------------------------ */

struct calls {
    int n;
    int params_was_null;
};

static int
m_echo(void *ctx, json_t *params, json_t **result, struct wharfd_rpc_error *err)
{
    struct calls *c = ctx;

    (void) err;
    c->n++;
    c->params_was_null = params == NULL;
    *result = params ? json_incref(params) : json_string("none");
    return 0;
}

static int
m_null(void *ctx, json_t *params, json_t **result, struct wharfd_rpc_error *err)
{
    (void) params;
    (void) err;
    ((struct calls *) ctx)->n++;
    *result = NULL;
    return 0;
}

static int
m_bad_params(void *ctx, json_t *params, json_t **result,
             struct wharfd_rpc_error *err)
{
    (void) params;
    (void) result;
    ((struct calls *) ctx)->n++;
    return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "worker",
                                "'worker' is required");
}

static int
m_fail(void *ctx, json_t *params, json_t **result, struct wharfd_rpc_error *err)
{
    (void) params;
    (void) result;
    (void) err;
    ((struct calls *) ctx)->n++;
    return -1; /* no code set: must become -32603 */
}

static const struct wharfd_rpc_method methods[] = { { "echo", m_echo },
                                                    { "null", m_null },
                                                    { "badParams",
                                                      m_bad_params },
                                                    { "fail", m_fail },
                                                    { NULL, NULL } };

static const struct wharfd_rpc_method *
lookup(const char *name)
{
    const struct wharfd_rpc_method *m;

    for (m = methods; m->name; m++) {
        if (strcmp(m->name, name) == 0) {
            return m;
        }
    }
    return NULL;
}

/* --- helpers ----------------------------------------------------------- */

struct result {
    int status;
    char *text;   /* body as sent */
    json_t *json; /* body parsed */
    struct calls calls;
};

static void
run(struct result *r, const char *body)
{
    struct wharfd_rpc_reply reply;

    memset(r, 0, sizeof(*r));
    wharfd_rpc_handle(lookup, &r->calls, body, strlen(body), &reply);
    r->status = reply.status;
    r->text = reply.body;
    r->json = reply.body ? json_loadb(reply.body, reply.len, 0, NULL) : NULL;
    if (reply.body != NULL) {
        assert_int_equal(reply.len, strlen(reply.body));
        assert_non_null(r->json);
    }
}

static void
done(struct result *r)
{
    free(r->text);
    json_decref(r->json);
}

static int
error_code(json_t *resp)
{
    return (int) json_integer_value(
        json_object_get(json_object_get(resp, "error"), "code"));
}

static void
assert_error(json_t *resp, int code)
{
    assert_true(json_is_object(resp));
    assert_string_equal(json_string_value(json_object_get(resp, "jsonrpc")),
                        "2.0");
    assert_int_equal(error_code(resp), code);
    assert_null(json_object_get(resp, "result"));
    assert_non_null(json_object_get(resp, "id")); /* present, maybe null */
    assert_true(json_is_string(
        json_object_get(json_object_get(resp, "error"), "message")));
}

/* --- tests ------------------------------------------------------------- */

static void
test_parse_error(void **state)
{
    struct result r;

    (void) state;
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":");
    assert_int_equal(r.status, 200);
    assert_error(r.json, WHARFD_RPC_PARSE_ERROR);
    assert_true(json_is_null(json_object_get(r.json, "id")));
    done(&r);

    run(&r, "");
    assert_error(r.json, WHARFD_RPC_PARSE_ERROR);
    done(&r);

    /* Duplicate members are refused rather than guessed at. */
    run(&r,
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"method\":\"fail\",\"id\":"
        "1}");
    assert_error(r.json, WHARFD_RPC_PARSE_ERROR);
    assert_int_equal(r.calls.n, 0);
    done(&r);
}

static void
test_invalid_request(void **state)
{
    struct result r;

    (void) state;
    /* Valid JSON that is not a request object. */
    run(&r, "1");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    done(&r);

    /* The spec's example: bad method and params, id null. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":1,\"params\":\"bar\"}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    assert_true(json_is_null(json_object_get(r.json, "id")));
    done(&r);

    /* Wrong version: the valid id is echoed. */
    run(&r, "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":7}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    assert_int_equal(json_integer_value(json_object_get(r.json, "id")), 7);
    done(&r);

    run(&r, "{\"method\":\"echo\",\"id\":7}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    done(&r);

    /* Params of the wrong type. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":3,\"id\":1}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    assert_int_equal(r.calls.n, 0);
    done(&r);

    /* Ids that cannot be echoed: error with id null. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{\"a\":1}}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    assert_true(json_is_null(json_object_get(r.json, "id")));
    done(&r);
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":[1]}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    done(&r);
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":true}");
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    assert_int_equal(r.calls.n, 0);
    done(&r);

    /* An invalid request without id is still answered (it is not a
     * notification: only valid requests are). */
    run(&r, "{\"jsonrpc\":\"2.0\"}");
    assert_int_equal(r.status, 200);
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    done(&r);
}

static void
test_method_errors(void **state)
{
    json_t *data;
    struct result r;

    (void) state;
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":\"a\"}");
    assert_error(r.json, WHARFD_RPC_METHOD_NOT_FOUND);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "a");
    assert_non_null(strstr(r.text, "nope"));
    done(&r);

    run(&r,
        "{\"jsonrpc\":\"2.0\",\"method\":\"badParams\",\"params\":{},\"id\":"
        "2}");
    assert_error(r.json, WHARFD_RPC_INVALID_PARAMS);
    data = json_object_get(json_object_get(r.json, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "field")),
                        "worker");
    assert_non_null(strstr(r.text, "Invalid params: 'worker' is required"));
    done(&r);

    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":3}");
    assert_error(r.json, WHARFD_RPC_INTERNAL_ERROR);
    assert_null(json_object_get(json_object_get(r.json, "error"), "data"));
    done(&r);
}

static void
test_results_and_params(void **state)
{
    struct result r;

    (void) state;
    run(&r,
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"a\":[1,2]},"
        "\"id\":1}");
    assert_int_equal(r.status, 200);
    assert_string_equal(
        r.text, "{\"jsonrpc\":\"2.0\",\"result\":{\"a\":[1,2]},\"id\":1}");
    done(&r);

    /* Absent params reach the method as NULL; arrays pass through. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
    assert_int_equal(r.calls.params_was_null, 1);
    done(&r);
    run(&r,
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1}");
    assert_string_equal(r.text,
                        "{\"jsonrpc\":\"2.0\",\"result\":[1],\"id\":1}");
    done(&r);

    /* A NULL result is JSON null, and "result" is present. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":1}");
    assert_string_equal(r.text,
                        "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":1}");
    done(&r);
}

static void
test_ids_echoed(void **state)
{
    static const char *const ids[] = { "1",
                                       "-5",
                                       "0",
                                       "\"x\"",
                                       "\"\"",
                                       "null",
                                       "1.5",
                                       "9223372036854775807",
                                       "-9223372036854775808",
                                       "\"\\\"quoted\\\"\"",
                                       NULL };
    char body[256], tail[128];
    struct result r;
    size_t i;

    (void) state;
    for (i = 0; ids[i]; i++) {
        snprintf(body, sizeof(body),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":%s}", ids[i]);
        snprintf(tail, sizeof(tail), ",\"id\":%s}", ids[i]);
        run(&r, body);
        assert_int_equal(r.status, 200);
        assert_non_null(r.text);
        /* The id text at the end is the one sent. */
        assert_string_equal(r.text + strlen(r.text) - strlen(tail), tail);
        done(&r);
    }
}

static void
test_notifications(void **state)
{
    struct result r;

    (void) state;
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1]}");
    assert_int_equal(r.status, 204);
    assert_null(r.text);
    assert_int_equal(r.calls.n, 1); /* run, not answered */
    done(&r);

    /* Errors of notifications are not answered either. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
    assert_int_equal(r.status, 204);
    assert_null(r.text);
    done(&r);
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"badParams\"}");
    assert_int_equal(r.status, 204);
    assert_int_equal(r.calls.n, 1);
    done(&r);
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"fail\"}");
    assert_int_equal(r.status, 204);
    done(&r);

    /* id null is a request, not a notification. */
    run(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":null}");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.text,
                        "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":null}");
    done(&r);
}

static void
test_batches(void **state)
{
    struct result r;

    (void) state;
    /* Empty batch: one error object, not an array. */
    run(&r, "[]");
    assert_int_equal(r.status, 200);
    assert_error(r.json, WHARFD_RPC_INVALID_REQUEST);
    done(&r);

    run(&r, "[1]");
    assert_true(json_is_array(r.json));
    assert_int_equal(json_array_size(r.json), 1);
    assert_error(json_array_get(r.json, 0), WHARFD_RPC_INVALID_REQUEST);
    done(&r);

    run(&r, "[1,2,3]");
    assert_int_equal(json_array_size(r.json), 3);
    done(&r);

    /* The spec's mixed example: notifications leave no entry; answers
     * keep the order of the requests. */
    run(&r,
        "["
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1,2,4],\"id\":"
        "\"1\"},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[7]},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"badParams\",\"params\":{},\"id\":"
        "\"2\"},"
        "{\"foo\":\"boo\"},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"params\":{},\"id\":\"5\"},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":\"9\"}"
        "]");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(r.json), 5);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.json, 0), "id")),
        "1");
    assert_error(json_array_get(r.json, 1), WHARFD_RPC_INVALID_PARAMS);
    assert_error(json_array_get(r.json, 2), WHARFD_RPC_INVALID_REQUEST);
    assert_error(json_array_get(r.json, 3), WHARFD_RPC_METHOD_NOT_FOUND);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.json, 4), "id")),
        "9");
    assert_int_equal(r.calls.n, 4);
    done(&r);

    /* Notifications only: no body at all. */
    run(&r,
        "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}]");
    assert_int_equal(r.status, 204);
    assert_null(r.text);
    assert_int_equal(r.calls.n, 1);
    done(&r);

    /* A parse error in a batch is one error for the whole body. */
    run(&r,
        "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1},{\"jsonrpc\":\"2."
        "0\",\"method\"]");
    assert_error(r.json, WHARFD_RPC_PARSE_ERROR);
    assert_int_equal(r.calls.n, 0);
    done(&r);
}

static void
test_reply_error(void **state)
{
    struct wharfd_rpc_reply reply;

    (void) state;
    wharfd_rpc_reply_error(&reply, 413, WHARFD_RPC_INVALID_REQUEST,
                           "request body exceeds 10 bytes");
    assert_int_equal(reply.status, 413);
    assert_string_equal(
        reply.body,
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
        "\"Invalid Request: request body exceeds 10 bytes\"},\"id\":null}");
    wharfd_rpc_reply_free(&reply);
    assert_null(reply.body);
}

/* The limits (budget.h): a batch counted before it is parsed, at its
 * edge; calls past the answer limit answered -32603 and not run. */
static void
test_limits(void **state)
{
    const struct wharfd_rpc_limits limits = { 3, 0 }, answers = { 3, 150 };
    struct wharfd_rpc_reply reply;
    struct calls calls = { 0, 0 };
    json_t *j;
    /* strings, brackets and commas inside an element are not counted */
    const char *three = "[ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                        "\"echo\",\"params\":[\"a,b]\",{\"x\":[1,2]}]},"
                        "1, \"s\\\",]\" ]";
    const char *four = "[1,2,3,4]";
    const char *long_answers =
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":"
        "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]},"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"echo\",\"params\":"
        "[\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"]},"
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"echo\",\"params\":"
        "[\"cccccccccccccccccccccccccccccc\"]}]";

    (void) state;
    wharfd_rpc_handle_limited(lookup, &calls, &limits, three, strlen(three),
                              &reply);
    assert_int_equal(reply.status, 200);
    j = json_loads(reply.body, 0, NULL);
    assert_int_equal(json_array_size(j), 3);
    json_decref(j);
    wharfd_rpc_reply_free(&reply);

    calls.n = 0;
    wharfd_rpc_handle_limited(lookup, &calls, &limits, four, strlen(four),
                              &reply);
    assert_int_equal(reply.status, 413);
    assert_non_null(strstr(reply.body, "--rpc-batch-max"));
    assert_int_equal(calls.n, 0);
    wharfd_rpc_reply_free(&reply);

    /* two answers fit 150 bytes (66 each); the third's is replaced */
    calls.n = 0;
    wharfd_rpc_handle_limited(lookup, &calls, &answers, long_answers,
                              strlen(long_answers), &reply);
    assert_int_equal(reply.status, 200);
    assert_int_equal(calls.n, 3); /* the third ran, its answer replaced */
    j = json_loads(reply.body, 0, NULL);
    assert_int_equal(json_array_size(j), 3);
    assert_non_null(json_object_get(json_array_get(j, 0), "result"));
    assert_int_equal(error_code(json_array_get(j, 2)), -32603);
    assert_non_null(
        strstr(json_string_value(json_object_get(
                   json_object_get(json_array_get(j, 2), "error"), "message")),
               "--answer-max"));
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(j, 2), "id")), 3);
    json_decref(j);
    wharfd_rpc_reply_free(&reply);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_invalid_request),
        cmocka_unit_test(test_method_errors),
        cmocka_unit_test(test_results_and_params),
        cmocka_unit_test(test_ids_echoed),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_reply_error),
    };
    return cmocka_run_group_tests_name("wharfd_rpc", tests, NULL, NULL);
}
