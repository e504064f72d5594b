/*
 * The live feed on libwebsockets (design in feed.h). Threads:
 *  - the feed thread runs lws_service: handshakes, frames in, frames out;
 *  - the writer thread (store.c) calls wharfd_feed_publish after each commit:
 *    it appends to the clients' queues under the feed lock and wakes the
 *    feed thread with lws_cancel_service (the one lws call that is safe
 *    from another thread);
 *  - control requests run on short-lived threads of their own and queue
 *    their answer the same way.
 * A client is found by its id, never by a pointer kept across threads.
 */
#include "feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "auth.h"
#include "feed_door.h"
#include "http.h"
#include "log.h"
#include "origin.h"
#include "methods.h"
#include "wharfd.h"

#define KIND_LOG     (1u << 0)
#define KIND_ERROR   (1u << 1)
#define KIND_PROCESS (1u << 2)
#define KIND_EVENT   (1u << 3)

/* One serialised message, shared by every client it goes to. */
struct feed_msg {
    atomic_int refs;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes, then the text */
};

struct feed_client {
    struct lws *wsi;
    unsigned long long id;
    struct wharf_claims claims;
    char token[WHARF_TOKEN_MAX + 1]; /* relayed by process control */
    int subscribed;
    unsigned kinds;
    char worker[WHARF_NAME_MAX + 1];
    char container[WHARFD_NAME_FIELD_MAX + 1];
    char instance[WHARFD_INSTANCE_MAX + 1];
    struct feed_msg **q; /* ring of cap messages */
    size_t cap, head, len;
    unsigned long long missed;
    char *in; /* a frame being received */
    size_t inlen;
    struct feed_client *next;
};

static void
msg_unref(struct feed_msg *m)
{
    if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1) {
        free(m);
    }
}

static struct feed_msg *
msg_new(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    struct feed_msg *m;
    size_t n;

    if (text == NULL) {
        return NULL;
    }
    n = strlen(text);
    m = malloc(sizeof(*m) + LWS_PRE + n);
    if (m != NULL) {
        atomic_init(&m->refs, 1);
        m->len = n;
        memcpy(m->buf + LWS_PRE, text, n);
    }
    free(text);
    return m;
}

/* Appends m (taking a new reference); when the queue is full it is
 * dropped and counted, unless force (answers to the client's own
 * requests always go out). Called with the feed lock held. */
static void
client_push(struct wharfd_feed *f, struct feed_client *c, struct feed_msg *m,
            int force)
{
    struct feed_msg **bigger;
    size_t i, cap;

    if (c->len == c->cap) {
        if (!force) {
            c->missed++;
            atomic_fetch_add(&f->dropped, 1);
            return;
        }
        cap = c->cap * 2;
        bigger = malloc(cap * sizeof(*bigger));
        if (bigger == NULL) {
            c->missed++;
            atomic_fetch_add(&f->dropped, 1);
            return;
        }
        for (i = 0; i < c->len; i++) {
            bigger[i] = c->q[(c->head + i) % c->cap];
        }
        free(c->q);
        c->q = bigger;
        c->cap = cap;
        c->head = 0;
    }
    atomic_fetch_add(&m->refs, 1);
    c->q[(c->head + c->len) % c->cap] = m;
    c->len++;
}

static struct feed_msg *
client_pop(struct feed_client *c)
{
    struct feed_msg *m;

    if (c->len == 0) {
        return NULL;
    }
    m = c->q[c->head];
    c->head = (c->head + 1) % c->cap;
    c->len--;
    return m;
}

/* --- publishing (writer thread) -------------------------------------------- */

static int
client_wants(const struct feed_client *c, unsigned kind, const char *worker,
             const char *container, const char *instance)
{
    return c->subscribed && (c->kinds & kind)
        && (c->worker[0] == '\0' || (worker && strcmp(c->worker, worker) == 0))
        && (c->container[0] == '\0'
            || (container && strcmp(c->container, container) == 0))
        && (c->instance[0] == '\0'
            || (instance && strcmp(c->instance, instance) == 0));
}

