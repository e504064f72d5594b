/* wharfctl rpc METHOD [PARAMS_JSON] */
#include "ctl.h"

#include "output.h"
#include "rpc.h"

static const char rpc_usage[] =
    "usage: wharfctl rpc METHOD [PARAMS_JSON]\n"
    "\n"
    "Calls a JSON-RPC method of the orchestrator (POST /rpc) and prints its\n"
    "result. METHOD is ContainerMonitoringOps.NAME, or NAME alone; "
    "PARAMS_JSON\n"
    "is a JSON object or array. A JSON-RPC error is printed to stderr with\n"
    "exit status 1 (2 for -32602, invalid params). --format raw prints the\n"
    "JSON-RPC answer as received.\n"
    "\n"
    "example: wharfctl rpc heartbeat '{\"worker\":\"demo\"}'\n";

int
ctl_cmd_rpc(struct ctl *c, int argc, char **argv)
{
    struct ctl_response resp;
    json_t *params = NULL, *result;
    json_error_t jerr;
    const char *pos[2];
    int rc, npos;

    rc = ctl_flags_parse(c, "rpc", argc, argv, NULL, pos, &npos, 2);
    if (rc == CTL_HELP) {
        fputs(rpc_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (npos < 1) {
        return ctl_error(c, CTL_USAGE,
                         "rpc: missing METHOD (see wharfctl "
                         "rpc --help)");
    }
    if (npos == 2) {
        params = json_loads(pos[1], JSON_DECODE_ANY, &jerr);
        if (params == NULL) {
            return ctl_error(c, CTL_USAGE,
                             "rpc: PARAMS_JSON is not JSON: %s "
                             "at column %d",
                             jerr.text, jerr.column);
        }
        if (!json_is_object(params) && !json_is_array(params)) {
            json_decref(params);
            return ctl_error(c, CTL_USAGE,
                             "rpc: PARAMS_JSON must be a JSON "
                             "object or array");
        }
    }

    rc = ctl_rpc_call(c, pos[0], params, &resp, &result);
    json_decref(params);
    if (rc != CTL_OK) {
        return rc;
    }
    ctl_output(c, result, resp.body, resp.len, NULL);
    json_decref(result);
    ctl_response_free(&resp);
    return CTL_OK;
}
