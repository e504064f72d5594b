/*
 * clearErrors, clearLogs (scope admin, "confirm": true) and process
 * control, startProcess / stopProcess / restartProcess (scope control),
 * which go to the worker's agent through the gateway: POST
 * GATEWAY/api/workers/WORKER/rpc with the agent's JSON-RPC method of the
 * same name and {instanceId, force?}, carrying the caller's own
 * Authorization (the module checks it, and gives the agent its own
 * token). The agent's result is the result; its error is relayed with
 * its code. The gateway being unreachable, slow, answering non-JSON or
 * with its own JSON refusal (the worker down: 502 worker_unreachable) is
 * -32603 with data-less message "agent unreachable: ...", after at most
 * --control-timeout seconds.
 */
#include "methods.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "jsonrpc.h"
#include "textbuf.h"
#include "wharfd.h"

/* Largest agent answer read. */
#define WHARFD_CONTROL_REPLY_MAX (1024 * 1024)

static int
clear(struct wharfd_call *call, json_t *params, enum wharfd_kind kind,
      json_t **result, struct wharfd_rpc_error *err)
{
    const char *worker, *instance;
    long long count, until_id = -1;
    int confirm, has_until, rc;
    json_t *obj;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_ADMIN, &worker, err)
            != 0
        || wharfd_params_check(
               obj, kind == WHARFD_KIND_LOGS ? "clearLogs" : "clearErrors", err)
            != 0
        || wharfd_param_instance(obj, "instanceId", 0, &instance, err) != 0
        || wharfd_param_bool(obj, "confirm", 0, &confirm, err) != 0
        || wharfd_param_int(obj, "untilId", 0, INT64_MAX, &until_id, &has_until,
                            err)
            != 0) {
        return -1;
    }
    if (worker == NULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "worker",
                                    "'worker' is required");
    }
    if (!confirm) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "confirm",
                                    "'confirm': true is required to delete");
    }
    /* The worker's recent rows go before and after (recent.h). */
    if (kind == WHARFD_KIND_LOGS) {
        wharfd_recent_touch(&call->wd->recent, worker);
    }
    rc = wharfd_store_clear(call->wd->store, kind, worker, instance,
                            has_until ? until_id : -1, &count);
    if (kind == WHARFD_KIND_LOGS) {
        wharfd_recent_touch(&call->wd->recent, worker);
    }
    if (rc != 0) {
        return wharfd_internal(err, "clearing failed");
    }
    *result = json_pack("{s:I}", "clearedCount", (json_int_t) count);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

static int
method_clear_errors(void *ctx, json_t *params, json_t **result,
                    struct wharfd_rpc_error *err)
{
    return clear(ctx, params, WHARFD_KIND_ERRORS, result, err);
}

static int
method_clear_logs(void *ctx, json_t *params, json_t **result,
                  struct wharfd_rpc_error *err)
{
    return clear(ctx, params, WHARFD_KIND_LOGS, result, err);
}

/* --- process control ------------------------------------------------------ */