static json_t *
json_text_value(const char *text)
{
    json_t *v;

    if (text == NULL) {
        return json_null();
    }
    v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : json_string(text);
}

/* Queues one row to every client that wants it; builds its JSON only if
 * one does. build(arg) makes the "row" object. */
static void
publish_row(struct wharfd_feed *f, unsigned kind, const char *kind_name,
            const char *worker, const char *container, const char *instance,
            json_t *(*build)(const void *, size_t), const void *rows, size_t i)
{
    struct feed_client *c;
    struct feed_msg *m = NULL;

    for (c = f->clients; c != NULL; c = c->next) {
        if (!client_wants(c, kind, worker, container, instance)) {
            continue;
        }
        if (m == NULL) {
            json_t *obj = json_pack("{s:s,s:o}", "kind", kind_name, "row",
                                    build(rows, i));

            m = obj ? msg_new(obj) : NULL;
            json_decref(obj);
            if (m == NULL) {
                return;
            }
        }
        client_push(f, c, m, 0);
    }
    msg_unref(m);
}

static json_t *
build_log(const void *rows, size_t i)
{
    const struct wharfd_log_batch *b = rows;
    const struct wharfd_log_in *l = &b->logs[i];

    return json_pack("{s:s,s:s?,s:s,s:s?,s:I,s:s,s:s,s:s%,s:s?,s:s?,s:o}",
                     "workerName", b->worker, "containerName", b->container,
                     "instanceId", b->instance, "processId", l->process_id,
                     "sequence", (json_int_t) l->sequence, "timestamp",
                     l->timestamp, "level", l->level, "message", l->message,
                     l->message_len, "stream", l->stream, "source", l->source,
                     "metadata", json_text_value(l->metadata));
}

static json_t *
build_error(const void *rows, size_t i)
{
    const struct wharfd_error_batch *b = rows;
    const struct wharfd_error_in *e = &b->errors[i];

    return json_pack("{s:s,s:s?,s:s,s:s?,s:s,s:f,s:s%,s:s,s:s?,s:I}",
                     "workerName", b->worker, "containerName", b->container,
                     "instanceId", b->instance, "processId", e->process_id,
                     "errorHash", e->hash, "level", e->level, "message",
                     e->message, e->message_len, "timestamp", e->timestamp,
                     "rawOutput", e->raw_output, "occurrenceCount",
                     (json_int_t) e->occurrence_count);
}

static json_t *
build_process(const void *rows, size_t i)
{
    const struct wharfd_process_in *p = rows;
    json_t *o;

    (void) i;
    o = json_pack("{s:s,s:s?,s:s,s:s?,s:s,s:o,s:s?,s:s,s:I,s:s?,s:s?,s:s?,"
                  "s:s}",
                  "workerName", p->worker, "containerName", p->container,
                  "instanceId", p->instance, "processId", p->process_id,
                  "command", p->command, "args", json_text_value(p->args),
                  "cwd", p->cwd, "status", p->status, "restartCount",
                  (json_int_t) p->restart_count, "startTime", p->start_time,
                  "endTime", p->end_time, "lastError", p->last_error,
                  "updatedAt", p->now);
    if (o != NULL) {
        json_object_set_new(o, "pid",
                            p->has_pid ? json_integer(p->pid) : json_null());
        json_object_set_new(o, "exitCode",
                            p->has_exit_code ? json_integer(p->exit_code)
                                             : json_null());
    }
    return o;
}

static json_t *
build_event(const void *rows, size_t i)
{
    const struct wharfd_event_in *e = rows;

    (void) i;
    return json_pack("{s:s,s:s?,s:s?,s:s?,s:s,s:o,s:s}", "workerName",
                     e->worker, "containerName", e->container, "instanceId",
                     e->instance, "processId", e->process_id, "type", e->type,
                     "payload", json_text_value(e->payload), "timestamp",
                     e->timestamp);
}

