/* libFuzzer target: the agent's error detector (agent/detect.c) on one
 * line of an app's output (pino JSON or plain text). A message it reports
 * must lie inside the line or inside the parsed document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct agent_detect detect;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_detect_result r;
    const char *line = (const char *) data;

    if (!ready) {
        agent_detect_init(&detect);
        ready = 1;
    }
    memset(&r, 0, sizeof(r));
    agent_detect_line(&detect, line, size, &r);
    if (r.msg != NULL && r.doc == NULL
        && (r.msg < line || r.msg + r.msg_len > line + size)) {
        abort(); /* a message pointing outside the line */
    }
    if (r.level > AGENT_LEVEL_OUTPUT) {
        abort();
    }
    agent_detect_release(&r);
    return 0;
}
