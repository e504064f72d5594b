/*
 * Methods from containers (scope ingest): storeLogs, storeLog,
 * storeErrors, storeError, upsertProcess, recordEvent, getLastSequence.
 * Params are checked whole before anything is written: a request with one
 * bad element stores nothing. The worker is the token's (auth.h).
 */
#include "methods.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "errhash.h"
#include "log.h"
#include "wharfd.h"

/* Prefixes the field and message of an element's error: "logs[3].x". */
static int
elem_error(struct wharfd_rpc_error *err, const char *array, size_t i)
{
    char field[2 * sizeof(err->field)], msg[2 * sizeof(err->message)];

    /* Truncation is fine: the names are short, messages are prose. */
    snprintf(field, sizeof(field), "%s[%zu]%s%s", array, i,
             err->field[0] ? "." : "", err->field);
    snprintf(msg, sizeof(msg), "%s[%zu]: %s", array, i, err->message);
    snprintf(err->field, sizeof(err->field), "%.*s",
             (int) sizeof(err->field) - 1, field);
    snprintf(err->message, sizeof(err->message), "%.*s",
             (int) sizeof(err->message) - 1, msg);
    return -1;
}

/* The members common to every ingest call. */
struct ingest_head {
    const char *worker, *container, *instance, *process_id;
};

static int
ingest_head(struct wharfd_call *call, json_t *obj, int instance_required,
            struct ingest_head *h, struct wharfd_rpc_error *err)
{
    return (wharfd_call_write_worker(call, obj, WHARF_SCOPE_INGEST, &h->worker,
                                     err)
                != 0
            || wharfd_param_string(obj, "container", 0, WHARFD_NAME_FIELD_MAX,
                                   &h->container, err)
                != 0
            || wharfd_param_instance(obj, "instanceId", instance_required,
                                     &h->instance, err)
                != 0
            || wharfd_param_string(obj, "processId", 0, WHARFD_NAME_FIELD_MAX,
                                   &h->process_id, err)
                != 0)
        ? -1
        : 0;
}

/* A message member: required, <= --message-max bytes. A NUL is kept:
 * a program's output may hold one, and it is stored and returned byte for
 * byte (bound and read with its length, never as a C string). */
static int
param_message(struct wharfd *wd, json_t *o, const char **out, size_t *len,
              struct wharfd_rpc_error *err)
{
    json_t *v = json_object_get(o, "message");

    if (v == NULL || json_is_null(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "message",
                                    "'message' is required");
    }
    if (!json_is_string(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "message",
                                    "'message' must be a string");
    }
    *len = json_string_length(v);
    if (*len > wd->config.message_max) {
        err->max = wd->config.message_max;
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "message",
                                    "'message' must be at most %zu bytes",
                                    wd->config.message_max);
    }
    *out = json_string_value(v);
    return 0;
}

/* One log element (or the params of storeLog) into l. */
static int
parse_log(struct wharfd *wd, json_t *o, struct wharfd_log_in *l,
          const char *now, struct wharfd_rpc_error *err)
{
    int present;

    if (!json_is_object(o)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, NULL,
                                    "a log must be an object");
    }
    if (wharfd_param_int(o, "sequence", 1, INT64_MAX, &l->sequence, &present,
                         err)
        != 0) {
        return -1;
    }
    if (!present) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "sequence",
                                    "'sequence' is required");
    }
    if (wharfd_param_time(o, "timestamp", l->timestamp, &present, err) != 0
        || wharfd_param_enum(o, "level", 1, wharfd_log_levels, &l->level, err)
            != 0
        || param_message(wd, o, &l->message, &l->message_len, err) != 0
        || wharfd_param_enum(o, "stream", 0, wharfd_log_streams, &l->stream,
                             err)
            != 0
        || wharfd_param_string(o, "source", 0, WHARFD_NAME_FIELD_MAX,
                               &l->source, err)
            != 0
        || wharfd_param_string(o, "processId", 0, WHARFD_NAME_FIELD_MAX,
                               &l->process_id, err)
            != 0
        || wharfd_param_json_text(o, "metadata", &l->metadata, err) != 0) {
        return -1;
    }
    if (!present) {
        memcpy(l->timestamp, now, WHARFD_TS_LEN + 1);
    }
    return 0;
}

static void
free_logs(struct wharfd_log_in *logs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(logs[i].metadata);
    }
    free(logs);
}

