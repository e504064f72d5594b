#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "log.h"
#include "textbuf.h"

/* Used when even building an error fails (out of memory). */
static const char rpc_oom_body[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
    "\"message\":\"Internal error: out of memory\"},\"id\":null}";

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

json_t *
wharfd_rpc_error_json(json_t *id, const struct wharfd_rpc_error *err)
{
    return wharf_jsonrpc_error(
        id, err->code ? err->code : WHARFD_RPC_INTERNAL_ERROR, err->field,
        err->max, err->message);
}

/* An error object without data; id borrowed (NULL: null). */
static json_t *
rpc_error_response(json_t *id, int code, const char *detail)
{
    return wharf_jsonrpc_error(id, code, NULL, 0, detail);
}

/*
 * One request object. Returns the response object, or NULL when none is
 * due (a notification) or when building it ran out of memory; *oom tells
 * the two apart.
 */
static json_t *
rpc_handle_one(wharfd_rpc_lookup_fn lookup, void *ctx, json_t *req, int *oom,
               struct wharfd_rpc_reply *reply)
{
    const struct wharfd_rpc_method *m;
    struct wharfd_rpc_error err;
    struct wharf_jsonrpc_request rq;
    json_t *id, *params, *result, *resp;
    const char *name, *why;
    int rc;

    reply->calls++;
    if (wharf_jsonrpc_check(req, &rq, &why) != 0) {
        resp = rpc_error_response(rq.id, WHARFD_RPC_INVALID_REQUEST, why);
        goto done;
    }
    id = rq.id;
    name = rq.method;
    params = rq.params;

    /* From here on the request is valid: without an id it is a
     * notification and gets no answer, whatever happens. */
    m = lookup(name);
    if (m == NULL) {
        if (id == NULL) {
            wharf_debug("rpc: notification of unknown method %s ignored", name);
            return NULL;
        }
        resp = rpc_error_response(id, WHARFD_RPC_METHOD_NOT_FOUND, name);
        goto done;
    }

    memset(&err, 0, sizeof(err));
    result = NULL;
    rc = m->fn(ctx, params, &result, &err);
    if (rc != 0 && err.code == WHARFD_RPC_FORBIDDEN) {
        reply->forbidden++;
    }
    if (id == NULL) {
        json_decref(result);
        return NULL;
    }
    if (rc != 0) {
        json_decref(result);
        resp = wharfd_rpc_error_json(id, &err);
        goto done;
    }
    resp = wharf_jsonrpc_result(id, result);

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

/*
 * The number of elements of a top-level JSON array, counted up to max + 1
 * without building anything (strings and nesting skipped), so that an
 * oversized batch is refused before jansson turns it into a tree. What is
 * not a well-formed array is counted as it comes: the parse then says
 * what is wrong with it.
 */
static size_t
rpc_batch_count(const char *b, size_t n, size_t max)
{
    size_t i = 0, count = 0;
    int depth = 0, in_string = 0, seen = 0;

    while (i < n
           && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) {
        i++;
    }
    if (i == n || b[i] != '[') {
        return 0;
    }
    for (i++; i < n && count <= max; i++) {
        char c = b[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth-- == 0) {
                break; /* the end of the batch */
            }
            continue;
        } else if (c == ',' && depth == 0) {
            count++;
            seen = 0;
            continue;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        if (!seen) {
            seen = 1;
            if (count == 0) {
                count = 1;
            }
        }
    }
    return count;
}

/* The request ran out of memory: the reply for the limit it hit (413 for
 * its own, 503 for everyone's), or plain out of memory. */
static void
rpc_reply_budget(struct wharfd_rpc_reply *reply)
{
    enum wharfd_budget_hit hit = wharfd_budget_exceeded();

    if (hit == WHARFD_BUDGET_REQUEST) {
        wharfd_rpc_reply_error(reply, 413, WHARFD_RPC_INVALID_REQUEST,
                               wharfd_budget_message(hit));
    } else if (hit == WHARFD_BUDGET_TOTAL) {
        wharfd_rpc_reply_error(reply, 503, WHARFD_RPC_INTERNAL_ERROR,
                               wharfd_budget_message(hit));
    } else {
        rpc_reply_oom(reply);
    }
}

/* Runs a batch's calls in order, writing each answer at once. Once the
 * answer has reached limits->answer_max, or the request its memory
 * limit, the calls left are not run: each is answered -32603 saying why
 * (notifications, as ever, are not answered). */
static void
rpc_handle_batch(wharfd_rpc_lookup_fn lookup, void *ctx,
                 const struct wharfd_rpc_limits *limits, json_t *root,
                 struct wharfd_rpc_reply *reply)
{
    /* The answer, written as each call is answered, so that only one
     * call's result tree exists at a time (budget.h). */
    struct wharf_textbuf out = { .realloc_fn = wharfd_budget_realloc,
                                 .free_fn = wharfd_budget_free };
    size_t answers = 0;
    char detail[160];
    const char *stop = NULL;
    json_t *req, *resp, *id = NULL;
    char *text;
    size_t i, n;
    int oom = 0;

    for (i = 0; i < json_array_size(root); i++) {
        req = json_array_get(root, i);
        /* the id outlives the call's tree, freed below once it ran */
        json_decref(id);
        id = json_is_object(req) ? json_incref(json_object_get(req, "id"))
                                 : NULL;
        if (stop == NULL) {
            resp = rpc_handle_one(lookup, ctx, req, &oom, reply);
            if (oom) {
                if (wharfd_budget_exceeded() == WHARFD_BUDGET_OK) {
                    break;
                }
                stop = wharfd_budget_message(wharfd_budget_exceeded());
            }
        }
        if (stop != NULL) {
            /* not run: an answer where one is due, that is, to all but a
             * notification (an object without id) */
            resp = json_is_object(req) && id == NULL
                ? NULL
                : rpc_error_response(id, WHARFD_RPC_INTERNAL_ERROR, stop);
            oom = 0;
        }
        /* what ran is done with: its tree goes now, not with the batch */
        json_array_set_new(root, i, json_null());
        if (resp == NULL) {
            continue;
        }
        text = json_dumps(resp, JSON_COMPACT);
        json_decref(resp);
        if (text == NULL) {
            oom = 1;
            break;
        }
        n = strlen(text);
        if (stop == NULL && limits->answer_max > 0
            && out.len + n + 2 > limits->answer_max) {
            /* this call's answer would pass the limit: it is replaced,
             * and what is left is not run */
            snprintf(detail, sizeof(detail),
                     "the answer reached %zu bytes (--answer-max): send "
                     "fewer calls per batch, or stream (getLogs stream: true)",
                     limits->answer_max);
            stop = detail;
            wharfd_budget_free(text);
            resp = rpc_error_response(id, WHARFD_RPC_INTERNAL_ERROR, stop);
            text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
            json_decref(resp);
            if (text == NULL) {
                oom = 1;
                break;
            }
            n = strlen(text);
        }
        wharf_textbuf_put(&out, answers ? "," : "[", 1);
        wharf_textbuf_put(&out, text, n);
        wharfd_budget_free(text);
        if (out.oom) {
            oom = 1;
            break;
        }
        answers++;
    }
    json_decref(id);
    if (answers > 0 && !oom) {
        wharf_textbuf_put(&out, "]", 1);
        oom = out.oom;
    }
    if (oom) {
        wharf_textbuf_free(&out);
        rpc_reply_budget(reply);
        return;
    }
    if (answers == 0) {
        wharf_textbuf_free(&out);
        reply->status = 204;
        return;
    }
    reply->status = 200;
    reply->body = wharf_textbuf_take(&out, &reply->len);
}

void
wharfd_rpc_reply_answer_max(struct wharfd_rpc_reply *reply, size_t answer_max)
{
    char detail[160];

    if (reply->status == 200 && answer_max > 0 && reply->len > answer_max) {
        snprintf(detail, sizeof(detail),
                 "the answer of %zu bytes passes %zu (--answer-max): "
                 "ask for fewer rows (limit), or stream (getLogs "
                 "stream: true)",
                 reply->len, answer_max);
        wharfd_rpc_reply_free(reply);
        wharfd_rpc_reply_error(reply, 200, WHARFD_RPC_INTERNAL_ERROR, detail);
    }
}

void
wharfd_rpc_handle(wharfd_rpc_lookup_fn lookup, void *ctx, const char *body,
                  size_t len, struct wharfd_rpc_reply *reply)
{
    static const struct wharfd_rpc_limits none = { 0, 0 };

    wharfd_rpc_handle_limited(lookup, ctx, &none, body, len, reply);
}

void
wharfd_rpc_handle_limited(wharfd_rpc_lookup_fn lookup, void *ctx,
                          const struct wharfd_rpc_limits *limits,
                          const char *body, size_t len,
                          struct wharfd_rpc_reply *reply)
{
    json_t *root, *resp;
    char detail[JSON_ERROR_TEXT_LENGTH + 96], why[JSON_ERROR_TEXT_LENGTH + 64];
    size_t count;
    int oom = 0;

    memset(reply, 0, sizeof(*reply));

    /* A batch over the limit is refused before it is parsed: its tree
     * would cost far more than its text. */
    if (limits->batch_max > 0) {
        count = rpc_batch_count(body ? body : "", len, limits->batch_max);
        if (count > limits->batch_max) {
            snprintf(detail, sizeof(detail),
                     "a batch of more than %zu calls (--rpc-batch-max)",
                     limits->batch_max);
            wharfd_rpc_reply_error(reply, 413, WHARFD_RPC_INVALID_REQUEST,
                                   detail);
            return;
        }
    }

    /* ALLOW_NUL: a log line may hold a NUL (\u0000) and is stored byte
     * for byte; every string read as a C string refuses one
     * (wharfd_param_string, and "jsonrpc" and "method" in
     * wharf_jsonrpc_check). */
    root = wharf_jsonrpc_parse(body, len, JSON_ALLOW_NUL, why, sizeof(why));
    if (root == NULL) {
        if (wharfd_budget_exceeded() != WHARFD_BUDGET_OK) {
            rpc_reply_budget(reply);
            return;
        }
        resp = rpc_error_response(NULL, WHARFD_RPC_PARSE_ERROR, why);
        if (resp == NULL) {
            rpc_reply_oom(reply);
        } else {
            rpc_reply_json(reply, resp);
        }
        return;
    }

    if (!json_is_array(root)) {
        resp = rpc_handle_one(lookup, ctx, root, &oom, reply);
        json_decref(root);
        if (oom) {
            rpc_reply_budget(reply);
        } else if (resp == NULL) {
            reply->status = 204;
        } else {
            rpc_reply_json(reply, resp);
            wharfd_rpc_reply_answer_max(reply, limits->answer_max);
        }
        return;
    }

    if (json_array_size(root) == 0) {
        json_decref(root);
        resp =
            rpc_error_response(NULL, WHARFD_RPC_INVALID_REQUEST, "empty batch");
        if (resp == NULL) {
            rpc_reply_oom(reply);
        } else {
            rpc_reply_json(reply, resp);
        }
        return;
    }

    /* A batch: the requests run in order, one after another; the answers
     * keep that order (the spec allows any, in-order is easier to read). */
    rpc_handle_batch(lookup, ctx, limits, root, reply);
    json_decref(root);
}

void
wharfd_rpc_reply_error(struct wharfd_rpc_reply *reply, int status, int code,
                       const char *detail)
{
    json_t *resp;

    memset(reply, 0, sizeof(*reply));
    resp = rpc_error_response(NULL, code, detail);
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