void
wharfd_feed_publish(struct wharfd *wd, enum wharfd_kind kind, const void *rows)
{
    struct wharfd_feed *f = &wd->feed;
    size_t i;

    /* Nobody listening: ingestion pays one atomic load. */
    if (atomic_load(&f->nclients) == 0) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    switch (kind) {
    case WHARFD_KIND_LOGS: {
        const struct wharfd_log_batch *b = rows;

        for (i = 0; i < b->n; i++) {
            if (b->logs[i].stored) { /* a resend is not news */
                publish_row(f, KIND_LOG, "log", b->worker, b->container,
                            b->instance, build_log, rows, i);
            }
        }
        break;
    }
    case WHARFD_KIND_ERRORS: {
        const struct wharfd_error_batch *b = rows;

        for (i = 0; i < b->n; i++) {
            if (!b->errors[i].duplicate) { /* a resend is not news */
                publish_row(f, KIND_ERROR, "error", b->worker, b->container,
                            b->instance, build_error, rows, i);
            }
        }
        break;
    }
    case WHARFD_KIND_PROCESSES: {
        const struct wharfd_process_in *p = rows;

        publish_row(f, KIND_PROCESS, "process", p->worker, p->container,
                    p->instance, build_process, rows, 0);
        break;
    }
    case WHARFD_KIND_EVENTS: {
        const struct wharfd_event_in *e = rows;

        publish_row(f, KIND_EVENT, "event", e->worker, e->container,
                    e->instance, build_event, rows, 0);
        break;
    }
    }
    pthread_mutex_unlock(&f->lock);
    lws_cancel_service(f->ctx);
}

/* Whether a client subscribes (any thread): the store reads back other
 * wharfds' rows only then. */
int
wharfd_feed_listening(void *arg)
{
    struct wharfd *wd = arg;

    return atomic_load(&wd->feed.nclients) > 0;
}

