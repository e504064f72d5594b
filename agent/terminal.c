/*
 * /terminal sessions: see terminal.h for flow control and endings, and
 * tty_proto.h for what the client sees.
 *
 * A session ties three things with different lifetimes together: the
 * WebSocket (wsi), the PTY master, and the program's process group. Each
 * has its own end event (lws CLOSED, read() EIO, SIGCHLD) and they arrive in
 * any order, so the session keeps one flag per fact and every event handler
 * ends by re-deciding what to do from those flags (maybe_end, maybe_free).
 */
#include "terminal.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "agent.h"
#include "log.h"
#include "pty.h"
#include "tty_proto.h"

enum session_timer {
    TIMER_NONE,
    TIMER_DRAIN, /* program reaped, waiting for the slave side to close */
    TIMER_KILL   /* SIGHUP sent, SIGKILL due */
};

struct agent_session {
    struct agent *agent;
    struct agent_session *prev, *next;
    unsigned long id;
    enum agent_tty_mode mode;

    struct lws *wsi;             /* NULL once the connection is gone */
    struct agent_tty_conn *conn; /* wsi's user data, while attached */

    struct agent_pty pty;
    struct agent_child child; /* registration with the reaper */
    int reaped;
    int wait_status;

    uv_poll_t poll;  /* on pty.master */
    int poll_events; /* what poll is started with, 0: stopped */
    int poll_closed;
    uv_timer_t timer;
    enum session_timer timer_kind;
    int handles_open; /* initialised and not yet closed */
    int freeing;

    /* program -> client: one chunk, read but not yet handed to lws */
    size_t out_len;
    int pty_eof;     /* read() said the slave side is closed */
    int send_failed; /* lws_write() failed outside the writable callback */

    /* client -> program: bytes the master has not taken yet */
    size_t in_off, in_len;
    int rx_paused;

    /* wharf.tty.v1: the text (control) message being received */
    size_t ctl_len;
    int ctl_overflow;

    int ending;  /* send the rest, exit message, close */
    int closing; /* close started: nothing more to send */

    /* Buffers last: session_start() zeroes everything before `out` only. */
    unsigned char out[LWS_PRE + AGENT_PTY_READ_CHUNK];
    unsigned char in[AGENT_PTY_INPUT_MAX];
    char ctl[AGENT_TTY_CONTROL_MAX];
};

static void update_poll(struct agent_session *s);
static void maybe_free(struct agent_session *s);
static int send_chunk(struct agent_session *s);

/* Both libuv handles close with this; the session's memory goes with the
 * last of them (libuv still touches a handle after uv_close() returns, and
 * finishes closes in no promised order). */
static void
on_handle_closed(uv_handle_t *h)
{
    struct agent_session *s = h->data;

    if (--s->handles_open == 0 && s->freeing) {
        free(s);
    }
}

static const char *
mode_name(enum agent_tty_mode mode)
{
    return mode == AGENT_TTY_V1 ? AGENT_TTY_SUBPROTOCOL : "raw";
}

/*
 * Closes a terminal WebSocket with code, close frame included.
 *
 * The usual lws way -- lws_close_reason() and a non-zero return from the
 * callback -- loses the close frame with Debian's lws 4.1.6: it is built
 * with _DEBUG, and then its service loop, right after a callback asked for
 * a close, closes a second time on libuv ("uv repeat test"), which drops the
 * connection while the close frame is still queued. A close started from
 * lws's per-connection timer (LWS_CALLBACK_TIMER returning -1) takes the
 * normal path: close frame sent, the peer's answer awaited (5 s at most),
 * then LWS_CALLBACK_CLOSED. So every close the agent starts goes that way.
 */
static void
ws_close(struct lws *wsi, struct agent_tty_conn *conn, unsigned code)
{
    if (conn->closing) {
        return;
    }
    conn->closing = 1;
    lws_close_reason(wsi, (enum lws_close_status) code, NULL, 0);
    lws_set_timer_usecs(wsi, 1);
    /* lws runs its timers after servicing some connection; outside lws's
     * own callbacks (a signal, a PTY event) nothing would, so ask for a
     * writable callback, which has nothing to do once closing is set. */
    lws_callback_on_writable(wsi);
}

static void
describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, size, "ended (status 0x%x)", (unsigned) status);
    }
}

