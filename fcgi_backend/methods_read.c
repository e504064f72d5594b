/*
 * Methods for operators (scope read): getLogs, getLogStats, getErrors,
 * getErrorSummary, getProcess, getProcessStatus, getProcesses, getEvents.
 * A token whose sub is a worker reads that worker's rows only (auth.h).
 */
#include "methods.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "jsonw.h"
#include "logstream.h"
#include "wharfd.h"

/* Largest first reservation of a list answer's text (run_list_raw). */
#define WHARFD_RAW_FIRST_MAX (256 * 1024)

/* An array of words (levels, streams) into ",a,b," for the query. */
static int
param_word_set(json_t *obj, const char *field, const char *const *words,
               char *buf, size_t size, const char **out,
               struct wharfd_rpc_error *err)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL, *x;
    size_t i, j, n = 1;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a non-empty array", field);
    }
    buf[0] = ',';
    buf[1] = '\0';
    json_array_foreach (v, i, x) {
        for (j = 0; words[j]; j++) {
            if (json_is_string(x)
                && strcmp(json_string_value(x), words[j]) == 0) {
                break;
            }
        }
        if (words[j] == NULL) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                        "'%s'[%zu] is not a known value", field,
                                        i);
        }
        n += (size_t) snprintf(buf + n, size - n, "%s,", words[j]);
        if (n >= size) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                        "'%s' has too many values", field);
        }
    }
    *out = buf;
    return 0;
}

/* Common filters: worker (confined by the token), container, instance,
 * since, until, page. */
struct read_bufs {
    char since[WHARFD_TS_LEN + 1], until[WHARFD_TS_LEN + 1];
    char levels[64], streams[32];
};

static int
read_filters(struct wharfd_call *call, const char *method, json_t *obj,
             struct wharfd_query *q, struct read_bufs *b,
             struct wharfd_rpc_error *err)
{
    int has_since, has_until;

    if (wharfd_call_read_worker(call, obj, WHARF_SCOPE_READ, &q->worker, err)
            != 0
        || wharfd_params_check(obj, method, err) != 0
        || wharfd_param_string(obj, "container", 0, WHARFD_NAME_FIELD_MAX,
                               &q->container, err)
            != 0
        || wharfd_param_instance(obj, "instanceId", 0, &q->instance, err) != 0
        || wharfd_param_time(obj, "since", b->since, &has_since, err) != 0
        || wharfd_param_time(obj, "until", b->until, &has_until, err) != 0
        || wharfd_params_page(obj, q, err) != 0) {
        return -1;
    }
    q->since = has_since ? b->since : NULL;
    q->until = has_until ? b->until : NULL;
    return 0;
}

static int
collect_row(void *arg, const struct wharfd_col *cols, int n)
{
    json_t *row = wharfd_row_json(cols, n);

    return json_array_append_new(arg, row); /* -1 when row is NULL */
}

struct raw_rows {
    struct wharf_textbuf w;
    struct wharfd_jsonw_names names;
    int n;
};

static int
raw_row(void *arg, const struct wharfd_col *cols, int n)
{
    struct raw_rows *r = arg;

    if (r->n++ > 0) {
        wharf_textbuf_put(&r->w, ",", 1);
    }
    wharfd_jsonw_row_named(&r->w, cols, n, &r->names);
    return r->w.oom ? -1 : 0;
}

