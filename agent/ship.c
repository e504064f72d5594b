/* Shipping to the orchestrator's /rpc: see ship.h. */
#include "ship.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "log.h"
#include "proc.h"

#define RPC_PREFIX "ContainerMonitoringOps."

enum call_kind {
    CALL_LOGS,
    CALL_ERRORS,
    CALL_EVENT,
    CALL_UPSERT,
    CALL_HEARTBEAT,
    CALL_LASTSEQ
};

struct ship_chunk {
    struct ship_chunk *next;
    size_t head, used, cap;
    char data[];
};

/* One log line in a chunk, followed by its bytes; 8-byte aligned. */
struct ship_rec {
    uint64_t seq;
    int64_t ts_ms;
    uint32_t len;
    uint32_t run;
    uint16_t proc;
    uint8_t stream, level, flags;
    char data[];
};

struct ship_item {
    struct ship_item *next;
    int kind;               /* CALL_ERRORS (one error) or CALL_EVENT */
    unsigned proc;          /* instance index, or ~0u */
    json_t *j;
    size_t bytes;
};

#define REC_SIZE(len) ((sizeof(struct ship_rec) + (len) + 7) & ~(size_t) 7)
#define ITEM_OVERHEAD 256

static void try_send(struct agent *agent);
static void on_flush(uv_timer_t *t);

/* --- JSON text -------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];

    if (c < 0xc2 || c > 0xf4) {
        return 0;
    }
    if (c < 0xe0) {
        return left >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c < 0xf0) {
        if (left < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80
            || (c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f)) {
            return 0;
        }
        return 3;
    }
    if (left < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80
        || (s[3] & 0xc0) != 0x80 || (c == 0xf0 && s[1] < 0x90)
        || (c == 0xf4 && s[1] > 0x8f)) {
        return 0;
    }
    return 4;
}

size_t
agent_json_escape(const char *str, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *) str;
    char *o = out;
    size_t i = 0, n;

    while (i < len) {
        unsigned char c = s[i];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char) c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            n = utf8_seq(s + i, len - i);
            if (n == 0) {
                memcpy(o, "\xef\xbf\xbd", 3);   /* U+FFFD */
                o += 3;
                i++;
            } else {
                memcpy(o, s + i, n);
                o += n;
                i += n;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i++;
    }
    return (size_t) (o - out);
}

/* A growing text buffer; on allocation failure it keeps its old size and
 * sets *oom. */
