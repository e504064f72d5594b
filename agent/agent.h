/*
 * wharf-agent: the agent inside each worker container.
 *
 * One process, one thread, one libuv loop. libwebsockets runs on that loop as
 * a "foreign" loop (as ttyd does), so every callback -- HTTP, WebSocket, PTY
 * readiness, SIGCHLD, timers -- runs on the same thread and nothing needs a
 * lock. All mutable state lives in the one struct agent below, made by
 * main(); callbacks reach it through handle->data, the lws context's user
 * pointer or a session's back-pointer. There is no other global mutable
 * state.
 *
 * Files, by concern (docs/DESIGN-agent.md: all of them, who calls whom,
 * where a change goes):
 *   main.c       flags and environment, start-up, signals, staged shutdown
 *   config.c     parsing of flags / environment (pure, unit-tested)
 *   server.c     the lws context and vhost, protocol table, HTTP routes
 *   terminal.c   /terminal: one PTY session per WebSocket connection
 *   tty_proto.c  wharf.tty.v1 control messages (pure, unit-tested)
 *   pty.c        spawning on a PTY, signalling the process group
 *   reaper.c     SIGCHLD: reaps every child, maps pids to their owners
 *   proc.c       the process supervisor (instances, restarts, health);
 *                it reports through hooks (proc.h) that main.c wires to
 *                ship.c and api.c, and includes neither
 *   lines.c      splitting child output into lines (pure)
 *   detect.c     log levels and error detection of a line (pure)
 *   ship.c       batches to the orchestrator's /rpc (libcurl on the loop)
 *   api.c        REST /processes, POST /rpc, /websocket
 *   auth.c       route tokens (aud = this worker) and WebSocket origins
 *   appconfig.c  the JSON config file (pure)
 *
 * Error convention for agent/: a function returns 0 (or a non-negative
 * count or size) on success and -1 on failure. The function that detects a
 * failure logs it once with its cause (after a failed system call errno is
 * left set); callers decide what to do next and do not log it again. Pure
 * parsers (config.c, tty_proto.c) log nothing: they describe the problem in
 * a buffer the caller passes.
 *
 * Non-static symbols are prefixed agent_.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "keys.h"
#include "detect.h"
#include "proc.h"
#include "reaper.h"
#include "ship.h"

struct lws_context;
struct lws_vhost;
struct agent_session;
struct agent_conn;
struct agent_waiter;

struct agent {
    struct agent_config cfg;

    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_signal_t sigfwd[4]; /* forwarded to the children */
    struct agent_reaper reaper;

    /* libwebsockets, on loop */
    struct lws_context *lws;
    struct lws_vhost *vhost;
    int port; /* bound port (the kernel's pick for 0) */

    /* What a terminal runs: /bin/sh -c "exec CMD" with child_envp, built
     * once at start-up so that nothing is allocated between fork and exec. */
    char *child_argv[4];
    char *child_cmd;   /* "exec CMD", owned */
    char **child_envp; /* owned, NULL-terminated */

    /* Terminal sessions (terminal.c). A session outlives its connection
     * until its program is reaped, so the two are counted apart. */
    struct agent_session *sessions;
    unsigned sessions_alive;       /* sessions not yet freed */
    unsigned terminals_open;       /* sessions with a WebSocket attached */
    unsigned ws_open;              /* terminal WebSockets not yet closed,
                                   with or without a session */
    unsigned long next_session_id; /* also: sessions ever started */
    unsigned long terminal_probes; /* probes answered without a session */

    uint64_t started_ns; /* uv_hrtime() at start-up */

    /* The supervisor (proc.c): the instances. It reports through hooks
     * that main.c wires to the shipper and the API (proc.h). */
    struct agent_sup sup;
    struct agent_detect detect; /* the supervisor's error patterns */
    int subreaper;              /* PR_SET_CHILD_SUBREAPER is set */

    /* Shipping (ship.c). */
    struct agent_ship ship;

    /* API (api.c): /websocket connections, how many want every line, and
     * per instance (by index) the requests waiting for its output. */
    struct agent_conn *ws_conns;
    unsigned api_line_listeners;
    struct agent_waiter *api_waiters[AGENT_PROCS_MAX];

    /* The orchestrator's public keys (auth.c), read once at start. */
    struct wharf_keys keys;
    /* The ingest token read from --token-file (cfg.token points here). */
    char *token_buf;

    /* Shutdown (main.c): 0 running; 1 draining (sessions closing with 1001,
     * programs being killed); 2 final (lws context being destroyed). */
    int shutdown_stage;
    uint64_t shutdown_deadline_ms; /* uv_now() by which draining ends */
    uint64_t flush_deadline_ms;    /* ... and shipping what is left */
    uv_timer_t shutdown_timer;
};

/* The agent of an lws connection or context. */
struct agent *agent_from_lws_context(struct lws_context *cx);

#endif
