/* Process control over REST, JSON-RPC and /websocket: see api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "agent.h"
#include "auth.h"
#include "jsonrpc.h"
#include "log.h"
#include "proc.h"
#include "server.h"
#include "ship.h"
#include "token.h"

/* JSON-RPC error codes (common/jsonrpc.h); -32600 is also two
 * credentials (HTTP 400). */
#define RPC_INVALID_REQUEST WHARF_JSONRPC_INVALID_REQUEST
#define RPC_UNAUTHORIZED    WHARF_JSONRPC_UNAUTHORIZED
#define RPC_FORBIDDEN       WHARF_JSONRPC_FORBIDDEN
#define RPC_NOT_FOUND       WHARF_JSONRPC_NOT_FOUND
#define RPC_CONFLICT        WHARF_JSONRPC_CONFLICT

enum waiter_kind {
    WAIT_REST,
    WAIT_RPC,
    WAIT_WS
};

/* A request waiting for an instance's first output ("output" in api.h).
 * The API keeps them, per instance index, in agent->api_waiters; the
 * supervisor's hooks (main.c) bring it the lines and the ends of runs. */
struct agent_waiter {
    struct agent_waiter *next; /* of the same instance */
    struct agent *agent;
    struct agent_proc *proc;
    enum waiter_kind kind;
    unsigned status; /* REST: 200 or 201 */
    struct lws *wsi; /* NULL once the client left */
    struct agent_conn *conn;
    json_t *id;            /* RPC: the request's id */
    unsigned long min_run; /* lines of this run or later count */
    unsigned want;
    json_t *lines;
    uv_timer_t timer;
    int done;
};

/* --- replies ------------------------------------------------------------------ */

static int
reply_json(struct lws *wsi, unsigned status, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    unsigned char *buf;
    size_t len;

    json_decref(j);
    if (text == NULL) {
        return agent_http_error(wsi, 500, "internal", "cannot encode JSON",
                                NULL);
    }
    buf = agent_http_build(wsi, status, text, strlen(text), NULL, NULL, &len);
    free(text);
    if (buf == NULL) {
        return -1;
    }
    return agent_http_send(wsi, buf, len);
}

/* Keeps the answer until the connection is writable (a deferred reply). */
static void
defer_reply(struct lws *wsi, struct agent_conn *conn, unsigned status,
            json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (text == NULL) {
        text = strdup("{\"error\":{\"code\":\"internal\",\"message\":"
                      "\"cannot encode JSON\"}}");
        status = 500;
        if (text == NULL) {
            return;
        }
    }
    free(conn->reply);
    conn->reply = (char *) agent_http_build(wsi, status, text, strlen(text),
                                            NULL, NULL, &conn->reply_len);
    free(text);
    lws_callback_on_writable(wsi);
}

/* The envelope of common/jsonrpc.h: the message is the code's standard
 * text and the detail. */
static json_t *
rpc_error(json_t *id, int code, const char *detail)
{
    return wharf_jsonrpc_error(id, code, NULL, 0, detail);
}

static json_t *
rpc_result(json_t *id, json_t *result)
{
    return wharf_jsonrpc_result(id, result);
}

/* --- /websocket output queue -------------------------------------------------- */

static void
ws_send_text(struct agent_conn *c, const char *text, size_t len)
{
    struct agent_wsmsg *m;

    if (c->wsi == NULL || c->tty.closing) {
        return;
    }
    if (c->out_count >= AGENT_WS_QUEUE_MAX) {
        m = c->out_head;
        c->out_head = m->next;
        if (c->out_head == NULL) {
            c->out_tail = NULL;
        }
        c->out_count--;
        c->out_dropped++;
        free(m);
    }
    m = malloc(sizeof(*m) + LWS_PRE + len);
    if (m == NULL) {
        c->out_dropped++;
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, text, len);
    if (c->out_tail != NULL) {
        c->out_tail->next = m;
    } else {
        c->out_head = m;
    }
    c->out_tail = m;
    c->out_count++;
    lws_callback_on_writable(c->wsi);
}

static void
ws_send_json(struct agent_conn *c, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (text != NULL) {
        ws_send_text(c, text, strlen(text));
        free(text);
    }
}