static int
store_logs(struct wharfd_call *call, json_t *obj, json_t *array,
           json_t **result, struct wharfd_rpc_error *err)
{
    struct wharfd *wd = call->wd;
    struct wharfd_log_batch b;
    struct ingest_head h;
    char now[WHARF_TIME_LEN];
    size_t i, n;
    int rc;

    memset(&b, 0, sizeof(b));
    if (ingest_head(call, obj, 1, &h, err) != 0
        || wharfd_params_check(obj, array ? "storeLogs" : "storeLog", err)
            != 0) {
        return -1;
    }
    n = array ? json_array_size(array) : 1;
    if (array != NULL && (n == 0 || n > wd->config.batch_max)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "logs",
                                    "'logs' must hold 1 to %zu logs",
                                    wd->config.batch_max);
    }
    b.logs = calloc(n, sizeof(*b.logs));
    if (b.logs == NULL) {
        return wharfd_internal(err, "out of memory");
    }
    wharf_now_iso8601(now, sizeof(now));
    for (i = 0; i < n; i++) {
        json_t *o = array ? json_array_get(array, i) : obj;

        if ((array != NULL
             && wharfd_params_known(o, wharfd_log_members, NULL, err) != 0)
            || parse_log(wd, o, &b.logs[i], now, err) != 0) {
            free_logs(b.logs, n);
            return array ? elem_error(err, "logs", i) : -1;
        }
        if (b.logs[i].process_id == NULL) {
            b.logs[i].process_id = h.process_id;
        }
    }
    b.worker = h.worker;
    b.container = h.container;
    b.instance = h.instance;
    b.n = n;
    rc = wharfd_store_logs(wd->store, &b);
    free_logs(b.logs, n);
    if (rc != 0) {
        return wharfd_store_failed(err, rc, "storing the logs failed");
    }
    *result = json_pack("{s:I,s:I,s:I}", "stored", (json_int_t) b.stored,
                        "duplicates", (json_int_t) b.duplicates, "lastSequence",
                        (json_int_t) b.last_sequence);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

int
wharfd_ingest_logs_check(struct wharfd_call *call, json_t *head,
                         struct wharfd_log_batch *b,
                         struct wharfd_rpc_error *err)
{
    struct ingest_head h;
    size_t i;

    if (ingest_head(call, head, 1, &h, err) != 0) {
        return -1;
    }
    if (b->n == 0 || b->n > call->wd->config.batch_max) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "logs",
                                    "'logs' must hold 1 to %zu logs",
                                    call->wd->config.batch_max);
    }
    for (i = 0; i < b->n; i++) {
        if (b->logs[i].process_id == NULL) {
            b->logs[i].process_id = h.process_id;
        }
    }
    b->worker = h.worker;
    b->container = h.container;
    b->instance = h.instance;
    return 0;
}

/*
 * The params of a batch method (storeLogs, storeErrors): an object whose
 * `field` is an array. When it is not, the caller's token is checked first,
 * so an unauthorised caller learns nothing of the params, then -32602.
 */
static int
batch_params(void *ctx, json_t *params, const char *field, json_t **obj,
             json_t **arr, struct wharfd_rpc_error *err)
{
    struct ingest_head h;

    if (wharfd_params_object(params, obj, err) != 0) {
        return -1;
    }
    *arr = *obj ? json_object_get(*obj, field) : NULL;
    if (!json_is_array(*arr)) {
        if (ingest_head(ctx, *obj, 1, &h, err) != 0) {
            return -1;
        }
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be an array of %s", field,
                                    field);
    }
    return 0;
}

/* The params of a single-row method (storeLog, storeError): an object. */
static int
single_params(json_t *params, json_t **obj, struct wharfd_rpc_error *err)
{
    if (wharfd_params_object(params, obj, err) != 0) {
        return -1;
    }
    if (*obj == NULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "params",
                                    "params are required");
    }
    return 0;
}

/* storeLogs {worker?, container?, instanceId, processId?, logs:[...]} */
static int
method_store_logs(void *ctx, json_t *params, json_t **result,
                  struct wharfd_rpc_error *err)
{
    json_t *obj, *logs;

    if (batch_params(ctx, params, "logs", &obj, &logs, err) != 0) {
        return -1;
    }
    return store_logs(ctx, obj, logs, result, err);
}

/* storeLog {worker?, container?, instanceId, processId?, sequence, ...} */
static int
method_store_log(void *ctx, json_t *params, json_t **result,
                 struct wharfd_rpc_error *err)
{
    json_t *obj;

