/* Shipping to the orchestrator's /rpc: see ship.h. */
#include "ship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "json_text.h"
#include "jsonrpc.h"
#include "log.h"
#include "proc.h"
#include "refusal.h"
#include "textbuf.h"

#define RPC_PREFIX WHARF_JSONRPC_PREFIX

enum call_kind {
    CALL_LOGS,
    CALL_ERRORS,
    CALL_EVENT,
    CALL_UPSERT,
    CALL_HEARTBEAT,
    CALL_LASTSEQ,
    CALL_DONE
};

/* Every instance's lines fit one chunk's summary (ship_queue.h). */
_Static_assert(AGENT_PROCS_MAX <= AGENT_SHIPQ_SUMMARY_MAX,
               "a chunk summary must hold every instance");
_Static_assert(AGENT_PROCS_MAX <= UINT16_MAX + 1, "a record's proc is 16 bits");

struct ship_item {
    struct ship_item *next;
    int kind;      /* CALL_ERRORS (one error) or CALL_EVENT */
    unsigned proc; /* instance index, or ~0u */
    json_t *j;
    size_t bytes;
    uint64_t mark; /* queue index of the next line when queued */
    uint64_t seq;  /* an error's line, local sequence (0: none) */
};

/* A call in a request's body: {"jsonrpc":"2.0","id":N,...}. */
struct ship_call {
    size_t off, len;         /* in the body */
    uint32_t proc;           /* instance index (storeLogs etc.) */
    uint32_t lines;          /* lines in a storeLogs call */
    uint64_t first_seq;      /* its first line's sequence (less seq_base) */
    uint64_t last_seq;       /* and its last line's */
    unsigned char kind;      /* enum call_kind; CALL_DONE once settled */
    unsigned char truncated; /* its one element was cut to the limit */
    unsigned char fresh;     /* a part of a refused call: goes at once */
};

enum req_state {
    REQ_FREE, /* slot unused */
    REQ_BUSY, /* a curl transfer runs */
    REQ_RETRY /* failed: waiting for its backoff */
};

/* One request to the orchestrator (a slot of --ship-inflight). */
struct ship_req {
    struct agent *agent;
    void *easy;                /* CURL, kept: its connection stays alive */
    int state;                 /* enum req_state */
    int control;               /* carries ordered calls (see ship.h) */
    int has_lines;             /* unsettled storeLogs calls */
    uint64_t first_rec;        /* queue index of its first line */
    unsigned url;              /* the orchestrator it went to (urls.rpc) */
    struct wharf_textbuf body; /* "[call,call,...]" */
    size_t counted;            /* body bytes charged to the buffer */
    struct ship_call *calls;
    unsigned ncalls, calls_cap;
    struct wharf_textbuf resp; /* the answer, up to AGENT_SHIP_RESPONSE_MAX */
    unsigned backoff_ms;
    uv_timer_t retry_timer;
};

#define ITEM_OVERHEAD 256

#define CALL_HEAD "{\"jsonrpc\":\"2.0\",\"id\":"

static void try_send(struct agent *agent);
static void on_flush(uv_timer_t *t);

/* --- JSON text -------------------------------------------------------------- */

size_t
agent_json_escape(const char *s, size_t len, char *out)
{
    /* lines are valid already (lines.h); anything else is replaced as
     * they are */
    return (size_t) (wharf_json_escape(out, s, len, WHARF_JSON_REPAIR) - out);
}

/* ,"worker":..,"container":.. */
static void
tb_identity(struct wharf_textbuf *b, const struct agent *agent)
{
    wharf_textbuf_str(b, "\"worker\":");
    wharf_json_str(b, agent->cfg.worker, strlen(agent->cfg.worker),
                   WHARF_JSON_REPAIR);
    if (agent->cfg.container[0] != '\0') {
        wharf_textbuf_str(b, ",\"container\":");
        wharf_json_str(b, agent->cfg.container, strlen(agent->cfg.container),
                       WHARF_JSON_REPAIR);
    }
}

/* --- queue of log lines ----------------------------------------------------- */

/* Counts n lost lines of p, sequences first..last, in tally t (p's
 * dropped or refused). The report gives the exact count and the smallest
 * range holding every line lost for that cause (a refused request's range
 * and the queue's oldest lines may interleave). */
static void
count_lost(struct agent_ship *sh, struct agent_drop_tally *t, uint64_t first,
           uint64_t last, uint64_t n)
{
    if (n == 0) {
        return;
    }
    if (t->n == 0 || first < t->first) {
        t->first = first;
    }
    if (t->n == 0 || last > t->last) {
        t->last = last;
    }
    t->n += n;
    sh->lines_dropped += n;
}

/* Lines of instance proc that never made it into the buffer, or left it
 * unsent: it was full (or out of memory). */
static void
count_dropped_range(struct agent_ship *sh, unsigned proc, uint64_t first,
                    uint64_t last, uint64_t n)
{
    count_lost(sh, &sh->inst[proc].dropped, first, last, n);
}

/* The queue reports lines it dropped (the oldest, to make room, or what
 * an allocation failure lost): counted per instance so that the
 * logs_dropped event can give the exact range. */
static void
on_queue_drop(void *ctx, unsigned proc, uint64_t first, uint64_t last,
              uint64_t n)
{
    struct agent *agent = ctx;

    count_dropped_range(&agent->ship, proc, first, last, n);
}

/* Bytes the buffer bound counts: queued lines (uncompressed record size,
 * whatever the queue holds in memory) and items. */
static size_t
queued_bytes(const struct agent_ship *sh)
{
    return sh->queue.bytes + sh->item_bytes;
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
    sh->item_bytes -= it->bytes;
    json_decref(it->j);
    free(it);
}

/* Bytes of the buffer kept for requests in flight. Taking lines into a
 * request turns compact records into JSON text (about twice as large);
 * with its own share, that never pushes the queue into dropping lines, so
 * lines are dropped only while the queue itself is full, from its oldest
 * end: a dropped range stays contiguous. */
static size_t
inflight_reserve(const struct agent_ship *sh)
{
    return sh->max_bytes / AGENT_SHIP_INFLIGHT_SHARE;
}

/* Makes room for need more bytes by dropping the oldest queued lines (then
 * the oldest items); requests in flight are never touched. Returns 0 when
 * there is room. */
static int
make_room(struct agent *agent, size_t need)
{
    struct agent_ship *sh = &agent->ship;
    size_t limit = sh->max_bytes - inflight_reserve(sh);

    while (queued_bytes(sh) + need > limit) {
        if (sh->queue.nrecs > 0) {
            /* a compressed chunk goes whole (undecompressed) when all of
             * it has to go anyway */
            agent_shipq_drop_oldest(&sh->queue,
                                    queued_bytes(sh) + need - limit);
        } else if (sh->nitems > 0) {
            drop_oldest_item(sh);
        } else {
            return -1;
        }
    }
    return 0;
}

static int
pending(const struct agent *agent)
{
    const struct agent_ship *sh = &agent->ship;
    unsigned i;

    if (sh->queue.nrecs > 0 || sh->nitems > 0 || sh->heartbeat_due) {
        return 1;
    }
    for (i = 0; i < agent->sup.nprocs; i++) {
        if (sh->inst[i].upsert_dirty || !sh->inst[i].seq_known) {
            return 1;
        }
    }
    return 0;
}

/* Something was queued: a request goes at once when a batch is full (or
 * the agent stops), else AGENT_SHIP_FLUSH_MS after the first thing
 * queued. */
