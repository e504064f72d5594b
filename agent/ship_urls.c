/* Which orchestrator URL the agent ships to: see ship_urls.h. */
#include "ship_urls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
agent_ship_urls_init(struct agent_ship_urls *u, const struct agent_strref *list,
                     unsigned n)
{
    unsigned i;

    memset(u, 0, sizeof(*u));
    for (i = 0; i < n && i < AGENT_ORCHESTRATORS_MAX; i++) {
        size_t len = list[i].len;

        while (len > 0 && list[i].p[len - 1] == '/') {
            len--;
        }
        if (asprintf(&u->rpc[i], "%.*s/rpc", (int) len, list[i].p) < 0) {
            u->rpc[i] = NULL;
            agent_ship_urls_free(u);
            return -1;
        }
        u->n = i + 1;
    }
    return 0;
}

void
agent_ship_urls_free(struct agent_ship_urls *u)
{
    unsigned i;

    for (i = 0; i < u->n; i++) {
        free(u->rpc[i]);
    }
    memset(u, 0, sizeof(*u));
}

int
agent_ship_urls_failed(struct agent_ship_urls *u, unsigned idx)
{
    if (u->n == 0 || idx >= u->n) {
        return 0;
    }
    u->failed |= 1u << idx;
    if (u->n == 1) {
        return 0;
    }
    if (idx == u->cur) {
        u->cur = (u->cur + 1) % u->n;
        u->failovers++;
    }
    return (u->failed & (1u << u->cur)) == 0;
}

void
agent_ship_urls_answered(struct agent_ship_urls *u)
{
    u->failed = 0;
}

void
agent_ship_urls_failback(struct agent_ship_urls *u)
{
    u->cur = 0;
}