struct tbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static char *
tb_room(struct tbuf *b, size_t n)
{
    char *bigger;
    size_t cap;

    if (b->oom) {
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        bigger = realloc(b->p, cap);
        if (bigger == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->p = bigger;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void
tb_put(struct tbuf *b, const char *s, size_t n)
{
    char *at = tb_room(b, n);

    if (at != NULL) {
        memcpy(at, s, n);
        b->len += n;
        b->p[b->len] = '\0';
    }
}

static void
tb_str(struct tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

static void
tb_json_string(struct tbuf *b, const char *s, size_t n)
{
    char *at = tb_room(b, 6 * n + 2);

    if (at != NULL) {
        *at++ = '"';
        at += agent_json_escape(s, n, at);
        *at++ = '"';
        b->len = (size_t) (at - b->p);
        b->p[b->len] = '\0';
    }
}

static void
tb_fmt(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tb_fmt(struct tbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        tb_put(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
    }
}

/* ,"worker":..,"container":.. */
static void
tb_identity(struct tbuf *b, const struct agent *agent)
{
    tb_str(b, "\"worker\":");
    tb_json_string(b, agent->cfg.worker, strlen(agent->cfg.worker));
    if (agent->cfg.container[0] != '\0') {
        tb_str(b, ",\"container\":");
        tb_json_string(b, agent->cfg.container, strlen(agent->cfg.container));
    }
}

/* --- queue of log lines ----------------------------------------------------- */

static struct ship_rec *
rec_at(struct ship_chunk *c)
{
    return (struct ship_rec *) (void *) (c->data + c->head);
}

/* Removes the oldest queued line (sent or not), recycling its chunk once
 * every line in it is gone: one spare chunk is kept, the rest freed. */
static void
pop_head(struct agent_ship *sh)
{
    struct ship_chunk *c = sh->head;
    struct ship_rec *r = rec_at(c);
    size_t sz = REC_SIZE(r->len);

    sh->bytes -= sz;
    sh->nrecs--;
    c->head += sz;
    if (c->head == c->used) {
        sh->head = c->next;
        if (sh->head == NULL) {
            sh->tail = NULL;
        }
        if (sh->spare == NULL) {
            c->next = NULL;
            c->head = c->used = 0;
            sh->spare = c;
        } else {
            free(c);
        }
    }
}

/* Drops the oldest queued line, unsent: counted per instance so that the
 * logs_dropped event can give the exact range. */
static void
drop_head(struct agent_ship *sh, struct agent *agent)
{
    struct ship_rec *r = rec_at(sh->head);
    struct agent_proc *p = agent->procs[r->proc];

    if (p->dropped == 0) {
        p->dropped_first = r->seq;
    }
    p->dropped++;
    p->dropped_last = r->seq;
    sh->lines_dropped++;
    pop_head(sh);
}

static void
drop_oldest_item(struct agent_ship *sh)
{
    struct ship_item *it = sh->items;

    sh->items = it->next;
    if (sh->items == NULL) {
        sh->items_tail = NULL;
    }
    sh->nitems--;
    sh->bytes -= it->bytes;
    json_decref(it->j);
    free(it);
}

/* Makes room for need more bytes by dropping the oldest lines (then the
 * oldest items). Returns 0 when there is room. */
static int
make_room(struct agent *agent, size_t need)
{
    struct agent_ship *sh = &agent->ship;

    while (sh->bytes + sh->calls_bytes + need > sh->max_bytes) {
        if (sh->nrecs > 0) {
            drop_head(sh, agent);
        } else if (sh->nitems > 0) {
            drop_oldest_item(sh);
        } else {
            return -1;
        }
    }
    return 0;
}

static void
schedule_flush(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    if (sh->busy || sh->waiting_retry) {
        return;
    }
    if (sh->nrecs >= AGENT_SHIP_BATCH_LINES || sh->stopping) {
        if (!uv_is_active((uv_handle_t *) &sh->flush_timer)
            || uv_timer_get_due_in(&sh->flush_timer) > 0) {
            uv_timer_start(&sh->flush_timer, on_flush, 0, 0);
        }
    } else if (!uv_is_active((uv_handle_t *) &sh->flush_timer)) {
        uv_timer_start(&sh->flush_timer, on_flush, AGENT_SHIP_FLUSH_MS, 0);
    }
}

void
agent_ship_log(struct agent *agent, struct agent_proc *p, uint64_t seq,
               int64_t ts_ms, int stream, enum agent_level level,
               unsigned flags, const char *line, size_t len)
{
    struct agent_ship *sh = &agent->ship;
    struct ship_chunk *c;
    struct ship_rec *r;
    size_t sz = REC_SIZE(len);

    if (!sh->enabled) {
        return;
    }
    sh->lines_queued++;
    if (make_room(agent, sz) != 0) {
        /* even an empty queue has no room: this line is the one dropped */
        if (p->dropped == 0) {
            p->dropped_first = seq;
        }
        p->dropped++;
        p->dropped_last = seq;
        sh->lines_dropped++;
        return;
    }
    c = sh->tail;
    if (c == NULL || c->cap - c->used < sz) {
        if (sh->spare != NULL && sh->spare->cap >= sz) {
            c = sh->spare;
            sh->spare = NULL;
        } else {
            size_t cap = sh->chunk_size > sz ? sh->chunk_size : sz;

            c = malloc(sizeof(*c) + cap);
            if (c == NULL) {
                p->dropped++;
                sh->lines_dropped++;
                return;
            }
            c->cap = cap;
        }
        c->next = NULL;
        c->head = c->used = 0;
        if (sh->tail != NULL) {
            sh->tail->next = c;
        } else {
            sh->head = c;
        }
        sh->tail = c;
    }
    r = (struct ship_rec *) (void *) (c->data + c->used);
    r->seq = seq;
    r->ts_ms = ts_ms;
    r->len = (uint32_t) len;
    r->run = (uint32_t) p->runs;
    r->proc = (uint16_t) p->index;
    r->stream = (uint8_t) stream;
    r->level = (uint8_t) level;
    r->flags = (uint8_t) flags;
    memcpy(r->data, line, len);
    c->used += sz;
    sh->nrecs++;
    sh->bytes += sz;
    schedule_flush(agent);
}

static void
push_item(struct agent *agent, int kind, unsigned proc, json_t *j)
{
    struct agent_ship *sh = &agent->ship;
    struct ship_item *it;
    size_t bytes;

    if (!sh->enabled) {
        json_decref(j);
        return;
    }
    /* a rough size: what the item costs in memory and on the wire */
    bytes = ITEM_OVERHEAD;
    if (json_is_object(j)) {
        json_t *m = json_object_get(j, "rawOutput");

        if (json_is_string(m)) {
            bytes += 2 * json_string_length(m);
        }
    }
    if (make_room(agent, bytes) != 0 || (it = malloc(sizeof(*it))) == NULL) {
        json_decref(j);
        return;
    }
    it->next = NULL;
    it->kind = kind;
    it->proc = proc;
    it->j = j;
    it->bytes = bytes;
    if (sh->items_tail != NULL) {
        sh->items_tail->next = it;
    } else {
        sh->items = it;
    }
    sh->items_tail = it;
    sh->nitems++;
    sh->bytes += bytes;
    schedule_flush(agent);
}

void
agent_ship_error(struct agent *agent, struct agent_proc *p, json_t *e)
{
    push_item(agent, CALL_ERRORS, p->index, e);
}

void
agent_ship_event(struct agent *agent, json_t *ev)
{
    push_item(agent, CALL_EVENT, ~0u, ev);
}

void
agent_ship_process(struct agent *agent, struct agent_proc *p)
{
    p->upsert_dirty = 1;
    if (agent->ship.enabled) {
        schedule_flush(agent);
    }
}

int
agent_ship_idle(const struct agent *agent)
{
    const struct agent_ship *sh = &agent->ship;
    unsigned i;

    if (!sh->enabled) {
        return 1;
    }
    for (i = 0; i < agent->nprocs; i++) {
        if (agent->procs[i]->upsert_dirty) {
            return 0;
        }
    }
    return sh->nrecs == 0 && sh->nitems == 0 && sh->ncalls == 0 && !sh->busy;
}

/* --- building a request ----------------------------------------------------- */

static int
add_call(struct agent_ship *sh, struct tbuf *params, const char *method,
         int kind, unsigned proc, unsigned lines)
{
    struct tbuf call = { 0 };
    unsigned id = sh->ncalls + 1;

    if (params->oom) {
        free(params->p);
        return -1;
    }
    if (sh->ncalls == sh->calls_cap) {
        unsigned cap = sh->calls_cap ? sh->calls_cap * 2 : 64;
        char **c = realloc(sh->calls, cap * sizeof(*c));
        unsigned char *k;
        uint32_t *pr, *ln;

        if (c == NULL) {
            free(params->p);
            return -1;
        }
        sh->calls = c;
        k = realloc(sh->call_kind, cap);
        if (k != NULL) {
            sh->call_kind = k;
        }
        pr = realloc(sh->call_proc, cap * sizeof(*pr));
        if (pr != NULL) {
            sh->call_proc = pr;
        }
        ln = realloc(sh->call_lines, cap * sizeof(*ln));
        if (ln != NULL) {
            sh->call_lines = ln;
        }
        if (k == NULL || pr == NULL || ln == NULL) {
            free(params->p);
            return -1;
        }
        sh->calls_cap = cap;
    }
    tb_fmt(&call, "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"" RPC_PREFIX
           "%s\",\"params\":{", id, method);
    tb_put(&call, params->p, params->len);
    tb_str(&call, "}}");
    free(params->p);
    if (call.oom) {
        free(call.p);
        return -1;
    }
    sh->calls[sh->ncalls] = call.p;
    sh->call_kind[sh->ncalls] = (unsigned char) kind;
    sh->call_proc[sh->ncalls] = proc;
    sh->call_lines[sh->ncalls] = lines;
    sh->ncalls++;
    sh->calls_bytes += call.len;
    return 0;
}

static void
add_json_call(struct agent *agent, const char *method, int kind,
              unsigned proc, json_t *params)
{
    struct tbuf b = { 0 };
    char *text = json_dumps(params, JSON_COMPACT);
    size_t n;

    json_decref(params);
    if (text == NULL) {
        return;
    }
    /* the members, without the object's braces */
    n = strlen(text);
    if (n >= 2) {
        tb_put(&b, text + 1, n - 2);
    }
    free(text);
    if (b.p == NULL) {
        tb_put(&b, "", 0);
    }
    (void) add_call(&agent->ship, &b, method, kind, proc, 0);
}

static void
line_timestamp(struct agent_ship *sh, int64_t ms, char *out)
{
    int64_t sec = ms / 1000;

    if (sec != sh->ts_sec) {
        char full[40];

        agent_iso_ms(ms, full, sizeof(full));
        memcpy(sh->ts_prefix, full, 20);    /* "YYYY-MM-DDTHH:MM:SS." */
        sh->ts_sec = sec;
    }
    memcpy(out, sh->ts_prefix, 20);
    out[20] = (char) ('0' + (ms % 1000) / 100);
    out[21] = (char) ('0' + (ms % 100) / 10);
    out[22] = (char) ('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* Moves up to the batch limits of queued lines into storeLogs calls. */
static void
take_logs(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    unsigned taken = 0;
    size_t text = 0, limit = sh->max_bytes / 4;

    if (limit > AGENT_SHIP_BATCH_BYTES) {
        limit = AGENT_SHIP_BATCH_BYTES;
    }
    while (sh->nrecs > 0 && taken < AGENT_SHIP_BATCH_LINES && text < limit) {
        struct ship_rec *r = rec_at(sh->head);
        unsigned proc = r->proc, lines = 0;
        struct agent_proc *p = agent->procs[proc];
        struct tbuf b = { 0 };

        if (!p->seq_known) {
            break;
        }
        tb_identity(&b, agent);
        tb_str(&b, ",\"instanceId\":");
        tb_json_string(&b, p->spec.id, strlen(p->spec.id));
        tb_str(&b, ",\"logs\":[");
        while (sh->nrecs > 0 && taken < AGENT_SHIP_BATCH_LINES
               && text < limit) {
            char ts[32];

            r = rec_at(sh->head);
            if (r->proc != proc) {
                break;
            }
            line_timestamp(sh, r->ts_ms, ts);
            tb_fmt(&b, "%s{\"sequence\":%llu,\"timestamp\":\"%s\","
                   "\"level\":\"%s\",\"stream\":\"%s\",\"processId\":\"%s-%u\","
                   "\"message\":", lines ? "," : "",
                   (unsigned long long) (p->seq_base + r->seq), ts,
                   agent_level_name((enum agent_level) r->level),
                   r->stream ? "stderr" : "stdout", p->spec.id, r->run);
            tb_json_string(&b, r->data, r->len);
            if (r->flags & (AGENT_LINE_SPLIT | AGENT_LINE_CONT)) {
                tb_fmt(&b, ",\"metadata\":{\"split\":%s,\"continued\":%s}",
                       r->flags & AGENT_LINE_SPLIT ? "true" : "false",
                       r->flags & AGENT_LINE_CONT ? "true" : "false");
            }
            tb_str(&b, "}");
            text += r->len + 160;
            lines++;
            taken++;
            pop_head(sh);
        }
        tb_str(&b, "]");
        if (add_call(sh, &b, "storeLogs", CALL_LOGS, proc, lines) != 0) {
            p->dropped += lines;
            sh->lines_dropped += lines;
            wharf_error("ship: out of memory: %u lines dropped", lines);
        }
        sh->lines_shipped += lines;
    }
}

/* Moves queued errors (grouped per instance) and events into calls. */
static void
take_items(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    unsigned taken = 0;

    while (sh->items != NULL && taken < AGENT_SHIP_BATCH_ITEMS) {
        struct ship_item *it = sh->items;

        if (it->kind == CALL_EVENT) {
            json_t *ev = json_incref(it->j);

            json_object_set_new(ev, "worker", json_string(agent->cfg.worker));
            if (agent->cfg.container[0] != '\0') {
                json_object_set_new(ev, "container",
                                    json_string(agent->cfg.container));
            }
            sh->items = it->next;
            sh->nitems--;
            sh->bytes -= it->bytes;
            json_decref(it->j);
            free(it);
            taken++;
            add_json_call(agent, "recordEvent", CALL_EVENT, ~0u, ev);
            continue;
        }
        {
            unsigned proc = it->proc;
            struct agent_proc *p = agent->procs[proc];
            json_t *params, *errs = json_array();

            while (sh->items != NULL && sh->items->kind == CALL_ERRORS
                   && sh->items->proc == proc
                   && taken < AGENT_SHIP_BATCH_ITEMS) {
                it = sh->items;
                json_array_append(errs, it->j);
                sh->items = it->next;
                sh->nitems--;
                sh->bytes -= it->bytes;
                json_decref(it->j);
                free(it);
                taken++;
            }
            params = json_pack("{s:s,s:s,s:o}", "worker", agent->cfg.worker,
                               "instanceId", p->spec.id, "errors", errs);
            if (params != NULL && agent->cfg.container[0] != '\0') {
                json_object_set_new(params, "container",
                                    json_string(agent->cfg.container));
            }
            if (params != NULL) {
                add_json_call(agent, "storeErrors", CALL_ERRORS, proc, params);
            }
        }
    }
    if (sh->items == NULL) {
        sh->items_tail = NULL;
    }
}

static void
take_upserts(struct agent *agent)
{
    unsigned i;

    for (i = 0; i < agent->nprocs; i++) {
        struct agent_proc *p = agent->procs[i];
        json_t *j, *params;

        if (!p->upsert_dirty) {
            continue;
        }
        p->upsert_dirty = 0;
        j = agent_proc_json(p);
        if (j == NULL) {
            continue;
        }
        params = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,"
                           "s:O,s:O}",
                           "worker", agent->cfg.worker,
                           "instanceId", json_object_get(j, "instanceId"),
                           "command", json_object_get(j, "command"),
                           "args", json_object_get(j, "args"),
                           "status", json_object_get(j, "status"),
                           "restartCount", json_object_get(j, "restartCount"),
                           "pid", json_object_get(j, "pid"),
                           "startTime", json_object_get(j, "startTime")
                                        ? json_object_get(j, "startTime")
                                        : json_null(),
                           "endTime", json_object_get(j, "endTime")
                                      ? json_object_get(j, "endTime")
                                      : json_null(),
                           "exitCode", json_object_get(j, "exitCode"),
                           "lastError", json_object_get(j, "lastError")
                                        ? json_object_get(j, "lastError")
                                        : json_null(),
                           "env", json_object_get(j, "env"),
                           "cwd", json_object_get(j, "cwd")
                                  ? json_object_get(j, "cwd") : json_null());
        if (params != NULL) {
            const char *k;
            json_t *v;
            void *tmp;

            /* absent rather than null: wharfd's optional members */
            json_object_foreach_safe(params, tmp, k, v) {
                if (json_is_null(v)) {
                    json_object_del(params, k);
                }
            }
            if (json_object_get(j, "processId") != NULL) {
                json_object_set(params, "processId",
                                json_object_get(j, "processId"));
            }
            if (agent->cfg.container[0] != '\0') {
                json_object_set_new(params, "container",
                                    json_string(agent->cfg.container));
            }
            add_json_call(agent, "upsertProcess", CALL_UPSERT, i, params);
        }
        json_decref(j);
    }
}

/* getLastSequence for every instance that does not know its base yet.
 * Returns 1 when such calls were added (they go alone). */
static int
take_lastseq(struct agent *agent)
{
    unsigned i;
    int added = 0;

    for (i = 0; i < agent->nprocs; i++) {
        struct agent_proc *p = agent->procs[i];

        if (p->seq_known) {
            continue;
        }
        add_json_call(agent, "getLastSequence", CALL_LASTSEQ, i,
                      json_pack("{s:s,s:s}", "worker", agent->cfg.worker,
                                "instanceId", p->spec.id));
        added = 1;
    }
    return added;
}

static void
report_drops(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    uint64_t now = uv_now(&agent->loop);
    unsigned i;

    if (sh->nrecs > 0 && !sh->stopping
        && now - sh->drop_reported_ms < AGENT_SHIP_DROP_REPORT_MS) {
        return;
    }

    for (i = 0; i < agent->nprocs; i++) {
        struct agent_proc *p = agent->procs[i];

        if (p->dropped == 0 || !p->seq_known) {
            continue;
        }
        wharf_warn("process %s: %llu log lines were dropped while the "
                   "orchestrator was away", p->spec.id,
                   (unsigned long long) p->dropped);
        agent_event(agent, p, "logs_dropped",
                    json_pack("{s:I,s:I,s:I}", "count",
                              (json_int_t) p->dropped, "firstSequence",
                              (json_int_t) (p->seq_base + p->dropped_first),
                              "lastSequence",
                              (json_int_t) (p->seq_base + p->dropped_last)));
        p->dropped = 0;
        sh->drop_reported_ms = now;
    }
}

/* --- curl on the loop ------------------------------------------------------- */

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct agent *agent;
};

static void check_done(struct agent *agent);

static void
on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
on_sock(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *c = h->data;
    struct agent *agent = c->agent;
    int flags = 0, running;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(agent->ship.multi, c->fd, flags, &running);
    check_done(agent);
}

static int
sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct agent *agent = userp;
    struct sock_ctx *c = socketp;
    int events = 0;

    (void) e;
    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            /* before curl closes the fd: libuv forgets it now */
            uv_close((uv_handle_t *) &c->poll, on_sock_closed);
            curl_multi_assign(agent->ship.multi, s, NULL);
        }
        return 0;
    }
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            return -1;
        }
        c->fd = s;
        c->agent = agent;
        if (uv_poll_init_socket(&agent->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        curl_multi_assign(agent->ship.multi, s, c);
    }
    if (what & CURL_POLL_IN) {
        events |= UV_READABLE;
    }
    if (what & CURL_POLL_OUT) {
        events |= UV_WRITABLE;
    }
    uv_poll_start(&c->poll, events, on_sock);
    return 0;
}

static void
on_curl_timer(uv_timer_t *t)
{
    struct agent *agent = t->data;
    int running;

    curl_multi_socket_action(agent->ship.multi, CURL_SOCKET_TIMEOUT, 0,
                             &running);
    check_done(agent);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct agent *agent = userp;

    (void) multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&agent->ship.curl_timer);
    } else {
        uv_timer_start(&agent->ship.curl_timer, on_curl_timer,
                       (uint64_t) timeout_ms, 0);
    }
    return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct agent *agent = userp;
    struct agent_ship *sh = &agent->ship;
    size_t n = size * nmemb;
    char *bigger;

    if (sh->resp_len + n > AGENT_SHIP_RESPONSE_MAX) {
        return 0;       /* aborts the transfer: a failure, retried */
    }
    bigger = realloc(sh->resp, sh->resp_len + n + 1);
    if (bigger == NULL) {
        return 0;
    }
    sh->resp = bigger;
    memcpy(sh->resp + sh->resp_len, data, n);
    sh->resp_len += n;
    sh->resp[sh->resp_len] = '\0';
    return n;
}