static void
schedule_flush(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    if (sh->queue.nrecs >= AGENT_SHIP_BATCH_LINES || sh->stopping
        || sh->flush_due) {
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
    struct agent_shipq_rec r;
    size_t sz = AGENT_SHIPQ_REC_SIZE(len);

    if (!sh->enabled) {
        return;
    }
    sh->lines_queued++;
    if (make_room(agent, sz) != 0) {
        /* even an empty queue has no room: this line is the one dropped */
        count_dropped_range(sh, p->index, seq, seq, 1);
        return;
    }
    r.seq = seq;
    r.ts_ms = ts_ms;
    r.len = (uint32_t) len;
    r.run = (uint32_t) p->runs;
    r.proc = (uint16_t) p->index;
    r.stream = (uint8_t) stream;
    r.level = (uint8_t) level;
    r.flags = (uint8_t) flags;
    /* an allocation failure drops (and counts) the line: on_queue_drop */
    (void) agent_shipq_push(&sh->queue, &r, line);
    schedule_flush(agent);
}

static void
push_item(struct agent *agent, int kind, unsigned proc, json_t *j, uint64_t seq)
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
    it->mark = sh->queue.rec_next;
    it->seq = seq;
    if (sh->items_tail != NULL) {
        sh->items_tail->next = it;
    } else {
        sh->items = it;
    }
    sh->items_tail = it;
    sh->nitems++;
    sh->item_bytes += bytes;
    schedule_flush(agent);
}

void
agent_ship_error(struct agent *agent, struct agent_proc *p, json_t *e,
                 uint64_t seq)
{
    const struct agent_ship_inst *in = &agent->ship.inst[p->index];

    if (seq != 0 && in->seq_known) {
        /* before the base is known, take_items() adds it */
        json_object_set_new(e, "sequence",
                            json_integer((json_int_t) (in->seq_base + seq)));
    }
    push_item(agent, CALL_ERRORS, p->index, json_incref(e), seq);
}

uint64_t
agent_ship_sequence(const struct agent *agent, const struct agent_proc *p,
                    uint64_t seq)
{
    return agent->ship.inst[p->index].seq_base + seq;
}

void
agent_ship_event(struct agent *agent, json_t *ev)
{
    push_item(agent, CALL_EVENT, ~0u, ev, 0);
}

void
agent_ship_process(struct agent *agent, struct agent_proc *p)
{
    struct agent_ship_inst *in = &agent->ship.inst[p->index];

    in->upsert_dirty = 1;
    in->upsert_mark = agent->ship.queue.rec_next;
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
    for (i = 0; i < agent->sup.nprocs; i++) {
        if (sh->inst[i].upsert_dirty) {
            return 0;
        }
    }
    for (i = 0; i < sh->nreqs; i++) {
        if (sh->reqs[i].state != REQ_FREE) {
            return 0;
        }
    }
    return sh->queue.nrecs == 0 && sh->nitems == 0;
}

/* --- building a request ----------------------------------------------------- */

/* Every line with a queue index below this was acknowledged or dropped:
 * the oldest line still queued, or the first line of a request that has
 * not been answered yet. */
static uint64_t
acked_mark(const struct agent_ship *sh)
{
    uint64_t w = sh->queue.rec_popped;
    unsigned i;

    for (i = 0; i < sh->nreqs; i++) {
        const struct ship_req *q = &sh->reqs[i];

        if (q->state != REQ_FREE && q->has_lines && q->first_rec < w) {
            w = q->first_rec;
        }
    }
    return w;
}

/* Starts a call in q's body: the members of its params follow. */
static void
call_begin(struct ship_req *q, const char *method)
{
    if (q->ncalls > 0) {
        wharf_textbuf_put(&q->body, ",", 1);
    }
    wharf_textbuf_printf(&q->body,
                         CALL_HEAD "%u,\"method\":\"" RPC_PREFIX "%s\","
                                   "\"params\":{",
                         q->ncalls + 1, method);
}

/* A new call of q, zeroed; NULL when out of memory (body.oom is set). */
static struct ship_call *
call_new(struct ship_req *q)
{
    struct ship_call *c;

    if (q->ncalls == q->calls_cap) {
        unsigned cap = q->calls_cap ? q->calls_cap * 2 : 16;

        c = realloc(q->calls, cap * sizeof(*c));
        if (c == NULL) {
            q->body.oom = 1;
            return NULL;
        }
        q->calls = c;
        q->calls_cap = cap;
    }
    c = &q->calls[q->ncalls++];
    memset(c, 0, sizeof(*c));
    return c;
}

/* Ends the call that began at off. Returns 0, or -1 (out of memory: the
 * caller forgets the request). */
static int
call_end(struct ship_req *q, size_t off, int kind, unsigned proc,
         unsigned lines)
{
    struct ship_call *c;

    wharf_textbuf_str(&q->body, "}}");
    if (q->body.oom || (c = call_new(q)) == NULL) {
        return -1;
    }
    if (q->ncalls > 1) {
        off++; /* the comma */
    }
    c->off = off;
    c->len = q->body.len - off;
    c->kind = (unsigned char) kind;
    c->proc = proc;
    c->lines = lines;
    return 0;
}

static void
add_json_call(struct ship_req *q, const char *method, int kind, unsigned proc,
              json_t *params)
{
    char *text = json_dumps(params, JSON_COMPACT);
    size_t n, off = q->body.len;

    json_decref(params);
    if (text == NULL) {
        return;
    }
    call_begin(q, method);
    /* the members, without the object's braces */
    n = strlen(text);
    if (n >= 2) {
        wharf_textbuf_put(&q->body, text + 1, n - 2);
    }
    free(text);
    (void) call_end(q, off, kind, proc, 0);
}