    if (single_params(params, &obj, err) != 0) {
        return -1;
    }
    return store_logs(ctx, obj, NULL, result, err);
}

/* --- errors --------------------------------------------------------------- */

static int
is_hex64(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return i == WHARF_ERRHASH_HEX_LEN;
}

static int
parse_error(struct wharfd *wd, json_t *o, struct wharfd_error_in *e,
            const char *now, struct wharfd_rpc_error *err)
{
    const char *hash;
    int present;

    if (!json_is_object(o)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, NULL,
                                    "an error must be an object");
    }
    if (wharfd_param_number(o, "level", &e->level, &present, err) != 0) {
        return -1;
    }
    if (!present) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "level",
                                    "'level' is required");
    }
    if (param_message(wd, o, &e->message, &e->message_len, err) != 0
        || wharfd_param_time(o, "timestamp", e->timestamp, &present, err) != 0
        || wharfd_param_string(o, "rawOutput", 0, wd->config.message_max,
                               &e->raw_output, err)
            != 0
        || wharfd_param_string(o, "processId", 0, WHARFD_NAME_FIELD_MAX,
                               &e->process_id, err)
            != 0
        || wharfd_param_string(o, "errorHash", 0, WHARF_ERRHASH_HEX_LEN, &hash,
                               err)
            != 0) {
        return -1;
    }
    if (!present) {
        memcpy(e->timestamp, now, WHARFD_TS_LEN + 1);
    }
    /* The sequence of the log line the error was seen in: with it, a
     * resent occurrence is counted once (store.h). Absent: 0. */
    if (wharfd_param_int(o, "sequence", 1, INT64_MAX, &e->sequence, &present,
                         err)
        != 0) {
        return -1;
    }
    if (hash != NULL) {
        if (!is_hex64(hash)) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS,
                                        "errorHash",
                                        "'errorHash' must be 64 "
                                        "lower-case hex digits");
        }
        memcpy(e->hash, hash, WHARF_ERRHASH_HEX_LEN + 1);
    } else if (wharf_errhash(e->message, e->message_len, e->level, e->hash)
               != 0) {
        return wharfd_internal(err, "out of memory");
    }
    return 0;
}

static int
store_errors(struct wharfd_call *call, json_t *obj, json_t *array,
             json_t **result, struct wharfd_rpc_error *err)
{
    struct wharfd *wd = call->wd;
    struct wharfd_error_batch b;
    struct ingest_head h;
    char now[WHARF_TIME_LEN];
    json_t *list;
    size_t i, n;
    long long stored = 0, duplicates = 0;
    int rc;

    memset(&b, 0, sizeof(b));
    if (ingest_head(call, obj, 1, &h, err) != 0
        || wharfd_params_check(obj, array ? "storeErrors" : "storeError", err)
            != 0) {
        return -1;
    }
    n = array ? json_array_size(array) : 1;
    if (array != NULL && (n == 0 || n > wd->config.batch_max)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "errors",
                                    "'errors' must hold 1 to %zu errors",
                                    wd->config.batch_max);
    }
    b.errors = calloc(n, sizeof(*b.errors));
    if (b.errors == NULL) {
        return wharfd_internal(err, "out of memory");
    }
    wharf_now_iso8601(now, sizeof(now));
    for (i = 0; i < n; i++) {
        json_t *o = array ? json_array_get(array, i) : obj;

        if ((array != NULL
             && wharfd_params_known(o, wharfd_error_members, NULL, err) != 0)
            || parse_error(wd, o, &b.errors[i], now, err) != 0) {
            free(b.errors);
            return array ? elem_error(err, "errors", i) : -1;
        }
        if (b.errors[i].process_id == NULL) {
            b.errors[i].process_id = h.process_id;
        }
    }
    b.worker = h.worker;
    b.container = h.container;
    b.instance = h.instance;
    b.n = n;
    b.now = now;
    rc = wharfd_store_errors(wd->store, &b);
    if (rc != 0) {
        free(b.errors);
        return wharfd_store_failed(err, rc, "storing the errors failed");
    }
    /* A resend's entry says so ("duplicate": true); the others keep the
     * version-1 shape. ingest_fast.c writes the same bytes. */
    if (array == NULL) {
        *result = json_pack("{s:s,s:I,s:i}", "errorHash", b.errors[0].hash,
                            "occurrenceCount",
                            (json_int_t) b.errors[0].occurrence_count, "stored",
                            b.errors[0].stored);
        if (*result != NULL && b.errors[0].duplicate
            && json_object_set_new(*result, "duplicate", json_true()) != 0) {
            json_decref(*result);
            *result = NULL;
        }
        free(b.errors);
        return *result ? 0 : wharfd_internal(err, "out of memory");
    }
    list = json_array();
    for (i = 0; list != NULL && i < n; i++) {
        json_t *one = json_pack("{s:s,s:I}", "errorHash", b.errors[i].hash,
                                "occurrenceCount",
                                (json_int_t) b.errors[i].occurrence_count);

        stored += b.errors[i].stored;
        duplicates += b.errors[i].duplicate;
        if (one != NULL && b.errors[i].duplicate
            && json_object_set_new(one, "duplicate", json_true()) != 0) {
            json_decref(one);
            one = NULL;
        }
        if (json_array_append_new(list, one) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    free(b.errors);
    *result = list
        ? json_pack("{s:I,s:I,s:I,s:o}", "stored", (json_int_t) stored,
                    "repeated",
                    (json_int_t) ((long long) n - stored - duplicates),
                    "duplicates", (json_int_t) duplicates, "errors", list)
        : NULL;
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

int
wharfd_ingest_errors_check(struct wharfd_call *call, json_t *head,
                           struct wharfd_error_batch *b, const char *now,
                           struct wharfd_rpc_error *err)
{
    struct ingest_head h;
    size_t i;

    if (ingest_head(call, head, 1, &h, err) != 0) {
        return -1;
    }
    if (b->n == 0 || b->n > call->wd->config.batch_max) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "errors",
                                    "'errors' must hold 1 to %zu errors",
                                    call->wd->config.batch_max);
    }
    for (i = 0; i < b->n; i++) {
        if (b->errors[i].process_id == NULL) {
            b->errors[i].process_id = h.process_id;
        }
    }
    b->worker = h.worker;
    b->container = h.container;
    b->instance = h.instance;
    b->now = now;
    return 0;
}

