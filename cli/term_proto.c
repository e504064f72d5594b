/* wharf.tty.v1 messages, client side (see term_proto.h). */
#include "term_proto.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

static unsigned
clamp(unsigned v, unsigned max)
{
    return v < 1 ? 1 : (v > max ? max : v);
}

size_t
ctl_term_resize_msg(char *buf, size_t size, unsigned cols, unsigned rows)
{
    int n =
        snprintf(buf, size, "{\"type\":\"resize\",\"cols\":%u,\"rows\":%u}",
                 clamp(cols, CTL_TTY_MAX_COLS), clamp(rows, CTL_TTY_MAX_ROWS));

    return n < 0 ? 0 : ((size_t) n >= size ? size - 1 : (size_t) n);
}

enum ctl_term_msg
ctl_term_parse(const char *text, size_t len, int *value)
{
    enum ctl_term_msg how = CTL_TERM_MSG_OTHER;
    json_t *root, *type, *code, *sig;

    root = json_loadb(text, len, 0, NULL);
    type = json_object_get(root, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "exit") == 0) {
        code = json_object_get(root, "code");
        sig = json_object_get(root, "signal");
        if (json_is_integer(code)) {
            how = CTL_TERM_MSG_EXIT_CODE;
            *value = (int) (json_integer_value(code) & 0xff);
        } else if (json_is_integer(sig) && json_integer_value(sig) > 0
                   && json_integer_value(sig) < 128) {
            how = CTL_TERM_MSG_EXIT_SIGNAL;
            *value = (int) json_integer_value(sig);
        }
    }
    json_decref(root);
    return how;
}

int
ctl_term_exit_status(enum ctl_term_msg how, int value)
{
    switch (how) {
    case CTL_TERM_MSG_EXIT_CODE:
        return value & 0xff;
    case CTL_TERM_MSG_EXIT_SIGNAL:
        return 128 + (value & 0x7f);
    default:
        return 1;
    }
}
