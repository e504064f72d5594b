/*
 * REST routes under /api/monitoring/: each runs the ContainerMonitoringOps
 * method of the same operation (router.c's table), with params made of
 * the query string and the path's :instanceId, so REST and JSON-RPC can
 * never disagree. docs/openapi.yaml describes them.
 *
 * Query values: limit, offset, afterSequence, untilSequence, afterId,
 * untilId, minLevel, maxLevel are numbers; total, force, confirm are
 * true/false/1/0; levels and streams are comma-separated lists;
 * format=ndjson streams logs (the logs routes only). A value that does
 * not parse is passed on as a string, so the method's own check answers
 * 400 naming it. A query longer than WHARFD_QUERY_MAX, a %00 in a key or
 * a value, a value (a list element included) that is not UTF-8, a key
 * given twice, a key the route's method does not take (methods_params.c)
 * or the path's instanceId again in the query is 400 invalid_params.
 *
 * Errors: -32602 -> 400 invalid_params (with "field"), -32001 -> 401
 * unauthorized, -32003 -> 403 forbidden, agent unreachable -> 502
 * agent_unreachable, another error of the agent -> 409 agent_error,
 * -32005 (process control for a worker the gateway does not route) ->
 * 404 worker_not_found, anything else -> 500 internal. getProcessStatus
 * of an unknown instance -> 404 not_found.
 */
#include "router.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logstream.h"
#include "methods.h"
#include "migrate.h"
#include "percent.h"
#include "wharfd.h"

/* Longest query string accepted. */
#define WHARFD_QUERY_MAX 4096

/* 200 {"status":"ok","database":"ok","schema_version":1,"version":"0.1.0"}
 * or, when the database does not answer a trivial query, 503 with
 * "status":"error","database":"error". */
void
wharfd_rest_health(struct wharfd_call *call, const struct wharfd_route *route,
                   const char *capture, const struct wharfd_http_request *req,
                   struct wharfd_http_response *resp)
{
    int version, ok;

    (void) req;
    (void) route;
    (void) capture;
    ok = wharfd_store_ping(call->wd->store, &version) == 0;
    if (!ok) {
        version = wharfd_schema_version_known();
    }
    (void) wharfd_http_json(resp, ok ? 200 : 503,
                            json_pack("{s:s,s:s,s:i,s:s}", "status",
                                      ok ? "ok" : "error", "database",
                                      ok ? "ok" : "error", "schema_version",
                                      version, "version", WHARFD_VERSION));
}