/* The envelope as text, for REST (see wharfd_call.want_raw). */
static int
run_list_raw(struct wharfd_call *call, const struct wharfd_query *q,
             json_t **result, struct wharfd_rpc_error *err)
{
    struct raw_rows r;
    long long total;
    int has_more, served;

    memset(&r, 0, sizeof(r));
    /* Room for a page of typical rows at once (a log row is ~280 bytes)
     * instead of growing by doubling (and copying) from
     * WHARF_TEXTBUF_FIRST; a larger or unlimited page grows as before. */
    if (q->limit >= 0 && q->limit < WHARFD_RAW_FIRST_MAX / 320) {
        (void) wharf_textbuf_room(&r.w, 256 + (size_t) (q->limit + 1) * 320);
    }
    wharf_textbuf_str(&r.w, "{\"data\":[");
    /* The latest N of a worker: from its recent rows (recent.h) when
     * they serve it, else from the database. */
    total = -1;
    served = wharfd_recent_answer(&call->wd->recent, call->wd->store, q, &r.w,
                                  &has_more);
    if (served < 0) {
        wharf_textbuf_free(&r.w);
        return wharfd_internal(err, "out of memory");
    }
    if (served == 0
        && wharfd_store_query(call->wd->store, q, raw_row, &r, &total,
                              &has_more)
            != 0) {
        wharf_textbuf_free(&r.w);
        return wharfd_internal(err, "reading failed");
    }
    wharf_textbuf_str(&r.w, "],\"pagination\":{\"limit\":");
    wharf_json_int(&r.w, q->limit);
    wharf_textbuf_str(&r.w, ",\"offset\":");
    wharf_json_int(&r.w, q->offset);
    wharf_textbuf_str(&r.w, ",\"total\":");
    if (total >= 0) {
        wharf_json_int(&r.w, total);
    } else {
        wharf_textbuf_str(&r.w, "null");
    }
    wharf_textbuf_str(
        &r.w, has_more ? ",\"hasMore\":true}}" : ",\"hasMore\":false}}");
    if (r.w.oom) {
        wharf_textbuf_free(&r.w);
        return wharfd_internal(err, "out of memory");
    }
    free(call->raw);
    call->raw = r.w.p;
    call->raw_len = r.w.len;
    *result = json_null();
    return 0;
}

/* Runs q into the pagination envelope. */
static int
run_list(struct wharfd_call *call, const struct wharfd_query *q,
         json_t **result, struct wharfd_rpc_error *err)
{
    json_t *data;
    long long total;
    int has_more;

    if (call->want_raw) {
        return run_list_raw(call, q, result, err);
    }
    data = json_array();

    if (data == NULL
        || wharfd_store_query(call->wd->store, q, collect_row, data, &total,
                              &has_more)
            != 0) {
        json_decref(data);
        return wharfd_internal(err, "reading failed");
    }
    *result = wharfd_page_json(data, q, total, has_more);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

static int
method_get_logs(void *ctx, json_t *params, json_t **result,
                struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_query q;
    struct read_bufs b;
    int stream, present_limit;
    json_t *obj;

    memset(&q, 0, sizeof(q));
    q.kind = WHARFD_KIND_LOGS;
    if (wharfd_params_object(params, &obj, err) != 0
        || read_filters(call, "getLogs", obj, &q, &b, err) != 0
        || param_word_set(obj, "levels", wharfd_log_levels, b.levels,
                          sizeof(b.levels), &q.levels, err)
            != 0
        || param_word_set(obj, "streams", wharfd_log_streams, b.streams,
                          sizeof(b.streams), &q.streams, err)
            != 0
        || wharfd_param_int(obj, "afterSequence", 0, INT64_MAX, &q.after,
                            &q.has_after, err)
            != 0
        || wharfd_param_int(obj, "untilSequence", 0, INT64_MAX, &q.until_seq,
                            &q.has_until_seq, err)
            != 0
        || wharfd_param_int(obj, "afterId", 0, INT64_MAX, &q.after_id,
                            &q.has_after_id, err)
            != 0
        || wharfd_param_int(obj, "untilId", 0, INT64_MAX, &q.until_id,
                            &q.has_until_id, err)
            != 0
        || wharfd_param_bool(obj, "stream", 0, &stream, err) != 0) {
        return -1;
    }
    /* Sequences count per (worker, instance): a bound on them without an
     * instance would mix the numbers of every instance. */
    if ((q.has_after || q.has_until_seq) && q.instance == NULL) {
        const char *f = q.has_after ? "afterSequence" : "untilSequence";

        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, f,
                                    "'%s' needs 'instanceId' (sequences "
                                    "are per instance)",
                                    f);
    }
    if (!stream) {
        return run_list(call, &q, result, err);
    }
    if (!call->single) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "stream",
                                    "'stream' is for a single request, not "
                                    "a batch");
    }
    /* A stream reads every matching row unless a limit was given. */
    present_limit =
        obj != NULL && json_is_integer(json_object_get(obj, "limit"));
    if (!present_limit) {
        q.limit = -1;
    }
    q.want_total = 0;
    wharfd_logstream_free(call->stream);
    call->stream = wharfd_logstream_new(call->wd, &q);
    if (call->stream == NULL) {
        return wharfd_internal(err, "out of memory");
    }
    *result = json_pack("{s:b}", "stream", 1);
    return *result ? 0 : wharfd_internal(err, "out of memory");
}