static void
broadcast(struct agent *agent, const char *method, const json_t *params,
          int logs_only)
{
    struct agent_conn *c;
    json_t *n;
    char *text;

    if (agent->ws_conns == NULL) {
        return;
    }
    n = wharf_jsonrpc_call(-1, method, json_incref((json_t *) params));
    text = n != NULL ? json_dumps(n, JSON_COMPACT) : NULL;
    json_decref(n);
    if (text == NULL) {
        return;
    }
    for (c = agent->ws_conns; c != NULL; c = c->ws_next) {
        if (!logs_only || c->logs) {
            ws_send_text(c, text, strlen(text));
        }
    }
    free(text);
}

void
agent_api_broadcast_event(struct agent *agent, const json_t *ev)
{
    broadcast(agent, "event", ev, 0);
}

void
agent_api_broadcast_error(struct agent *agent, struct agent_proc *p,
                          const json_t *err)
{
    json_t *e;

    if (agent->ws_conns == NULL) {
        return;
    }
    e = json_deep_copy(err);
    if (e != NULL) {
        json_object_set_new(e, "instanceId", json_string(p->spec.id));
        broadcast(agent, "error", e, 0);
        json_decref(e);
    }
}

/* --- waiters (first output) --------------------------------------------------- */

static void
waiter_closed(uv_handle_t *h)
{
    struct agent_waiter *w = h->data;

    json_decref(w->id);
    json_decref(w->lines);
    free(w);
}

static void
waiter_unlink(struct agent_waiter *w)
{
    struct agent_waiter **pp;

    for (pp = &w->agent->api_waiters[w->proc->index]; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    if (w->conn != NULL && w->conn->waiter == w) {
        w->conn->waiter = NULL;
    }
}

static void
waiter_finish(struct agent_waiter *w)
{
    json_t *result;

    if (w->done) {
        return;
    }
    w->done = 1;
    uv_timer_stop(&w->timer);
    waiter_unlink(w);
    if (w->wsi != NULL) {
        result = json_pack("{s:o,s:O}", "process", agent_proc_json(w->proc),
                           "output", w->lines);
        switch (w->kind) {
        case WAIT_REST:
            defer_reply(w->wsi, w->conn, w->status, result);
            break;
        case WAIT_RPC:
            defer_reply(w->wsi, w->conn, 200, rpc_result(w->id, result));
            break;
        case WAIT_WS:
            ws_send_json(w->conn, rpc_result(w->id, result));
            break;
        }
    }
    uv_close((uv_handle_t *) &w->timer, waiter_closed);
}

static void
on_waiter_timeout(uv_timer_t *t)
{
    waiter_finish(t->data);
}

/* A line as the "output" and "log" messages carry it. */
static json_t *
line_params(const struct agent_proc *p, int stream, uint64_t seq,
            enum agent_level level, const char *line, size_t len)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:s%}", "instanceId", p->spec.id,
                     "stream", stream ? "stderr" : "stdout", "sequence",
                     (json_int_t) seq, "level", agent_level_name(level),
                     "message", line, len);
}

void
agent_api_on_line(struct agent *agent, struct agent_proc *p, int stream,
                  uint64_t seq, enum agent_level level, const char *line,
                  size_t len)
{
    struct agent_waiter *w, *next;
    json_t *params = NULL;

    if (agent->api_line_listeners == 0
        && agent->api_waiters[p->index] == NULL) {
        return; /* nobody asked: the common case, kept cheap */
    }
    for (w = agent->api_waiters[p->index]; w != NULL; w = next) {
        next = w->next;
        if (p->runs < w->min_run) {
            continue;
        }
        if (params == NULL) {
            params = line_params(p, stream, seq, level, line, len);
            if (params == NULL) {
                return; /* out of memory: skipped here, shipped anyway */
            }
        }
        json_array_append(w->lines, params);
        if (w->kind == WAIT_WS && w->wsi != NULL) {
            ws_send_json(w->conn,
                         wharf_jsonrpc_call(-1, "output", json_incref(params)));
        }
        if (json_array_size(w->lines) >= w->want) {
            waiter_finish(w);
        }
    }
    if (agent->api_line_listeners > 0) {
        if (params == NULL) {
            params = line_params(p, stream, seq, level, line, len);
        }
        if (params != NULL) {
            broadcast(agent, "log", params, 1);
        }
    }
    json_decref(params);
}