static void
on_retry(uv_timer_t *t)
{
    struct agent *agent = t->data;

    agent->ship.waiting_retry = 0;
    try_send(agent);
}

static void
backoff(struct agent *agent, const char *why)
{
    struct agent_ship *sh = &agent->ship;
    unsigned delay;

    sh->failures++;
    sh->errors++;
    if (sh->backoff_ms == 0) {
        sh->backoff_ms = AGENT_SHIP_BACKOFF_MIN_MS;
    } else if (sh->backoff_ms < AGENT_SHIP_BACKOFF_MAX_MS) {
        sh->backoff_ms *= 2;
        if (sh->backoff_ms > AGENT_SHIP_BACKOFF_MAX_MS) {
            sh->backoff_ms = AGENT_SHIP_BACKOFF_MAX_MS;
        }
    }
    /* "equal jitter": half fixed, half random, so retries of many agents
     * spread out but never come back at once */
    delay = sh->backoff_ms / 2 + (unsigned) rand_r(&sh->rand_state)
                                 % (sh->backoff_ms / 2 + 1);
    if (sh->failures == 1 || sh->failures % 20 == 0) {
        wharf_warn("ship: %s; retrying in %u ms (failure %u, %zu lines "
                   "queued)", why, delay, sh->failures, sh->nrecs);
    }
    sh->waiting_retry = 1;
    uv_timer_start(&sh->retry_timer, on_retry, delay, 0);
}