static int
method_get_errors(void *ctx, json_t *params, json_t **result,
                  struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_query q;
    struct read_bufs b;
    json_t *obj;

    memset(&q, 0, sizeof(q));
    q.kind = WHARFD_KIND_ERRORS;
    if (wharfd_params_object(params, &obj, err) != 0
        || read_filters(call, "getErrors", obj, &q, &b, err) != 0
        || wharfd_param_number(obj, "minLevel", &q.min_level, &q.has_min_level,
                               err)
            != 0
        || wharfd_param_number(obj, "maxLevel", &q.max_level, &q.has_max_level,
                               err)
            != 0) {
        return -1;
    }
    return run_list(call, &q, result, err);
}

static int
method_get_events(void *ctx, json_t *params, json_t **result,
                  struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_query q;
    struct read_bufs b;
    json_t *obj;

    memset(&q, 0, sizeof(q));
    q.kind = WHARFD_KIND_EVENTS;
    if (wharfd_params_object(params, &obj, err) != 0
        || read_filters(call, "getEvents", obj, &q, &b, err) != 0
        || wharfd_param_string(obj, "type", 0, 64, &q.type, err) != 0) {
        return -1;
    }
    return run_list(call, &q, result, err);
}

static int
method_get_processes(void *ctx, json_t *params, json_t **result,
                     struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    struct wharfd_query q;
    struct read_bufs b;
    json_t *obj;

    memset(&q, 0, sizeof(q));
    q.kind = WHARFD_KIND_PROCESSES;
    if (wharfd_params_object(params, &obj, err) != 0
        || read_filters(call, "getProcesses", obj, &q, &b, err) != 0
        || wharfd_param_enum(obj, "status", 0, wharfd_process_states, &q.status,
                             err)
            != 0) {
        return -1;
    }
    return run_list(call, &q, result, err);
}

static int
one_row(void *arg, const struct wharfd_col *cols, int n)
{
    json_t **out = arg;

    *out = wharfd_row_json(cols, n);
    return *out ? 0 : -1;
}

/* getProcess / getProcessStatus {worker?, instanceId} -> row or null. */
static int
method_get_process(void *ctx, json_t *params, json_t **result,
                   struct wharfd_rpc_error *err)
{
    struct wharfd_call *call = ctx;
    const char *worker, *instance;
    json_t *obj, *row = NULL;
    int found;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_READ, &worker, err)
            != 0
        || wharfd_params_check(obj, "getProcess", err) != 0
        || wharfd_param_instance(obj, "instanceId", 1, &instance, err) != 0) {
        return -1;
    }
    if (wharfd_store_process_get(call->wd->store, worker, instance, one_row,
                                 &row, &found)
        != 0) {
        json_decref(row);
        return wharfd_internal(err, "reading the process failed");
    }
    *result = found ? row : json_null();
    return 0;
}