static void
line_timestamp(struct agent_ship *sh, int64_t ms, char *out)
{
    int64_t sec = ms / 1000;

    if (sec != sh->ts_sec) {
        char full[40];

        wharf_iso_ms(ms, full, sizeof(full));
        memcpy(sh->ts_prefix, full, 20); /* "YYYY-MM-DDTHH:MM:SS." */
        sh->ts_sec = sec;
    }
    memcpy(out, sh->ts_prefix, 20);
    out[20] = (char) ('0' + (ms % 1000) / 100);
    out[21] = (char) ('0' + (ms % 100) / 10);
    out[22] = (char) ('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* Moves up to the batch limits of queued lines into storeLogs calls of q:
 * a contiguous range of the queue. */
static void
take_logs(struct agent *agent, struct ship_req *q)
{
    struct agent_ship *sh = &agent->ship;
    unsigned taken = 0;
    int full = 0;
    size_t reserve = inflight_reserve(sh);

/* at least one line; then up to the batch limits, and while the requests
 * in flight stay within their share of the buffer */
#define ROOM_LEFT()                              \
    (taken == 0                                  \
     || (taken < AGENT_SHIP_BATCH_LINES          \
         && q->body.len < AGENT_SHIP_BATCH_BYTES \
         && sh->inflight_bytes + q->body.len < reserve))

    while (!full && sh->queue.nrecs > 0 && ROOM_LEFT()) {
        /* (decompresses the head chunk when it is its first line taken) */
        const struct agent_shipq_rec *r = agent_shipq_head(&sh->queue);
        unsigned proc, lines = 0;
        const struct agent_proc *p;
        const struct agent_ship_inst *in;
        size_t off = q->body.len;
        uint64_t first, last;

        if (r == NULL) {
            break; /* what was left could not be decompressed */
        }
        proc = r->proc;
        p = agent->sup.procs[proc];
        in = &sh->inst[proc];
        first = last = r->seq;
        if (!in->seq_known) {
            break;
        }
        if (!q->has_lines) {
            q->has_lines = 1;
            q->first_rec = sh->queue.rec_popped;
        }
        call_begin(q, "storeLogs");
        tb_identity(&q->body, agent);
        wharf_textbuf_str(&q->body, ",\"instanceId\":");
        wharf_json_str(&q->body, p->spec.id, strlen(p->spec.id),
                       WHARF_JSON_REPAIR);
        wharf_textbuf_str(&q->body, ",\"logs\":[");
        while (sh->queue.nrecs > 0 && ROOM_LEFT()) {
            size_t mark = q->body.len;
            char ts[32];

            r = agent_shipq_head(&sh->queue);
            if (r == NULL || r->proc != proc) {
                break;
            }
            line_timestamp(sh, r->ts_ms, ts);
            wharf_textbuf_printf(
                &q->body,
                "%s{\"sequence\":%llu,\"timestamp\":\"%s\","
                "\"level\":\"%s\",\"stream\":\"%s\",\"processId\":\"%s-%u\","
                "\"message\":",
                lines ? "," : "", (unsigned long long) (in->seq_base + r->seq),
                ts, agent_level_name((enum agent_level) r->level),
                r->stream ? "stderr" : "stdout", p->spec.id, r->run);
            wharf_json_str(&q->body, r->data, r->len, WHARF_JSON_REPAIR);
            if (r->flags & (AGENT_LINE_SPLIT | AGENT_LINE_CONT)) {
                wharf_textbuf_printf(
                    &q->body, ",\"metadata\":{\"split\":%s,\"continued\":%s}",
                    r->flags & AGENT_LINE_SPLIT ? "true" : "false",
                    r->flags & AGENT_LINE_CONT ? "true" : "false");
            }
            wharf_textbuf_str(&q->body, "}");
            if (taken > 0 && q->body.len > AGENT_SHIP_BATCH_BYTES) {
                /* the body stays within the batch size (escaping can
                 * make a line six times longer): this line waits for the
                 * next request, unless it is the request's only one */
                q->body.len = mark;
                q->body.p[mark] = '\0';
                full = 1;
                break;
            }
            lines++;
            taken++;
            last = r->seq;
            agent_shipq_pop(&sh->queue);
        }
        if (lines == 0) {
            q->body.len = off; /* an empty call: undone */
            if (q->body.p != NULL) {
                q->body.p[off] = '\0';
            }
            break;
        }
        wharf_textbuf_str(&q->body, "]");
        if (call_end(q, off, CALL_LOGS, proc, lines) != 0) {
            /* out of memory: these lines are lost, and counted */
            count_dropped_range(sh, proc, first, last, lines);
            break;
        }
        q->calls[q->ncalls - 1].first_seq = first;
        q->calls[q->ncalls - 1].last_seq = last;
        sh->lines_shipped += lines;
    }
#undef ROOM_LEFT
}

/* Moves queued errors (grouped per instance) and events into calls of q,
 * as long as every line queued before them was acknowledged (mark). */
static void
take_items(struct agent *agent, struct ship_req *q, uint64_t mark)
{
    struct agent_ship *sh = &agent->ship;
    unsigned taken = 0;

    while (sh->items != NULL && taken < AGENT_SHIP_BATCH_ITEMS
           && sh->items->mark <= mark) {
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
            sh->item_bytes -= it->bytes;
            json_decref(it->j);
            free(it);
            taken++;
            add_json_call(q, "recordEvent", CALL_EVENT, ~0u, ev);
            continue;
        }
        {
            unsigned proc = it->proc;
            const struct agent_proc *p = agent->sup.procs[proc];
            const struct agent_ship_inst *in = &sh->inst[proc];
            json_t *params, *errs = json_array();

            while (sh->items != NULL && sh->items->kind == CALL_ERRORS
                   && sh->items->proc == proc && sh->items->mark <= mark
                   && taken < AGENT_SHIP_BATCH_ITEMS) {
                it = sh->items;
                if (it->seq != 0 && in->seq_known
                    && json_object_get(it->j, "sequence") == NULL) {
                    /* seen before getLastSequence answered: its line's
                     * shipped sequence is known now, and with it wharfd
                     * counts the occurrence once however often the call
                     * is resent */
                    json_object_set_new(
                        it->j, "sequence",
                        json_integer((json_int_t) (in->seq_base + it->seq)));
                }
                json_array_append(errs, it->j);
                sh->items = it->next;
                sh->nitems--;
                sh->item_bytes -= it->bytes;
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
                add_json_call(q, "storeErrors", CALL_ERRORS, proc, params);
            }
        }
    }
    if (sh->items == NULL) {
        sh->items_tail = NULL;
    }
}

static void
take_upserts(struct agent *agent, struct ship_req *q, uint64_t mark)
{
    unsigned i;

    for (i = 0; i < agent->sup.nprocs; i++) {
        struct agent_ship_inst *in = &agent->ship.inst[i];
        json_t *j, *params;

        if (!in->upsert_dirty || in->upsert_mark > mark) {
            continue;
        }
        in->upsert_dirty = 0;
        j = agent_proc_json(agent->sup.procs[i]);
        if (j == NULL) {
            continue;
        }
        params = json_pack(
            "{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,"
            "s:O,s:O}",
            "worker", agent->cfg.worker, "instanceId",
            json_object_get(j, "instanceId"), "command",
            json_object_get(j, "command"), "args", json_object_get(j, "args"),
            "status", json_object_get(j, "status"), "restartCount",
            json_object_get(j, "restartCount"), "pid",
            json_object_get(j, "pid"), "startTime",
            json_object_get(j, "startTime") ? json_object_get(j, "startTime")
                                            : json_null(),
            "endTime",
            json_object_get(j, "endTime") ? json_object_get(j, "endTime")
                                          : json_null(),
            "exitCode", json_object_get(j, "exitCode"), "lastError",
            json_object_get(j, "lastError") ? json_object_get(j, "lastError")
                                            : json_null(),
            "env", json_object_get(j, "env"), "cwd",
            json_object_get(j, "cwd") ? json_object_get(j, "cwd")
                                      : json_null());
        if (params != NULL) {
            const char *k;
            json_t *v;
            void *tmp;

            /* absent rather than null: wharfd's optional members */
            json_object_foreach_safe (params, tmp, k, v) {
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
            add_json_call(q, "upsertProcess", CALL_UPSERT, i, params);
        }
        json_decref(j);
    }
}

/* getLastSequence for every instance that does not know its base yet and
 * has not asked. */
static void
take_lastseq(struct agent *agent, struct ship_req *q)
{
    unsigned i;

    for (i = 0; i < agent->sup.nprocs; i++) {
        const struct agent_proc *p = agent->sup.procs[i];
        struct agent_ship_inst *in = &agent->ship.inst[i];

        if (in->seq_known || in->seq_asked) {
            continue;
        }
        add_json_call(q, "getLastSequence", CALL_LASTSEQ, i,
                      json_pack("{s:s,s:s}", "worker", agent->cfg.worker,
                                "instanceId", p->spec.id));
        /* asked only if the call made it into the request */
        in->seq_asked = q->ncalls > 0
            && q->calls[q->ncalls - 1].kind == CALL_LASTSEQ
            && q->calls[q->ncalls - 1].proc == i;
    }
}

/* What each cause of lost lines is called in the warning and in the
 * logs_dropped event's "reason". */
static const struct {
    const char *reason, *why;
} drop_causes[] = {
    { "buffer_full",
      "dropped: the buffer (--buffer-bytes) was full while "
      "the orchestrator was away or slower than the app" },
    { "refused",
      "refused by the orchestrator even truncated, and lost (the "
      "cause is in the 'call refused' line above)" },
};

static void
report_drops(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    uint64_t now = uv_now(&agent->loop);
    unsigned i, k;

    if (sh->queue.nrecs > 0 && !sh->stopping
        && now - sh->drop_reported_ms < AGENT_SHIP_DROP_REPORT_MS) {
        return;
    }

    for (i = 0; i < agent->sup.nprocs; i++) {
        struct agent_proc *p = agent->sup.procs[i];
        struct agent_ship_inst *in = &sh->inst[i];

        for (k = 0; k < 2 && in->seq_known; k++) {
            struct agent_drop_tally *t = k == 0 ? &in->dropped : &in->refused,
                                    copy = *t;

            if (copy.n == 0) {
                continue;
            }
            wharf_warn("process %s: %llu log lines (sequences %llu..%llu) "
                       "were %s",
                       p->spec.id, (unsigned long long) copy.n,
                       (unsigned long long) (in->seq_base + copy.first),
                       (unsigned long long) (in->seq_base + copy.last),
                       drop_causes[k].why);
            /* reset first: queueing the event may itself drop lines (a
             * full queue), which then belong to the next report */
            t->n = 0;
            sh->drop_reported_ms = now;
            agent_event(&agent->sup, p, "logs_dropped",
                        json_pack("{s:I,s:I,s:I,s:s}", "count",
                                  (json_int_t) copy.n, "firstSequence",
                                  (json_int_t) (in->seq_base + copy.first),
                                  "lastSequence",
                                  (json_int_t) (in->seq_base + copy.last),
                                  "reason", drop_causes[k].reason));
        }
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

/* --- requests in flight ----------------------------------------------------- */

static void
set_counted(struct agent_ship *sh, struct ship_req *q, size_t bytes)
{
    sh->inflight_bytes -= q->counted;
    q->counted = bytes;
    sh->inflight_bytes += bytes;
}

/* The slot is free again; its body buffer is kept when small. */
static void
req_reset(struct agent_ship *sh, struct ship_req *q)
{
    set_counted(sh, q, 0);
    q->state = REQ_FREE;
    q->control = 0;
    q->has_lines = 0;
    q->ncalls = 0;
    q->body.len = 0;
    q->body.oom = 0;
    if (q->body.cap > AGENT_SHIP_BODY_KEEP) {
        free(q->body.p);
        q->body.p = NULL;
        q->body.cap = 0;
    }
    if (q->resp.cap > AGENT_SHIP_BODY_KEEP) {
        wharf_textbuf_free(&q->resp);
    }
    q->resp.len = 0;
    q->resp.over = q->resp.oom = 0;
}

/* Starts (or restarts) q's transfer. */
static int
req_send(struct agent *agent, struct ship_req *q)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i, busy = 0;

    q->resp.len = 0;
    q->resp.over = q->resp.oom = 0;
    /* a retry goes wherever requests go now: after a failover, not to
     * the gateway that failed it */
    q->url = sh->urls.cur;
    curl_easy_setopt(q->easy, CURLOPT_URL, sh->urls.rpc[q->url]);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body.p);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) q->body.len);
    if (curl_multi_add_handle(sh->multi, q->easy) != CURLM_OK) {
        return -1;
    }
    q->state = REQ_BUSY;
    sh->requests++;
    for (i = 0; i < sh->nreqs; i++) {
        busy += sh->reqs[i].state == REQ_BUSY;
    }
    if (busy > sh->inflight_peak) {
        sh->inflight_peak = busy;
    }
    return 0;
}