/* Removes call i (answered, or refused for good). */
static void
forget_call(struct agent_ship *sh, unsigned i)
{
    sh->calls_bytes -= strlen(sh->calls[i]);
    free(sh->calls[i]);
    sh->calls[i] = NULL;
}

static void
compact_calls(struct agent_ship *sh)
{
    unsigned i, j = 0;

    for (i = 0; i < sh->ncalls; i++) {
        if (sh->calls[i] == NULL) {
            continue;
        }
        /* the id of a call is its position: rewrite it for the resend */
        if (i != j) {
            char *c = sh->calls[i], *id = strstr(c, "\"id\":"), *end;
            struct tbuf b = { 0 };

            if (id != NULL) {
                strtoul(id + 5, &end, 10);
                tb_put(&b, c, (size_t) (id - c));
                tb_fmt(&b, "\"id\":%u", j + 1);
                tb_str(&b, end);
                if (!b.oom) {
                    sh->calls_bytes += b.len - strlen(c);
                    free(c);
                    c = b.p;
                } else {
                    free(b.p);
                }
            }
            sh->calls[j] = c;
        }
        sh->call_kind[j] = sh->call_kind[i];
        sh->call_proc[j] = sh->call_proc[i];
        sh->call_lines[j] = sh->call_lines[i];
        j++;
    }
    sh->ncalls = j;
}

