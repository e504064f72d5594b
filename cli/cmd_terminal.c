/*
 * wharfctl terminal NAME: the local terminal attached to a worker's shell,
 * through the orchestrator (GET /api/workers/NAME/terminal, WebSocket,
 * subprotocol wharf.tty.v1), as `kubectl exec -it` / `docker exec -it`.
 *
 * One libwebsockets context on its default poll loop carries three things:
 * the WebSocket client, the terminal's input (stdin, adopted as a raw file
 * descriptor once the WebSocket is up) and the self-pipe of the signal
 * handlers (tty.h). Everything happens in lws callbacks on this one thread.
 *
 * Flow control: input read from stdin waits in one buffer of
 * CTL_TERM_INPUT_MAX bytes until the socket is writable; while it holds
 * anything, stdin is not read (lws_rx_flow_control), so a slow network
 * slows the typist, not memory. Output is written to stdout as it arrives,
 * blocking: a slow terminal slows the socket, and through the agent's own
 * flow control, the remote program.
 *
 * Ends: the agent's {"type":"exit"} and close 1000 give the remote status
 * as wharfctl's; a quit signal closes with 1000 and gives 128 + signal; a
 * refused upgrade, a lost connection or a close without an exit message is
 * 1, with a message that says what happened, printed after the terminal is
 * restored.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "http.h"
#include "name.h"
#include "term_proto.h"
#include "token.h"
#include "tty.h"
#include "ws.h"

/* Input bytes waiting for the socket (one WebSocket frame at most). */
#define CTL_TERM_INPUT_MAX 4096
/* lws's per-thread buffer: bounds the upgrade request, token included. */
#define CTL_TERM_LWS_BUF (WHARF_TOKEN_MAX + 8192)
/* Keepalive: a ping after this many idle seconds, and the connection is
 * given up when nothing proves it alive for the second number. */
#define CTL_TERM_PING_S   20
#define CTL_TERM_HANGUP_S 60
/* After stdin (not a tty) ends, ^D is sent again this often until the
 * session ends: a ^D that reaches the PTY while the shell runs a command
 * (the terminal in canonical mode) is taken as an empty read there, or
 * turned into a NUL when the shell's line editor switches to raw mode, and
 * would otherwise leave the shell waiting for input forever. */
#define CTL_TERM_EOT_REPEAT_MS 300

static const char terminal_usage[] =
    "usage: wharfctl terminal NAME\n"
    "\n"
    "Attaches this terminal to a shell in worker NAME, through the\n"
    "orchestrator (WebSocket /api/workers/NAME/terminal, wharf.tty.v1), as\n"
    "`docker exec -it` does. Needs a token with the \"terminal\" scope for\n"
    "NAME (sub NAME or \"*\").\n"
    "\n"
    "The local terminal is put in raw mode: every key, ^C and ^Z included,\n"
    "goes to the remote shell. Its size is sent at the start and whenever the\n"
    "window changes. The terminal is restored on every exit, signals "
    "included.\n"
    "When stdin is not a terminal (a pipe or a file), its bytes are sent as\n"
    "they are and its end as ^D (end of input for the shell), repeated until\n"
    "the shell has exited.\n"
    "\n"
    "Exit status: the remote shell's (128 + N when it was killed by signal\n"
    "N); 128 + N when wharfctl itself gets signal N (TERM, HUP, INT, QUIT);\n"
    "1 when the terminal could not be opened or the connection was lost;\n"
    "2 on a usage error.\n"
    "\n"
    "example: wharfctl --url http://127.0.0.1:8080 --token \"$T\" terminal "
    "demo\n";

/* What the session is doing; the one context of the command, reached from
 * the lws callbacks through the context's user pointer. */
struct term_session {
    struct ctl *c;
    struct ctl_tty tty;
    struct lws_context *cx;
    struct lws_vhost *vh;
    struct lws *ws;  /* the WebSocket, NULL once closed */
    struct lws *in;  /* stdin's raw wsi, NULL until adopted */
    struct lws *sig; /* the signal pipe's raw wsi */
    int in_fd;       /* dup of stdin that lws owns */
    int in_is_tty;
    int out_fd;

    char authorization[WHARF_TOKEN_MAX + 32];