static void arm_timer(struct agent_session *s, enum session_timer kind);

/* --- ending ----------------------------------------------------------------- */

/* The program is done with the terminal: send what is pending, then (v1)
 * the exit message, then close 1000. */
static void
begin_end(struct agent_session *s)
{
    if (s->ending || s->wsi == NULL) {
        return;
    }
    s->ending = 1;
    if (s->timer_kind == TIMER_DRAIN) {
        uv_timer_stop(&s->timer);
        s->timer_kind = TIMER_NONE;
    }
    update_poll(s);
    lws_callback_on_writable(s->wsi);
}

static void
maybe_end(struct agent_session *s)
{
    if (s->wsi != NULL && s->reaped && s->pty_eof) {
        begin_end(s);
    }
}

static void
on_child_exit(struct agent_child *child, int status)
{
    struct agent_session *s =
        (struct agent_session *) ((char *) child
                                  - offsetof(struct agent_session, child));
    char how[64];

    describe_status(status, how, sizeof(how));
    wharf_info("terminal %lu: pid %d %s", s->id, (int) s->pty.pid, how);
    s->reaped = 1;
    s->wait_status = status;
    if (s->wsi == NULL) {
        /* Client already gone: the kill timer is only needed while some
         * process of the group (a background job) is left. */
        if (s->timer_kind == TIMER_KILL
            && !agent_pty_session_alive(s->pty.pid)) {
            uv_timer_stop(&s->timer);
            s->timer_kind = TIMER_NONE;
        }
        maybe_free(s);
        return;
    }
    if (s->pty_eof) {
        begin_end(s);
    } else {
        /* Usually EIO follows at once; if a background job keeps the slave
         * open, the drain timer stops the wait. */
        arm_timer(s, TIMER_DRAIN);
    }
}

/*
 * The whole session the shell leads: its process group (the shell and its
 * foreground job), and every other process whose session id is the
 * shell's, found in /proc: background jobs in groups of their own, what
 * they started, nohup'ed ones (SIGHUP ignored, SIGKILL follows). Only a
 * process that made a session of its own (setsid) is out of reach.
 */
static void
signal_session(struct agent_session *s, int sig)
{
    if (agent_pty_session_signal(s->pty.pid, sig) == 0) {
        (void) agent_pty_signal(s->pty.pid, sig); /* no /proc */
    }
}

/* The connection is gone (or the agent let go of it): end the program.
 * Safe to call more than once. */
static void
detach(struct agent_session *s)
{
    struct agent *agent = s->agent;

    if (s->wsi == NULL) {
        return;
    }
    if (s->conn != NULL) {
        s->conn->session = NULL;
    }
    s->conn = NULL;
    s->wsi = NULL;
    agent->terminals_open--;

    /* libuv must forget the fd before it is closed: closing a polled fd
     * first would let uv_close() later EPOLL_CTL_DEL whatever socket reused
     * the number. */
    if (!s->poll_closed) {
        uv_close((uv_handle_t *) &s->poll, on_handle_closed);
        s->poll_closed = 1;
        s->poll_events = 0;
    }
    /* Closing the master hangs up the slave: the kernel sends SIGHUP to
     * the session's foreground group and leader. The explicit signals below
     * also reach a program that has not set up the terminal yet. */
    agent_pty_close_master(&s->pty);
    s->in_off = s->in_len = 0;
    s->out_len = 0;

    if (s->timer_kind == TIMER_DRAIN) {
        uv_timer_stop(&s->timer);
        s->timer_kind = TIMER_NONE;
    }
    if (!s->reaped || agent_pty_session_alive(s->pty.pid)) {
        wharf_info("terminal %lu: client gone, sending SIGHUP to session %d",
                   s->id, (int) s->pty.pid);
        signal_session(s, SIGHUP);
        signal_session(s, SIGCONT);
        arm_timer(s, TIMER_KILL);
    } else {
        wharf_info("terminal %lu: closed", s->id);
    }
    maybe_free(s);
}

/* --- timers ----------------------------------------------------------------- */