static void
on_retry(uv_timer_t *t)
{
    struct ship_req *q = t->data;

    if (q->state == REQ_RETRY && req_send(q->agent, q) != 0) {
        /* stays REQ_RETRY: tried again at the next success or stop */
        uv_timer_start(&q->retry_timer, on_retry, AGENT_SHIP_BACKOFF_MAX_MS, 0);
    }
}

/* q failed. gone: its orchestrator may be down (no connection, timeout,
 * HTTP 5xx, no JSON), so another one is tried (ship_urls.h): at once
 * while one that has not failed in this outage is left. */
static void
backoff_from(struct agent *agent, struct ship_req *q, const char *why, int gone)
{
    struct agent_ship *sh = &agent->ship;
    unsigned delay, from = sh->urls.cur;

    sh->failures++;
    sh->errors++;
    if (gone && agent_ship_urls_failed(&sh->urls, q->url)) {
        if (sh->urls.cur != from) {
            wharf_warn("ship: %s; failing over to %s", why,
                       sh->urls.rpc[sh->urls.cur]);
        }
        q->state = REQ_RETRY;
        uv_timer_start(&q->retry_timer, on_retry, 0, 0);
        return;
    }
    if (!gone) {
        /* the gateway answered (wharfd refused or failed): no failover,
         * and no outage of gateways either */
        agent_ship_urls_answered(&sh->urls);
    }
    if (q->backoff_ms == 0) {
        q->backoff_ms = AGENT_SHIP_BACKOFF_MIN_MS;
    } else if (q->backoff_ms < AGENT_SHIP_BACKOFF_MAX_MS) {
        q->backoff_ms *= 2;
        if (q->backoff_ms > AGENT_SHIP_BACKOFF_MAX_MS) {
            q->backoff_ms = AGENT_SHIP_BACKOFF_MAX_MS;
        }
    }
    /* "equal jitter": half fixed, half random, so retries of many agents
     * spread out but never come back at once */
    delay = q->backoff_ms / 2
        + (unsigned) rand_r(&sh->rand_state) % (q->backoff_ms / 2 + 1);
    if (sh->stopping && delay > 200) {
        delay = 200; /* no long waits while the agent stops */
    }
    if (sh->failures == 1 || sh->failures % 20 == 0) {
        wharf_warn("ship: %s; retrying in %u ms (failure %u, %zu lines "
                   "queued)",
                   why, delay, sh->failures, sh->queue.nrecs);
    }
    q->state = REQ_RETRY;
    uv_timer_start(&q->retry_timer, on_retry, delay, 0);
}

static void
backoff(struct agent *agent, struct ship_req *q, const char *why)
{
    backoff_from(agent, q, why, 0);
}

/* A storeLogs call will not be stored: its lines count as dropped. */
static void
drop_call_lines(struct agent *agent, const struct ship_call *c)
{
    count_dropped_range(&agent->ship, c->proc, c->first_seq, c->last_seq,
                        c->lines);
}

/* Rewrites q's body with only its unsettled calls, numbered from 1 again
 * (the id of a call is its position). Returns how many are left. */