void
agent_api_proc_ended(struct agent *agent, struct agent_proc *p)
{
    struct agent_waiter *w, *next;

    for (w = agent->api_waiters[p->index]; w != NULL; w = next) {
        next = w->next;
        if (p->runs >= w->min_run) {
            waiter_finish(w);
        }
    }
}

/* Parses "output": {lines, timeoutMs}. Returns 0 (want = 0: not asked). */
static int
parse_output(json_t *params, unsigned *want, unsigned *timeout_ms,
             const char **why)
{
    json_t *o = json_object_get(params, "output"), *l, *t;

    *want = 0;
    *timeout_ms = 5000;
    if (o == NULL || json_is_null(o) || json_is_false(o)) {
        return 0;
    }
    if (json_is_true(o)) {
        *want = 20;
        return 0;
    }
    l = json_object_get(o, "lines");
    t = json_object_get(o, "timeoutMs");
    if (!json_is_object(o)
        || (l != NULL
            && (!json_is_integer(l) || json_integer_value(l) < 1
                || json_integer_value(l) > AGENT_OUTPUT_LINES_MAX))
        || (t != NULL
            && (!json_is_integer(t) || json_integer_value(t) < 0
                || json_integer_value(t) > AGENT_OUTPUT_TIMEOUT_MAX_MS))) {
        *why = "output must be true or {\"lines\": 1..1000, \"timeoutMs\": "
               "0..60000}";
        return -1;
    }
    *want = l != NULL ? (unsigned) json_integer_value(l) : 20;
    if (t != NULL) {
        *timeout_ms = (unsigned) json_integer_value(t);
    }
    return 0;
}

static struct agent_waiter *
waiter_new(struct agent *agent, struct agent_proc *p, enum waiter_kind kind,
           struct lws *wsi, struct agent_conn *conn, json_t *id, unsigned want,
           unsigned timeout_ms, unsigned long min_run)
{
    struct agent_waiter *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->agent = agent;
    w->proc = p;
    w->kind = kind;
    w->status = 200;
    w->wsi = wsi;
    w->conn = conn;
    w->id = id != NULL ? json_incref(id) : json_null();
    w->want = want;
    w->min_run = min_run;
    w->lines = json_array();
    uv_timer_init(&agent->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_waiter_timeout, timeout_ms, 0);
    w->next = agent->api_waiters[p->index];
    agent->api_waiters[p->index] = w;
    if (kind != WAIT_WS) {
        conn->waiter = w;
    }
    return w;
}

/* --- operations ----------------------------------------------------------------- */

enum op {
    OP_START,
    OP_STOP,
    OP_RESTART,
    OP_STATUS,
    OP_LIST,
    OP_CREATE,
    OP_SUBSCRIBE
};

static const struct {
    const char *name;
    enum op op;
    unsigned scope;
} methods[] = {
    { "startProcess", OP_START, WHARF_SCOPE_CONTROL },
    { "stopProcess", OP_STOP, WHARF_SCOPE_CONTROL },
    { "restartProcess", OP_RESTART, WHARF_SCOPE_CONTROL },
    { "getProcessStatus", OP_STATUS, WHARF_SCOPE_READ },
    { "getProcess", OP_STATUS, WHARF_SCOPE_READ },
    { "listProcesses", OP_LIST, WHARF_SCOPE_READ },
    { "getProcesses", OP_LIST, WHARF_SCOPE_READ },
    { "createProcess", OP_CREATE, WHARF_SCOPE_CONTROL },
    { "subscribe", OP_SUBSCRIBE, WHARF_SCOPE_READ },
};

/* The outcome of an operation, whichever API asked. */
struct outcome {
    int http; /* 200, 201, 400, 404, 409, 500 */
    int rpc;  /* 0 or a JSON-RPC error code */
    char msg[256];
    json_t *result; /* on success, unless a waiter answers */
    struct agent_waiter *waiter;
};

struct asker {
    enum waiter_kind kind;
    struct lws *wsi;
    struct agent_conn *conn;
    json_t *id;
};

static void
outcome_fail(struct outcome *o, int http, int rpc, const char *msg)
{
    o->http = http;
    o->rpc = rpc;
    snprintf(o->msg, sizeof(o->msg), "%s", msg);
}