/* The orchestrator answered: settles each call. Returns how many failed
 * and should be sent again. */
static unsigned
settle(struct agent *agent, json_t *resp, const char **why)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i, retry = 0;
    size_t k;
    json_t *r;

    if (json_is_object(resp)) {
        /* one answer for the whole batch: an error about the request */
        json_t *e = json_object_get(resp, "error");

        *why = json_is_object(e)
               && json_is_string(json_object_get(e, "message"))
               ? json_string_value(json_object_get(e, "message"))
               : "the orchestrator refused the request";
        return sh->ncalls;
    }
    if (!json_is_array(resp)) {
        *why = "the orchestrator's answer is not a JSON-RPC batch";
        return sh->ncalls;
    }
    json_array_foreach(resp, k, r) {
        json_t *idv = json_object_get(r, "id"), *res, *err;
        unsigned id;

        if (!json_is_integer(idv)) {
            continue;
        }
        id = (unsigned) json_integer_value(idv);
        if (id < 1 || id > sh->ncalls || sh->calls[id - 1] == NULL) {
            continue;
        }
        i = id - 1;
        res = json_object_get(r, "result");
        err = json_object_get(r, "error");
        if (err != NULL) {
            json_int_t code = json_integer_value(json_object_get(err, "code"));
            const char *msg = json_string_value(json_object_get(err,
                                                                "message"));

            if (code == -32600 || code == -32601 || code == -32602) {
                /* refused for good: resending cannot help */
                wharf_error("ship: call %u refused (%lld %s): %.200s", id,
                            (long long) code, msg ? msg : "", sh->calls[i]);
                if (sh->call_kind[i] == CALL_LOGS) {
                    struct agent_proc *p = agent->procs[sh->call_proc[i]];

                    p->dropped += sh->call_lines[i];
                    sh->lines_dropped += sh->call_lines[i];
                } else if (sh->call_kind[i] == CALL_LASTSEQ) {
                    /* never leave an instance unable to ship */
                    agent->procs[sh->call_proc[i]]->seq_known = 1;
                }
                forget_call(sh, i);
            } else {
                *why = msg ? msg : "a call failed";
            }
            continue;
        }
        if (sh->call_kind[i] == CALL_LASTSEQ) {
            struct agent_proc *p = agent->procs[sh->call_proc[i]];
            json_t *last = json_object_get(res, "lastSequence");

            if (!json_is_integer(last) || json_integer_value(last) < 0) {
                *why = "getLastSequence answered no lastSequence";
                continue;
            }
            p->seq_base = (uint64_t) json_integer_value(last);
            p->seq_known = 1;
            wharf_info("process %s: sequence numbers continue after %llu",
                       p->spec.id, (unsigned long long) p->seq_base);
        }
        forget_call(sh, i);
    }
    for (i = 0; i < sh->ncalls; i++) {
        if (sh->calls[i] != NULL) {
            retry++;
        }
    }
    if (retry > 0 && *why == NULL) {
        *why = "calls left unanswered";
    }
    return retry;
}

