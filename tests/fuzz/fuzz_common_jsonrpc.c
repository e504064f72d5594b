/* libFuzzer target: the JSON-RPC envelope (common/jsonrpc.c), the JSON
 * text writer (common/json_text.c) and the percent-decoder
 * (common/percent.c): outside bytes, from any client of wharfd's /rpc,
 * its live feed, its REST routes and the agent's /rpc.
 *
 * Oracles: a request either passes the check with a method string of its
 * own length and params an object or an array, or gets a reason; every
 * answer built (the error for any code and detail, the result) dumps to
 * JSON that parses back with the same code and id; a string written with
 * WHARF_JSON_REPAIR is JSON that parses to the input with each invalid
 * UTF-8 subpart replaced, and without it (for valid UTF-8) to the input
 * itself; decoding never writes past its buffer and is never longer than
 * its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"
#include "jsonrpc.h"
#include "percent.h"
#include "textbuf.h"
#include "utf8.h"

static void
check_answer(json_t *resp, json_t *id, int code)
{
    char *text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_t *back;

    if (resp == NULL) {
        return; /* out of memory, or a detail jansson refused */
    }
    back = text ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL;
    if (back == NULL
        || (code != 0
            && json_integer_value(
                   json_object_get(json_object_get(back, "error"), "code"))
                != code)
        || !json_equal(json_object_get(back, "id"), id ? id : json_null())) {
        abort();
    }
    json_decref(back);
    free(text);
    json_decref(resp);
}

static void
check_request(const char *buf, size_t size)
{
    struct wharf_jsonrpc_request rq;
    const char *why = NULL;
    char reason[256];
    json_t *req;

    req =
        wharf_jsonrpc_parse(buf, size, JSON_ALLOW_NUL, reason, sizeof(reason));
    if (req == NULL) {
        check_answer(wharf_jsonrpc_error(NULL, WHARF_JSONRPC_PARSE_ERROR, NULL,
                                         0, reason),
                     NULL, WHARF_JSONRPC_PARSE_ERROR);
        return;
    }
    if (wharf_jsonrpc_check(req, &rq, &why) == 0) {
        if (rq.method == NULL
            || strlen(rq.method)
                != json_string_length(json_object_get(req, "method"))
            || (rq.params != NULL && !json_is_object(rq.params)
                && !json_is_array(rq.params))) {
            abort();
        }
        check_answer(wharf_jsonrpc_result(rq.id, json_incref(rq.params)), rq.id,
                     0);
        check_answer(wharf_jsonrpc_error(rq.id, WHARF_JSONRPC_METHOD_NOT_FOUND,
                                         "field", 7, rq.method),
                     rq.id, WHARF_JSONRPC_METHOD_NOT_FOUND);
    } else {
        if (why == NULL) {
            abort();
        }
        check_answer(wharf_jsonrpc_error(rq.id, WHARF_JSONRPC_INVALID_REQUEST,
                                         NULL, 0, why),
                     rq.id, WHARF_JSONRPC_INVALID_REQUEST);
    }
    json_decref(req);
}

static void
check_string(const char *buf, size_t size)
{
    struct wharf_textbuf b = { 0 };
    char *want = malloc(3 * size + 1);
    json_t *back;
    size_t n;

    if (want == NULL) {
        return;
    }
    n = wharf_utf8_replace((const unsigned char *) buf, size, want);
    wharf_json_str(&b, buf, size, WHARF_JSON_REPAIR);
    back = b.p ? json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
               : NULL;
    if (!b.oom
        && (!json_is_string(back) || json_string_length(back) != n
            || memcmp(json_string_value(back), want, n) != 0)) {
        abort();
    }
    json_decref(back);
    if (wharf_utf8_valid_prefix((const unsigned char *) buf, size) == size) {
        b.len = 0;
        wharf_json_str(&b, buf, size, 0);
        back = b.p
            ? json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
            : NULL;
        if (!b.oom
            && (!json_is_string(back) || json_string_length(back) != size
                || memcmp(json_string_value(back), buf, size) != 0)) {
            abort();
        }
        json_decref(back);
    }
    wharf_textbuf_free(&b);
    free(want);
}

static void
check_percent(const char *buf, size_t size)
{
    char out[64];
    long n;

    n = wharf_percent_decode(buf, size, out, sizeof(out), WHARF_PERCENT_PLUS);
    if (n > (long) size || (n < 0 && size < sizeof(out))
        || (n >= 0 && out[n] != '\0')) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *) data;

    check_request(buf, size);
    check_string(buf, size);
    check_percent(buf, size);
    return 0;
}