static void
run_op(struct agent *agent, enum op op, json_t *params, const struct asker *who,
       struct outcome *o)
{
    struct agent_proc_spec spec;
    struct agent_proc *p = NULL;
    const char *why = NULL, *id;
    unsigned want, timeout_ms, i;
    unsigned long min_run;
    char err[256];
    int rc = 0, force, start = 1;
    json_t *list;

    memset(o, 0, sizeof(*o));
    o->http = 200;
    if (params == NULL) {
        params = json_object();
    } else {
        json_incref(params);
    }
    if (!json_is_object(params)) {
        outcome_fail(o, 400, WHARF_JSONRPC_INVALID_PARAMS,
                     "params must be an object");
        goto out;
    }
    if (op == OP_LIST) {
        list = json_array();
        for (i = 0; i < agent->sup.nprocs; i++) {
            json_array_append_new(list, agent_proc_json(agent->sup.procs[i]));
        }
        o->result = json_pack("{s:o}", "processes", list);
        goto out;
    }
    if (op == OP_SUBSCRIBE) {
        if (who->kind != WAIT_WS) {
            outcome_fail(o, 400, WHARF_JSONRPC_METHOD_NOT_FOUND,
                         "subscribe is for /websocket");
            goto out;
        }
        if (json_is_true(json_object_get(params, "logs")) != who->conn->logs) {
            who->conn->logs = !who->conn->logs;
            agent->api_line_listeners += who->conn->logs ? 1 : -1;
        }
        o->result = json_pack("{s:b}", "logs", who->conn->logs);
        goto out;
    }
    if (parse_output(params, &want, &timeout_ms, &why) != 0) {
        outcome_fail(o, 400, WHARF_JSONRPC_INVALID_PARAMS, why);
        goto out;
    }
    if (op == OP_CREATE) {
        json_t *s = json_object_get(params, "start");

        if (agent_proc_spec_from_json(params, &spec, err, sizeof(err)) != 0) {
            outcome_fail(o, 400, WHARF_JSONRPC_INVALID_PARAMS, err);
            goto out;
        }
        if (s != NULL && !json_is_boolean(s)) {
            agent_proc_spec_free(&spec);
            outcome_fail(o, 400, WHARF_JSONRPC_INVALID_PARAMS,
                         "start must be true or false");
            goto out;
        }
        start = s == NULL || json_is_true(s);
        p = agent_proc_create(&agent->sup, &spec, err, sizeof(err));
        if (p == NULL) {
            agent_proc_spec_free(&spec);
            outcome_fail(o, strstr(err, "exists") ? 409 : 400,
                         strstr(err, "exists") ? RPC_CONFLICT
                                               : WHARF_JSONRPC_INVALID_PARAMS,
                         err);
            goto out;
        }
        o->http = 201;
        wharf_info("process %s: created over the API", p->spec.id);
        if (!start) {
            o->result = json_pack("{s:o}", "process", agent_proc_json(p));
            goto out;
        }
        op = OP_START;
    } else {
        id = json_string_value(json_object_get(params, "instanceId"));
        if (id == NULL) {
            outcome_fail(o, 400, WHARF_JSONRPC_INVALID_PARAMS,
                         "instanceId is required");
            goto out;
        }
        p = agent_proc_find(&agent->sup, id);
        if (p == NULL) {
            outcome_fail(o, 404, RPC_NOT_FOUND, "no such instance");
            goto out;
        }
    }
    if (op == OP_STATUS) {
        o->result = agent_proc_json(p);
        goto out;
    }
    force = json_is_true(json_object_get(params, "force"));
    min_run = p->runs + 1;
    switch (op) {
    case OP_START:
        rc = agent_proc_start(p, 1, err, sizeof(err));
        min_run = p->runs;
        break;
    case OP_STOP:
        rc = agent_proc_stop(p, force, err, sizeof(err));
        want = 0;
        break;
    case OP_RESTART:
        rc = agent_proc_restart(p, err, sizeof(err));
        if (p->state == AGENT_PS_RUNNING) {
            min_run = p->runs;
        }
        break;
    default:
        break;
    }
    if (rc != 0) {
        int conflict = strncmp(err, "Cannot", 6) == 0;

        outcome_fail(o, conflict ? 409 : 500,
                     conflict ? RPC_CONFLICT : WHARF_JSONRPC_INTERNAL_ERROR,
                     err);
        goto out;
    }
    if (want > 0 && who->wsi != NULL) {
        o->waiter = waiter_new(agent, p, who->kind, who->wsi, who->conn,
                               who->id, want, timeout_ms, min_run);
        if (o->waiter != NULL) {
            o->waiter->status = (unsigned) o->http;
            if (p->state != AGENT_PS_RUNNING && p->state != AGENT_PS_STOPPING
                && p->runs >= min_run) {
                waiter_finish(o->waiter); /* it has ended already */
            }
            goto out;
        }
    }
    o->result = json_pack("{s:o}", "process", agent_proc_json(p));
out:
    json_decref(params);
}