static int
method_store_errors(void *ctx, json_t *params, json_t **result,
                    struct wharfd_rpc_error *err)
{
    json_t *obj, *errors;

    if (batch_params(ctx, params, "errors", &obj, &errors, err) != 0) {
        return -1;
    }
    return store_errors(ctx, obj, errors, result, err);
}

static int
method_store_error(void *ctx, json_t *params, json_t **result,
                   struct wharfd_rpc_error *err)
{
    json_t *obj;

    if (single_params(params, &obj, err) != 0) {
        return -1;
    }
    return store_errors(ctx, obj, NULL, result, err);
}

/* --- processes, events, sequence ----------------------------------------- */

/* args: an array of strings; env: an object of strings. */
static int
param_string_list(json_t *obj, const char *field, int object, char **out,
                  struct wharfd_rpc_error *err)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL, *x;
    const char *k;
    size_t i;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (object ? !json_is_object(v) : !json_is_array(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    object ? "'%s' must be an object of "
                                             "strings"
                                           : "'%s' must be an array of "
                                             "strings",
                                    field);
    }
    if (object) {
        json_object_foreach (v, k, x) {
            if (!json_is_string(x)) {
                return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS,
                                            field,
                                            "'%s' values must be "
                                            "strings",
                                            field);
            }
        }
    } else {
        json_array_foreach (v, i, x) {
            if (!json_is_string(x)) {
                return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS,
                                            field,
                                            "'%s' must be an array of "
                                            "strings",
                                            field);
            }
        }
    }
    return wharfd_param_json_text(obj, field, out, err);
}