static int
control(struct wharfd_call *call, json_t *params, const char *method,
        json_t **result, struct wharfd_rpc_error *err)
{
    struct wharfd *wd = call->wd;
    struct wharf_textbuf reply = { .max = WHARFD_CONTROL_REPLY_MAX };
    struct curl_slist *headers = NULL;
    const char *worker, *instance;
    char url[512], auth[WHARF_TOKEN_MAX + 32], bearer[WHARF_TOKEN_MAX + 16];
    json_t *obj, *req, *ans, *v;
    char *body;
    long status = 0;
    int force, has_force;
    CURLcode cc;
    CURL *curl;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_CONTROL, &worker, err)
            != 0
        || wharfd_params_check(obj, method, err) != 0
        || wharfd_param_instance(obj, "instanceId", 1, &instance, err) != 0
        || wharfd_param_bool(obj, "force", 0, &force, err) != 0) {
        return -1;
    }
    if (worker == NULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "worker",
                                    "'worker' is required");
    }
    has_force = obj != NULL && json_is_boolean(json_object_get(obj, "force"));
    req = wharf_jsonrpc_call(1, method,
                             json_pack("{s:s}", "instanceId", instance));
    if (req != NULL && has_force) {
        json_object_set_new(json_object_get(req, "params"), "force",
                            json_boolean(force));
    }
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    curl = curl_easy_init();
    if (body == NULL || curl == NULL) {
        free(body);
        if (curl) {
            curl_easy_cleanup(curl);
        }
        return wharfd_internal(err, "out of memory");
    }
    snprintf(url, sizeof(url), "%s/api/workers/%s/rpc", wd->config.gateway,
             worker);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    /* the caller's token, from its header or its ?access_token= */
    if (wharfd_call_bearer(call, bearer, sizeof(bearer)) == 0) {
        snprintf(auth, sizeof(auth), "Authorization: %s", bearer);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) wd->config.control_timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     (long) wd->config.control_timeout);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads */
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, wharf_textbuf_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(body);

    if (cc != CURLE_OK) {
        free(reply.p);
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "agent unreachable: %s",
                                    curl_easy_strerror(cc));
    }
    ans = reply.p ? json_loads(reply.p, 0, NULL) : NULL;
    free(reply.p);
    if (status == 401 || status == 403) {
        json_decref(ans);
        return wharfd_rpc_set_error(
            err, status == 401 ? WHARFD_RPC_UNAUTHORIZED : WHARFD_RPC_FORBIDDEN,
            NULL,
            "the gateway refused the token for "
            "worker '%s' (HTTP %ld)",
            worker, status);
    }
    if (!json_is_object(ans)) {
        json_decref(ans);
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "agent unreachable: the gateway answered "
                                    "HTTP %ld without a JSON-RPC answer",
                                    status);
    }
    v = json_object_get(ans, "error");
    if (json_is_object(v) && json_is_string(json_object_get(v, "code"))) {
        /* Not the agent's JSON-RPC answer: the gateway's own refusal
         * ({"error":{"code":"worker_not_found",...}}, docs/DIRECTIVES.md).
         * A worker it does not route is the caller's mistake (404); any
         * other refusal means the agent could not be reached. */
        const char *code = json_string_value(json_object_get(v, "code"));
        json_t *msg = json_object_get(v, "message");

        if (strcmp(code, "worker_not_found") == 0) {
            wharfd_rpc_set_error(err, WHARFD_RPC_WORKER_NOT_FOUND, "worker",
                                 "worker '%s' is not registered at the "
                                 "gateway",
                                 worker);
        } else {
            wharfd_rpc_set_error(
                err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                "agent unreachable: the gateway answered HTTP %ld %s: %s",
                status, code,
                json_is_string(msg) ? json_string_value(msg) : "");
        }
        json_decref(ans);
        return -1;
    }
    if (json_is_object(v)) {
        json_t *code = json_object_get(v, "code");
        json_t *msg = json_object_get(v, "message");

        wharfd_rpc_set_error(
            err,
            json_is_integer(code) ? (int) json_integer_value(code)
                                  : WHARFD_RPC_INTERNAL_ERROR,
            NULL, "agent: %s",
            json_is_string(msg) ? wharf_jsonrpc_detail(
                json_is_integer(code) ? (int) json_integer_value(code)
                                      : WHARFD_RPC_INTERNAL_ERROR,
                json_string_value(msg))
                                : "error");
        json_decref(ans);
        return -1;
    }
    *result = json_incref(json_object_get(ans, "result"));
    json_decref(ans);
    if (*result == NULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "the agent's answer has no result");
    }
    return 0;
}

static int
method_start(void *ctx, json_t *params, json_t **result,
             struct wharfd_rpc_error *err)
{
    return control(ctx, params, "startProcess", result, err);
}

static int
method_stop(void *ctx, json_t *params, json_t **result,
            struct wharfd_rpc_error *err)
{
    return control(ctx, params, "stopProcess", result, err);
}

static int
method_restart(void *ctx, json_t *params, json_t **result,
               struct wharfd_rpc_error *err)
{
    return control(ctx, params, "restartProcess", result, err);
}

const struct wharfd_rpc_method wharfd_methods_admin[] = {
    { "clearErrors", method_clear_errors }, { "clearLogs", method_clear_logs },
    { "startProcess", method_start },       { "stopProcess", method_stop },
    { "restartProcess", method_restart },   { NULL, NULL }
};