static void
finish(struct agent *agent, CURLcode rc)
{
    struct agent_ship *sh = &agent->ship;
    const char *why = NULL;
    char buf[CURL_ERROR_SIZE + 64];
    long status = 0;
    json_t *resp = NULL;
    unsigned failed;

    sh->busy = 0;
    curl_multi_remove_handle(sh->multi, sh->easy);
    curl_easy_getinfo(sh->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(buf, sizeof(buf), "POST %s: %s", sh->url,
                 curl_easy_strerror(rc));
        why = buf;
        failed = sh->ncalls;
    } else {
        resp = json_loadb(sh->resp ? sh->resp : "", sh->resp_len, 0, NULL);
        if (resp == NULL) {
            snprintf(buf, sizeof(buf), "POST %s: HTTP %ld, no JSON answer",
                     sh->url, status);
            why = buf;
            failed = sh->ncalls;
        } else {
            failed = settle(agent, resp, &why);
            if (status != 200 && why == NULL) {
                snprintf(buf, sizeof(buf), "POST %s: HTTP %ld", sh->url,
                         status);
                why = buf;
            }
        }
    }
    json_decref(resp);
    compact_calls(sh);
    if (failed > 0) {
        backoff(agent, why ? why : "failure");
        return;
    }
    if (sh->failures > 0) {
        wharf_info("ship: the orchestrator answers again (after %u "
                   "failures)", sh->failures);
    }
    sh->failures = 0;
    sh->backoff_ms = 0;
    report_drops(agent);
    try_send(agent);
}