static unsigned
req_compact(struct agent *agent, struct ship_req *q)
{
    struct wharf_textbuf nb = { 0 };
    unsigned i, j = 0;
    size_t head = strlen(CALL_HEAD);

    q->has_lines = 0;
    wharf_textbuf_put(&nb, "[", 1);
    for (i = 0; i < q->ncalls; i++) {
        struct ship_call c = q->calls[i];
        const char *text = q->body.p + c.off, *rest;
        char *end;

        if (c.kind == CALL_DONE) {
            continue;
        }
        strtoul(text + head, &end, 10);
        rest = end;
        if (j > 0) {
            wharf_textbuf_put(&nb, ",", 1);
        }
        c.off = nb.len;
        wharf_textbuf_printf(&nb, CALL_HEAD "%u", j + 1);
        wharf_textbuf_put(&nb, rest, c.len - (size_t) (rest - text));
        c.len = nb.len - c.off;
        q->calls[j++] = c;
        if (c.kind == CALL_LOGS) {
            q->has_lines = 1;
        }
    }
    wharf_textbuf_put(&nb, "]", 1);
    if (nb.oom) {
        /* cannot resend: what is left is lost, and counted */
        wharf_error("ship: out of memory: %u calls not sent again", j);
        for (i = 0; i < j; i++) {
            if (q->calls[i].kind == CALL_LOGS) {
                drop_call_lines(agent, &q->calls[i]);
            } else if (q->calls[i].kind == CALL_LASTSEQ) {
                agent->ship.inst[q->calls[i].proc].seq_asked = 0;
            }
        }
        free(nb.p);
        q->ncalls = 0;
        return 0;
    }
    free(q->body.p);
    q->body = nb;
    q->ncalls = j;
    set_counted(&agent->ship, q, nb.len);
    return j;
}

/* A call the orchestrator refused for good (resending cannot help): its
 * lines are lost and counted, so they show up in the next logs_dropped
 * event (reason "refused") instead of blocking every later line behind an
 * endless retry. A storeLogs/storeErrors refused as invalid params gets
 * here only once split_refused() could not help. */
static void
refuse_call(struct agent *agent, struct ship_req *q, struct ship_call *c,
            long long code, const char *msg)
{
    wharf_error("ship: call refused (%lld %s): %.200s", code, msg ? msg : "",
                q->body.p + c->off);
    if (c->kind == CALL_LOGS) {
        count_lost(&agent->ship, &agent->ship.inst[c->proc].refused,
                   c->first_seq, c->last_seq, c->lines);
        agent->ship.lines_refused += c->lines;
    } else if (c->kind == CALL_LASTSEQ) {
        /* never leave an instance unable to ship */
        agent->ship.inst[c->proc].seq_known = 1;
        agent->ship.inst[c->proc].seq_asked = 0;
    }
    c->kind = CALL_DONE;
}

/* Appends to q, after the body's end (req_compact() puts it in place
 * before q goes again), a call like tmpl with params whose array member
 * holds elems. Returns 0, or -1 when out of memory. */
static int
add_part(struct agent *agent, struct ship_req *q, const struct ship_call *tmpl,
         json_t *params, const char *array, json_t *elems, int truncated)
{
    const struct agent_ship_inst *in = &agent->ship.inst[tmpl->proc];
    struct ship_call *c;
    size_t off = q->body.len, i;
    uint64_t first = 0, last = 0;
    json_t *e;
    char *text;

    if (json_object_set(params, array, elems) != 0
        || (text = json_dumps(params, JSON_COMPACT)) == NULL) {
        return -1;
    }
    wharf_textbuf_str(&q->body, CALL_HEAD "0,\"method\":\"" RPC_PREFIX);
    wharf_textbuf_str(&q->body,
                      tmpl->kind == CALL_LOGS ? "storeLogs" : "storeErrors");
    wharf_textbuf_str(&q->body, "\",\"params\":");
    wharf_textbuf_str(&q->body, text);
    wharf_textbuf_str(&q->body, "}");
    free(text);
    if (q->body.oom || (c = call_new(q)) == NULL) {
        return -1;
    }
    c->off = off;
    c->len = q->body.len - off;
    c->kind = tmpl->kind;
    c->proc = tmpl->proc;
    c->truncated = (unsigned char) truncated;
    c->fresh = 1;
    if (tmpl->kind == CALL_LOGS) {
        json_array_foreach (elems, i, e) {
            uint64_t seq =
                (uint64_t) json_integer_value(json_object_get(e, "sequence"))
                - in->seq_base;

            if (i == 0 || seq < first) {
                first = seq;
            }
            if (i == 0 || seq > last) {
                last = seq;
            }
        }
        c->lines = (uint32_t) json_array_size(elems);
        c->first_seq = first;
        c->last_seq = last;
    }
    return 0;
}

/* Cuts the texts of el (a log's message; an error's message and
 * rawOutput) to limit bytes with the marker (refusal.h). Returns the
 * bytes cut, 0 when every text fitted already. */
static size_t
truncate_texts(json_t *el, int kind, size_t limit)
{
    static const char *const texts[] = { "message", "rawOutput" };
    size_t k, cut, total = 0;

    for (k = 0; k < (kind == CALL_LOGS ? 1u : 2u); k++) {
        json_t *v = json_object_get(el, texts[k]), *nv;

        if (!json_is_string(v)) {
            continue;
        }
        nv = agent_truncate_text(json_string_value(v), json_string_length(v),
                                 limit, &cut);
        if (nv != NULL) {
            json_object_set_new(el, texts[k], nv);
            total += cut;
        }
    }
    return total;
}

/*
 * The orchestrator refused call ci of q, a storeLogs or storeErrors, as
 * invalid params, naming field (NULL: none) and, for a length, its limit
 * max (0: not said). It stored nothing of the call, so the call is split
 * around the element named (in halves when none is) and the parts go
 * again at once: only the offending element stays refused. That element,
 * alone, goes once more with its text cut to the limit and marked
 * (refusal.h). Returns 0 when call ci was replaced by its parts (it is
 * settled), -1 when splitting cannot help: the caller refuses it.
 */
static int
split_refused(struct agent *agent, struct ship_req *q, unsigned ci,
              const char *field, size_t max, const char *msg)
{
    struct ship_call c = q->calls[ci];
    const struct agent_proc *p = agent->sup.procs[c.proc];
    const char *array = c.kind == CALL_LOGS ? "logs" : "errors", *member = NULL;
    size_t idx = SIZE_MAX, mlen = 0, n, i, j, k = 0, cuts[4], cut;
    unsigned saved = q->ncalls;
    json_t *call, *arr, *params = NULL, *el = NULL, *part;
    int rc = -1;

    /* the array itself (too many elements: wharfd's --batch-max) is
     * split in halves; another member of the call, never */
    if (field != NULL && strcmp(field, array) != 0
        && agent_refusal_field(field, array, &idx, &member, &mlen) != 0) {
        return -1; /* the call's own member: no part of it would do */
    }
    call = json_loadb(q->body.p + c.off, c.len, JSON_ALLOW_NUL, NULL);
    arr = json_object_get(json_object_get(call, "params"), array);
    n = json_array_size(arr);
    if (n > 0) {
        params = json_copy(json_object_get(call, "params"));
    }
    if (params == NULL) {
        goto done;
    }
    if (n > 1) {
        cuts[k++] = 0;
        if (idx < n) {
            if (idx > 0) {
                cuts[k++] = idx;
            }
            if (idx + 1 < n) {
                cuts[k++] = idx + 1;
            }
        } else {
            cuts[k++] = n / 2;
        }
        cuts[k++] = n;
        for (j = 0; j + 1 < k; j++) {
            part = json_array();
            for (i = cuts[j]; i < cuts[j + 1]; i++) {
                json_array_append(part, json_array_get(arr, i));
            }
            rc = part != NULL ? add_part(agent, q, &c, params, array, part, 0)
                              : -1;
            json_decref(part);
            if (rc != 0) {
                goto done;
            }
        }
        wharf_info("ship: %s of %zu refused (%s); sending it again in %zu "
                   "parts, so that only the offending one is affected",
                   array, n, msg ? msg : "invalid params", k - 1);
        goto done;
    }
    /* one element: its text cut to the limit, once */
    if (c.truncated || member == NULL
        || !((mlen == 7 && strncmp(member, "message", 7) == 0)
             || (c.kind == CALL_ERRORS && mlen == 9
                 && strncmp(member, "rawOutput", 9) == 0))) {
        goto done;
    }
    el = json_deep_copy(json_array_get(arr, 0));
    cut = el != NULL
        ? truncate_texts(el, c.kind, max ? max : AGENT_TRUNCATE_DEFAULT)
        : 0;
    part = cut > 0 ? json_pack("[O]", el) : NULL;
    if (part == NULL) {
        goto done;
    }
    rc = add_part(agent, q, &c, params, array, part, 1);
    json_decref(part);
    if (rc == 0) {
        if (c.kind == CALL_LOGS) {
            wharf_warn("process %s: log line %lld refused by the orchestrator "
                       "(%s); storing it truncated, %zu bytes cut",
                       p->spec.id,
                       (long long) json_integer_value(
                           json_object_get(json_array_get(arr, 0), "sequence")),
                       msg ? msg : "invalid params", cut);
        } else {
            wharf_warn("process %s: an error refused by the orchestrator "
                       "(%s); storing it truncated, %zu bytes cut",
                       p->spec.id, msg ? msg : "invalid params", cut);
        }
    }

done:
    if (rc == 0) {
        q->calls[ci].kind = CALL_DONE;
    } else {
        q->ncalls = saved; /* no part of it goes */
    }
    json_decref(el);
    json_decref(params);
    json_decref(call);
    return rc;
}