/* One JSON-RPC request object -> its response (NULL: a notification, or a
 * waiter answers later and *deferred is set). */
static json_t *
rpc_one(struct agent *agent, json_t *req, unsigned scopes, struct asker *who,
        int allow_wait, int *deferred)
{
    struct wharf_jsonrpc_request rq;
    const char *method, *why;
    json_t *id, *resp;
    struct outcome o;
    size_t i;
    int is_notification;
    struct asker me = *who;

    /* "jsonrpc": "2.0" is required, as wharfd's /rpc and the feed
     * require it (it was optional here before issue 17) */
    if (wharf_jsonrpc_check(req, &rq, &why) != 0) {
        return rpc_error(rq.id, WHARF_JSONRPC_INVALID_REQUEST, why);
    }
    id = rq.id;
    is_notification = id == NULL;
    method = wharf_jsonrpc_short_name(rq.method);
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(methods[i].name, method) == 0) {
            break;
        }
    }
    if (i == sizeof(methods) / sizeof(methods[0])) {
        return is_notification
            ? NULL
            : rpc_error(id, WHARF_JSONRPC_METHOD_NOT_FOUND, method);
    }
    if (!(scopes & methods[i].scope)) {
        return is_notification
            ? NULL
            : rpc_error(id, RPC_FORBIDDEN,
                        "the token lacks the scope of this method");
    }
    me.id = id;
    if (!allow_wait) {
        me.wsi = NULL;
    }
    run_op(agent, methods[i].op, rq.params, &me, &o);
    if (o.waiter != NULL) {
        *deferred = 1;
        return NULL;
    }
    if (o.rpc != 0) {
        resp = rpc_error(id, o.rpc, o.msg);
    } else {
        resp = rpc_result(id, o.result);
        o.result = NULL;
    }
    json_decref(o.result);
    if (is_notification) {
        json_decref(resp);
        return NULL;
    }
    return resp;
}

/* A JSON-RPC payload (single or batch). Returns the response, or NULL. */
static json_t *
rpc_payload(struct agent *agent, const char *text, size_t len, unsigned scopes,
            struct asker *who, int *deferred)
{
    char why[JSON_ERROR_TEXT_LENGTH + 64];
    json_t *req = wharf_jsonrpc_parse(text, len, 0, why, sizeof(why)), *out, *r,
           *item;
    size_t i;

    *deferred = 0;
    if (req == NULL) {
        return rpc_error(NULL, WHARF_JSONRPC_PARSE_ERROR, why);
    }
    if (json_is_array(req)) {
        if (json_array_size(req) == 0) {
            json_decref(req);
            return rpc_error(NULL, WHARF_JSONRPC_INVALID_REQUEST,
                             "empty batch");
        }
        out = json_array();
        json_array_foreach (req, i, item) {
            int d = 0;

            r = rpc_one(agent, item, scopes, who, 0, &d);
            if (r != NULL) {
                json_array_append_new(out, r);
            }
        }
        json_decref(req);
        if (json_array_size(out) == 0) {
            json_decref(out);
            return NULL;
        }
        return out;
    }
    r = rpc_one(agent, req, scopes, who, 1, deferred);
    json_decref(req);
    return r;
}

/* --- HTTP --------------------------------------------------------------------- */

/* /processes[/ID[/ACTION]] -> 0 with id/action (may be empty), -1 else. */
static int
split_path(const char *path, char *id, size_t idsz, char *action, size_t actsz)
{
    const char *p = path + strlen("/processes"), *slash;

    id[0] = action[0] = '\0';
    if (*p == '\0' || (p[0] == '/' && p[1] == '\0')) {
        return 0;
    }
    if (*p != '/') {
        return -1;
    }
    p++;
    slash = strchr(p, '/');
    if (slash == NULL) {
        if (strlen(p) >= idsz) {
            return -1;
        }
        snprintf(id, idsz, "%s", p);
        return 0;
    }
    if ((size_t) (slash - p) >= idsz || strlen(slash + 1) >= actsz
        || strchr(slash + 1, '/') != NULL) {
        return -1;
    }
    snprintf(id, idsz, "%.*s", (int) (slash - p), p);
    snprintf(action, actsz, "%s", slash + 1);
    return 0;
}

