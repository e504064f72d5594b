/* wharfctl workers list | get NAME | seen | watch-docker; add | set |
 * remove are in cmd_workers_live.c */
#include "ctl.h"

#include <string.h>

#include "name.h"
#include "output.h"
#include "rest.h"
#include "rpc.h"

static const char workers_usage[] =
    "usage: wharfctl workers list\n"
    "       wharfctl workers get NAME\n"
    "       wharfctl workers seen\n"
    "       wharfctl workers add NAME --upstream HOST:PORT [--container C]\n"
    "                            [--max-sessions N]\n"
    "       wharfctl workers set NAME [--upstream HOST:PORT] ...\n"
    "       wharfctl workers remove NAME\n"
    "       wharfctl workers watch-docker [--socket PATH] [--key FILE] ...\n"
    "\n"
    "  list       the gateway's registry (GET /api/workers): every worker\n"
    "             nginx routes to, static or live, its upstream, last\n"
    "             health checks, live sessions and request counts\n"
    "  get NAME   one worker of the registry (GET /api/workers/NAME)\n"
    "  seen       the workers that have sent a heartbeat to wharfd, with\n"
    "             their agent version and last contact (JSON-RPC\n"
    "             ContainerMonitoringOps.getWorkers)\n"
    "  add, set, remove   the live registry, without a reload (scope\n"
    "             \"admin\"; wharfctl workers add --help)\n"
    "  watch-docker  keeps registering the Docker containers labelled\n"
    "             wharf.worker=NAME and removing them when they stop (runs\n"
    "             until stopped; wharfctl workers watch-docker --help)\n"
    "\n"
    "list, get and seen need a token with the \"read\" scope. --format\n"
    "table prints one row per worker; raw the answer as received.\n";

static const struct ctl_column registry_columns[] = {
    { "NAME", "name" },
    { "SOURCE", "source" },
    { "CONTAINER", "container" },
    { "UPSTREAM", "upstream.servers" },
    { "TERMINAL", "health.terminal.status" },
    { "WEBSOCKET", "health.websocket.status" },
    { "TERM_SESSIONS", "sessions.terminal" },
    { "WS_SESSIONS", "sessions.websocket" },
    { "MAX_SESSIONS", "max_sessions" },
    { NULL, NULL }
};

static const struct ctl_column seen_columns[] = {
    { "NAME", "name" },
    { "CONTAINER", "containerName" },
    { "AGENT_VERSION", "agentVersion" },
    { "STATUS", "status" },
    { "LAST_SEEN", "lastSeen" },
    { "FIRST_SEEN", "firstSeen" },
    { NULL, NULL }
};

static void
registry_table(struct ctl *c, json_t *value)
{
    ctl_print_columns(c, value, registry_columns);
}

static int
workers_seen(struct ctl *c)
{
    struct ctl_response resp;
    json_t *result, *workers;
    int rc;

    rc = ctl_rpc_call(c, "getWorkers", NULL, &resp, &result);
    if (rc != CTL_OK) {
        return rc;
    }
    workers = json_object_get(result, "workers");
    if (!json_is_array(workers)) {
        rc = ctl_error(c, CTL_FAIL,
                       "workers seen: %s: result has no "
                       "'workers' list",
                       resp.url);
    } else if (c->args.format == CTL_FORMAT_TABLE) {
        ctl_print_columns(c, workers, seen_columns);
    } else {
        ctl_output(c, result, resp.body, resp.len, NULL);
    }
    json_decref(result);
    ctl_response_free(&resp);
    return rc;
}

int
ctl_cmd_workers(struct ctl *c, int argc, char **argv)
{
    const char *pos[1], *sub;
    char what[32], path[128];
    int rc, npos, want;

    if (argc < 2) {
        return ctl_error(
            c, CTL_USAGE,
            "workers: missing subcommand: list, get, seen, "
            "add, set, remove or watch-docker (see wharfctl workers --help)");
    }
    sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(workers_usage, c->out);
        return CTL_OK;
    }
    if (strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0
        || strcmp(sub, "remove") == 0) {
        return ctl_workers_live(c, argc - 1, argv + 1);
    }
    if (strcmp(sub, "watch-docker") == 0) {
        return ctl_cmd_workers_watch_docker(c, argc - 1, argv + 1);
    }
    if (strcmp(sub, "list") != 0 && strcmp(sub, "get") != 0
        && strcmp(sub, "seen") != 0) {
        return ctl_error(c, CTL_USAGE,
                         "workers: unknown subcommand '%s' (see "
                         "wharfctl workers --help)",
                         sub);
    }
    snprintf(what, sizeof(what), "workers %s", sub);
    want = strcmp(sub, "get") == 0 ? 1 : 0;
    rc = ctl_flags_parse(c, what, argc - 1, argv + 1, NULL, pos, &npos, want);
    if (rc == CTL_HELP) {
        fputs(workers_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (strcmp(sub, "seen") == 0) {
        return workers_seen(c);
    }
    if (strcmp(sub, "list") == 0) {
        return ctl_rest_show(c, what, "/api/workers", registry_table);
    }
    if (npos != 1) {
        return ctl_error(c, CTL_USAGE,
                         "workers get: missing NAME (see "
                         "wharfctl workers --help)");
    }
    if (!wharf_name_valid(pos[0], strlen(pos[0]))) {
        return ctl_error(c, CTL_USAGE,
                         "workers get: '%s' is not a worker "
                         "name (^[a-z0-9][a-z0-9-]{0,62}$)",
                         pos[0]);
    }
    snprintf(path, sizeof(path), "/api/workers/%s", pos[0]);
    return ctl_rest_show(c, what, path, registry_table);
}