static int
key_in(const char *key, const char *const *list)
{
    size_t i;

    for (i = 0; list[i]; i++) {
        if (strcmp(key, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One query value as the JSON the method expects. */
static json_t *
query_value(const char *key, const char *val)
{
    static const char *const ints[] = {
        "limit",   "offset", "afterSequence", "untilSequence", "afterId",
        "untilId", NULL
    };
    static const char *const nums[] = { "minLevel", "maxLevel", NULL };
    static const char *const bools[] = { "total", "force", "confirm", NULL };
    static const char *const lists[] = { "levels", "streams", NULL };
    char *end;
    json_t *a;
    const char *p, *comma;

    if (key_in(key, ints) && *val) {
        long long v = strtoll(val, &end, 10);

        if (*end == '\0' && (*val == '-' || (*val >= '0' && *val <= '9'))) {
            return json_integer(v);
        }
    } else if (key_in(key, nums) && *val) {
        double d = strtod(val, &end);

        /* JSON has no nan or inf: those go on as strings, for the
         * method to refuse as not a number */
        if (*end == '\0' && isfinite(d)) {
            return json_real(d);
        }
    } else if (key_in(key, bools)) {
        if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0) {
            return json_true();
        }
        if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0) {
            return json_false();
        }
    } else if (key_in(key, lists)) {
        a = json_array();
        for (p = val; a != NULL && *p; p = comma ? comma + 1 : p + strlen(p)) {
            comma = strchr(p, ',');
            /* an element that is not UTF-8 fails the whole list (it was
             * dropped, silently, before: levels=error,%FF read "error") */
            if (json_array_append_new(
                    a,
                    json_stringn(p, comma ? (size_t) (comma - p) : strlen(p)))
                != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    return json_string(val);
}

/* Why a query string was refused: a message, and the key when there is
 * one (REST answers 400 invalid_params with it as "field"). */
struct query_error {
    char message[200];
    char field[64];
};

static int query_refuse(struct query_error *qe, const char *key,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
query_refuse(struct query_error *qe, const char *key, const char *fmt, ...)
{
    size_t n = key ? strlen(key) : 0;
    va_list ap;

    /* the key, cut on a character when it does not fit */
    if (n >= sizeof(qe->field)) {
        n = sizeof(qe->field) - 1;
        while (n > 0 && ((unsigned char) key[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(qe->field, key ? key : "", n);
    qe->field[n] = '\0';
    va_start(ap, fmt);
    vsnprintf(qe->message, sizeof(qe->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* One decoded key=value into obj, or -1 with qe filled. */
static int
query_param(json_t *obj, const struct wharfd_route *route, const char *key,
            const char *val, struct query_error *qe)
{
    json_t *v = json_string(key);

    /* a key that is not UTF-8 can be neither a params member nor named
     * in a JSON answer */
    if (v == NULL) {
        return query_refuse(qe, NULL, "a query key is not valid UTF-8");
    }
    json_decref(v);
    if (strcmp(key, "access_token") == 0) {
        return 0; /* the feed's and old clients' token, read by auth.c */
    }
    if (json_object_get(obj, key) != NULL
        || (strcmp(key, "format") == 0
            && json_object_get(obj, "stream") != NULL)) {
        return query_refuse(qe, key, "'%s' is given more than once", key);
    }
    if (strcmp(key, "format") == 0) {
        if (strcmp(route->rpc, "getLogs") != 0) {
            return query_refuse(qe, key,
                                "unknown parameter 'format' (only the logs "
                                "routes take it)");
        }
        if (strcmp(val, "json") != 0 && strcmp(val, "ndjson") != 0) {
            return query_refuse(qe, key, "'format' must be json or ndjson");
        }
        return json_object_set_new(obj, "stream",
                                   json_boolean(strcmp(val, "ndjson") == 0));
    }
    if (strcmp(key, "stream") == 0) {
        return query_refuse(qe, key,
                            "unknown parameter 'stream' (REST streams with "
                            "format=ndjson)");
    }
    if (route->capture_as != NULL && strcmp(key, route->capture_as) == 0) {
        return query_refuse(qe, key,
                            "'%s' is in the path; it cannot be in the "
                            "query too",
                            key);
    }
    v = query_value(key, val);
    if (v == NULL) {
        return query_refuse(qe, key, "the value of '%s' is not valid UTF-8",
                            key);
    }
    return json_object_set_new(obj, key, v);
}

/* The query string as the params of route's method; NULL with qe filled
 * when it is refused: too long, a %00, not UTF-8, a key given twice
 * (limit=1&limit=2 would silently be one of them), instanceId both in
 * the path and the query, a key without a name or too long to read,
 * format anywhere but the logs routes or other than json/ndjson, or
 * stream (REST streams with format=ndjson). Keys the method does not
 * take are refused by the method itself, naming them (methods_params.c). */
static json_t *
query_params(const char *q, const struct wharfd_route *route,
             struct query_error *qe)
{
    char key[128], *val;
    const char *p, *amp, *eq;
    json_t *obj;
    size_t n, kn;
    int rc = 0;

    memset(qe, 0, sizeof(*qe));
    if (strlen(q) > WHARFD_QUERY_MAX) {
        query_refuse(qe, NULL, "the query string is longer than %d bytes",
                     WHARFD_QUERY_MAX);
        return NULL;
    }
    obj = json_object();
    val = malloc(strlen(q) + 1);
    if (obj == NULL || val == NULL) {
        json_decref(obj);
        free(val);
        query_refuse(qe, NULL, "out of memory");
        return NULL;
    }
    for (p = q; rc == 0 && *p; p = amp ? amp + 1 : p + n) {
        amp = strchr(p, '&');
        n = amp ? (size_t) (amp - p) : strlen(p);
        eq = memchr(p, '=', n);
        kn = eq ? (size_t) (eq - p) : n;
        if (n == 0) {
            continue; /* "a=1&&b=2": an empty piece says nothing */
        }
        if (kn == 0) {
            rc = query_refuse(qe, NULL, "a query parameter has no name");
        } else if (kn >= sizeof(key)) {
            rc = query_refuse(qe, NULL, "a query key is longer than %zu bytes",
                              sizeof(key) - 1);
        } else if (wharf_percent_decode(p, kn, key, sizeof(key),
                                        WHARF_PERCENT_PLUS)
                       != (long) strlen(key)
                   || (eq
                       && wharf_percent_decode(eq + 1, n - kn - 1, val,
                                               strlen(q) + 1,
                                               WHARF_PERCENT_PLUS)
                           != (long) strlen(val))) {
            /* A %00 would cut the C string the params are made from, so
             * the bytes checked and the bytes sent would differ
             * (worker=demo%00x read as worker=demo). */
            rc = query_refuse(qe, NULL,
                              "a query key or value holds a NUL byte (%%00)");
        } else {
            if (!eq) {
                val[0] = '\0';
            }
            rc = query_param(obj, route, key, val, qe);
            if (rc != 0 && qe->message[0] == '\0') {
                query_refuse(qe, NULL, "out of memory");
            }
        }
    }
    free(val);
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* 400 invalid_params for a refused query, with its field when known. */
/* {"error":{"code","message","field"?}}. A message may quote the
 * client's key or an agent's text, cut anywhere: printable ASCII only, as
 * wharfd_http_error and the JSON-RPC errors write theirs, so the answer
 * is always JSON; the field keeps the key as it is (valid UTF-8, cut on a
 * character). */
static void
rest_error(struct wharfd_http_response *resp, int status, const char *code,
           const char *message, const char *field)
{
    char text[384];
    json_t *e;
    size_t i;

    for (i = 0; message[i] != '\0' && i + 1 < sizeof(text); i++) {
        text[i] = (unsigned char) message[i] < 0x20
                || (unsigned char) message[i] > 0x7e
            ? '?'
            : message[i];
    }
    text[i] = '\0';
    e = json_pack("{s:s,s:s}", "code", code, "message", text);
    if (e != NULL && field != NULL && field[0]) {
        json_object_set_new(e, "field", json_string(field));
    }
    (void) wharfd_http_json(resp, status, json_pack("{s:o}", "error", e));
}

static void
rest_rpc_error(const struct wharfd_call *call,
               struct wharfd_http_response *resp,
               const struct wharfd_rpc_error *err)
{
    int status;
    const char *code;

    switch (err->code) {
    case WHARFD_RPC_INVALID_PARAMS:
        status = 400;
        code = "invalid_params";
        break;
    case WHARFD_RPC_UNAUTHORIZED:
        status = 401;
        code = "unauthorized";
        break;
    case WHARFD_RPC_FORBIDDEN:
        status = 403;
        code = "forbidden";
        break;
    case WHARFD_RPC_WORKER_NOT_FOUND:
        status = 404;
        code = "worker_not_found";
        break;
    case 0:
    case WHARFD_RPC_INTERNAL_ERROR:
        if (strncmp(err->message, "agent unreachable", 17) == 0) {
            status = 502;
            code = "agent_unreachable";
        } else {
            status = 500;
            code = "internal";
        }
        break;
    default:
        status = 409;
        code = "agent_error";
    }
    rest_error(resp, status, code, err->message, err->field);
    if (status == 403) {
        wharfd_auth_challenge(call, "", resp->www_authenticate,
                              sizeof(resp->www_authenticate));
    }
}

void
wharfd_rest_method(struct wharfd_call *call, const struct wharfd_route *route,
                   const char *capture, const struct wharfd_http_request *req,
                   struct wharfd_http_response *resp)
{
    const struct wharfd_rpc_method *m;
    struct wharfd_rpc_error err;
    char name[96];
    struct query_error qe;
    json_t *params, *result = NULL;

    snprintf(name, sizeof(name), WHARFD_RPC_PREFIX "%s", route->rpc);
    m = wharfd_methods_lookup(name);
    params = query_params(req->query, route, &qe);
    if (params == NULL) {
        rest_error(resp, 400, "invalid_params", qe.message, qe.field);
        return;
    }
    if (route->capture_as != NULL) {
        json_object_set_new(params, route->capture_as, json_string(capture));
    }
    memset(&err, 0, sizeof(err));
    call->single = 1;
    call->want_raw = 1;
    if (m == NULL || m->fn(call, params, &result, &err) != 0) {
        if (m == NULL) {
            wharfd_rpc_set_error(&err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                 "no method %s", name);
        }
        json_decref(result);
        json_decref(params);
        wharfd_logstream_free(call->stream);
        call->stream = NULL;
        free(call->raw);
        call->raw = NULL;
        rest_rpc_error(call, resp, &err);
        return;
    }
    json_decref(params);
    if (call->raw != NULL) {
        /* A list written as text (jsonw.h). */
        json_decref(result);
        resp->status = 200;
        resp->content_type = "application/json";
        resp->body = call->raw;
        resp->body_len = call->raw_len;
        call->raw = NULL;
        return;
    }
    if (call->stream != NULL) {
        json_decref(result);
        wharfd_logstream_respond(resp, &call->stream);
        return;
    }
    if (json_is_null(result) && strcmp(route->rpc, "getProcessStatus") == 0) {
        json_decref(result);
        wharfd_http_error(resp, 404, "not_found", "no process %s", capture);
        return;
    }
    (void) wharfd_http_json(resp, 200, result);
}