static const char *
http_code(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "body_too_large";
    default:
        return "internal";
    }
}

static int
http_fail(struct lws *wsi, int status, const char *msg)
{
    return agent_http_error(wsi, (unsigned) status, http_code(status), msg,
                            NULL);
}

/* Serves a complete request (body read). */
static int
serve(struct agent *agent, struct lws *wsi, struct agent_conn *conn)
{
    char id[AGENT_INSTANCE_ID_MAX + 2], action[16];
    struct asker who = { WAIT_REST, wsi, conn, NULL };
    struct outcome o;
    json_t *params = NULL, *resp;
    enum op op;
    int deferred = 0, rc;
    unsigned need;

    if (conn->body_too_big) {
        return http_fail(wsi, 413, "the request body is too large");
    }
    if (strcmp(conn->path, "/rpc") == 0) {
        if (conn->method != LWSHUMETH_POST) {
            return agent_http_error(wsi, 405, "method_not_allowed", "POST only",
                                    "POST");
        }
        if (conn->auth_status != 0) {
            return reply_json(
                wsi, (unsigned) conn->auth_status,
                rpc_error(NULL,
                          conn->auth_status == 400       ? RPC_INVALID_REQUEST
                              : conn->auth_status == 401 ? RPC_UNAUTHORIZED
                                                         : RPC_FORBIDDEN,
                          conn->auth_why));
        }
        who.kind = WAIT_RPC;
        resp = rpc_payload(agent, conn->body ? conn->body : "", conn->body_len,
                           conn->scopes, &who, &deferred);
        if (deferred) {
            return 0;
        }
        if (resp == NULL) {
            return agent_http_reply(wsi, 204, "", 0, NULL);
        }
        return reply_json(wsi, 200, resp);
    }
    if (split_path(conn->path, id, sizeof(id), action, sizeof(action)) != 0) {
        return http_fail(wsi, 404, "no such path");
    }
    if (conn->method == LWSHUMETH_GET && action[0] == '\0') {
        op = id[0] ? OP_STATUS : OP_LIST;
        need = WHARF_SCOPE_READ;
    } else if (conn->method == LWSHUMETH_POST) {
        need = WHARF_SCOPE_CONTROL;
        if (id[0] == '\0') {
            op = OP_CREATE;
        } else if (strcmp(action, "start") == 0) {
            op = OP_START;
        } else if (strcmp(action, "stop") == 0) {
            op = OP_STOP;
        } else if (strcmp(action, "restart") == 0) {
            op = OP_RESTART;
        } else {
            return http_fail(wsi, 404,
                             "no such action (start, stop, "
                             "restart)");
        }
    } else {
        return agent_http_error(wsi, 405, "method_not_allowed",
                                "method not allowed on this path",
                                action[0] || !id[0] ? "POST" : "GET");
    }
    if (conn->auth_status != 0) {
        return agent_http_error(wsi, (unsigned) conn->auth_status,
                                agent_auth_code(conn->auth_status),
                                conn->auth_why, NULL);
    }
    if (!(conn->scopes & need)) {
        return http_fail(wsi, 403,
                         need == WHARF_SCOPE_CONTROL
                             ? "this route needs scope control"
                             : "this route needs scope read");
    }
    if (conn->body_len > 0) {
        params = json_loadb(conn->body, conn->body_len, JSON_REJECT_DUPLICATES,
                            NULL);
        if (!json_is_object(params)) {
            json_decref(params);
            return http_fail(wsi, 400, "the body must be a JSON object");
        }
    } else {
        params = json_object();
    }
    if (id[0] != '\0') {
        json_object_set_new(params, "instanceId", json_string(id));
    }
    run_op(agent, op, params, &who, &o);
    json_decref(params);
    if (o.waiter != NULL) {
        return 0;
    }
    if (o.rpc != 0) {
        return http_fail(wsi, o.http, o.msg);
    }
    if (op == OP_STATUS) {
        return reply_json(wsi, 200, o.result);
    }
    rc = reply_json(wsi, (unsigned) o.http, o.result);
    return rc;
}

