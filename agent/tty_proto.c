/* wharf.tty.v1 control messages: see tty_proto.h for the protocol. */
#include "tty_proto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

/* err = what + detail */
static void
set_err(char *err, size_t errlen, const char *what, const char *detail)
{
    if (errlen > 0) {
        snprintf(err, errlen, "%s%s", what, detail);
    }
}

/* A JSON integer within lo..hi, else -1. */
static long
json_int_in(json_t *v, long lo, long hi)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        return -1;
    }
    n = json_integer_value(v);
    if (n < lo || n > hi) {
        return -1;
    }
    return (long) n;
}

int
agent_tty_parse_control(const char *buf, size_t len, struct agent_tty_msg *msg,
                        char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *type;
    const char *t;
    long cols, rows;
    int rc = -1;

    memset(msg, 0, sizeof(*msg));
    if (len > AGENT_TTY_CONTROL_MAX) {
        set_err(err, errlen, "control message too long", "");
        return -1;
    }
    /* JSON_DISABLE_EOF_CHECK is not set: trailing garbage is an error. */
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        set_err(err, errlen, "invalid JSON: ", jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        set_err(err, errlen, "control message is not a JSON object", "");
        goto out;
    }
    type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        set_err(err, errlen, "control message has no string \"type\"", "");
        goto out;
    }
    t = json_string_value(type);
    if (strcmp(t, "resize") != 0) {
        msg->type = AGENT_TTY_MSG_UNKNOWN;
        rc = 0;
        goto out;
    }
    cols = json_int_in(json_object_get(root, "cols"), 1, AGENT_TTY_MAX_COLS);
    rows = json_int_in(json_object_get(root, "rows"), 1, AGENT_TTY_MAX_ROWS);
    if (cols < 0 || rows < 0) {
        set_err(err, errlen,
                "resize needs integer cols (1..1000) and "
                "rows (1..1000)",
                "");
        goto out;
    }
    msg->type = AGENT_TTY_MSG_RESIZE;
    msg->cols = (unsigned) cols;
    msg->rows = (unsigned) rows;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int
agent_tty_encode_exit(int wait_status, char *buf, size_t size)
{
    int n;

    if (WIFEXITED(wait_status)) {
        n = snprintf(buf, size, "{\"type\":\"exit\",\"code\":%d}",
                     WEXITSTATUS(wait_status));
    } else if (WIFSIGNALED(wait_status)) {
        n = snprintf(buf, size, "{\"type\":\"exit\",\"signal\":%d}",
                     WTERMSIG(wait_status));
    } else {
        return -1;
    }
    if (n < 0 || (size_t) n >= size) {
        return -1;
    }
    return n;
}

/* Decimal digits only (no sign, no spaces); clamped to 1..max. */
static int
parse_dim(const char *s, unsigned max, unsigned *out)
{
    unsigned long v = 0;

    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        if (v <= max) { /* stop growing once past the limit */
            v = v * 10 + (unsigned long) (*s - '0');
        }
    }
    if (v < 1) {
        v = 1;
    }
    if (v > max) {
        v = max;
    }
    *out = (unsigned) v;
    return 0;
}

void
agent_tty_apply_query_arg(const char *arg, unsigned *cols, unsigned *rows)
{
    if (strncmp(arg, "cols=", 5) == 0) {
        (void) parse_dim(arg + 5, AGENT_TTY_MAX_COLS, cols);
    } else if (strncmp(arg, "rows=", 5) == 0) {
        (void) parse_dim(arg + 5, AGENT_TTY_MAX_ROWS, rows);
    }
}