static int
method_upsert_process(void *ctx, json_t *params, json_t **result,
                      struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_process_in p;
    struct ingest_head h;
    char now[WHARF_TIME_LEN], start[WHARFD_TS_LEN + 1], end[WHARFD_TS_LEN + 1];
    int has_start, has_end, has_restart, rc;
    json_t *obj;

    memset(&p, 0, sizeof(p));
    if (wharfd_params_object(params, &obj, err) != 0
        || ingest_head(call, obj, 1, &h, err) != 0
        || wharfd_params_check(obj, "upsertProcess", err) != 0
        || wharfd_param_string(obj, "command", 1, 4096, &p.command, err) != 0
        || wharfd_param_string(obj, "cwd", 0, 4096, &p.cwd, err) != 0
        || wharfd_param_enum(obj, "status", 1, wharfd_process_states, &p.status,
                             err)
            != 0
        || wharfd_param_int(obj, "pid", 0, INT32_MAX, &p.pid, &p.has_pid, err)
            != 0
        || wharfd_param_int(obj, "restartCount", 0, INT32_MAX, &p.restart_count,
                            &has_restart, err)
            != 0
        || wharfd_param_int(obj, "exitCode", -255, 255, &p.exit_code,
                            &p.has_exit_code, err)
            != 0
        || wharfd_param_time(obj, "startTime", start, &has_start, err) != 0
        || wharfd_param_time(obj, "endTime", end, &has_end, err) != 0
        || wharfd_param_string(obj, "lastError", 0, 65536, &p.last_error, err)
            != 0) {
        return -1;
    }
    if (param_string_list(obj, "args", 0, &p.args, err) != 0) {
        return -1;
    }
    if (param_string_list(obj, "env", 1, &p.env, err) != 0) {
        free(p.args);
        return -1;
    }
    wharf_now_iso8601(now, sizeof(now));
    p.worker = h.worker;
    p.container = h.container;
    p.instance = h.instance;
    p.process_id = h.process_id;
    p.start_time = has_start ? start : NULL;
    p.end_time = has_end ? end : NULL;
    p.now = now;
    rc = wharfd_store_process_upsert(call->wd->store, &p);
    free(p.args);
    free(p.env);
    if (rc != 0) {
        return wharfd_store_failed(err, rc, "storing the process failed");
    }
    *result = json_pack("{s:b}", "ok", 1);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

static int
method_record_event(void *ctx, json_t *params, json_t **result,
                    struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_event_in e;
    struct ingest_head h;
    char now[WHARF_TIME_LEN];
    int present, rc;
    json_t *obj;

    memset(&e, 0, sizeof(e));
    if (wharfd_params_object(params, &obj, err) != 0
        || ingest_head(call, obj, 0, &h, err) != 0
        || wharfd_params_check(obj, "recordEvent", err) != 0
        || wharfd_param_string(obj, "type", 1, 64, &e.type, err) != 0
        || wharfd_param_time(obj, "timestamp", e.timestamp, &present, err) != 0
        || wharfd_param_json_text(obj, "payload", &e.payload, err) != 0) {
        return -1;
    }
    if (!present) {
        wharf_now_iso8601(now, sizeof(now));
        memcpy(e.timestamp, now, WHARFD_TS_LEN + 1);
    }
    e.worker = h.worker;
    e.container = h.container;
    e.instance = h.instance;
    e.process_id = h.process_id;
    rc = wharfd_store_event(call->wd->store, &e);
    free(e.payload);
    if (rc != 0) {
        return wharfd_store_failed(err, rc, "storing the event failed");
    }
    *result = json_pack("{s:b}", "ok", 1);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

/* getLastSequence {worker?, instanceId} -> {instanceId, lastSequence}.
 * Scope ingest (the agent resuming) or read. */
static int
method_get_last_sequence(void *ctx, json_t *params, json_t **result,
                         struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    const char *worker, *instance;
    long long seq;
    json_t *obj;

    if (wharfd_params_object(params, &obj, err) != 0) {
        return -1;
    }
    if (call->authed && !(call->claims.scopes & WHARF_SCOPE_INGEST)
        && (call->claims.scopes & WHARF_SCOPE_READ)) {
        if (wharfd_call_read_worker(call, obj, WHARF_SCOPE_READ, &worker, err)
            != 0) {
            return -1;
        }
        if (worker == NULL) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS,
                                        "worker", "'worker' is required");
        }
    } else if (wharfd_call_write_worker(call, obj, WHARF_SCOPE_INGEST, &worker,
                                        err)
               != 0) {
        return -1;
    }
    if (wharfd_params_check(obj, "getLastSequence", err) != 0
        || wharfd_param_instance(obj, "instanceId", 1, &instance, err) != 0) {
        return -1;
    }
    if (wharfd_store_last_sequence(call->wd->store, worker, instance, &seq)
        != 0) {
        return wharfd_internal(err, "reading the last sequence failed");
    }
    *result = json_pack("{s:s,s:I}", "instanceId", instance, "lastSequence",
                        (json_int_t) seq);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

const struct wharfd_rpc_method wharfd_methods_ingest[] = {
    { "storeLogs", method_store_logs },
    { "storeLog", method_store_log },
    { "storeErrors", method_store_errors },
    { "storeError", method_store_error },
    { "upsertProcess", method_upsert_process },
    { "recordEvent", method_record_event },
    { "getLastSequence", method_get_last_sequence },
    { NULL, NULL }
};
