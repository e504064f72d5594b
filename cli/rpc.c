#include "rpc.h"

#include <stdlib.h>
#include <string.h>

int
ctl_rpc_call(struct ctl *c, const char *method, json_t *params,
             struct ctl_response *resp, json_t **result)
{
    char full[512];
    json_t *req, *answer = NULL, *error, *data;
    json_int_t code;
    json_error_t jerr;
    char *body, *datatext;
    int rc;

    *result = NULL;
    memset(resp, 0, sizeof(*resp));
    snprintf(full, sizeof(full), "%s%s",
             strchr(method, '.') ? "" : CTL_RPC_PREFIX, method);

    req = wharf_jsonrpc_call(1, full, params ? json_incref(params) : NULL);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return ctl_error(c, CTL_FAIL, "out of memory");
    }
    rc = ctl_http(c, "POST", "/rpc", body, resp);
    free(body);
    if (rc != CTL_OK) {
        return rc;
    }

    answer = json_loadb(resp->body, resp->len, 0, &jerr);
    error = json_object_get(answer, "error");
    if (json_is_object(error)) {
        /* A JSON-RPC error, whatever the HTTP status (413 and 415 come with
         * one too): its code, message and data say more than the status. */
        data = json_object_get(error, "data");
        datatext =
            data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        ctl_error(c, CTL_FAIL,
                  "%s: JSON-RPC error %" JSON_INTEGER_FORMAT ": %s%s%s", full,
                  json_integer_value(json_object_get(error, "code")),
                  json_string_value(json_object_get(error, "message"))
                      ? json_string_value(json_object_get(error, "message"))
                      : "(no message)",
                  datatext ? " " : "", datatext ? datatext : "");
        free(datatext);
        code = json_integer_value(json_object_get(error, "code"));
        ctl_auth_hint(c,
                      code == WHARF_JSONRPC_UNAUTHORIZED
                          ? 401
                          : (code == WHARF_JSONRPC_FORBIDDEN ? 403 : 0));
        /* Invalid params are the command line's values, refused by the
         * server (--since yesterday, --limit 0): a usage error, as
         * when wharfctl refuses a value itself. */
        rc = code == CTL_RPC_INVALID_PARAMS ? CTL_USAGE : CTL_FAIL;
    } else if (resp->status < 200 || resp->status > 299) {
        rc = ctl_http_status_error(c, full, resp);
    } else if (!json_is_object(answer)
               || json_object_get(answer, "result") == NULL) {
        rc = ctl_error(c, CTL_FAIL,
                       "%s: %s did not answer with a JSON-RPC "
                       "result",
                       full, resp->url);
    } else {
        *result = json_incref(json_object_get(answer, "result"));
        rc = CTL_OK;
    }
    json_decref(answer);
    if (rc != CTL_OK) {
        ctl_response_free(resp);
    }
    return rc;
}
