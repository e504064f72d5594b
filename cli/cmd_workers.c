/* wharfctl workers list */
#include "ctl.h"

#include <string.h>

#include "output.h"
#include "rpc.h"

static const char workers_usage[] =
    "usage: wharfctl workers list\n"
    "\n"
    "Lists the workers known to the orchestrator's store, that is those that\n"
    "have sent a heartbeat (JSON-RPC ContainerMonitoringOps.getWorkers).\n"
    "--format json prints the RPC result, table one row per worker, raw the\n"
    "JSON-RPC answer as received.\n";

/* Table columns, so that an empty list still prints its header. */
static const char *const worker_columns[] = {
    "name", "containerName", "agentVersion", "status", "lastSeen",
    "firstSeen", NULL
};

static int
workers_list(struct ctl *c, int argc, char **argv)
{
    struct ctl_response resp;
    json_t *result, *workers;
    const char *pos[1];
    int rc, npos;

    rc = ctl_flags_parse(c, "workers list", argc, argv, NULL, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(workers_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }

    rc = ctl_rpc_call(c, "getWorkers", NULL, &resp, &result);
    if (rc != CTL_OK) {
        return rc;
    }
    workers = json_object_get(result, "workers");
    if (!json_is_array(workers)) {
        rc = ctl_error(c, CTL_FAIL, "workers list: %s: result has no "
                       "'workers' list", resp.url);
    } else if (c->args.format == CTL_FORMAT_TABLE) {
        ctl_print_table(c, workers, worker_columns);
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
    if (argc < 2) {
        return ctl_error(c, CTL_USAGE, "workers: missing subcommand: list "
                         "(see wharfctl workers --help)");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(workers_usage, c->out);
        return CTL_OK;
    }
    if (strcmp(argv[1], "list") == 0) {
        return workers_list(c, argc - 1, argv + 1);
    }
    return ctl_error(c, CTL_USAGE, "workers: unknown subcommand '%s' (see "
                     "wharfctl workers --help)", argv[1]);
}
