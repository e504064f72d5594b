/* The JSON-RPC 2.0 envelope: see jsonrpc.h. */
#include "jsonrpc.h"

#include <stdio.h>
#include <string.h>

const char *
wharf_jsonrpc_message(int code)
{
    switch (code) {
    case WHARF_JSONRPC_PARSE_ERROR:
        return "Parse error";
    case WHARF_JSONRPC_INVALID_REQUEST:
        return "Invalid Request";
    case WHARF_JSONRPC_METHOD_NOT_FOUND:
        return "Method not found";
    case WHARF_JSONRPC_INVALID_PARAMS:
        return "Invalid params";
    case WHARF_JSONRPC_UNAUTHORIZED:
        return "Unauthorized";
    case WHARF_JSONRPC_FORBIDDEN:
        return "Forbidden";
    case WHARF_JSONRPC_NOT_FOUND:
        return "Not found";
    case WHARF_JSONRPC_WORKER_NOT_FOUND:
        return "Worker not found";
    case WHARF_JSONRPC_CONFLICT:
        return "Conflict";
    default:
        return "Internal error";
    }
}

const char *
wharf_jsonrpc_detail(int code, const char *message)
{
    const char *std = wharf_jsonrpc_message(code);
    size_t n = strlen(std);

    if (strncmp(message, std, n) == 0 && message[n] == ':'
        && message[n + 1] == ' ') {
        return message + n + 2;
    }
    return message;
}

json_t *
wharf_jsonrpc_parse(const char *text, size_t len, size_t flags, char *why,
                    size_t whylen)
{
    json_error_t jerr;
    json_t *root;

    root = json_loadb(text ? text : "", len,
                      flags | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL && why != NULL && whylen > 0) {
        snprintf(why, whylen, "%s at line %d column %d", jerr.text, jerr.line,
                 jerr.column);
    }
    return root;
}

int
wharf_jsonrpc_check(json_t *req, struct wharf_jsonrpc_request *out,
                    const char **why)
{
    json_t *id, *version, *method, *params;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(req)) {
        *why = "a request must be a JSON object";
        return -1;
    }
    id = json_object_get(req, "id");
    if (id != NULL && !json_is_string(id) && !json_is_number(id)
        && !json_is_null(id)) {
        *why = "'id' must be a string, a number or null";
        return -1;
    }
    out->id = id;
    version = json_object_get(req, "jsonrpc");
    if (!json_is_string(version) || json_string_length(version) != 3
        || memcmp(json_string_value(version), "2.0", 3) != 0) {
        *why = "'jsonrpc' must be \"2.0\"";
        return -1;
    }
    method = json_object_get(req, "method");
    if (!json_is_string(method)
        || strlen(json_string_value(method)) != json_string_length(method)) {
        *why = "'method' must be a string without NUL";
        return -1;
    }
    params = json_object_get(req, "params");
    if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
        *why = "'params' must be an object or an array";
        return -1;
    }
    out->method = json_string_value(method);
    out->params = params;
    return 0;
}

const char *
wharf_jsonrpc_short_name(const char *method)
{
    size_t n = sizeof(WHARF_JSONRPC_PREFIX) - 1;

    return strncmp(method, WHARF_JSONRPC_PREFIX, n) == 0 ? method + n : method;
}

json_t *
wharf_jsonrpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s,s:o,s:O}", "jsonrpc", "2.0", "result",
                     result ? result : json_null(), "id",
                     id ? id : json_null());
}

void
wharf_jsonrpc_error_message(int code, const char *detail, char *out,
                            size_t size)
{
    size_t i;

    if (detail != NULL && detail[0] != '\0') {
        snprintf(out, size, "%s: %s", wharf_jsonrpc_message(code), detail);
    } else {
        snprintf(out, size, "%s", wharf_jsonrpc_message(code));
    }
    for (i = 0; out[i] != '\0'; i++) {
        if ((unsigned char) out[i] < 0x20 || (unsigned char) out[i] > 0x7e) {
            out[i] = '?';
        }
    }
}

json_t *
wharf_jsonrpc_error(json_t *id, int code, const char *field, size_t max,
                    const char *detail)
{
    char message[384];
    json_t *error, *data;

    wharf_jsonrpc_error_message(code, detail, message, sizeof(message));
    error = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (error != NULL && field != NULL && field[0] != '\0') {
        data = json_pack("{s:s}", "field", field);
        if (data != NULL && max > 0) {
            json_object_set_new(data, "max", json_integer((json_int_t) max));
        }
        json_object_set_new(error, "data", data);
    }
    return json_pack("{s:s,s:o,s:O}", "jsonrpc", "2.0", "error", error, "id",
                     id ? id : json_null());
}

json_t *
wharf_jsonrpc_call(json_int_t id, const char *method, json_t *params)
{
    json_t *req = json_pack("{s:s}", "jsonrpc", "2.0");

    if (req != NULL && id >= 0) {
        json_object_set_new(req, "id", json_integer(id));
    }
    if (req != NULL) {
        json_object_set_new(req, "method", json_string(method));
    }
    if (req != NULL && params != NULL) {
        json_object_set_new(req, "params", params);
    } else {
        json_decref(params);
    }
    return req;
}
