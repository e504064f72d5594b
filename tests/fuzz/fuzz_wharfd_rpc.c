/* libFuzzer target: wharfd's JSON-RPC 2.0 envelope (fcgi_backend/rpc.c) on
 * any request body, with one method that echoes its params. Every answer
 * with a body must itself be valid JSON, and a 204 must have none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../fcgi_backend/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
echo(void *ctx, json_t *params, json_t **result, struct wharfd_rpc_error *err)
{
    (void) ctx;
    if (params != NULL && json_is_array(params)
        && json_array_size(params) > 3) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "params",
                                    "at most 3 positional params");
    }
    *result = params != NULL ? json_incref(params) : NULL;
    return 0;
}

static const struct wharfd_rpc_method echo_method = { "echo", echo };

static const struct wharfd_rpc_method *
lookup(const char *name)
{
    return strcmp(name, "ContainerMonitoringOps.echo") == 0 ? &echo_method
                                                            : NULL;
}

/* Small limits, so that the batch count and the answer limit are reached
 * by what the fuzzer makes (budget.h). */
static const struct wharfd_rpc_limits small = { 8, 512 };

static void check(const struct wharfd_rpc_reply *reply);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wharfd_rpc_reply reply;

    memset(&reply, 0, sizeof(reply));
    wharfd_rpc_handle(lookup, NULL, (const char *) data, size, &reply);
    check(&reply);
    wharfd_rpc_reply_free(&reply);
    memset(&reply, 0, sizeof(reply));
    wharfd_rpc_handle_limited(lookup, NULL, &small, (const char *) data, size,
                              &reply);
    check(&reply);
    /* a refused batch ran nothing, so its answer is one error object */
    if (reply.status == 413 && reply.body[0] != '{') {
        abort();
    }
    wharfd_rpc_reply_free(&reply);
    return 0;
}

static void
check(const struct wharfd_rpc_reply *reply)
{
    json_error_t e;
    json_t *doc;

    if (reply->status == 204) {
        if (reply->body != NULL) {
            abort();
        }
    } else {
        if (reply->body == NULL) {
            abort();
        }
        doc = json_loadb(reply->body, reply->len, 0, &e);
        if (doc == NULL) {
            abort(); /* wharfd answered with invalid JSON */
        }
        json_decref(doc);
    }
}