    unsigned char input[LWS_PRE + CTL_TERM_INPUT_MAX];
    size_t input_len;
    int input_paused;                 /* stdin not polled until input is sent */
    int send_eot;                     /* stdin ended (not a tty): send one ^D */
    lws_sorted_usec_list_t eot_timer; /* ... and again, until the end */

    unsigned cols, rows; /* last size sent */
    int resize_pending;

    char control[CTL_TTY_CONTROL_MAX];
    size_t control_len;
    int control_too_long;

    int established;
    int closing; /* wharfctl asked for the close */
    enum ctl_term_msg exit_how;
    int exit_value;
    int quit_signal;  /* the signal that ended us, or 0 */
    int close_code;   /* the peer's close code, 0 if none */
    long http_status; /* a refused upgrade's status */
    char error[512];  /* transport error, printed after restore */
    int done;
};

static struct term_session *
session_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Writes all of buf to fd, waiting when fd is non-blocking: the terminal's
 * file description may be shared and made non-blocking by someone else. */
static int
write_all(int fd, const unsigned char *buf, size_t len)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t) n;
        } else if (n < 0 && errno == EAGAIN) {
            poll(&p, 1, -1);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

static void
want_write(struct term_session *s)
{
    if (s->ws != NULL) {
        lws_callback_on_writable(s->ws);
    }
}

/* Ends the session from our side: a close frame 1000 when connected. */
static void
session_close(struct term_session *s)
{
    if (s->ws == NULL || !s->established) {
        s->done = 1;
        return;
    }
    s->closing = 1;
    want_write(s);
}

static void
check_size(struct term_session *s)
{
    unsigned cols, rows;

    if (ctl_tty_size(&s->tty, &cols, &rows) == 0
        && (cols != s->cols || rows != s->rows)) {
        s->cols = cols;
        s->rows = rows;
        s->resize_pending = 1;
        want_write(s);
    }
}

static void
on_signals(struct term_session *s)
{
    int sig;

    while ((sig = ctl_tty_next_signal(&s->tty)) != 0) {
        if (sig == SIGWINCH || sig == SIGCONT) {
            check_size(s);
        } else if (s->quit_signal == 0) {
            s->quit_signal = sig;
            session_close(s);
        }
    }
}

static void
eot_again(lws_sorted_usec_list_t *sul)
{
    struct term_session *s =
        lws_container_of(sul, struct term_session, eot_timer);

    if (s->ws != NULL && !s->closing && !s->done) {
        s->send_eot = 1;
        want_write(s);
        lws_sul_schedule(s->cx, 0, &s->eot_timer, eot_again,
                         CTL_TERM_EOT_REPEAT_MS * LWS_US_PER_MS);
    }
}

/* stdin readable: into the input buffer, then to the socket. */
static int
on_input(struct term_session *s)
{
    ssize_t n;

    if (s->input_len > 0) {
        return 0; /* paused: not expected, harmless */
    }
    n = read(s->in_fd, s->input + LWS_PRE, CTL_TERM_INPUT_MAX);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    if (n <= 0) {
        /* The end of stdin. A terminal that hangs up ends the session; a
         * pipe or file that ends sends ^D, the end of input for the remote
         * program, and output goes on until it exits. */
        s->in = NULL;
        if (s->in_is_tty) {
            session_close(s);
        } else {
            s->send_eot = 1;
            want_write(s);
            lws_sul_schedule(s->cx, 0, &s->eot_timer, eot_again,
                             CTL_TERM_EOT_REPEAT_MS * LWS_US_PER_MS);
        }
        return -1; /* lws closes this wsi (and in_fd) */
    }
    s->input_len = (size_t) n;
    lws_rx_flow_control(s->in, 0);
    s->input_paused = 1;
    want_write(s);
    return 0;
}

/* A text frame (or part of one) from the agent. */
static void
on_control(struct term_session *s, struct lws *wsi, const void *in, size_t len)
{
    int value;
    enum ctl_term_msg how;

    if (lws_is_first_fragment(wsi)) {
        s->control_len = 0;
        s->control_too_long = 0;
    }
    if (s->control_len + len > sizeof(s->control)) {
        s->control_too_long = 1;
    } else {
        memcpy(s->control + s->control_len, in, len);
        s->control_len += len;
    }
    if (!lws_is_final_fragment(wsi) || s->control_too_long) {
        return;
    }
    how = ctl_term_parse(s->control, s->control_len, &value);
    if (how != CTL_TERM_MSG_OTHER) {
        s->exit_how = how;
        s->exit_value = value;
    }
}

static int
on_writable(struct term_session *s, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + CTL_TTY_RESIZE_MAX];
    static unsigned char eot[LWS_PRE + 1];
    size_t n;

    if (s->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    /* One write per callback, as lws wants; ask again for the rest. */
    if (s->resize_pending) {
        s->resize_pending = 0;
        n = ctl_term_resize_msg((char *) buf + LWS_PRE, CTL_TTY_RESIZE_MAX,
                                s->cols, s->rows);
        if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int) n) {
            return -1;
        }
    } else if (s->input_len > 0) {
        n = s->input_len;
        s->input_len = 0;
        if (lws_write(wsi, s->input + LWS_PRE, n, LWS_WRITE_BINARY) < (int) n) {
            return -1;
        }
        if (s->input_paused && s->in != NULL) {
            s->input_paused = 0;
            lws_rx_flow_control(s->in, 1);
        }
    } else if (s->send_eot) {
        s->send_eot = 0;
        eot[LWS_PRE] = 0x04;
        if (lws_write(wsi, eot + LWS_PRE, 1, LWS_WRITE_BINARY) < 1) {
            return -1;
        }
    }
    if (s->resize_pending || s->input_len > 0 || s->send_eot) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