int
agent_api_http(struct agent *agent, struct lws *wsi, struct agent_conn *conn,
               const char *path)
{
    char *uri;
    int uri_len, clen;
    char buf[32];
    unsigned scope;

    conn->method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    snprintf(conn->path, sizeof(conn->path), "%s", path);
    free(conn->body);
    conn->body = NULL;
    conn->body_len = 0;
    conn->body_too_big = 0;
    /* Read routes want read, the rest control; /rpc checks per method. */
    scope = conn->method == LWSHUMETH_GET || strcmp(path, "/rpc") == 0
        ? WHARF_SCOPE_READ
        : WHARF_SCOPE_CONTROL;
    if (strcmp(path, "/rpc") == 0 && agent->cfg.insecure_no_auth == 0) {
        /* any valid token for this worker; methods check their scope */
        scope = 0;
    }
    conn->auth_why = NULL;
    conn->auth_status =
        agent_auth_check(agent, wsi, scope, &conn->scopes, &conn->auth_why);
    clen =
        lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0
        ? atoi(buf)
        : 0;
    if (conn->method == LWSHUMETH_POST && clen > 0) {
        if ((size_t) clen > AGENT_API_BODY_MAX) {
            conn->body_too_big = 1;
            return serve(agent, wsi, conn);
        }
        return 0; /* LWS_CALLBACK_HTTP_BODY follows */
    }
    return serve(agent, wsi, conn);
}

/* --- /websocket --------------------------------------------------------------- */

static void
ws_close(struct lws *wsi, struct agent_conn *c, unsigned code)
{
    if (c->tty.closing) {
        return;
    }
    c->tty.closing = 1;
    /* see terminal.c's ws_close(): closes go through the lws timer */
    lws_close_reason(wsi, (enum lws_close_status) code, NULL, 0);
    lws_set_timer_usecs(wsi, 1);
    lws_callback_on_writable(wsi);
}

static void
ws_message(struct agent *agent, struct agent_conn *c)
{
    struct asker who = { WAIT_WS, c->wsi, c, NULL };
    int deferred;
    json_t *resp;

    resp = rpc_payload(agent, c->rx, c->rx_len, c->scopes, &who, &deferred);
    if (resp != NULL) {
        ws_send_json(c, resp);
    }
}

static void
ws_detach(struct agent *agent, struct agent_conn *c)
{
    struct agent_wsmsg *m;
    unsigned i;

    if (c->wsi == NULL) {
        return;
    }
    if (c->ws_prev != NULL) {
        c->ws_prev->ws_next = c->ws_next;
    } else {
        agent->ws_conns = c->ws_next;
    }
    if (c->ws_next != NULL) {
        c->ws_next->ws_prev = c->ws_prev;
    }
    if (c->logs) {
        agent->api_line_listeners--;
        c->logs = 0;
    }
    /* waiters of this connection answer nobody */
    for (i = 0; i < agent->sup.nprocs; i++) {
        struct agent_waiter *w;

        for (w = agent->api_waiters[i]; w != NULL; w = w->next) {
            if (w->conn == c) {
                w->wsi = NULL;
                w->conn = NULL;
            }
        }
    }
    while ((m = c->out_head) != NULL) {
        c->out_head = m->next;
        free(m);
    }
    c->out_tail = NULL;
    c->out_count = 0;
    free(c->rx);
    c->rx = NULL;
    c->wsi = NULL;
    if (c->tty.counted) {
        c->tty.counted = 0;
        agent->ws_open--;
    }
}

