/* wharfctl health [--check all|terminal|websocket] [--worker NAME] */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "name.h"
#include "output.h"
#include "rest.h"

static const char health_usage[] =
    "usage: wharfctl health [--check all|terminal|websocket] [--worker NAME]\n"
    "\n"
    "Live health checks, made by the orchestrator's nginx module when asked:\n"
    "a real WebSocket handshake to each worker's terminal and live feed\n"
    "(Sec-WebSocket-Accept checked), and wharfd's own health.\n"
    "\n"
    "  (no flag)          every worker, both checks, and wharfd  (GET "
    "/health)\n"
    "  --check terminal   every worker's terminal      (GET /health/terminal)\n"
    "  --check websocket  every worker's live feed     (GET "
    "/health/websocket)\n"
    "  --worker NAME      one worker: its terminal and live feed (GET\n"
    "                     /api/workers/NAME/health/terminal and "
    ".../websocket),\n"
    "                     or one of them with --check; --check agent asks the\n"
    "                     agent itself (GET /api/workers/NAME/health)\n"
    "\n"
    "Needs a token with the \"read\" scope (sub \"*\", or NAME with "
    "--worker).\n"
    "Exit status 1 when anything checked is unhealthy, or nothing answers;\n"
    "the answer is printed all the same. --format table prints one row per\n"
    "check; raw prints the answer(s) as received, one per line.\n";

static const struct ctl_column check_columns[] = {
    { "WORKER", "worker" },
    { "CHECK", "check" },
    { "STATUS", "status" },
    { "LATENCY_MS", "latency_ms" },
    { "CHECKED_AT", "checked_at" },
    { "ERROR", "error" },
    { NULL, NULL }
};

/* {"workers":[...], "wharfd":{...}} (or one check) as rows. */
static void
health_table(struct ctl *c, json_t *value)
{
    json_t *rows = json_array(), *workers, *w, *wharfd;
    size_t i;

    workers = json_object_get(value, "workers");
    if (!json_is_array(workers)) {
        workers = json_object_get(value, "checks");
    }
    wharfd = json_object_get(value, "wharfd");
    if (json_is_object(wharfd)) {
        json_array_append_new(
            rows,
            json_pack("{s:s,s:s,s:O?,s:O?}", "worker", "(wharfd)", "check",
                      "backend", "status", json_object_get(wharfd, "status"),
                      "error", json_object_get(wharfd, "error")));
    }
    if (json_is_array(workers)) {
        json_array_foreach (workers, i, w) {
            json_array_append(rows, w);
        }
    } else if (json_is_object(value) && json_object_get(value, "check")) {
        json_array_append(rows, value);
    } else if (json_is_object(value)) {
        /* The agent's own /health: its fields as they are. */
        json_decref(rows);
        ctl_print_table(c, value, NULL);
        return;
    }
    ctl_print_columns(c, rows, check_columns);
    json_decref(rows);
}

/* Both checks of one worker, asked one after the other and printed as one
 * answer: {"worker","status","checks":[terminal, websocket]}. */
static int
worker_both(struct ctl *c, const char *worker)
{
    static const char *const checks[] = { "terminal", "websocket" };
    struct ctl_response resp[2];
    json_t *all, *list, *v;
    char path[160];
    int rc = CTL_OK, healthy = 1, got = 0, i;

    list = json_array();
    for (i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "/api/workers/%s/health/%s", worker,
                 checks[i]);
        if (ctl_http(c, "GET", path, NULL, &resp[i]) != CTL_OK) {
            rc = CTL_FAIL;
            break;
        }
        got++;
        v = json_loadb(resp[i].body, resp[i].len, 0, NULL);
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "status"))
            || json_is_object(json_object_get(v, "error"))) {
            /* A refusal (401, 403, 404, 400): say why, print nothing. */
            json_decref(v);
            rc = resp[i].status >= 300
                ? ctl_http_status_error(c, "health", &resp[i])
                : ctl_error(c, CTL_FAIL,
                            "health: %s did not answer with a "
                            "health check",
                            resp[i].url);
            break;
        }
        if (resp[i].status != 200) {
            healthy = 0;
        }
        json_array_append_new(list, v);
    }
    if (rc == CTL_OK) {
        all = json_pack("{s:s,s:s,s:O}", "worker", worker, "status",
                        healthy ? "healthy" : "unhealthy", "checks", list);
        if (c->args.format == CTL_FORMAT_RAW) {
            for (i = 0; i < got; i++) {
                fwrite(resp[i].body, 1, resp[i].len, c->out);
                if (resp[i].len == 0 || resp[i].body[resp[i].len - 1] != '\n') {
                    fputc('\n', c->out);
                }
            }
        } else if (c->args.format == CTL_FORMAT_TABLE) {
            health_table(c, all);
        } else {
            ctl_print_json(c, all);
        }
        json_decref(all);
        if (!healthy) {
            rc = ctl_error(c, CTL_FAIL, "health: worker %s is unhealthy",
                           worker);
        }
    }
    for (i = 0; i < got; i++) {
        ctl_response_free(&resp[i]);
    }
    json_decref(list);
    return rc;
}

int
ctl_cmd_health(struct ctl *c, int argc, char **argv)
{
    const char *worker = NULL, *check = NULL, *pos[1];
    const struct ctl_flag flags[] = { { "--worker", 1, &worker, NULL },
                                      { "--check", 1, &check, NULL },
                                      { NULL, 0, NULL, NULL } };
    char path[160];
    int rc, npos;

    rc = ctl_flags_parse(c, "health", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(health_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (check != NULL && strcmp(check, "all") != 0
        && strcmp(check, "terminal") != 0 && strcmp(check, "websocket") != 0
        && (worker == NULL || strcmp(check, "agent") != 0)) {
        return ctl_error(c, CTL_USAGE,
                         "health: --check %s: must be all, "
                         "terminal or websocket%s",
                         check, worker ? " (or agent)" : "");
    }
    if (worker == NULL) {
        if (check == NULL || strcmp(check, "all") == 0) {
            return ctl_rest_show(c, "health", "/health", health_table);
        }
        snprintf(path, sizeof(path), "/health/%s", check);
        return ctl_rest_show(c, "health", path, health_table);
    }
    if (!wharf_name_valid(worker, strlen(worker))) {
        return ctl_error(c, CTL_USAGE,
                         "health: --worker '%s' is not a worker "
                         "name (^[a-z0-9][a-z0-9-]{0,62}$)",
                         worker);
    }
    if (check == NULL || strcmp(check, "all") == 0) {
        return worker_both(c, worker);
    }
    if (strcmp(check, "agent") == 0) {
        snprintf(path, sizeof(path), "/api/workers/%s/health", worker);
    } else {
        snprintf(path, sizeof(path), "/api/workers/%s/health/%s", worker,
                 check);
    }
    return ctl_rest_show(c, "health", path, health_table);
}
