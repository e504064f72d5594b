#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Used when even building an error fails (out of memory). */
static const char rpc_oom_body[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
    "\"message\":\"Internal error: out of memory\"},\"id\":null}";

static const char *
rpc_standard_message(int code)
{
    switch (code) {
    case WHARFD_RPC_PARSE_ERROR:
        return "Parse error";
    case WHARFD_RPC_INVALID_REQUEST:
        return "Invalid Request";
    case WHARFD_RPC_METHOD_NOT_FOUND:
        return "Method not found";
    case WHARFD_RPC_INVALID_PARAMS:
        return "Invalid params";
    case WHARFD_RPC_UNAUTHORIZED:
        return "Unauthorized";
    case WHARFD_RPC_FORBIDDEN:
        return "Forbidden";
    case WHARFD_RPC_WORKER_NOT_FOUND:
        return "Worker not found";
    default:
        return "Internal error";
    }
}

int
wharfd_rpc_set_error(struct wharfd_rpc_error *err, int code, const char *field,
                     const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * {"jsonrpc":"2.0","error":{"code":C,"message":"Standard: detail"
 * [,"data":{"field":F[,"max":N]}]},"id":ID}. Takes no reference to id (NULL means
 * null). Detail may quote client input (jansson's parse messages do), so
 * it is cut to printable ASCII to stay a valid JSON string.
 */
static json_t *
rpc_error_response(json_t *id, int code, const char *field, const char *detail)
{
    char message[384];
    json_t *error;
    size_t i;

    if (detail != NULL && detail[0] != '\0') {
        snprintf(message, sizeof(message), "%s: %s", rpc_standard_message(code),
                 detail);
    } else {
        snprintf(message, sizeof(message), "%s", rpc_standard_message(code));
    }
    for (i = 0; message[i] != '\0'; i++) {
        if ((unsigned char) message[i] < 0x20
            || (unsigned char) message[i] > 0x7e) {
            message[i] = '?';
        }
    }

    error = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (error != NULL && field != NULL) {
        json_object_set_new(error, "data", json_pack("{s:s}", "field", field));
    }
    return json_pack("{s:s,s:o,s:O}", "jsonrpc", "2.0", "error", error, "id",
                     id ? id : json_null());
}

/*
 * One request object. Returns the response object, or NULL when none is
 * due (a notification) or when building it ran out of memory; *oom tells
 * the two apart.
 */
static json_t *
rpc_handle_one(wharfd_rpc_lookup_fn lookup, void *ctx, json_t *req, int *oom)
{
    const struct wharfd_rpc_method *m;
    struct wharfd_rpc_error err;
    json_t *id, *version, *method, *params, *result, *resp;
    const char *name;
    int rc;

    if (!json_is_object(req)) {
        resp = rpc_error_response(NULL, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "a request must be a JSON object");
        goto done;
    }

    /* An id of the wrong type cannot be echoed: the error says id null. */
    id = json_object_get(req, "id");
    if (id != NULL && !json_is_string(id) && !json_is_number(id)
        && !json_is_null(id)) {
        resp = rpc_error_response(NULL, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "'id' must be a string, a number or null");
        goto done;
    }

    version = json_object_get(req, "jsonrpc");
    if (!json_is_string(version) || json_string_length(version) != 3
        || strcmp(json_string_value(version), "2.0")) {
        resp = rpc_error_response(id, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "'jsonrpc' must be \"2.0\"");
        goto done;
    }

    method = json_object_get(req, "method");
    if (!json_is_string(method)
        || strlen(json_string_value(method)) != json_string_length(method)) {
        resp = rpc_error_response(id, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "'method' must be a string without NUL");
        goto done;
    }
    name = json_string_value(method);

    params = json_object_get(req, "params");
    if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
        resp = rpc_error_response(id, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "'params' must be an object or an array");
        goto done;
    }

    /* From here on the request is valid: without an id it is a
     * notification and gets no answer, whatever happens. */
    m = lookup(name);
    if (m == NULL) {
        if (id == NULL) {
            wharf_debug("rpc: notification of unknown method %s ignored", name);
            return NULL;
        }
        resp = rpc_error_response(id, WHARFD_RPC_METHOD_NOT_FOUND, NULL, name);
        goto done;
    }

    memset(&err, 0, sizeof(err));
    result = NULL;
    rc = m->fn(ctx, params, &result, &err);
    if (id == NULL) {
        json_decref(result);
        return NULL;
    }
    if (rc != 0) {
        json_decref(result);
        resp = rpc_error_response(
            id, err.code ? err.code : WHARFD_RPC_INTERNAL_ERROR,
            err.field[0] ? err.field : NULL, err.message);
        if (resp != NULL && err.max > 0) {
            json_object_set_new(
                json_object_get(json_object_get(resp, "error"), "data"), "max",
                json_integer((json_int_t) err.max));
        }
        goto done;
    }
    resp = json_pack("{s:s,s:o,s:O}", "jsonrpc", "2.0", "result",
                     result ? result : json_null(), "id", id);

done:
    *oom = (resp == NULL);
    return resp;
}

static void
rpc_reply_json(struct wharfd_rpc_reply *reply, json_t *resp)
{
    reply->status = 200;
    reply->body = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (reply->body == NULL) {
        reply->body = strdup(rpc_oom_body);
        if (reply->body == NULL) {
            reply->status = 500;
            reply->len = 0;
            return;
        }
    }
    reply->len = strlen(reply->body);
}

static void
rpc_reply_oom(struct wharfd_rpc_reply *reply)
{
    reply->body = strdup(rpc_oom_body);
    reply->status = reply->body ? 200 : 500;
    reply->len = reply->body ? strlen(reply->body) : 0;
}

void
wharfd_rpc_handle(wharfd_rpc_lookup_fn lookup, void *ctx, const char *body,
                  size_t len, struct wharfd_rpc_reply *reply)
{
    json_t *root, *out, *resp;
    json_error_t jerr;
    size_t i;
    int oom = 0;

    memset(reply, 0, sizeof(*reply));

    /* DECODE_ANY: a bare 1 or "x" is valid JSON, hence -32600 and not
     * -32700. Duplicate members are refused: "method" twice would
     * otherwise mean whichever one jansson kept. ALLOW_NUL: a log line
     * may hold a NUL (\u0000) and is stored byte for byte; every string
     * read as a C string refuses one (wharfd_param_string, and "jsonrpc"
     * and "method" below). */
    root = json_loadb(body ? body : "", len,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                      &jerr);
    if (root == NULL) {
        char detail[JSON_ERROR_TEXT_LENGTH + 48];

        snprintf(detail, sizeof(detail), "%s at line %d column %d", jerr.text,
                 jerr.line, jerr.column);
        resp = rpc_error_response(NULL, WHARFD_RPC_PARSE_ERROR, NULL, detail);
        if (resp == NULL) {
            rpc_reply_oom(reply);
        } else {
            rpc_reply_json(reply, resp);
        }
        return;
    }

    if (!json_is_array(root)) {
        resp = rpc_handle_one(lookup, ctx, root, &oom);
        json_decref(root);
        if (oom) {
            rpc_reply_oom(reply);
        } else if (resp == NULL) {
            reply->status = 204;
        } else {
            rpc_reply_json(reply, resp);
        }
        return;
    }

    if (json_array_size(root) == 0) {
        json_decref(root);
        resp = rpc_error_response(NULL, WHARFD_RPC_INVALID_REQUEST, NULL,
                                  "empty batch");
        if (resp == NULL) {
            rpc_reply_oom(reply);
        } else {
            rpc_reply_json(reply, resp);
        }
        return;
    }

    /* A batch: the requests run in order, one after another; the answers
     * keep that order (the spec allows any, in-order is easier to read). */
    out = json_array();
    for (i = 0; out != NULL && i < json_array_size(root); i++) {
        resp = rpc_handle_one(lookup, ctx, json_array_get(root, i), &oom);
        if (oom || (resp != NULL && json_array_append_new(out, resp) != 0)) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(root);

    if (out == NULL) {
        rpc_reply_oom(reply);
    } else if (json_array_size(out) == 0) {
        json_decref(out);
        reply->status = 204;
    } else {
        rpc_reply_json(reply, out);
    }
}

void
wharfd_rpc_reply_error(struct wharfd_rpc_reply *reply, int status, int code,
                       const char *detail)
{
    json_t *resp;

    memset(reply, 0, sizeof(*reply));
    resp = rpc_error_response(NULL, code, NULL, detail);
    if (resp == NULL) {
        rpc_reply_oom(reply);
        return;
    }
    rpc_reply_json(reply, resp);
    if (reply->status == 200) {
        reply->status = status;
    }
}

void
wharfd_rpc_reply_free(struct wharfd_rpc_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->len = 0;
}