/* Error codes that refuse the request itself, not the orchestrator's state:
 * the same bytes sent again get the same answer. */
static int
refused_for_good(json_int_t code)
{
    return code == -32700 || code == -32600 || code == -32601 || code == -32602;
}

/* The orchestrator answered: settles each call of q. */
static void
settle(struct agent *agent, struct ship_req *q, json_t *resp, const char **why)
{
    size_t k;
    unsigned ncalls;
    json_t *r;

    if (json_is_object(resp)) {
        /* one answer for the whole batch: an error about the request */
        json_t *e = json_object_get(resp, "error");
        json_int_t code = json_integer_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));

        if (refused_for_good(code)) {
            /* a body the orchestrator cannot read (-32700, -32600) would
             * be refused again on every retry and hold up everything
             * queued behind it */
            for (k = 0; k < q->ncalls; k++) {
                if (q->calls[k].kind != CALL_DONE) {
                    refuse_call(agent, q, &q->calls[k], code, msg);
                }
            }
            return;
        }
        *why = msg != NULL ? msg : "the orchestrator refused the request";
        return;
    }
    if (!json_is_array(resp)) {
        *why = "the orchestrator's answer is not a JSON-RPC batch";
        return;
    }
    /* calls that split_refused() adds are not answered here */
    ncalls = q->ncalls;
    json_array_foreach (resp, k, r) {
        json_t *idv = json_object_get(r, "id"), *res, *err;
        struct ship_call *c;
        unsigned id;

        if (!json_is_integer(idv)) {
            continue;
        }
        id = (unsigned) json_integer_value(idv);
        if (id < 1 || id > ncalls || q->calls[id - 1].kind == CALL_DONE) {
            continue;
        }
        c = &q->calls[id - 1];
        res = json_object_get(r, "result");
        err = json_object_get(r, "error");
        if (err != NULL) {
            json_int_t code = json_integer_value(json_object_get(err, "code"));
            const char *msg =
                json_string_value(json_object_get(err, "message"));
            json_t *data = json_object_get(err, "data");
            json_int_t max = json_integer_value(json_object_get(data, "max"));

            if (code == -32602
                && (c->kind == CALL_LOGS || c->kind == CALL_ERRORS)
                && split_refused(
                       agent, q, id - 1,
                       json_string_value(json_object_get(data, "field")),
                       max > 0 ? (size_t) max : 0, msg)
                    == 0) {
                continue;
            }
            c = &q->calls[id - 1]; /* q->calls may have moved */
            if (refused_for_good(code)) {
                refuse_call(agent, q, c, (long long) code, msg);
            } else {
                *why = msg ? msg : "a call failed";
            }
            continue;
        }
        if (c->kind == CALL_LASTSEQ) {
            const struct agent_proc *p = agent->sup.procs[c->proc];
            struct agent_ship_inst *in = &agent->ship.inst[c->proc];
            json_t *last = json_object_get(res, "lastSequence");

            if (!json_is_integer(last) || json_integer_value(last) < 0) {
                *why = "getLastSequence answered no lastSequence";
                continue;
            }
            in->seq_base = (uint64_t) json_integer_value(last);
            in->seq_known = 1;
            in->seq_asked = 0;
            wharf_info("process %s: sequence numbers continue after %llu",
                       p->spec.id, (unsigned long long) in->seq_base);
        }
        if (c->truncated) {
            agent->ship.truncated++; /* stored, truncated */
        }
        c->kind = CALL_DONE;
    }
}

/* --- failover and failback (ship_urls.h) ---------------------------------- */

static void on_failback(uv_timer_t *t);

/* An orchestrator answered. Away from the preferred one, it is probed
 * --failback-ms later. */
static void
answered(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    agent_ship_urls_answered(&sh->urls);
    if (sh->urls.cur != 0 && !sh->probe_busy
        && !uv_is_active((uv_handle_t *) &sh->failback_timer)) {
        uv_timer_start(&sh->failback_timer, on_failback, agent->cfg.failback_ms,
                       0);
    }
}

/* Sends a heartbeat to the preferred orchestrator on the probe's own
 * handle; probe_done() decides. */
static void
on_failback(uv_timer_t *t)
{
    struct agent *agent = t->data;
    struct agent_ship *sh = &agent->ship;
    CURL *e = sh->probe_easy;

    if (sh->urls.cur == 0 || sh->probe_busy || sh->stopping) {
        return;
    }
    sh->probe_body.len = 0;
    sh->probe_body.oom = 0;
    wharf_textbuf_str(&sh->probe_body,
                      "[" CALL_HEAD "1,\"method\":\"" RPC_PREFIX
                      "heartbeat\",\"params\":{");
    tb_identity(&sh->probe_body, agent);
    wharf_textbuf_str(&sh->probe_body,
                      ",\"agentVersion\":\"" AGENT_VERSION "\"}}]");
    sh->probe_resp.len = 0;
    sh->probe_resp.over = sh->probe_resp.oom = 0;
    if (sh->probe_body.oom) {
        uv_timer_start(&sh->failback_timer, on_failback, agent->cfg.failback_ms,
                       0);
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, sh->urls.rpc[0]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, sh->probe_body.p);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) sh->probe_body.len);
    if (curl_multi_add_handle(sh->multi, e) != CURLM_OK) {
        uv_timer_start(&sh->failback_timer, on_failback, agent->cfg.failback_ms,
                       0);
        return;
    }
    sh->probe_busy = 1;
}

/* The preferred orchestrator answered the probe with a JSON-RPC result:
 * requests go to it again. Otherwise it is probed a period later. */
