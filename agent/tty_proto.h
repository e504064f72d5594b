/*
 * wharf.tty.v1: the terminal WebSocket's control messages, parsed and
 * encoded without any I/O so that they can be unit-tested
 * (tests/unit/test_agent_tty_proto.c).
 *
 * The wire protocol, as a client sees it:
 *
 *   Raw mode (no Sec-WebSocket-Protocol; what xterm.js's AttachAddon speaks):
 *     client -> agent  text or binary frames: bytes for the terminal's input
 *     agent -> client  binary frames: bytes the program wrote to the terminal
 *     end              close frame 1000 once the program has exited and all of
 *                      its output was sent
 *
 *   wharf.tty.v1 (negotiated with Sec-WebSocket-Protocol: wharf.tty.v1):
 *     binary frames    terminal bytes, both ways, as in raw mode
 *     client -> agent  text frames: one JSON control message each,
 *                        {"type":"resize","cols":C,"rows":R}
 *                      cols in 1..AGENT_TTY_MAX_COLS, rows in
 *                      1..AGENT_TTY_MAX_ROWS, both JSON integers. A message
 *                      that is not valid JSON, not an object, has no string
 *                      "type", or has out-of-range sizes is ignored (the agent
 *                      logs a warning and the terminal goes on: a client bug
 *                      must not kill the user's shell). A message of an
 *                      unknown type is ignored silently, so that clients may
 *                      send newer messages to older agents. A text message
 *                      longer than AGENT_TTY_CONTROL_MAX bytes closes the
 *                      connection with 1009 (message too big): it cannot be
 *                      parsed without buffering without bound.
 *     agent -> client  text frame {"type":"exit","code":N} (the program
 *                      exited with status N) or {"type":"exit","signal":S}
 *                      (it was killed by signal S), sent after the last
 *                      output and just before the close frame 1000.
 *
 *   Both modes: the initial size comes from the query string,
 *   /terminal?cols=C&rows=R (default 80x24; values are clamped to the limits
 *   below, anything unparsable keeps the default).
 */
#ifndef AGENT_TTY_PROTO_H
#define AGENT_TTY_PROTO_H

#include <stddef.h>

#define AGENT_TTY_SUBPROTOCOL "wharf.tty.v1"

#define AGENT_TTY_DEFAULT_COLS 80
#define AGENT_TTY_DEFAULT_ROWS 24
/* struct winsize holds unsigned shorts; these limits are far below that and
 * far above any real screen, so a client cannot make a program allocate a
 * huge screen buffer. */
#define AGENT_TTY_MAX_COLS 1000
#define AGENT_TTY_MAX_ROWS 1000

/* Longest control message accepted from a client, in bytes. */
#define AGENT_TTY_CONTROL_MAX 1024

/* Room for the longest exit message the agent encodes. */
#define AGENT_TTY_EXIT_MAX 64

enum agent_tty_msg_type {
    AGENT_TTY_MSG_RESIZE = 1,
    AGENT_TTY_MSG_UNKNOWN /* well-formed, of a type this agent ignores */
};

struct agent_tty_msg {
    enum agent_tty_msg_type type;
    unsigned cols, rows; /* AGENT_TTY_MSG_RESIZE */
};

/*
 * Parses one client control message (the whole text frame, len bytes, not
 * NUL-terminated). Returns 0 and fills msg when it is well formed (of a known
 * type or not); returns -1 and describes the problem in err (errlen bytes,
 * always NUL-terminated when errlen > 0) otherwise.
 */
int agent_tty_parse_control(const char *buf, size_t len,
                            struct agent_tty_msg *msg, char *err,
                            size_t errlen);

/*
 * Encodes the exit message for a waitpid() status into buf (size bytes).
 * Returns its length (without the NUL), or -1 when the status is neither an
 * exit nor a death by signal, or buf is too small.
 */
int agent_tty_encode_exit(int wait_status, char *buf, size_t size);

/*
 * Applies one query-string fragment ("cols=120", "rows=40", anything else
 * ignored) to *cols / *rows: a decimal number is clamped to 1..max, a value
 * that is not a number leaves the current value.
 */
void agent_tty_apply_query_arg(const char *arg, unsigned *cols, unsigned *rows);

#endif
