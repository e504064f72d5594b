/*
 * The client side of wharf.tty.v1 (the agent's wire protocol, described in
 * agent/tty_proto.h), without I/O so that it is unit-tested
 * (tests/unit/test_ctl_term.c):
 *   binary frames        terminal bytes, both ways
 *   client -> agent      {"type":"resize","cols":C,"rows":R}
 *   agent -> client      {"type":"exit","code":N} or {"type":"exit","signal":S},
 *                        then close 1000
 *   initial size         ?cols=C&rows=R on the upgrade request
 */
#ifndef CTL_TERM_PROTO_H
#define CTL_TERM_PROTO_H

#include <stddef.h>

#define CTL_TTY_SUBPROTOCOL "wharf.tty.v1"

/* The agent's limits (AGENT_TTY_MAX_COLS/ROWS): sizes are clamped to them
 * before they are sent, a larger one would be ignored there. */
#define CTL_TTY_MAX_COLS 1000
#define CTL_TTY_MAX_ROWS 1000

/* Longest control message kept from the agent; a longer one is not ours
 * and is dropped (the agent's exit message is ~30 bytes). */
#define CTL_TTY_CONTROL_MAX 1024

/* Room for the longest resize message. */
#define CTL_TTY_RESIZE_MAX 64

/* Writes the resize message for cols x rows (clamped to 1..MAX) into buf;
 * returns its length. */
size_t ctl_term_resize_msg(char *buf, size_t size, unsigned cols,
                           unsigned rows);

/* What an agent's text frame said. */
enum ctl_term_msg {
    CTL_TERM_MSG_OTHER = 0,  /* not JSON, not ours, or unknown type */
    CTL_TERM_MSG_EXIT_CODE,  /* *value = the exit status (0..255) */
    CTL_TERM_MSG_EXIT_SIGNAL /* *value = the signal number */
};

enum ctl_term_msg ctl_term_parse(const char *text, size_t len, int *value);

/* The exit status of wharfctl for how the remote program ended: its own
 * status, or 128 + the signal, as a shell reports it. */
int ctl_term_exit_status(enum ctl_term_msg how, int value);

#endif