static void
check_done(struct agent *agent)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(agent->ship.multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE) {
            finish(agent, m->data.result);
        }
    }
}

/* Sends the calls in flight again, or takes new ones from the queues. */
static void
try_send(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i;
    struct tbuf b = { 0 };

    if (!sh->enabled || sh->busy || sh->waiting_retry) {
        return;
    }
    uv_timer_stop(&sh->flush_timer);
    if (sh->ncalls == 0) {
        if (!take_lastseq(agent)) {
            take_upserts(agent);
            take_logs(agent);
            take_items(agent);
            if (sh->heartbeat_due) {
                sh->heartbeat_due = 0;
                json_t *hb = json_pack("{s:s,s:s}", "worker",
                                       agent->cfg.worker, "agentVersion",
                                       AGENT_VERSION);

                if (hb != NULL && agent->cfg.container[0] != '\0') {
                    json_object_set_new(hb, "container",
                                        json_string(agent->cfg.container));
                }
                add_json_call(agent, "heartbeat", CALL_HEARTBEAT, ~0u, hb);
            }
        }
    }
    if (sh->ncalls == 0) {
        return;
    }
    tb_put(&b, "[", 1);
    for (i = 0; i < sh->ncalls; i++) {
        if (i > 0) {
            tb_put(&b, ",", 1);
        }
        tb_str(&b, sh->calls[i]);
    }
    tb_put(&b, "]", 1);
    if (b.oom) {
        free(b.p);
        backoff(agent, "out of memory");
        return;
    }
    free(sh->body);
    sh->body = b.p;
    sh->body_len = b.len;
    sh->resp_len = 0;
    curl_easy_setopt(sh->easy, CURLOPT_POSTFIELDS, sh->body);
    curl_easy_setopt(sh->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) sh->body_len);
    if (curl_multi_add_handle(sh->multi, sh->easy) != CURLM_OK) {
        backoff(agent, "curl_multi_add_handle failed");
        return;
    }
    sh->busy = 1;
    sh->requests++;
}

