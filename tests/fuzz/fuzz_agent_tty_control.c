/* libFuzzer target: the agent's wharf.tty.v1 control messages and size
 * query parameters (agent/tty_proto.c), which come from any terminal client.
 * Whatever is accepted must respect the documented limits. */
#include <stdint.h>
#include <stdlib.h>

#include "../../agent/tty_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_tty_msg msg;
    char err[128];

    if (agent_tty_parse_control((const char *) data, size, &msg, err,
                                sizeof(err))
            == 0
        && msg.type == AGENT_TTY_MSG_RESIZE
        && (msg.cols < 1 || msg.cols > AGENT_TTY_MAX_COLS || msg.rows < 1
            || msg.rows > AGENT_TTY_MAX_ROWS)) {
        abort(); /* a size outside the limits got through */
    }
    return 0;
}
