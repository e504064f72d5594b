/* wharfctl health [--worker NAME] */
#include "ctl.h"

#include <string.h>

#include "name.h"
#include "rest.h"

static const char health_usage[] =
    "usage: wharfctl health [--worker NAME]\n"
    "\n"
    "Checks the orchestrator: GET /api/monitoring/health (wharfd and its\n"
    "database). With --worker, checks that worker's agent instead:\n"
    "GET /api/workers/NAME/health, which nginx passes through to it.\n"
    "Exit status 1 when the answer is not 2xx or nothing answers.\n";

int
ctl_cmd_health(struct ctl *c, int argc, char **argv)
{
    const char *worker = NULL, *pos[1];
    const struct ctl_flag flags[] = {
        { "--worker", 1, &worker, NULL },
        { NULL, 0, NULL, NULL }
    };
    char path[128];
    int rc, npos;

    rc = ctl_flags_parse(c, "health", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(health_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (worker == NULL) {
        return ctl_rest_get(c, "health", "/api/monitoring/health", NULL);
    }
    if (!wharf_name_valid(worker, strlen(worker))) {
        return ctl_error(c, CTL_USAGE, "health: --worker '%s' is not a worker "
                         "name (^[a-z0-9][a-z0-9-]{0,62}$)", worker);
    }
    snprintf(path, sizeof(path), "/api/workers/%s/health", worker);
    return ctl_rest_get(c, "health", path, NULL);
}
