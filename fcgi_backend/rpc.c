#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
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
rpc_handle_one(wharfd_rpc_lookup_fn lookup, void *ctx, json_t *req, int *oom,
               struct wharfd_rpc_reply *reply)
{
    const struct wharfd_rpc_method *m;
    struct wharfd_rpc_error err;
    json_t *id, *version, *method, *params, *result, *resp;
    const char *name;
    int rc;

    reply->calls++;
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
    if (rc != 0 && err.code == WHARFD_RPC_FORBIDDEN) {
        reply->forbidden++;
    }
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

/* The answer of a batch, written as each call is answered, so that only
 * one call's result tree exists at a time (budget.h). */
struct rpc_out {
    char *p;
    size_t len, cap;
    size_t n; /* answers in it */
};

static int
rpc_out_put(struct rpc_out *o, const char *s, size_t n)
{
    size_t cap;
    char *bigger;

    if (o->len + n + 2 > o->cap) {
        cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 2) {
            cap *= 2;
        }
        bigger = wharfd_budget_realloc(o->p, cap);
        if (bigger == NULL) {
            return -1;
        }
        o->p = bigger;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
    return 0;
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
    struct rpc_out out = { NULL, 0, 0, 0 };
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
                : rpc_error_response(id, WHARFD_RPC_INTERNAL_ERROR, NULL, stop);
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
            resp =
                rpc_error_response(id, WHARFD_RPC_INTERNAL_ERROR, NULL, stop);
            text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
            json_decref(resp);
            if (text == NULL) {
                oom = 1;
                break;
            }
            n = strlen(text);
        }
        if (rpc_out_put(&out, out.n ? "," : "[", 1) != 0
            || rpc_out_put(&out, text, n) != 0) {
            wharfd_budget_free(text);
            oom = 1;
            break;
        }
        wharfd_budget_free(text);
        out.n++;
    }
    json_decref(id);
    if (oom) {
        wharfd_budget_free(out.p);
        rpc_reply_budget(reply);
        return;
    }
    if (out.n == 0) {
        wharfd_budget_free(out.p);
        reply->status = 204;
        return;
    }
    if (rpc_out_put(&out, "]", 1) != 0) {
        wharfd_budget_free(out.p);
        rpc_reply_budget(reply);
        return;
    }
    reply->status = 200;
    reply->body = out.p;
    reply->len = out.len;
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
    json_error_t jerr;
    char detail[JSON_ERROR_TEXT_LENGTH + 96];
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
        if (wharfd_budget_exceeded() != WHARFD_BUDGET_OK) {
            rpc_reply_budget(reply);
            return;
        }
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
        resp = rpc_handle_one(lookup, ctx, root, &oom, reply);
        json_decref(root);
        if (oom) {
            rpc_reply_budget(reply);
        } else if (resp == NULL) {
            reply->status = 204;
        } else {
            rpc_reply_json(reply, resp);
            if (reply->status == 200 && limits->answer_max > 0
                && reply->len > limits->answer_max) {
                snprintf(detail, sizeof(detail),
                         "the answer of %zu bytes passes %zu (--answer-max): "
                         "ask for fewer rows (limit), or stream (getLogs "
                         "stream: true)",
                         reply->len, limits->answer_max);
                wharfd_rpc_reply_free(reply);
                wharfd_rpc_reply_error(reply, 200, WHARFD_RPC_INTERNAL_ERROR,
                                       detail);
            }
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
    rpc_handle_batch(lookup, ctx, limits, root, reply);
    json_decref(root);
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