void
wharfd_feed_counts(struct wharfd *wd, unsigned *subscribers, unsigned *lagged,
                   unsigned long long *dropped)
{
    struct wharfd_feed *f = &wd->feed;
    struct feed_client *c;

    *subscribers = *lagged = 0;
    *dropped = atomic_load(&f->dropped);
    if (!f->started) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    for (c = f->clients; c != NULL; c = c->next) {
        if (c->subscribed) {
            ++*subscribers;
            *lagged += c->missed > 0;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

/* --- answering a client ------------------------------------------------------ */

/* Queues a JSON-RPC answer to client id (if it is still there). Takes the
 * reference to resp. */
static void
feed_answer(struct wharfd_feed *f, unsigned long long id, json_t *resp)
{
    struct feed_msg *m = resp ? msg_new(resp) : NULL;
    struct feed_client *c;

    json_decref(resp);
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    for (c = f->clients; c != NULL; c = c->next) {
        if (c->id == id) {
            client_push(f, c, m, 1);
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    msg_unref(m);
    lws_cancel_service(f->ctx);
}

struct control_job {
    struct wharfd *wd;
    unsigned long long client;
    struct wharfd_call call;
    char token[WHARF_TOKEN_MAX + 1];
    const struct wharfd_rpc_method *m;
    json_t *params, *id;
};

static void *
control_thread(void *arg)
{
    struct control_job *j = arg;
    struct wharfd_rpc_error err;
    json_t *result = NULL, *resp;

    memset(&err, 0, sizeof(err));
    j->call.token = j->token;
    j->call.token_len = strlen(j->token);
    if (j->m->fn(&j->call, j->params, &result, &err) == 0) {
        resp = wharf_jsonrpc_result(j->id, result);
    } else {
        json_decref(result);
        resp = wharfd_rpc_error_json(j->id, &err);
    }
    feed_answer(&j->wd->feed, j->client, resp);
    json_decref(j->params);
    json_decref(j->id);
    atomic_fetch_sub(&j->wd->feed.controls, 1);
    free(j);
    return NULL;
}

/* subscribe: sets the client's filter (feed thread, under the lock). */
static json_t *
feed_subscribe(struct wharfd *wd, struct feed_client *c, json_t *params,
               struct wharfd_rpc_error *err)
{
    struct wharfd_call call;
    const char *worker, *container, *instance;
    unsigned kinds = 0;
    json_t *obj, *k, *x;
    size_t i;

    memset(&call, 0, sizeof(call));
    call.wd = wd;
    call.authed = 1;
    call.claims = c->claims;
    if (wharfd_params_object(params, &obj, err) != 0
        || wharfd_call_read_worker(&call, obj, WHARF_SCOPE_READ, &worker, err)
            != 0
        || wharfd_params_check(obj, "subscribe", err) != 0
        || wharfd_param_string(obj, "container", 0, WHARFD_NAME_FIELD_MAX,
                               &container, err)
            != 0
        || wharfd_param_instance(obj, "instanceId", 0, &instance, err) != 0) {
        return NULL;
    }
    k = obj ? json_object_get(obj, "kinds") : NULL;
    if (k == NULL || json_is_null(k)) {
        kinds = KIND_LOG | KIND_ERROR | KIND_PROCESS | KIND_EVENT;
    } else if (!json_is_array(k) || json_array_size(k) == 0) {
        wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "kinds",
                             "'kinds' must be a non-empty array");
        return NULL;
    } else {
        json_array_foreach (k, i, x) {
            const char *s = json_is_string(x) ? json_string_value(x) : "";

            if (strcmp(s, "log") == 0) {
                kinds |= KIND_LOG;
            } else if (strcmp(s, "error") == 0) {
                kinds |= KIND_ERROR;
            } else if (strcmp(s, "process") == 0) {
                kinds |= KIND_PROCESS;
            } else if (strcmp(s, "event") == 0) {
                kinds |= KIND_EVENT;
            } else {
                wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "kinds",
                                     "'kinds'[%zu] must be log, error, "
                                     "process or event",
                                     i);
                return NULL;
            }
        }
    }
    pthread_mutex_lock(&wd->feed.lock);
    snprintf(c->worker, sizeof(c->worker), "%s", worker ? worker : "");
    snprintf(c->container, sizeof(c->container), "%s",
             container ? container : "");
    snprintf(c->instance, sizeof(c->instance), "%s", instance ? instance : "");
    c->kinds = kinds;
    if (!c->subscribed) {
        c->subscribed = 1;
        atomic_fetch_add(&wd->feed.nclients, 1);
    }
    pthread_mutex_unlock(&wd->feed.lock);
    return json_pack("{s:b}", "subscribed", 1);
}

/* One text frame from the client. */
static void
feed_request(struct wharfd *wd, struct feed_client *c, const char *text,
             size_t len)
{
    struct wharfd_rpc_error err;
    struct wharf_jsonrpc_request rq;
    struct control_job *j;
    json_t *req, *id, *params, *result;
    char why[JSON_ERROR_TEXT_LENGTH + 64];
    const char *name, *invalid;
    pthread_t t;

    memset(&err, 0, sizeof(err));
    req = wharf_jsonrpc_parse(text, len, 0, why, sizeof(why));
    if (req == NULL) {
        feed_answer(
            &wd->feed, c->id,
            wharf_jsonrpc_error(NULL, WHARFD_RPC_PARSE_ERROR, NULL, 0, why));
        return;
    }
    /* One request a frame (no batch); answered even without an id, as
     * the feed always has: its clients match answers by id when they
     * care. */
    if (wharf_jsonrpc_check(req, &rq, &invalid) != 0) {
        feed_answer(&wd->feed, c->id,
                    wharf_jsonrpc_error(rq.id, WHARFD_RPC_INVALID_REQUEST, NULL,
                                        0, invalid));
        json_decref(req);
        return;
    }
    id = rq.id;
    params = rq.params;
    name = wharf_jsonrpc_short_name(rq.method);
    if (strcmp(name, "subscribe") == 0) {
        result = feed_subscribe(wd, c, params, &err);
        feed_answer(&wd->feed, c->id,
                    result ? wharf_jsonrpc_result(id, result)
                           : wharfd_rpc_error_json(id, &err));
    } else if (strcmp(name, "startProcess") == 0
               || strcmp(name, "stopProcess") == 0
               || strcmp(name, "restartProcess") == 0) {
        char full[64];

        snprintf(full, sizeof(full), WHARFD_RPC_PREFIX "%s", name);
        j = calloc(1, sizeof(*j));
        if (j == NULL
            || atomic_fetch_add(&wd->feed.controls, 1)
                >= WHARFD_FEED_CONTROL_MAX) {
            if (j != NULL) {
                atomic_fetch_sub(&wd->feed.controls, 1);
            }
            free(j);
            wharfd_rpc_set_error(&err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                 "too many control requests in progress");
            feed_answer(&wd->feed, c->id, wharfd_rpc_error_json(id, &err));
        } else {
            j->wd = wd;
            j->client = c->id;
            j->call.wd = wd;
            j->call.authed = 1;
            j->call.claims = c->claims;
            j->call.single = 1;
            memcpy(j->token, c->token, sizeof(j->token));
            j->m = wharfd_methods_lookup(full);
            j->params = json_incref(params);
            j->id = json_incref(id);
            if (pthread_create(&t, NULL, control_thread, j) != 0) {
                json_decref(j->params);
                json_decref(j->id);
                free(j);
                atomic_fetch_sub(&wd->feed.controls, 1);
                wharfd_rpc_set_error(&err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                     "cannot start a thread");
                feed_answer(&wd->feed, c->id, wharfd_rpc_error_json(id, &err));
            } else {
                pthread_detach(t);
            }
        }
    } else {
        wharfd_rpc_set_error(&err, WHARFD_RPC_METHOD_NOT_FOUND, NULL, "%s",
                             name);
        feed_answer(&wd->feed, c->id, wharfd_rpc_error_json(id, &err));
    }
    json_decref(req);
}

/* --- libwebsockets ------------------------------------------------------------ */

/* Why a handshake was refused: the HTTP status and stable code of the
 * JSON answer (feed_refuse). */
struct feed_refusal {
    unsigned status;
    const char *code;
    char message[256];
};

struct feed_client *
feed_client_new(struct wharfd *wd, const struct wharfd_call *call)
{
    struct feed_client *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->claims = call->claims;
    /* relayed as is by process control (wharfd_call_bearer) */
    if (call->token != NULL && call->token_len < sizeof(c->token)) {
        memcpy(c->token, call->token, call->token_len);
        c->token[call->token_len] = '\0';
    }
    c->cap = wd->config.feed_queue;
    c->q = calloc(c->cap, sizeof(*c->q));
    if (c->q == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
feed_client_discard(struct feed_client *c)
{
    if (c != NULL) {
        free(c->q);
        free(c->in);
        free(c);
    }
}

/*
 * Answers a refused upgrade with its HTTP status and a JSON error body,
 * {"error":{"code","message"}} as wharfd's REST routes answer, instead of
 * dropping the connection (which nginx would turn into a 502 page).
 * Returns what HTTP_CONFIRM_UPGRADE returns to refuse.
 */
static int
feed_refuse(struct lws *wsi, const struct feed_refusal *why)
{
    unsigned char buf[LWS_PRE + 2048]; /* headers + a 256-byte message */
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    char *body, clen[24];
    size_t blen;
    int n;

    body = wharfd_http_error_body(why->code, why->message);
    if (body == NULL) {
        return -1;
    }
    blen = strlen(body);
    n = snprintf(clen, sizeof(clen), "%zu", blen);
    if (lws_add_http_header_status(wsi, why->status, &p, end)
        || lws_add_http_header_by_token(
            wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
            (const unsigned char *) "application/json", 16, &p, end)
        || lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                        (const unsigned char *) clen, n, &p,
                                        end)
        || (why->status == 401
            && lws_add_http_header_by_token(
                wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                (const unsigned char *) "Bearer realm=\"wharf\"", 20, &p, end))
        || lws_finalize_http_header(wsi, &p, end)
        || blen > (size_t) (end - p)) {
        free(body);
        return -1;
    }
    memcpy(p, body, blen);
    p += blen;
    free(body);
    n = (int) (p - start);
    if (lws_write(wsi, start, (size_t) n, LWS_WRITE_HTTP) != n) {
        return -1;
    }
    /* refused either way: as the agent does, 1 ends the upgrade */
    if (lws_http_transaction_completed(wsi)) {
        return -1;
    }
    return 1;
}

static void
client_free(struct wharfd_feed *f, struct feed_client *c)
{
    struct feed_client **pp;
    struct feed_msg *m;

    pthread_mutex_lock(&f->lock);
    for (pp = &f->clients; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->subscribed) {
        atomic_fetch_sub(&f->nclients, 1);
    }
    while ((m = client_pop(c)) != NULL) {
        msg_unref(m);
    }
    pthread_mutex_unlock(&f->lock);
    free(c->q);
    free(c->in);
    free(c);
}

/* defined below, after the callbacks it names */
static const struct lws_protocols feed_protocols[3];

static int
feed_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    struct wharfd *wd = lws_context_user(lws_get_context(wsi));
    struct wharfd_feed *f = &wd->feed;
    struct feed_client **pc = user, *c;
    struct feed_msg *m;
    char lagged[LWS_PRE + 64];
    struct feed_refusal why;
    unsigned long long missed;
    char *bigger;
    int n;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* The door (feed_door.c) checked the head and left a client for
         * this connection. None: an upgrade that is not the first request
         * of its connection, which the door never saw. */
        if (feed_door_waiting(wd, (int) lws_get_socket_fd(wsi), 0) == NULL) {
            why.status = 401;
            why.code = "unauthorized";
            snprintf(why.message, sizeof(why.message),
                     "the upgrade must be the first request of its "
                     "connection");
            return feed_refuse(wsi, &why);
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        c = feed_door_waiting(wd, (int) lws_get_socket_fd(wsi), 1);
        if (c == NULL) {
            return 1; /* refuse the upgrade */
        }
        c->wsi = wsi;
        *pc = c;
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        c = *pc;
        if (c == NULL) {
            return -1;
        }
        pthread_mutex_lock(&f->lock);
        c->id = ++f->next_id;
        c->next = f->clients;
        f->clients = c;
        pthread_mutex_unlock(&f->lock);
        return 0;

    case LWS_CALLBACK_RECEIVE:
        c = *pc;
        if (c == NULL || c->inlen + len > WHARFD_FEED_IN_MAX) {
            /* too large a message: close 1009 */
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
            return -1;
        }
        bigger = realloc(c->in, c->inlen + len + 1);
        if (bigger == NULL) {
            return -1;
        }
        c->in = bigger;
        memcpy(c->in + c->inlen, in, len);
        c->inlen += len;
        if (lws_is_final_fragment(wsi)
            && lws_remaining_packet_payload(wsi) == 0) {
            feed_request(wd, c, c->in, c->inlen);
            c->inlen = 0;
        }
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        c = *pc;
        if (c == NULL) {
            return 0;
        }
        pthread_mutex_lock(&f->lock);
        missed = c->missed;
        c->missed = 0;
        m = missed ? NULL : client_pop(c);
        pthread_mutex_unlock(&f->lock);
        if (missed) {
            n = snprintf(lagged + LWS_PRE, sizeof(lagged) - LWS_PRE,
                         "{\"kind\":\"lagged\",\"missed\":%llu}", missed);
            if (lws_write(wsi, (unsigned char *) lagged + LWS_PRE, (size_t) n,
                          LWS_WRITE_TEXT)
                < n) {
                return -1;
            }
        } else if (m != NULL) {
            n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
            msg_unref(m);
            if (n < 0) {
                return -1;
            }
        }
        pthread_mutex_lock(&f->lock);
        n = c->len > 0 || c->missed > 0;
        pthread_mutex_unlock(&f->lock);
        if (n) {
            lws_callback_on_writable(wsi);
        }
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Woken by a publisher: every client with something to send. */
        pthread_mutex_lock(&f->lock);
        for (c = f->clients; c != NULL; c = c->next) {
            if (c->len > 0 || c->missed > 0) {
                lws_callback_on_writable(c->wsi);
            }
        }
        pthread_mutex_unlock(&f->lock);
        return 0;

    case LWS_CALLBACK_CLOSED:
        c = *pc;
        if (c != NULL) {
            *pc = NULL;
            client_free(f, c);
        }
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        /* libwebsockets tells the first protocol of every descriptor it
         * destroys, the door's raw ones too (their user data is not a
         * client): only the feed's own are ours here. */
        if (lws_get_protocol(wsi) != &feed_protocols[0]) {
            return 0;
        }
        /* A refused or failed handshake never reaches CLOSED. */
        c = pc ? *pc : NULL;
        if (c != NULL) {
            *pc = NULL;
            client_free(f, c);
        } else {
            /* admitted by the door, but the handshake failed first */
            feed_client_discard(
                feed_door_waiting(wd, (int) lws_get_socket_fd(wsi), 1));
        }
        return 0;

    case LWS_CALLBACK_HTTP:
        /* Not an upgrade: nothing to serve. */
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
        return -1;

    default:
        return 0;
    }
}

static const struct lws_protocols feed_protocols[] = {
    { FEED_PROTOCOL_NAME, feed_callback, sizeof(struct feed_client *),
      WHARFD_FEED_IN_MAX, 0, NULL, 0 },
    { "wharf-feed-door", feed_door_callback, sizeof(struct feed_door_conn), 0,
      0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* libwebsockets' own error lines, into wharfd's log. 4.1.6 logs every
 * adopted connection ("adopt_socket_readbuf: calling service") at error
 * level: not an error, so not logged. */
static void
feed_lws_log(int level, const char *line)
{
    (void) level;
    if (strstr(line, "adopt_socket_readbuf") == NULL) {
        wharf_error("libwebsockets: %.*s", (int) strcspn(line, "\n"), line);
    }
}

static void *
feed_thread(void *arg)
{
    struct wharfd *wd = arg;

    while (!atomic_load(&wd->feed.stop)) {
        lws_service(wd->feed.ctx, 0);
    }
    return NULL;
}

int
wharfd_feed_start(struct wharfd *wd)
{
    struct wharfd_feed *f = &wd->feed;
    struct lws_context_creation_info info;

    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->stop, 0);
    atomic_init(&f->nclients, 0);
    atomic_init(&f->controls, 0);
    f->listen_fd = -1;
    f->waiting = NULL;
    if (!wd->config.has_ws_listen) {
        return 0;
    }
    lws_set_log_level(LLL_ERR, feed_lws_log);
    memset(&info, 0, sizeof(info));
    /* the door listens (feed_door.h); lws gets the checked connections */
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = feed_protocols;
    /* what the door passes on fits, whatever its length */
    info.max_http_header_data = WHARFD_FEED_HEAD_MAX;
    info.user = wd;
    info.gid = (gid_t) -1;
    info.uid = (uid_t) -1;
    /* Text frames that are not UTF-8 are closed with 1007 by lws. */
    info.options =
        LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    f->ctx = lws_create_context(&info);
    if (f->ctx == NULL) {
        wharf_error("--ws-listen %s: cannot listen", wd->config.ws_listen.text);
        return -1;
    }
    if (feed_door_open(wd) != 0) {
        lws_context_destroy(f->ctx);
        f->ctx = NULL;
        return -1;
    }
    if (pthread_create(&f->thread, NULL, feed_thread, wd) != 0) {
        wharf_error("cannot start the feed thread");
        lws_context_destroy(f->ctx);
        f->ctx = NULL;
        return -1;
    }
    pthread_setname_np(f->thread, "wharfd-feed");
    f->started = 1;
    return 0;
}

void
wharfd_feed_stop(struct wharfd *wd)
{
    struct wharfd_feed *f = &wd->feed;
    int waited;

    if (f->started) {
        /* Control threads answer through the context: let them end (they
         * are bounded by --control-timeout). */
        for (waited = 0; atomic_load(&f->controls) > 0
             && waited < (int) wd->config.control_timeout * 100 + 100;
             waited++) {
            usleep(10000);
        }
        wharfd_store_set_publisher(wd->store, NULL, NULL, NULL);
        atomic_store(&f->stop, 1);
        lws_cancel_service(f->ctx);
        pthread_join(f->thread, NULL);
        lws_context_destroy(f->ctx); /* closes clients: CLOSED frees them */
        f->ctx = NULL;
        f->started = 0;
        feed_door_close(wd);
    }
    pthread_mutex_destroy(&f->lock);
}