static void
on_timer(uv_timer_t *t)
{
    struct agent_session *s = t->data;
    enum session_timer kind = s->timer_kind;

    s->timer_kind = TIMER_NONE;
    switch (kind) {
    case TIMER_DRAIN:
        if (s->wsi == NULL || s->ending || s->pty_eof) {
            break;
        }
        if (agent_pty_slave_closed(s->pty.master)) {
            /* Nobody holds the slave: what is left is finite and ends in
             * EIO; it is only waiting for the client to read it. */
            break;
        }
        wharf_info("terminal %lu: program gone but its terminal is still "
                   "held open after %u ms; closing",
                   s->id, s->agent->cfg.kill_timeout_ms);
        begin_end(s);
        break;
    case TIMER_KILL:
        if (!s->reaped || agent_pty_session_alive(s->pty.pid)) {
            wharf_info("terminal %lu: session %d still alive after %u ms, "
                       "sending SIGKILL",
                       s->id, (int) s->pty.pid, s->agent->cfg.kill_timeout_ms);
            signal_session(s, SIGKILL);
        }
        maybe_free(s);
        break;
    case TIMER_NONE:
        break;
    }
}

static void
arm_timer(struct agent_session *s, enum session_timer kind)
{
    s->timer_kind = kind;
    uv_timer_start(&s->timer, on_timer, s->agent->cfg.kill_timeout_ms, 0);
}

/* --- freeing ---------------------------------------------------------------- */

/* Frees the session once nothing refers to it any more: no connection, the
 * program reaped, no timer pending. */
static void
maybe_free(struct agent_session *s)
{
    struct agent *agent = s->agent;

    if (s->freeing || s->wsi != NULL || !s->reaped
        || s->timer_kind != TIMER_NONE) {
        return;
    }
    s->freeing = 1;
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        agent->sessions = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    agent->sessions_alive--;
    if (!s->poll_closed) {
        uv_close((uv_handle_t *) &s->poll, on_handle_closed);
        s->poll_closed = 1;
    }
    agent_pty_close_master(&s->pty);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *) &s->timer, on_handle_closed);
}

/* --- PTY I/O ---------------------------------------------------------------- */

static void on_pty_io(uv_poll_t *h, int status, int events);

static void
update_poll(struct agent_session *s)
{
    int events = 0;

    if (s->poll_closed || s->pty.master < 0) {
        return;
    }
    if (s->wsi != NULL && s->out_len == 0 && !s->pty_eof && !s->ending
        && !s->closing && !s->send_failed) {
        events |= UV_READABLE;
    }
    if (s->in_len > s->in_off) {
        events |= UV_WRITABLE;
    }
    if (events == s->poll_events) {
        return;
    }
    if (events != 0) {
        uv_poll_start(&s->poll, events, on_pty_io);
    } else {
        uv_poll_stop(&s->poll);
    }
    s->poll_events = events;
}

static void
pty_eof(struct agent_session *s)
{
    s->pty_eof = 1;
    s->in_off = s->in_len = 0; /* nobody will read it */
    if (s->rx_paused && s->wsi != NULL) {
        s->rx_paused = 0;
        lws_rx_flow_control(s->wsi, 1);
    }
    maybe_end(s);
}

/*
 * Fills the output chunk with what the master has now, then hands it to the
 * socket. One read() of a pty master returns at most what the line
 * discipline flushed at once (often a few KiB), so reading until the chunk
 * is full or the master is empty sends fewer, larger frames: one loop and
 * socket round trip per chunk instead of per flush. Still one chunk at a
 * time, so backpressure is unchanged.
 *
 * The chunk goes to lws at once when the socket can take it and lws holds
 * nothing of earlier ones (lws_send_pipe_choked(): one poll() of the
 * socket). Asking for a writable callback instead costs a round through
 * the event loop per chunk -- with lws on libuv, two epoll_ctl() to add
 * POLLOUT, an epoll_wait(), two more to drop it, and the master's poll
 * stopped and restarted -- which was a third of the agent's part of a
 * keystroke's echo. lws allows lws_write() outside the callback: what the
 * socket does not take it queues behind what it already holds, whole
 * frames in order (lws_issue_raw()), and then asks for the callback itself.
 */
