/*
 * Shipping to the orchestrator: every log line, error, event and process
 * state goes to ContainerMonitoringOps on the orchestrator's POST /rpc
 * (docs/wharfd.md), with the worker's ingest token.
 *
 * - Log lines are copied once into a queue of large chunks (no allocation
 *   per line) and leave it in batches: at most AGENT_SHIP_BATCH_LINES lines
 *   (and AGENT_SHIP_BATCH_BYTES of text) per request, sent when that many
 *   are waiting or AGENT_SHIP_FLUSH_MS after the first one, whichever comes
 *   first. A request is one JSON-RPC batch: upsertProcess for instances
 *   whose state changed, storeLogs per run of one instance's lines,
 *   storeErrors, recordEvent per event, heartbeat.
 * - Pipelining: up to --ship-inflight requests (AGENT_SHIP_INFLIGHT_DEFAULT)
 *   are in flight at once, each on its own connection, because one
 *   orchestrator commit takes far longer than the agent needs to build the
 *   next batch. Each request carries a contiguous range of the queue, so
 *   of every instance's sequence numbers; requests may be stored in any
 *   order, and storeLogs is idempotent per (worker, instance, sequence), so
 *   every line is stored once and a reader ordering by sequence sees no
 *   gap. What must keep its order goes in the "control" request, of which
 *   there is at most one at a time: process rows, errors, events,
 *   getLastSequence. An error, event or process row is sent only once
 *   every line queued before it was acknowledged (or dropped), so when the
 *   orchestrator holds an event it holds every line printed before it.
 *   After a failure no new request starts until a request went through
 *   again (the failed one's retry is the probe; the first success resends
 *   the other failed ones at once).
 * - Sequence numbers: each instance numbers its lines 1, 2, ... locally
 *   (the supervisor, proc.h); the shipped sequence is that plus the
 *   instance's last stored sequence (getLastSequence), asked once per
 *   instance before its first lines are sent, so numbers continue across
 *   agent restarts without reuse. The shipper gives an error the shipped
 *   sequence of the line it was seen in (agent_ship_error).
 * - Failures (connection, timeout, HTTP status, a -32603 or auth error):
 *   the calls that failed are sent again after an exponential backoff with
 *   jitter (AGENT_SHIP_BACKOFF_*). storeLogs is idempotent on the
 *   orchestrator (unique per worker, instance, sequence), so a resend after
 *   a lost answer stores nothing twice.
 * - Refusals: a storeLogs/storeErrors refused as invalid params (-32602) is
 *   split around the element named and sent again at once, the offending
 *   element alone truncated to the limit with a marker (refusal.h); only
 *   what that cannot help, and calls refused as -32600/-32601, are lost:
 *   counted, and reported in logs_dropped with reason "refused".
 * - Memory: queue and requests in flight together stay under --buffer-bytes
 *   (default 16 MiB), the queue counted in uncompressed record bytes: the
 *   bound is how much output is retained. In memory the waiting lines are
 *   LZ4-compressed (--buffer-compress, default on; ship_queue.h), so a full
 *   buffer of ordinary logs costs a fraction of it. A batch's memory is
 *   released when its answer comes.
 *   Requests in flight hold at most 1/AGENT_SHIP_INFLIGHT_SHARE of it
 *   (and at least one line), the queue the rest, so that turning queued
 *   lines into (larger) JSON text never makes the queue drop lines. Beyond
 *   its share the oldest queued lines are dropped; when the orchestrator
 *   answers again, each instance that lost lines reports it with a
 *   logs_dropped event {count, firstSequence, lastSequence, reason
 *   "buffer_full"}.
 * - Several orchestrators (--orchestrator URL,URL): requests go to one at
 *   a time, the first that answers; a request failing for want of its
 *   gateway moves to the next, and the first is probed and taken back
 *   --failback-ms later (ship_urls.h).
 * - libcurl's multi interface runs on the agent's libuv loop (sockets on
 *   uv_poll, its timer on a uv_timer): nothing blocks the loop.
 * - Per instance, the shipper keeps its own state (struct
 *   agent_ship_inst, by instance index); the supervisor's struct
 *   agent_proc holds nothing of shipping. main.c calls the agent_ship_*
 *   entry points below from the supervisor's hooks.
 * Without --orchestrator nothing is queued.
 */
#ifndef AGENT_SHIP_H
#define AGENT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "detect.h"
#include "proc.h"
#include "ship_queue.h"
#include "ship_urls.h"
#include "textbuf.h"

#define AGENT_SHIP_BATCH_LINES    500
#define AGENT_SHIP_BATCH_BYTES    (2u << 20)
#define AGENT_SHIP_FLUSH_MS       50
#define AGENT_SHIP_BUFFER_DEFAULT (16u << 20)
#define AGENT_SHIP_BUFFER_MIN     (64u << 10)
/* Smallest chunk of the queue (bigger when --line-max needs it: a chunk
 * holds two of the longest lines). */
#define AGENT_SHIP_CHUNK_MIN          (128u << 10)
#define AGENT_SHIP_BACKOFF_MIN_MS     100
#define AGENT_SHIP_BACKOFF_MAX_MS     5000
#define AGENT_SHIP_TIMEOUT_DEFAULT_MS 10000u
#define AGENT_SHIP_HEARTBEAT_MS       10000
/* Largest answer read from the orchestrator. */
#define AGENT_SHIP_RESPONSE_MAX (4u << 20)
/* While lines keep being dropped (an app that prints faster than the
 * orchestrator takes), logs_dropped is reported at most this often, and
 * at once when the queue has drained. */
