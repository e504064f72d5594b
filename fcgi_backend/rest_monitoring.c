/*
 * REST routes under /api/monitoring/: each runs the ContainerMonitoringOps
 * method of the same operation (router.c's table), with params made of
 * the query string and the path's :instanceId, so REST and JSON-RPC can
 * never disagree. docs/openapi.yaml describes them.
 *
 * Query values: limit, offset, afterSequence, minLevel, maxLevel are
 * numbers; total, force, confirm are true/false/1/0; levels and streams
 * are comma-separated lists; format=ndjson streams logs. A value that does
 * not parse is passed on as a string, so the method's own check answers
 * 400 naming it. A query longer than WHARFD_QUERY_MAX, a %00 in a key or a
 * value, or a value (a list element included) that is not UTF-8 is 400
 * invalid_params.
 *
 * Errors: -32602 -> 400 invalid_params (with "field"), -32001 -> 401
 * unauthorized, -32003 -> 403 forbidden, agent unreachable -> 502
 * agent_unreachable, another error of the agent -> 409 agent_error,
 * anything else -> 500 internal. getProcessStatus of an unknown
 * instance -> 404 not_found.
 */
#include "router.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logstream.h"
#include "methods.h"
#include "migrate.h"
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
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes [s, s+n) in place into out ('+' is a space); returns
 * the decoded length, which differs from strlen(out) when a %00 was
 * decoded. */
static size_t
decode(const char *s, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0
                   && hexval(s[i + 2]) >= 0) {
            out[o++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
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
    static const char *const ints[] = { "limit", "offset", "afterSequence",
                                        NULL };
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

/* The query string as a params object; NULL with *bad set when the
 * query is too long or not UTF-8. */
static json_t *
query_params(const char *q, const char **bad)
{
    char key[128], *val;
    const char *p, *amp, *eq;
    json_t *obj = json_object(), *v;
    size_t n, kn;

    *bad = NULL;
    if (strlen(q) > WHARFD_QUERY_MAX) {
        *bad = "the query string is too long";
        json_decref(obj);
        return NULL;
    }
    val = malloc(strlen(q) + 1);
    for (p = q; obj != NULL && val != NULL && *p; p = amp ? amp + 1 : p + n) {
        amp = strchr(p, '&');
        n = amp ? (size_t) (amp - p) : strlen(p);
        eq = memchr(p, '=', n);
        kn = eq ? (size_t) (eq - p) : n;
        if (kn == 0 || kn >= sizeof(key)) {
            continue;
        }
        /* A %00 would cut the C string the params are made from, so the
         * bytes checked and the bytes sent would differ (worker=demo%00x
         * read as worker=demo). */
        if (decode(p, kn, key) != strlen(key)
            || (eq && decode(eq + 1, n - kn - 1, val) != strlen(val))) {
            *bad = "a query key or value holds a NUL byte (%00)";
            break;
        }
        if (!eq) {
            val[0] = '\0';
        }
        if (strcmp(key, "access_token") == 0) {
            continue;
        }
        if (strcmp(key, "format") == 0) {
            if (strcmp(val, "ndjson") == 0) {
                json_object_set_new(obj, "stream", json_true());
            } else if (strcmp(val, "json") != 0) {
                *bad = "format must be json or ndjson";
                break;
            }
            continue;
        }
        v = query_value(key, val);
        if (v == NULL) {
            *bad = "a query value is not valid UTF-8";
            break;
        }
        json_object_set_new(obj, key, v);
    }
    free(val);
    if (*bad != NULL || val == NULL) {
        if (*bad == NULL) {
            *bad = "out of memory";
        }
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static void
rest_rpc_error(const struct wharfd_call *call,
               struct wharfd_http_response *resp,
               const struct wharfd_rpc_error *err)
{
    json_t *e;
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
    e = json_pack("{s:s,s:s}", "code", code, "message", err->message);
    if (e != NULL && err->field[0]) {
        json_object_set_new(e, "field", json_string(err->field));
    }
    (void) wharfd_http_json(resp, status, json_pack("{s:o}", "error", e));
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
    const char *bad;
    json_t *params, *result = NULL;

    snprintf(name, sizeof(name), WHARFD_RPC_PREFIX "%s", route->rpc);
    m = wharfd_methods_lookup(name);
    params = query_params(req->query, &bad);
    if (params == NULL) {
        wharfd_http_error(resp, 400, "invalid_params", "%s", bad);
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
        resp->status = 200;
        resp->content_type = "application/x-ndjson";
        resp->stream = wharfd_logstream_run;
        resp->stream_arg = call->stream;
        resp->stream_free = wharfd_logstream_free;
        call->stream = NULL;
        return;
    }
    if (json_is_null(result) && strcmp(route->rpc, "getProcessStatus") == 0) {
        json_decref(result);
        wharfd_http_error(resp, 404, "not_found", "no process %s", capture);
        return;
    }
    (void) wharfd_http_json(resp, 200, result);
}