static void
pty_read(struct agent_session *s)
{
    size_t len = 0;
    ssize_t n;

    for (;;) {
        n = read(s->pty.master, s->out + LWS_PRE + len,
                 AGENT_PTY_READ_CHUNK - len);
        if (n > 0) {
            len += (size_t) n;
            if (len == AGENT_PTY_READ_CHUNK) {
                break;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    if (len > 0) {
        /* An EAGAIN, EIO or 0 after data is seen again on the next read. */
        s->out_len = len;
        if (lws_send_pipe_choked(s->wsi) || send_chunk(s) != 0) {
            lws_callback_on_writable(s->wsi);
        }
        return;
    }
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    /* EIO (Linux) or 0: every slave descriptor is closed and everything
     * written before was read. */
    if (n < 0 && errno != EIO) {
        wharf_warn("terminal %lu: read from pty: %s", s->id, strerror(errno));
    }
    pty_eof(s);
}

/* Writes as much pending input as the master takes. */
static void
pty_flush_input(struct agent_session *s)
{
    ssize_t n;

    while (s->in_off < s->in_len) {
        n = write(s->pty.master, s->in + s->in_off, s->in_len - s->in_off);
        if (n > 0) {
            s->in_off += (size_t) n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            /* EIO: the slave side is gone; the input has no reader. */
            s->in_off = s->in_len;
        }
    }
    s->in_off = s->in_len = 0;
    if (s->rx_paused && s->wsi != NULL) {
        s->rx_paused = 0;
        lws_rx_flow_control(s->wsi, 1);
    }
}

static void
on_pty_io(uv_poll_t *h, int status, int events)
{
    struct agent_session *s = h->data;

    if (status < 0) {
        /* POLLERR: libuv already stopped the handle. */
        s->poll_events = 0;
        pty_eof(s);
        return;
    }
    if (events & UV_WRITABLE) {
        pty_flush_input(s);
    }
    if ((events & UV_READABLE) && s->out_len == 0 && !s->pty_eof) {
        pty_read(s);
    }
    update_poll(s);
}

/* Client bytes for the program. Returns 0, or -1 when they cannot be
 * buffered (the caller closes the connection). */
static int
session_input(struct agent_session *s, const unsigned char *data, size_t len)
{
    ssize_t n;

    if (s->pty.master < 0 || s->pty_eof || s->ending) {
        return 0; /* nobody reads the terminal any more */
    }
    if (s->in_off == s->in_len) {
        s->in_off = s->in_len = 0;
        while (len > 0) {
            n = write(s->pty.master, data, len);
            if (n > 0) {
                data += n;
                len -= (size_t) n;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                break;
            } else {
                return 0; /* EIO: slave side gone */
            }
        }
        if (len == 0) {
            return 0;
        }
    }
    if (s->in_off > 0) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    if (len > sizeof(s->in) - s->in_len) {
        wharf_error("terminal %lu: input buffer overflow (%zu pending, "
                    "%zu more)",
                    s->id, s->in_len, len);
        return -1;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    if (!s->rx_paused) {
        s->rx_paused = 1;
        lws_rx_flow_control(s->wsi, 0);
    }
    update_poll(s);
    return 0;
}

/* --- WebSocket side ------------------------------------------------------- */

/* Ends the connection early (client error, agent failure): pending
 * output is dropped. */
static void
close_with(struct agent_session *s, unsigned code)
{
    s->closing = 1;
    s->out_len = 0;
    update_poll(s);
    ws_close(s->wsi, s->conn, code);
}

static void
handle_control(struct agent_session *s)
{
    struct agent_tty_msg msg;
    char err[128];

    if (agent_tty_parse_control(s->ctl, s->ctl_len, &msg, err, sizeof(err))
        != 0) {
        wharf_warn("terminal %lu: ignored control message: %s", s->id, err);
        return;
    }
    if (msg.type == AGENT_TTY_MSG_RESIZE) {
        wharf_debug("terminal %lu: resize %ux%u", s->id, msg.cols, msg.rows);
        (void) agent_pty_resize(&s->pty, msg.cols, msg.rows);
    }
}

static void
session_receive(struct agent_session *s, const unsigned char *in, size_t len)
{
    if (s->closing || s->ending) {
        return;
    }
    if (s->mode == AGENT_TTY_RAW || lws_frame_is_binary(s->wsi)) {
        if (session_input(s, in, len) != 0) {
            close_with(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        }
        return;
    }
    /* wharf.tty.v1 text message: a control message, possibly in pieces */
    if (!s->ctl_overflow) {
        if (len > sizeof(s->ctl) - s->ctl_len) {
            s->ctl_overflow = 1;
        } else {
            memcpy(s->ctl + s->ctl_len, in, len);
            s->ctl_len += len;
        }
    }
    if (!lws_is_final_fragment(s->wsi)) {
        return;
    }
    if (s->ctl_overflow) {
        wharf_warn("terminal %lu: control message over %d bytes, closing",
                   s->id, AGENT_TTY_CONTROL_MAX);
        close_with(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
    } else {
        handle_control(s);
    }
    s->ctl_len = 0;
    s->ctl_overflow = 0;
}

/*
 * Hands the output chunk to lws. Returns 0, or -1 when the connection
 * failed: then the chunk is dropped and the next writable callback closes
 * the connection (only a callback's return value can).
 */
static int
send_chunk(struct agent_session *s)
{
    size_t len = s->out_len;
    int n = lws_write(s->wsi, s->out + LWS_PRE, len, LWS_WRITE_BINARY);

    s->out_len = 0;
    if (n < 0 || (size_t) n < len) {
        wharf_warn("terminal %lu: write to client failed", s->id);
        s->send_failed = 1;
        return -1;
    }
    return 0;
}

static int
session_writable(struct agent_session *s)
{
    struct lws *wsi = s->wsi;
    unsigned char msg[LWS_PRE + AGENT_TTY_EXIT_MAX];
    int n;

    if (s->send_failed) {
        return -1;
    }
    if (s->closing) {
        return 0;
    }
    if (s->out_len > 0) {
        if (send_chunk(s) != 0) {
            return -1;
        }
        /* lws took the chunk (what the socket did not, it holds and sends
         * before the next writable callback): read the next one. */
        update_poll(s);
        if (s->ending) {
            lws_callback_on_writable(wsi);
        }
        return 0;
    }
    if (!s->ending) {
        return 0;
    }
    /* All output is out: (v1) the exit message, then the close frame,
     * which lws queues behind it. */
    s->closing = 1;
    if (s->mode == AGENT_TTY_V1) {
        n = agent_tty_encode_exit(s->wait_status, (char *) msg + LWS_PRE,
                                  AGENT_TTY_EXIT_MAX);
        if (n > 0
            && lws_write(wsi, msg + LWS_PRE, (size_t) n, LWS_WRITE_TEXT) < n) {
            return -1;
        }
    }
    ws_close(wsi, s->conn, LWS_CLOSE_STATUS_NORMAL);
    return 0;
}

static struct agent_session *
session_start(struct agent *agent, struct lws *wsi, struct agent_tty_conn *conn,
              enum agent_tty_mode mode)
{
    struct agent_pty_spec spec;
    struct agent_session *s;
    char arg[64], peer[64];
    unsigned cols = AGENT_TTY_DEFAULT_COLS, rows = AGENT_TTY_DEFAULT_ROWS;
    int i, rc;

    for (i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof(arg),
                                      WSI_TOKEN_HTTP_URI_ARGS, i)
         > 0;
         i++) {
        agent_tty_apply_query_arg(arg, &cols, &rows);
    }

    /* Only the bookkeeping is zeroed: the buffers at the end of the struct
     * are written before they are read, and leaving them untouched keeps
     * an idle session's resident memory to the pages it really uses. */
    s = malloc(sizeof(*s));
    if (s == NULL) {
        wharf_error("terminal: out of memory");
        return NULL;
    }
    memset(s, 0, offsetof(struct agent_session, out));
    s->agent = agent;
    s->id = ++agent->next_session_id;
    s->mode = mode;
    s->pty.master = -1;

    spec.path = agent->child_argv[0];
    spec.argv = agent->child_argv;
    spec.envp = agent->child_envp;
    spec.cols = cols;
    spec.rows = rows;
    if (agent_pty_spawn(&s->pty, &spec) != 0) {
        free(s);
        return NULL;
    }
    s->child.pid = s->pty.pid;
    s->child.on_exit = on_child_exit;
    agent_reaper_watch(&agent->reaper, &s->child);

    /* From here on the session is complete enough for detach/maybe_free. */
    uv_timer_init(&agent->loop, &s->timer);
    s->timer.data = s;
    s->handles_open = 1;
    rc = uv_poll_init(&agent->loop, &s->poll, s->pty.master);
    if (rc == 0) {
        s->poll.data = s;
        s->handles_open++;
    } else {
        s->poll_closed = 1;
        wharf_error("terminal %lu: cannot poll the pty: %s", s->id,
                    uv_strerror(rc));
    }
    s->wsi = wsi;
    s->conn = conn;
    conn->session = s;
    s->next = agent->sessions;
    if (s->next != NULL) {
        s->next->prev = s;
    }
    agent->sessions = s;
    agent->sessions_alive++;
    agent->terminals_open++;

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    wharf_info("terminal %lu: pid %d started for %s (%s, %ux%u)", s->id,
               (int) s->pty.pid, peer, mode_name(mode), cols, rows);
    if (rc != 0) {
        close_with(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        return s;
    }
    update_poll(s);
    return s;
}

/* The gateway's health probe says "X-Wharf-Probe: 1": it checks that the
 * handshake completes (Sec-WebSocket-Accept included), so that is all it
 * gets, then a normal close; no PTY, no shell (docs/agent.md). */
static int
is_probe(struct lws *wsi)
{
    static const char name[] = AGENT_PROBE_HEADER;
    char v[8];
    int n = lws_hdr_custom_length(wsi, name, (int) sizeof(name) - 1);

    return n == 1
        && lws_hdr_custom_copy(wsi, v, sizeof(v), name, (int) sizeof(name) - 1)
        == 1
        && v[0] == '1';
}

int
agent_terminal_callback(struct lws *wsi, int reason, void *user, void *in,
                        size_t len, enum agent_tty_mode mode)
{
    struct agent_tty_conn *conn = user;
    struct agent *agent;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        agent = agent_from_lws_context(lws_get_context(wsi));
        memset(conn, 0, sizeof(*conn));
        conn->counted = 1;
        agent->ws_open++;
        if (agent->shutdown_stage != 0) {
            ws_close(wsi, conn, LWS_CLOSE_STATUS_GOINGAWAY);
        } else if (is_probe(wsi)) {
            agent->terminal_probes++;
            ws_close(wsi, conn, LWS_CLOSE_STATUS_NORMAL);
        } else if (session_start(agent, wsi, conn, mode) == NULL) {
            ws_close(wsi, conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        }
        return 0;

    case LWS_CALLBACK_TIMER:
        /* only ws_close() sets the timer */
        return conn != NULL && conn->closing ? -1 : 0;

    case LWS_CALLBACK_RECEIVE:
        if (conn != NULL && conn->session != NULL) {
            session_receive(conn->session, in, len);
        }
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (conn != NULL && conn->session != NULL) {
            return session_writable(conn->session);
        }
        return 0;

    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        /* CLOSED comes for every established WebSocket however it ended;
         * WSI_DESTROY is the safety net before the user data is freed. */
        if (conn == NULL) {
            return 0;
        }
        if (conn->session != NULL) {
            detach(conn->session);
        }
        if (conn->counted) {
            conn->counted = 0;
            agent_from_lws_context(lws_get_context(wsi))->ws_open--;
        }
        return 0;

    default:
        return 0;
    }
}

void
agent_terminal_shutdown(struct agent *agent)
{
    struct agent_session *s, *next;

    for (s = agent->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->wsi == NULL) {
            continue;
        }
        ws_close(s->wsi, s->conn, LWS_CLOSE_STATUS_GOINGAWAY);
        detach(s);
    }
}

void
agent_terminal_kill_now(struct agent *agent)
{
    struct agent_session *s, *next;
    int status;

    for (s = agent->sessions; s != NULL; s = next) {
        next = s->next;
        detach(s);
        if (!s->reaped) {
            signal_session(s, SIGKILL);
            agent_reaper_forget(&agent->reaper, &s->child);
            while (waitpid(s->pty.pid, &status, 0) < 0 && errno == EINTR) {
            }
            s->reaped = 1;
            wharf_info("terminal %lu: pid %d killed at exit", s->id,
                       (int) s->pty.pid);
        } else if (agent_pty_session_alive(s->pty.pid)) {
            signal_session(s, SIGKILL);
        }
        if (s->timer_kind != TIMER_NONE) {
            uv_timer_stop(&s->timer);
            s->timer_kind = TIMER_NONE;
        }
        maybe_free(s);
    }
}
