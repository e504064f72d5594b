/*
 * /terminal: one program on its own PTY per WebSocket connection. The wire
 * protocol is described in tty_proto.h; this file is about the session.
 *
 * Flow control, both ways, with one bounded buffer each way:
 *   program -> client: the master is read (one chunk, AGENT_PTY_READ_CHUNK
 *     bytes at most) only when the previous chunk has been handed to lws:
 *     at once when the socket can take it and lws holds nothing, otherwise
 *     when lws says the socket is writable again; meanwhile the master is
 *     not polled, the PTY's own buffer fills and the program blocks in
 *     write(). A slow client slows the program instead of growing a
 *     buffer.
 *   client -> program: bytes go straight to the master; what it does not
 *     take is kept (at most AGENT_PTY_INPUT_MAX bytes) and socket reading is
 *     paused (lws_rx_flow_control) until the master has taken it all.
 *
 * Endings:
 *   The program ends: output is drained until read() on the master says the
 *     slave side is closed (EIO) AND the program has been reaped; then, for
 *     wharf.tty.v1, the exit message; then close 1000. If the program was
 *     reaped but something it started still holds the terminal open after
 *     the kill timeout, the agent stops waiting and closes all the same.
 *   The client leaves (close frame, reset, ping timeout, anything): the
 *     master is closed, and every process of the session the program leads
 *     (its process group, and every process with its session id: background
 *     jobs and their children) gets SIGHUP (and SIGCONT, in case it is
 *     stopped), and SIGKILL after the kill timeout if any is left; the
 *     program is reaped by the reaper. A process that called setsid() is
 *     in a session of its own and escapes (docs/agent.md).
 *   The agent shuts down: every connection is closed with 1001 and its
 *     program is ended as if its client had left.
 * A session is freed once its connection is gone, its program reaped and
 * its kill timer done.
 */
#ifndef AGENT_TERMINAL_H
#define AGENT_TERMINAL_H

#include <stddef.h>

struct agent;
struct agent_session;
struct lws;

/* Bytes read from the master at a time: the most PTY output that waits for
 * a client. */
#define AGENT_PTY_READ_CHUNK 65536
/* The most bytes lws hands to one send(): a whole output chunk and its
 * frame header. Left at 0, lws would cut every write to the receive
 * buffer's size (4 KiB): a 64 KiB frame became 16 send()s, each after a
 * round through the event loop, and 60 KiB copied into lws's own buffer
 * to wait for them. */
#define AGENT_WS_TX_CHUNK (AGENT_PTY_READ_CHUNK + 16)
/* lws receive buffer: the most bytes one receive callback hands over. */
#define AGENT_WS_RX_CHUNK 4096
/* Input accepted from a client but not yet taken by the master. Reading
 * the socket stops as soon as anything is left over, so one receive
 * callback's worth is the most that can be pending; twice that is slack. */
#define AGENT_PTY_INPUT_MAX (2 * AGENT_WS_RX_CHUNK)

/* A request with this header (value "1") is the gateway's health probe:
 * the handshake is answered and the connection closed (1000) without a
 * session. lws names a custom header in lower case with its colon. */
#define AGENT_PROBE_HEADER "x-wharf-probe:"

enum agent_tty_mode {
    AGENT_TTY_RAW, /* no subprotocol: xterm.js AttachAddon */
    AGENT_TTY_V1   /* wharf.tty.v1 */
};

/* lws per-connection user data of both WebSocket protocols (and, unused,
 * of plain HTTP connections on protocols[0]). */
struct agent_tty_conn {
    struct agent_session *session; /* NULL before ESTABLISHED and once
                                       the session let go of this wsi */
    int closing;                   /* ws_close() started */
    int counted;                   /* in agent->ws_open */
};

/* The terminal part of an lws protocol callback. */
int agent_terminal_callback(struct lws *wsi, int reason, void *user, void *in,
                            size_t len, enum agent_tty_mode mode);

/* Shutdown: closes every terminal connection with 1001 and ends every
 * program as if its client had left. */
void agent_terminal_shutdown(struct agent *agent);

/* Last resort at exit: SIGKILLs and reaps (blocking) every program still
 * alive, and frees every session. */
void agent_terminal_kill_now(struct agent *agent);

#endif
