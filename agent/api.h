/*
 * Process control and live events: REST, JSON-RPC and the /websocket feed.
 *
 * REST (JSON bodies; errors {"error":{"code","message"}}):
 *   GET  /processes                 {"processes":[PROCESS...]}       read
 *   POST /processes                 SPEC (proc.h) + "start" (default
 *                                   true) + "output" -> 201 {"process",
 *                                   "output"?}                       control
 *   GET  /processes/ID              PROCESS                          read
 *   POST /processes/ID/start|stop|restart  {"force"?, "output"?}
 *                                   -> {"process", "output"?}        control
 *   409 {"code":"conflict"} when the state forbids it (S3), 404 unknown id.
 * JSON-RPC 2.0 on POST /rpc and on /websocket (methods with or without the
 * "ContainerMonitoringOps." prefix): startProcess, stopProcess,
 * restartProcess {instanceId, force?, output?}, getProcessStatus
 * {instanceId}, listProcesses {}, createProcess SPEC. -32602 bad params,
 * -32004 unknown instance, -32009 state conflict, -32003 missing scope.
 * "output": {"lines": N (1..1000), "timeoutMs": T (<= 60000)}: the answer
 * waits until the (re)started process printed N lines, ended, or T passed,
 * and carries them as "output": [{stream, sequence, message}]. On
 * /websocket the lines also arrive one by one as they are printed, as
 * {"jsonrpc":"2.0","method":"output","params":{instanceId,stream,
 * sequence,message}}.
 * /websocket pushes every event of this container as
 * {"jsonrpc":"2.0","method":"event","params":EVENT}, every detected error
 * as method "error", and, after "subscribe" {"logs": true}, every line as
 * method "log".
 */
#ifndef AGENT_API_H
#define AGENT_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "detect.h"
#include "terminal.h"

struct agent;
struct agent_proc;
struct lws;
struct agent_waiter;

/* Largest request body (REST, /rpc) and WebSocket message accepted. */
#define AGENT_API_BODY_MAX (256u << 10)
/* Most messages waiting for one slow /websocket client; beyond, the
 * oldest are dropped (and the client is told how many). */
#define AGENT_WS_QUEUE_MAX          4096
#define AGENT_OUTPUT_LINES_MAX      1000
#define AGENT_OUTPUT_TIMEOUT_MAX_MS 60000

enum agent_conn_kind {
    AGENT_CONN_HTTP = 0, /* plain HTTP, or a terminal WebSocket */
    AGENT_CONN_EVENTS    /* /websocket */
};

struct agent_wsmsg {
    struct agent_wsmsg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes, then the text */
};

/* The per-connection data of the "http" protocol (lws allocates it). */
struct agent_conn {
    struct agent_tty_conn tty; /* first: terminal.c's view of it */
    int kind;
    unsigned scopes;
    /* HTTP request being read, and the answer waiting to be written */
    char path[256];
    int method;
    char *body;
    size_t body_len;
    int body_too_big;
    int auth_status; /* 0, or 401/403 found before the body */
    const char *auth_why;
    struct agent_waiter *waiter;
    char *reply; /* LWS_PRE + headers + body, when deferred */
    size_t reply_len;
    /* /websocket */
    struct agent_conn *ws_prev, *ws_next;
    struct lws *wsi;
    struct agent_wsmsg *out_head, *out_tail;
    unsigned out_count;
    unsigned long out_dropped;
    int logs; /* subscribed to every line */
    char *rx;
    size_t rx_len;
    int rx_overflow;
};

/* The API's part of the "http" protocol callback (HTTP routes, bodies,
 * deferred answers, /websocket). Returns what the callback returns. */
int agent_api_http(struct agent *agent, struct lws *wsi,
                   struct agent_conn *conn, const char *path);
int agent_api_callback(struct lws *wsi, int reason, struct agent_conn *conn,
                       void *in, size_t len);

/* What the supervisor reports, called from its hooks (main.c). */
void agent_api_broadcast_event(struct agent *agent, const json_t *ev);
void agent_api_broadcast_error(struct agent *agent, struct agent_proc *p,
                               const json_t *err);
/* A line of p: to its waiters and to /websocket clients subscribed to
 * every line. seq is its shipped sequence (agent_ship_sequence). */
void agent_api_on_line(struct agent *agent, struct agent_proc *p, int stream,
                       uint64_t seq, enum agent_level level, const char *line,
                       size_t len);
/* The process ended: waiters on it answer now. */
void agent_api_proc_ended(struct agent *agent, struct agent_proc *p);

/* Shutdown: closes every /websocket with 1001. */
void agent_api_shutdown(struct agent *agent);
/* At exit: frees the waiters' timers (the loop closes them). */
void agent_api_close(struct agent *agent);

#endif