/* The WebSocket is up: raw mode, stdin in the loop, the size. */
static int
on_established(struct term_session *s)
{
    lws_sock_file_fd_type fd;

    s->established = 1;
    if (ctl_tty_raw(&s->tty) != 0) {
        snprintf(s->error, sizeof(s->error),
                 "cannot put the terminal in raw "
                 "mode: %s",
                 strerror(errno));
        session_close(s);
        return 0;
    }
    s->in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    if (s->in_fd >= 0) {
        fd.filefd = s->in_fd;
        s->in = lws_adopt_descriptor_vhost(s->vh, LWS_ADOPT_RAW_FILE_DESC, fd,
                                           "wharfctl-fd", NULL);
        if (s->in == NULL) {
            close(s->in_fd);
        }
    }
    if (s->in == NULL) {
        snprintf(s->error, sizeof(s->error), "cannot read stdin");
        session_close(s);
        return 0;
    }
    /* The size asked for in the URL may have changed during the upgrade. */
    check_size(s);
    return 0;
}

static int
client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    struct term_session *s = session_of(wsi);
    unsigned char **p, *end;
    const unsigned char *payload;

    (void) user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (ctl_ws_add_authorization(wsi, s->authorization, in, len) != 0) {
            return -1;
        }
        p = (unsigned char **) in;
        end = *p + len;
        if (lws_add_http_header_by_token(
                wsi, WSI_TOKEN_HTTP_USER_AGENT,
                (const unsigned char *) "wharfctl/" CTL_VERSION,
                (int) strlen("wharfctl/" CTL_VERSION), p, end)) {
            return -1;
        }
        break;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        return on_established(s);

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        s->http_status = lws_http_client_http_response(wsi);
        snprintf(s->error, sizeof(s->error), "%s",
                 in ? (const char *) in : "connection failed");
        s->ws = NULL;
        s->done = 1;
        break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_frame_is_binary(wsi)) {
            if (write_all(s->out_fd, in, len) != 0) {
                snprintf(s->error, sizeof(s->error),
                         "cannot write to "
                         "stdout: %s",
                         strerror(errno));
                s->closing = 1;
                want_write(s);
            }
        } else {
            on_control(s, wsi, in, len);
        }
        break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(s, wsi);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        payload = in;
        if (len >= 2) {
            s->close_code = (payload[0] << 8) | payload[1];
        }
        break;

    case LWS_CALLBACK_CLIENT_CLOSED:
        s->ws = NULL;
        s->done = 1;
        break;

    default:
        break;
    }
    return 0;
}