#define AGENT_SHIP_DROP_REPORT_MS 5000
/* Most events and errors in one request. */
#define AGENT_SHIP_BATCH_ITEMS 500
/* Requests in flight at once (--ship-inflight). */
#define AGENT_SHIP_INFLIGHT_DEFAULT 4u
#define AGENT_SHIP_INFLIGHT_MAX     16u
/* Requests in flight hold at most 1/this of --buffer-bytes (at least one
 * line); the queue the rest. */
#define AGENT_SHIP_INFLIGHT_SHARE 4u
/* A request's body buffer is kept for the next one up to this size. */
#define AGENT_SHIP_BODY_KEEP (256u << 10)

struct agent;
struct ship_item;

struct ship_req;

/* Lines of one instance lost for one cause, since they were last
 * reported: how many, and the smallest range of local sequences holding
 * them. */
struct agent_drop_tally {
    uint64_t n, first, last;
};

/*
 * What the shipper knows of one instance, at index p->index of
 * agent_ship.inst (an index is never reused; all zero is a new instance).
 *
 * It describes the instance's data and how far it went, not a connection:
 * seq_base is the orchestrator's store's last sequence of the instance, so
 * an agent that moves to another orchestrator in front of the same store
 * (several URLs, failover) keeps it; seq_asked and upsert_mark only say
 * that a request (whichever it went to) carries the question or the row.
 */
struct agent_ship_inst {
    uint64_t seq_base;    /* the store's last sequence when first asked */
    int seq_known;        /* seq_base is known (getLastSequence answered,
                             or refused for good: then 0) */
    int seq_asked;        /* getLastSequence is in a request */
    int upsert_dirty;     /* the process row changed since last shipped */
    uint64_t upsert_mark; /* queue index of the next line then: the row
                             leaves once every line before it did */
    /* lines lost since last reported (logs_dropped), by cause: the
     * buffer was full (the orchestrator away or slower than the app), or
     * the orchestrator refused them even truncated */
    struct agent_drop_tally dropped, refused;
};

struct agent_ship {
    int enabled;
    void *multi;   /* CURLM */
    void *headers; /* struct curl_slist */
    /* the orchestrators' /rpc URLs and the one in use (ship_urls.h) */
    struct agent_ship_urls urls;
    uv_timer_t curl_timer, flush_timer, beat_timer;
    /* failback: a heartbeat to the first URL on a handle of its own */
    uv_timer_t failback_timer;
    void *probe_easy; /* CURL */
    struct wharf_textbuf probe_body, probe_resp;
    int probe_busy;
    int timers_open;

    /* queued log lines: a FIFO, compressed while they wait
     * (ship_queue.h); every line queued gets the next index */
    struct agent_shipq queue;
    /* queued errors and events */
    struct ship_item *items, *items_tail;
    size_t nitems;

    /* per instance, by index (see struct agent_ship_inst) */
    struct agent_ship_inst inst[AGENT_PROCS_MAX];

    size_t item_bytes;     /* items; the bound counts these and
                                   queue.bytes (uncompressed) */
    size_t inflight_bytes; /* bodies of the requests in flight */
    size_t max_bytes;

    /* the requests (--ship-inflight of them) */
    struct ship_req *reqs;
    unsigned nreqs;
    unsigned inflight_peak; /* most requests in flight at once */

    unsigned failures; /* consecutive failed requests */
    unsigned rand_state;
    int heartbeat_due;
    int flush_due;             /* the batching delay is over */
    uint64_t drop_reported_ms; /* uv_now() of the last logs_dropped */
    int stopping;              /* agent shutdown: flush what is left */

    /* counters (GET /health, tests) */
    uint64_t lines_queued, lines_shipped, lines_dropped, requests, errors;
    /* of lines_dropped, those the orchestrator refused (even truncated) */
    uint64_t lines_refused;
    /* log lines and errors the orchestrator refused whole and stored
     * truncated, with the marker (refusal.h) */
    uint64_t truncated;

    /* per-line timestamp text, cached per second */
    int64_t ts_sec;
    char ts_prefix[24];
};

/* Reads the configuration; starts curl on the loop. 0 or -1 (logged). */
int agent_ship_init(struct agent *agent);
void agent_ship_close(struct agent *agent);
void agent_ship_free(struct agent *agent);

void agent_ship_log(struct agent *agent, struct agent_proc *p, uint64_t seq,
                    int64_t ts_ms, int stream, enum agent_level level,
                    unsigned flags, const char *line, size_t len);
/* e, an element of storeErrors seen in the line of local sequence seq (0:
 * none), is queued; the shipper keeps its own reference. When the
 * instance's base is known, e gets its line's shipped sequence now (so
 * whoever sees e after this call sees it too), else when it leaves: by
 * it wharfd counts an occurrence once however often the call is resent. */
void agent_ship_error(struct agent *agent, struct agent_proc *p, json_t *e,
                      uint64_t seq);
/* ev (recordEvent params) is stolen. */
void agent_ship_event(struct agent *agent, json_t *ev);
/* The instance's row changed (or it was created): an upsertProcess goes
 * with the next batch. */
void agent_ship_process(struct agent *agent, struct agent_proc *p);
/* The shipped sequence of p's line of local sequence seq (the local one
 * while the instance's base is not known yet). */
uint64_t agent_ship_sequence(const struct agent *agent,
                             const struct agent_proc *p, uint64_t seq);

/* 1 when nothing is queued or in flight. */
int agent_ship_idle(const struct agent *agent);
/* Shutdown: send what is queued now, without waiting for a timer. */
void agent_ship_flush_now(struct agent *agent);

/* Writes len bytes of text as a JSON string body (without quotes) into
 * out, replacing invalid UTF-8 with U+FFFD. out must hold 6 * len bytes.
 * Returns the bytes written. Pure; unit-tested. */
size_t agent_json_escape(const char *s, size_t len, char *out);

#endif