static void
on_flush(uv_timer_t *t)
{
    try_send(t->data);
}

static void
on_beat(uv_timer_t *t)
{
    struct agent *agent = t->data;

    agent->ship.heartbeat_due = 1;
    try_send(agent);
}

void
agent_ship_flush_now(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    if (!sh->enabled) {
        return;
    }
    sh->stopping = 1;
    if (sh->waiting_retry && sh->backoff_ms > 500) {
        /* no long waits while the agent stops */
        uv_timer_start(&sh->retry_timer, on_retry, 200, 0);
    }
    try_send(agent);
}

/* --- set-up ----------------------------------------------------------------- */

int
agent_ship_init(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    const char *base = agent->cfg.orchestrator;
    char auth[64 + 4096];
    size_t n;

    sh->max_bytes = agent->cfg.buffer_bytes;
    sh->chunk_size = agent->cfg.line_max * 2 + 4096;
    if (sh->chunk_size < (256u << 10)) {
        sh->chunk_size = 256u << 10;
    }
    sh->rand_state = (unsigned) uv_hrtime() ^ (unsigned) getpid();
    sh->ts_sec = -1;
    uv_timer_init(&agent->loop, &sh->curl_timer);
    uv_timer_init(&agent->loop, &sh->flush_timer);
    uv_timer_init(&agent->loop, &sh->retry_timer);
    uv_timer_init(&agent->loop, &sh->beat_timer);
    sh->curl_timer.data = sh->flush_timer.data = agent;
    sh->retry_timer.data = sh->beat_timer.data = agent;
    sh->timers_open = 1;
    if (base == NULL) {
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        wharf_error("curl_global_init failed");
        return -1;
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (asprintf(&sh->url, "%.*s/rpc", (int) n, base) < 0) {
        sh->url = NULL;
        return -1;
    }
    sh->multi = curl_multi_init();
    sh->easy = curl_easy_init();
    if (sh->multi == NULL || sh->easy == NULL) {
        wharf_error("cannot start libcurl");
        return -1;
    }
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, agent);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, agent);
    sh->headers = curl_slist_append(NULL, "Content-Type: application/json");
    sh->headers = curl_slist_append(sh->headers, "Expect:");
    if (agent->cfg.token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                 agent->cfg.token);
        sh->headers = curl_slist_append(sh->headers, auth);
    }
    curl_easy_setopt(sh->easy, CURLOPT_URL, sh->url);
    curl_easy_setopt(sh->easy, CURLOPT_HTTPHEADER, sh->headers);
    curl_easy_setopt(sh->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(sh->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(sh->easy, CURLOPT_WRITEDATA, agent);
    curl_easy_setopt(sh->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(sh->easy, CURLOPT_TIMEOUT_MS,
                     (long) agent->cfg.ship_timeout_ms);
    curl_easy_setopt(sh->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(sh->easy, CURLOPT_USERAGENT, "wharf-agent/" AGENT_VERSION);
    sh->enabled = 1;
    sh->heartbeat_due = 1;
    uv_timer_start(&sh->beat_timer, on_beat, AGENT_SHIP_HEARTBEAT_MS,
                   AGENT_SHIP_HEARTBEAT_MS);
    uv_timer_start(&sh->flush_timer, on_flush, 0, 0);
    return 0;
}

void
agent_ship_close(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    if (sh->multi != NULL) {
        if (sh->busy) {
            curl_multi_remove_handle(sh->multi, sh->easy);
            sh->busy = 0;
        }
        curl_easy_cleanup(sh->easy);   /* closes its sockets: sock_cb */
        sh->easy = NULL;
        curl_multi_cleanup(sh->multi);
        sh->multi = NULL;
    }
    if (sh->timers_open) {
        sh->timers_open = 0;
        uv_close((uv_handle_t *) &sh->curl_timer, NULL);
        uv_close((uv_handle_t *) &sh->flush_timer, NULL);
        uv_close((uv_handle_t *) &sh->retry_timer, NULL);
        uv_close((uv_handle_t *) &sh->beat_timer, NULL);
    }
}

void
agent_ship_free(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    struct ship_chunk *c, *next;
    unsigned i;

    for (c = sh->head; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(sh->spare);
    while (sh->items != NULL) {
        drop_oldest_item(sh);
    }
    for (i = 0; i < sh->ncalls; i++) {
        free(sh->calls[i]);
    }
    free(sh->calls);
    free(sh->call_kind);
    free(sh->call_proc);
    free(sh->call_lines);
    free(sh->body);
    free(sh->resp);
    free(sh->url);
    curl_slist_free_all(sh->headers);
    if (sh->enabled) {
        curl_global_cleanup();
    }
    memset(sh, 0, sizeof(*sh));
}