struct stats_acc {
    json_t *by_level, *by_stream, *out;
    int errors;
    long long occurrences, rows;
};

static int
stats_row(void *arg, const struct wharfd_col *cols, int n)
{
    struct stats_acc *a = arg;
    const char *group = cols[0].s;
    char key[40];
    json_t *target;

    (void) n;
    if (strcmp(group, "range") == 0) {
        json_object_set_new(a->out, a->errors ? "oldestError" : "oldest",
                            cols[1].type == WHARFD_COL_NULL
                                ? json_null()
                                : json_string(cols[1].s));
        json_object_set_new(a->out, a->errors ? "latestError" : "newest",
                            cols[2].type == WHARFD_COL_NULL
                                ? json_null()
                                : json_string(cols[2].s));
        if (!a->errors) {
            json_object_set_new(a->out, "total", json_integer(cols[3].i));
        }
        return 0;
    }
    target = strcmp(group, "stream") == 0 ? a->by_stream : a->by_level;
    if (cols[1].type == WHARFD_COL_REAL) {
        snprintf(key, sizeof(key), "%g", cols[1].d);
    } else if (cols[1].type == WHARFD_COL_NULL) {
        snprintf(key, sizeof(key), "none");
    } else {
        snprintf(key, sizeof(key), "%s", cols[1].s);
    }
    a->occurrences += cols[2].i;
    a->rows += cols[3].i;
    return json_object_set_new(target, key, json_integer(cols[2].i));
}

static int
stats(struct wharfd_call *call, json_t *params, int errors, json_t **result,
      struct wharfd_rpc_error *err)
{
    struct stats_acc a;
    const char *worker, *instance;
    json_t *obj;

    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(call, obj, WHARF_SCOPE_READ, &worker, err)
            != 0
        || wharfd_params_check(obj, errors ? "getErrorSummary" : "getLogStats",
                               err)
            != 0
        || wharfd_param_instance(obj, "instanceId", 0, &instance, err) != 0) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.errors = errors;
    a.by_level = json_object();
    a.by_stream = json_object();
    a.out = json_object();
    if (a.by_level == NULL || a.by_stream == NULL || a.out == NULL
        || wharfd_store_stats(call->wd->store,
                              errors ? WHARFD_KIND_ERRORS : WHARFD_KIND_LOGS,
                              worker, instance, stats_row, &a)
            != 0) {
        json_decref(a.by_level);
        json_decref(a.by_stream);
        json_decref(a.out);
        return wharfd_internal(err, "reading statistics failed");
    }
    if (errors) {
        json_decref(a.by_stream);
        json_object_set_new(a.out, "totalErrors", json_integer(a.occurrences));
        json_object_set_new(a.out, "uniqueErrors", json_integer(a.rows));
        json_object_set_new(a.out, "repeatedErrors",
                            json_integer(a.occurrences - a.rows));
        json_object_set_new(a.out, "errorsByLevel", a.by_level);
    } else {
        json_object_set_new(a.out, "byLevel", a.by_level);
        json_object_set_new(a.out, "byStream", a.by_stream);
    }
    *result = a.out;
    return 0;
}

static int
method_get_log_stats(void *ctx, json_t *params, json_t **result,
                     struct wharfd_rpc_error *err)
{
    return stats(ctx, params, 0, result, err);
}

static int
method_get_error_summary(void *ctx, json_t *params, json_t **result,
                         struct wharfd_rpc_error *err)
{
    return stats(ctx, params, 1, result, err);
}

const struct wharfd_rpc_method wharfd_methods_read[] = {
    { "getLogs", method_get_logs },
    { "getLogStats", method_get_log_stats },
    { "getErrors", method_get_errors },
    { "getErrorSummary", method_get_error_summary },
    { "getEvents", method_get_events },
    { "getProcesses", method_get_processes },
    { "getProcess", method_get_process },
    { "getProcessStatus", method_get_process },
    { NULL, NULL }
};