static int
ws_callback(struct agent *agent, struct lws *wsi, int reason,
            struct agent_conn *c, void *in, size_t len)
{
    const char *why = NULL;
    struct agent_wsmsg *m;
    int n;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        c->kind = AGENT_CONN_EVENTS;
        c->wsi = wsi;
        c->tty.counted = 1;
        agent->ws_open++;
        c->ws_next = agent->ws_conns;
        c->ws_prev = NULL;
        if (c->ws_next != NULL) {
            c->ws_next->ws_prev = c;
        }
        agent->ws_conns = c;
        if (agent_auth_check(agent, wsi, WHARF_SCOPE_READ, &c->scopes, &why)
                != 0
            || agent->shutdown_stage != 0) {
            ws_close(wsi, c, agent->shutdown_stage ? 1001 : 1008);
        }
        return 0;
    case LWS_CALLBACK_TIMER:
        return c->tty.closing ? -1 : 0;
    case LWS_CALLBACK_RECEIVE:
        if (c->tty.closing) {
            return 0;
        }
        if (!c->rx_overflow) {
            if (c->rx_len + len > AGENT_API_BODY_MAX) {
                c->rx_overflow = 1;
            } else {
                char *bigger = realloc(c->rx, c->rx_len + len + 1);

                if (bigger == NULL) {
                    c->rx_overflow = 1;
                } else {
                    c->rx = bigger;
                    memcpy(c->rx + c->rx_len, in, len);
                    c->rx_len += len;
                }
            }
        }
        if (!lws_is_final_fragment(wsi)) {
            return 0;
        }
        if (c->rx_overflow) {
            ws_close(wsi, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
        } else {
            ws_message(agent, c);
        }
        c->rx_len = 0;
        c->rx_overflow = 0;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c->tty.closing) {
            return 0;
        }
        if (c->out_dropped > 0) {
            char note[128];

            n = snprintf(note, sizeof(note),
                         "{\"jsonrpc\":\"2.0\",\"method\":"
                         "\"dropped\",\"params\":{\"count\":%lu}}",
                         c->out_dropped);
            c->out_dropped = 0;
            ws_send_text(c, note, (size_t) n);
        }
        if ((m = c->out_head) == NULL) {
            return 0;
        }
        c->out_head = m->next;
        if (c->out_head == NULL) {
            c->out_tail = NULL;
        }
        c->out_count--;
        n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
        free(m);
        if (n < 0) {
            return -1;
        }
        if (c->out_head != NULL) {
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        ws_detach(agent, c);
        return 0;
    default:
        return 0;
    }
}

/* --- the callback --------------------------------------------------------------- */

static void
http_cleanup(struct agent_conn *conn)
{
    if (conn->waiter != NULL) {
        conn->waiter->wsi = NULL;
        conn->waiter->conn = NULL;
        conn->waiter = NULL;
    }
    free(conn->body);
    conn->body = NULL;
    conn->body_len = 0;
    free(conn->reply);
    conn->reply = NULL;
}

int
agent_api_callback(struct lws *wsi, int reason, struct agent_conn *conn,
                   void *in, size_t len)
{
    struct agent *agent = agent_from_lws_context(lws_get_context(wsi));
    unsigned char *r;
    size_t rl;

    if (conn == NULL) {
        return 0;
    }
    if (conn->kind == AGENT_CONN_EVENTS || reason == LWS_CALLBACK_ESTABLISHED) {
        return ws_callback(agent, wsi, reason, conn, in, len);
    }
    switch (reason) {
    case LWS_CALLBACK_HTTP_BODY:
        if (conn->body_too_big) {
            return 0;
        }
        if (conn->body_len + len > AGENT_API_BODY_MAX) {
            conn->body_too_big = 1;
            return 0;
        } else {
            char *bigger = realloc(conn->body, conn->body_len + len + 1);

            if (bigger == NULL) {
                conn->body_too_big = 1;
                return 0;
            }
            conn->body = bigger;
            memcpy(conn->body + conn->body_len, in, len);
            conn->body_len += len;
            conn->body[conn->body_len] = '\0';
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return serve(agent, wsi, conn);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (conn->reply == NULL) {
            return 0;
        }
        r = (unsigned char *) conn->reply;
        rl = conn->reply_len;
        conn->reply = NULL;
        return agent_http_send(wsi, r, rl);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_WSI_DESTROY:
        http_cleanup(conn);
        return 0;
    default:
        return 0;
    }
}

void
agent_api_shutdown(struct agent *agent)
{
    struct agent_conn *c;

    for (c = agent->ws_conns; c != NULL; c = c->ws_next) {
        ws_close(c->wsi, c, LWS_CLOSE_STATUS_GOINGAWAY);
    }
}

void
agent_api_close(struct agent *agent)
{
    unsigned i;

    for (i = 0; i < agent->sup.nprocs; i++) {
        while (agent->api_waiters[i] != NULL) {
            struct agent_waiter *w = agent->api_waiters[i];

            w->wsi = NULL;
            waiter_finish(w);
        }
    }
}