/* stdin and the signal pipe. */
static int
fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct term_session *s = session_of(wsi);

    (void) user;
    (void) in;
    (void) len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (wsi == s->sig) {
            on_signals(s);
            return 0;
        }
        if (wsi == s->in) {
            return on_input(s);
        }
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (wsi == s->in) {
            s->in = NULL;
        } else if (wsi == s->sig) {
            s->sig = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols term_protocols[] = {
    { CTL_TTY_SUBPROTOCOL, client_callback, 0, CTL_TERM_INPUT_MAX, 0, NULL, 0 },
    { "wharfctl-fd", fd_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const lws_retry_bo_t term_keepalive = {
    .secs_since_valid_ping = CTL_TERM_PING_S,
    .secs_since_valid_hangup = CTL_TERM_HANGUP_S,
};

/* A refused upgrade: the module's JSON error says why (401, 403, 404, 503
 * ...). lws does not keep the body, so the same path is asked again over
 * plain HTTP, which the module refuses the same way; its message is used
 * when the status matches. */
static int
refused(struct term_session *s, const char *path, const char *name)
{
    struct ctl_response resp;
    struct ctl *c = s->c;

    if (ctl_http(c, "GET", path, NULL, &resp) == CTL_OK) {
        if (resp.status == s->http_status) {
            ctl_http_status_error(c, "terminal", &resp); /* + 401/403 hint */
            ctl_response_free(&resp);
            goto hint;
        }
        ctl_response_free(&resp);
    }
    ctl_error(c, CTL_FAIL,
              "terminal: %s%s refused the WebSocket upgrade "
              "with HTTP %ld",
              c->args.url, path, s->http_status);
    ctl_auth_hint(c, s->http_status);
hint:
    if (s->http_status == 403) {
        fprintf(c->err,
                "wharfctl: a terminal needs the \"terminal\" scope "
                "and sub \"%s\" or \"*\"\n",
                name);
    } else if (s->http_status == 404) {
        fprintf(c->err,
                "wharfctl: see the known workers with `wharfctl "
                "workers list`\n");
    } else if (s->http_status == 502 || s->http_status == 504) {
        fprintf(c->err,
                "wharfctl: the worker's agent does not answer; check "
                "it with `wharfctl health --worker %s`\n",
                name);
    } else if (s->http_status == 503) {
        fprintf(c->err,
                "wharfctl: the worker may be at its max_sessions; "
                "see `wharfctl terminals`\n");
    }
    return CTL_FAIL;
}

static int
run_session(struct term_session *s, const char *name)
{
    struct ctl *c = s->c;
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    struct ctl_ws_target target;
    lws_sock_file_fd_type fd;
    char path[1200];
    unsigned cols = 0, rows = 0;
    int rc;

    rc = ctl_ws_target(c, &target);
    if (rc != CTL_OK) {
        return rc;
    }
    rc = ctl_ws_authorization(c, s->authorization, sizeof(s->authorization));
    if (rc != CTL_OK) {
        return rc;
    }
    if (ctl_tty_size(&s->tty, &cols, &rows) == 0) {
        s->cols = cols;
        s->rows = rows;
        snprintf(path, sizeof(path),
                 "%s/api/workers/%s/terminal?cols=%u&rows=%u", target.base,
                 name, cols > CTL_TTY_MAX_COLS ? CTL_TTY_MAX_COLS : cols,
                 rows > CTL_TTY_MAX_ROWS ? CTL_TTY_MAX_ROWS : rows);
    } else {
        snprintf(path, sizeof(path), "%s/api/workers/%s/terminal", target.base,
                 name);
    }

    lws_set_log_level(0, NULL); /* nothing from lws on a raw tty */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = term_protocols;
    info.user = s;
    info.pt_serv_buf_size = CTL_TERM_LWS_BUF;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT
        | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.gid = (gid_t) -1;
    info.uid = (uid_t) -1;
    s->cx = lws_create_context(&info);
    if (s->cx == NULL) {
        return ctl_error(c, CTL_FAIL,
                         "terminal: cannot initialise "
                         "libwebsockets");
    }
    info.vhost_name = "wharfctl";
    s->vh = lws_create_vhost(s->cx, &info);
    if (s->vh == NULL) {
        lws_context_destroy(s->cx);
        return ctl_error(c, CTL_FAIL,
                         "terminal: cannot initialise "
                         "libwebsockets");
    }
    /* lws closes what it adopts: it gets its own descriptor of the pipe. */
    fd.filefd = fcntl(s->tty.sig_pipe[0], F_DUPFD_CLOEXEC, 3);
    s->sig = fd.filefd < 0
        ? NULL
        : lws_adopt_descriptor_vhost(s->vh, LWS_ADOPT_RAW_FILE_DESC, fd,
                                     "wharfctl-fd", NULL);
    if (s->sig == NULL && fd.filefd >= 0) {
        close(fd.filefd);
    }

    memset(&ci, 0, sizeof(ci));
    ci.context = s->cx;
    ci.vhost = s->vh;
    ci.address = target.host;
    ci.port = target.port;
    ci.path = path;
    ci.host = target.authority;
    ci.protocol = CTL_TTY_SUBPROTOCOL;
    ci.local_protocol_name = CTL_TTY_SUBPROTOCOL;
    ci.ssl_connection = target.tls ? LCCSCF_USE_SSL : 0;
    ci.retry_and_idle_policy = &term_keepalive;
    ci.pwsi = &s->ws;
    if (s->sig == NULL || lws_client_connect_via_info(&ci) == NULL) {
        if (s->error[0] == '\0') {
            snprintf(s->error, sizeof(s->error),
                     "cannot start the "
                     "connection");
        }
        s->done = 1;
    }

    while (!s->done) {
        if (lws_service(s->cx, 0) < 0) {
            break;
        }
    }
    /* The terminal first, so that every message below reads normally. */
    ctl_tty_restore(&s->tty);
    lws_sul_cancel(&s->eot_timer);
    lws_context_destroy(s->cx);
    s->cx = NULL;

    if (s->quit_signal != 0) {
        return 128 + s->quit_signal;
    }
    if (s->exit_how != CTL_TERM_MSG_OTHER) {
        return ctl_term_exit_status(s->exit_how, s->exit_value);
    }
    if (s->http_status >= 300) {
        return refused(s, path, name);
    }
    if (!s->established) {
        return ctl_error(c, CTL_FAIL,
                         "terminal: cannot reach %s: %s; is the "
                         "orchestrator's nginx running there? Set --url or "
                         "WHARF_URL to its address",
                         c->args.url,
                         s->error[0] ? s->error : "connection failed");
    }
    if (s->error[0] != '\0') {
        return ctl_error(c, CTL_FAIL, "terminal: %s", s->error);
    }
    if (s->close_code != 0 && s->close_code != 1000) {
        return ctl_error(c, CTL_FAIL,
                         "terminal: %s closed the session (code "
                         "%d) before the shell exited",
                         name, s->close_code);
    }
    return ctl_error(c, CTL_FAIL,
                     "terminal: the connection to %s ended "
                     "before the shell exited",
                     name);
}

int
ctl_cmd_terminal(struct ctl *c, int argc, char **argv)
{
    struct term_session s;
    const char *pos[1];
    int rc, npos;

    rc = ctl_flags_parse(c, "terminal", argc, argv, NULL, pos, &npos, 1);
    if (rc == CTL_HELP) {
        fputs(terminal_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (npos != 1) {
        return ctl_error(c, CTL_USAGE,
                         "terminal: missing worker NAME (see "
                         "wharfctl terminal --help)");
    }
    if (!wharf_name_valid(pos[0], strlen(pos[0]))) {
        return ctl_error(c, CTL_USAGE,
                         "terminal: '%s' is not a worker name "
                         "(^[a-z0-9][a-z0-9-]{0,62}$)",
                         pos[0]);
    }

    memset(&s, 0, sizeof(s));
    s.c = c;
    s.in_fd = -1;
    s.in_is_tty = isatty(STDIN_FILENO);
    fflush(c->out);
    s.out_fd = fileno(c->out);
    if (s.out_fd < 0) {
        return ctl_error(c, CTL_FAIL, "terminal: stdout is not a file");
    }
    if (ctl_tty_init(&s.tty, STDIN_FILENO) != 0
        || ctl_tty_signals(&s.tty) != 0) {
        ctl_tty_done(&s.tty);
        return ctl_error(c, CTL_FAIL, "terminal: cannot set up signals: %s",
                         strerror(errno));
    }
    rc = run_session(&s, pos[0]);
    ctl_tty_done(&s.tty);
    return rc;
}
