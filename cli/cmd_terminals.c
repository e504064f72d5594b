/* wharfctl terminals [--worker NAME] [--status healthy|unhealthy] */
#include "ctl.h"

#include <string.h>

#include "name.h"
#include "output.h"
#include "rest.h"

static const char terminals_usage[] =
    "usage: wharfctl terminals [--worker NAME] [--status healthy|unhealthy]\n"
    "\n"
    "The unified terminal view (GET /api/terminals): every worker's terminal\n"
    "path, its last health check and its open sessions. Open one with\n"
    "`wharfctl terminal NAME`. Needs a token with the \"read\" scope.\n";

static const struct ctl_column terminal_columns[] = {
    { "WORKER", "worker" },
    { "CONTAINER", "container" },
    { "HEALTH", "health.status" },
    { "SESSIONS", "sessions" },
    { "MAX_SESSIONS", "max_sessions" },
    { "PATH", "path" },
    { "CHECKED_AT", "health.checked_at" },
    { "ERROR", "health.error" },
    { NULL, NULL }
};

static void
terminals_table(struct ctl *c, json_t *value)
{
    ctl_print_columns(c, value, terminal_columns);
}

int
ctl_cmd_terminals(struct ctl *c, int argc, char **argv)
{
    const char *worker = NULL, *status = NULL, *pos[1];
    const struct ctl_flag flags[] = { { "--worker", 1, &worker, NULL },
                                      { "--status", 1, &status, NULL },
                                      { NULL, 0, NULL, NULL } };
    char path[160];
    int rc, npos;

    rc = ctl_flags_parse(c, "terminals", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(terminals_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (worker != NULL && !wharf_name_valid(worker, strlen(worker))) {
        return ctl_error(c, CTL_USAGE,
                         "terminals: --worker '%s' is not a "
                         "worker name",
                         worker);
    }
    if (status != NULL && strcmp(status, "healthy") != 0
        && strcmp(status, "unhealthy") != 0) {
        return ctl_error(c, CTL_USAGE,
                         "terminals: --status %s: must be "
                         "healthy or unhealthy",
                         status);
    }
    /* Names and statuses are checked: nothing here needs escaping. */
    snprintf(path, sizeof(path), "/api/terminals%s%s%s%s%s",
             worker || status ? "?" : "", worker ? "worker=" : "",
             worker ? worker : "",
             worker && status ? "&status=" : (status ? "status=" : ""),
             status ? status : "");
    return ctl_rest_show(c, "terminals", path, terminals_table);
}