static void
probe_done(struct agent *agent, CURLcode rc)
{
    struct agent_ship *sh = &agent->ship;
    long status = 0;
    json_t *resp = NULL, *first;
    int ok;

    curl_multi_remove_handle(sh->multi, sh->probe_easy);
    sh->probe_busy = 0;
    curl_easy_getinfo(sh->probe_easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status == 200) {
        resp = json_loadb(sh->probe_resp.p ? sh->probe_resp.p : "",
                          sh->probe_resp.len, 0, NULL);
    }
    first = json_array_get(resp, 0);
    ok = json_object_get(first, "result") != NULL;
    json_decref(resp);
    if (!ok) {
        wharf_debug("ship: %s does not answer yet (HTTP %ld, %s)",
                    sh->urls.rpc[0], status, curl_easy_strerror(rc));
        uv_timer_start(&sh->failback_timer, on_failback, agent->cfg.failback_ms,
                       0);
        return;
    }
    if (sh->urls.cur != 0) {
        wharf_info("ship: %s answers again: back to it from %s",
                   sh->urls.rpc[0], sh->urls.rpc[sh->urls.cur]);
        agent_ship_urls_failback(&sh->urls);
    }
}

static void
finish(struct agent *agent, struct ship_req *q, CURLcode rc)
{
    struct agent_ship *sh = &agent->ship;
    const char *why = NULL;
    char buf[CURL_ERROR_SIZE + 64];
    const char *url = sh->urls.rpc[q->url];
    long status = 0;
    json_t *resp = NULL;
    unsigned i, left, fresh = 0;
    int gone;

    curl_multi_remove_handle(sh->multi, q->easy);
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(buf, sizeof(buf), "POST %s: %s", url, curl_easy_strerror(rc));
        why = buf;
    } else if (status == 413) {
        /* the gateway's body limit is below the agent's batch size
         * (AGENT_SHIP_BATCH_BYTES plus escaping): the same body would be
         * refused forever, so its calls are lost and counted (reason
         * "refused", with this line as the cause) */
        wharf_error("ship: POST %s: HTTP 413, the orchestrator's body limit "
                    "(nginx client_max_body_size) must be at least %u "
                    "bytes",
                    url, 4u * AGENT_SHIP_BATCH_BYTES);
        for (i = 0; i < q->ncalls; i++) {
            if (q->calls[i].kind != CALL_DONE) {
                refuse_call(agent, q, &q->calls[i], 413, "body too large");
            }
        }
    } else {
        resp = json_loadb(q->resp.p ? q->resp.p : "", q->resp.len, 0, NULL);
        if (resp == NULL) {
            snprintf(buf, sizeof(buf), "POST %s: HTTP %ld, no JSON answer", url,
                     status);
            why = buf;
        } else {
            settle(agent, q, resp, &why);
            if (why != NULL && why != buf) {
                /* why may point into resp, which is freed below */
                snprintf(buf, sizeof(buf), "%s", why);
                why = buf;
            }
            if (status != 200 && why == NULL) {
                snprintf(buf, sizeof(buf), "POST %s: HTTP %ld", url, status);
                why = buf;
            }
        }
    }
    /* what another gateway may answer: none answered, or not wharfd */
    gone = rc != CURLE_OK || status >= 500 || (status != 413 && resp == NULL);
    json_decref(resp);
    left = req_compact(agent, q);
    for (i = 0; i < left; i++) {
        fresh += q->calls[i].fresh;
        q->calls[i].fresh = 0;
    }
    if (left > 0 && (why != NULL || fresh < left)) {
        backoff_from(agent, q, why ? why : "calls left unanswered", gone);
        return;
    }
    q->backoff_ms = 0;
    if (!gone) {
        answered(agent);
    }
    if (left > 0) {
        /* only the parts of refused calls are left: the orchestrator
         * answered, they go again at once */
        if (req_send(agent, q) != 0) {
            backoff(agent, q, "curl_multi_add_handle failed");
            return;
        }
    } else {
        req_reset(sh, q);
    }
    if (sh->failures > 0) {
        wharf_info("ship: the orchestrator answers again (after %u "
                   "failures)",
                   sh->failures);
        sh->failures = 0;
        /* it is back: the other failed requests need not wait out their
         * backoff */
        for (i = 0; i < sh->nreqs; i++) {
            if (sh->reqs[i].state == REQ_RETRY) {
                uv_timer_start(&sh->reqs[i].retry_timer, on_retry, 0, 0);
            }
        }
    }
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
            char *priv = NULL;

            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            if (m->easy_handle == agent->ship.probe_easy) {
                probe_done(agent, m->data.result);
            } else if (priv != NULL) {
                finish(agent, (struct ship_req *) (void *) priv,
                       m->data.result);
            }
        }
    }
}

/* Fills the free slot q with what may go now. Returns 1 when it holds
 * calls (then it is sent), 0 when there was nothing to send. */
static int
req_build(struct agent *agent, struct ship_req *q, int control_free)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i;

    req_reset(sh, q);
    wharf_textbuf_put(&q->body, "[", 1);
    if (control_free) {
        uint64_t mark = acked_mark(sh);

        take_lastseq(agent, q);
        take_upserts(agent, q, mark);
        take_items(agent, q, mark);
        q->control = q->ncalls > 0;
    }
    if (sh->heartbeat_due) {
        json_t *hb = json_pack("{s:s,s:s}", "worker", agent->cfg.worker,
                               "agentVersion", AGENT_VERSION);

        sh->heartbeat_due = 0;
        if (hb != NULL && agent->cfg.container[0] != '\0') {
            json_object_set_new(hb, "container",
                                json_string(agent->cfg.container));
        }
        if (hb != NULL) {
            add_json_call(q, "heartbeat", CALL_HEARTBEAT, ~0u, hb);
        }
    }
    if (sh->queue.nrecs > 0 && sh->inflight_bytes < inflight_reserve(sh)) {
        take_logs(agent, q);
    }
    wharf_textbuf_put(&q->body, "]", 1);
    if (q->body.oom) {
        wharf_error("ship: out of memory building a request");
        for (i = 0; i < q->ncalls; i++) {
            if (q->calls[i].kind == CALL_LOGS) {
                drop_call_lines(agent, &q->calls[i]);
            } else if (q->calls[i].kind == CALL_LASTSEQ) {
                agent->ship.inst[q->calls[i].proc].seq_asked = 0;
            }
        }
        req_reset(sh, q);
        return 0;
    }
    if (q->ncalls == 0) {
        req_reset(sh, q);
        return 0;
    }
    set_counted(sh, q, q->body.len);
    if (req_send(agent, q) != 0) {
        backoff(agent, q, "curl_multi_add_handle failed");
    }
    return 1;
}

/* Starts new requests in the free slots while there is something to send:
 * a full batch at once, anything else once the batching delay is over. A
 * failed request that waits for its retry holds new ones back. */
static void
try_send(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;

    /* after a failure, the failed request's retry is the probe: nothing
     * new goes until one request went through */
    if (!sh->enabled || sh->failures > 0) {
        return;
    }
    for (;;) {
        struct ship_req *free_slot = NULL;
        int control_free = 1;
        unsigned i;

        for (i = 0; i < sh->nreqs; i++) {
            struct ship_req *q = &sh->reqs[i];

            if (q->state == REQ_RETRY) {
                return;
            }
            if (q->state == REQ_FREE) {
                if (free_slot == NULL) {
                    free_slot = q;
                }
            } else if (q->control) {
                control_free = 0;
            }
        }
        if (free_slot == NULL) {
            return;
        }
        if (!(sh->queue.nrecs >= AGENT_SHIP_BATCH_LINES || sh->flush_due
              || sh->stopping)) {
            return;
        }
        if (!req_build(agent, free_slot, control_free)) {
            return; /* nothing may go yet: the next answer retries */
        }
        sh->flush_due = 0;
        if (pending(agent) && !uv_is_active((uv_handle_t *) &sh->flush_timer)) {
            uv_timer_start(&sh->flush_timer, on_flush, AGENT_SHIP_FLUSH_MS, 0);
        }
    }
}

static void
on_flush(uv_timer_t *t)
{
    struct agent *agent = t->data;

    agent->ship.flush_due = 1;
    try_send(agent);
}

static void
on_beat(uv_timer_t *t)
{
    struct agent *agent = t->data;

    agent->ship.heartbeat_due = 1;
    agent->ship.flush_due = 1;
    try_send(agent);
}

void
agent_ship_flush_now(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i;

    if (!sh->enabled) {
        return;
    }
    sh->stopping = 1;
    for (i = 0; i < sh->nreqs; i++) {
        struct ship_req *q = &sh->reqs[i];

        if (q->state == REQ_RETRY
            && uv_timer_get_due_in(&q->retry_timer) > 200) {
            /* no long waits while the agent stops */
            uv_timer_start(&q->retry_timer, on_retry, 200, 0);
        }
    }
    try_send(agent);
}

/* --- set-up ----------------------------------------------------------------- */

/* What every handle to the orchestrator shares; its URL is set per send. */
static void
ship_easy_setup(struct agent *agent, CURL *e, struct wharf_textbuf *resp)
{
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, agent->ship.headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    /* past AGENT_SHIP_RESPONSE_MAX the transfer fails: retried */
    resp->max = AGENT_SHIP_RESPONSE_MAX;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wharf_textbuf_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) agent->cfg.ship_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "wharf-agent/" AGENT_VERSION);
}

int
agent_ship_init(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    char auth[64 + 4096];
    size_t chunk_size;
    unsigned i;

    sh->max_bytes = agent->cfg.buffer_bytes;
    chunk_size = agent->cfg.line_max * 2 + 4096;
    if (chunk_size < AGENT_SHIP_CHUNK_MIN) {
        chunk_size = AGENT_SHIP_CHUNK_MIN;
    }
    agent_shipq_init(&sh->queue, chunk_size, agent->cfg.buffer_compress,
                     on_queue_drop, agent);
    sh->rand_state = (unsigned) uv_hrtime() ^ (unsigned) getpid();
    sh->ts_sec = -1;
    uv_timer_init(&agent->loop, &sh->curl_timer);
    uv_timer_init(&agent->loop, &sh->flush_timer);
    uv_timer_init(&agent->loop, &sh->beat_timer);
    uv_timer_init(&agent->loop, &sh->failback_timer);
    sh->curl_timer.data = sh->flush_timer.data = agent;
    sh->beat_timer.data = sh->failback_timer.data = agent;
    sh->timers_open = 1;
    if (agent->cfg.norchestrators == 0) {
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        wharf_error("curl_global_init failed");
        return -1;
    }
    if (agent_ship_urls_init(&sh->urls, agent->cfg.orchestrators,
                             agent->cfg.norchestrators)
        != 0) {
        wharf_error("out of memory");
        return -1;
    }
    sh->multi = curl_multi_init();
    sh->nreqs = agent->cfg.ship_inflight ? agent->cfg.ship_inflight
                                         : AGENT_SHIP_INFLIGHT_DEFAULT;
    sh->reqs = calloc(sh->nreqs, sizeof(*sh->reqs));
    if (sh->multi == NULL || sh->reqs == NULL) {
        wharf_error("cannot start libcurl");
        sh->nreqs = 0;
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
    for (i = 0; i < sh->nreqs; i++) {
        struct ship_req *q = &sh->reqs[i];
        CURL *e = curl_easy_init();

        q->agent = agent;
        uv_timer_init(&agent->loop, &q->retry_timer);
        q->retry_timer.data = q;
        if (e == NULL) {
            wharf_error("cannot start libcurl");
            return -1;
        }
        q->easy = e;
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) q);
        ship_easy_setup(agent, e, &q->resp);
    }
    sh->probe_easy = curl_easy_init();
    if (sh->probe_easy == NULL) {
        wharf_error("cannot start libcurl");
        return -1;
    }
    ship_easy_setup(agent, sh->probe_easy, &sh->probe_resp);
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
    const struct agent_shipq *bq = &sh->queue;
    unsigned i;

    if (sh->enabled) {
        /* what the buffer's compression did (bench/agent reads this) */
        wharf_info(
            "ship: buffer: %llu chunks compressed, %llu -> %llu "
            "bytes (ratio %.2f), %llu kept raw, %llu decompressed, "
            "%llu dropped whole, %.1f ms; queue memory peak %zu "
            "bytes",
            (unsigned long long) bq->z_chunks, (unsigned long long) bq->z_in,
            (unsigned long long) bq->z_out,
            bq->z_out ? (double) bq->z_in / (double) bq->z_out : 0.0,
            (unsigned long long) bq->z_raw, (unsigned long long) bq->z_unz,
            (unsigned long long) bq->z_whole, (double) bq->z_ns / 1e6,
            bq->mem_peak);
    }

    for (i = 0; i < sh->nreqs; i++) {
        struct ship_req *q = &sh->reqs[i];

        if (q->easy != NULL) {
            if (q->state == REQ_BUSY) {
                curl_multi_remove_handle(sh->multi, q->easy);
            }
            curl_easy_cleanup(q->easy); /* closes its sockets: sock_cb */
            q->easy = NULL;
        }
        if (q->agent != NULL) {
            q->agent = NULL;
            uv_close((uv_handle_t *) &q->retry_timer, NULL);
        }
    }
    if (sh->probe_easy != NULL) {
        if (sh->probe_busy) {
            curl_multi_remove_handle(sh->multi, sh->probe_easy);
            sh->probe_busy = 0;
        }
        curl_easy_cleanup(sh->probe_easy);
        sh->probe_easy = NULL;
    }
    if (sh->multi != NULL) {
        curl_multi_cleanup(sh->multi);
        sh->multi = NULL;
    }
    if (sh->timers_open) {
        sh->timers_open = 0;
        uv_close((uv_handle_t *) &sh->curl_timer, NULL);
        uv_close((uv_handle_t *) &sh->flush_timer, NULL);
        uv_close((uv_handle_t *) &sh->beat_timer, NULL);
        uv_close((uv_handle_t *) &sh->failback_timer, NULL);
    }
}

void
agent_ship_free(struct agent *agent)
{
    struct agent_ship *sh = &agent->ship;
    unsigned i;

    agent_shipq_free(&sh->queue);
    while (sh->items != NULL) {
        drop_oldest_item(sh);
    }
    for (i = 0; i < sh->nreqs; i++) {
        free(sh->reqs[i].body.p);
        free(sh->reqs[i].calls);
        wharf_textbuf_free(&sh->reqs[i].resp);
    }
    free(sh->reqs);
    agent_ship_urls_free(&sh->urls);
    wharf_textbuf_free(&sh->probe_body);
    wharf_textbuf_free(&sh->probe_resp);
    curl_slist_free_all(sh->headers);
    if (sh->enabled) {
        curl_global_cleanup();
    }
    memset(sh, 0, sizeof(*sh));
}
